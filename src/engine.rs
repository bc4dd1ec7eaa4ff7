//! The native Rust API: one [`Engine`] per open database.
//!
//! The engine is what the wasm layer wraps and what Rust users call directly. It owns the
//! [`Store`](crate::store::Store) and keeps the public surface in one place; the network sync
//! session will live here too.

use crate::clock::VectorClock;
use crate::error::Result;
use crate::ids::{ConflictId, DeviceId};
use crate::store::{Config, Store};

pub use crate::model::{
    ChangeRecord, Choice, Conflict, ConflictStrategy, ConflictVersion, ExecOutcome, ImportOutcome,
    Params, PendingRecord, Rows,
};
pub use crate::store::{Carry, Location, RandomSource, WallClock};

/// An open database with change capture.
pub struct Engine {
    store: Store,
}

/// Opens an [`Engine`] with everything it depends on from outside chosen by the caller: where the
/// database lives, the wall clock, the randomness its ids take, and (for a new database) its
/// device id. Fixing all of them makes a run replay exactly, which is how a property-test failure
/// is reproduced from its seed.
///
/// ```
/// use sqlite_sync_wasm::{store::Location, DeviceId, Engine};
///
/// let db = Engine::builder(Location::Memory, Box::new(|| 1_764_000_000_000))
///     .device_id(DeviceId([7; 16]))
///     .random(Box::new(|bytes: &mut [u8]| bytes.fill(1)))
///     .open()?;
/// assert_eq!(db.device_id(), DeviceId([7; 16]));
/// # Ok::<(), sqlite_sync_wasm::Error>(())
/// ```
pub struct EngineBuilder {
    config: Config,
}

impl EngineBuilder {
    /// Takes the randomness for new ids from `random` instead of SQLite's random source.
    pub fn random(mut self, random: RandomSource) -> Self {
        self.config.random = Some(random);
        self
    }

    /// The device id of a new database; an existing database must already have this id.
    pub fn device_id(mut self, device: DeviceId) -> Self {
        self.config.device_id = Some(device);
        self
    }

    /// Opens (creating when needed) the database.
    pub fn open(self) -> Result<Engine> {
        Ok(Engine {
            store: Store::open(self.config)?,
        })
    }
}

impl Engine {
    /// Starts opening a database at `location` with `clock` (Unix milliseconds) as its wall clock.
    pub fn builder(location: Location, clock: WallClock) -> EngineBuilder {
        EngineBuilder {
            config: Config {
                location,
                clock,
                random: None,
                device_id: None,
            },
        }
    }

    /// Opens a database at `location`, using `now_ms` as the wall clock and SQLite's randomness.
    pub fn open(location: &Location, now_ms: WallClock) -> Result<Engine> {
        Engine::builder(location.clone(), now_ms).open()
    }

    /// This replica's id.
    pub fn device_id(&self) -> DeviceId {
        self.store.device_id()
    }

    /// Runs one or more statements and reports the rows they changed.
    pub fn execute(&mut self, sql: &str, params: &Params) -> Result<ExecOutcome> {
        self.store
            .run(sql, params, false)
            .map(|(outcome, _)| outcome)
    }

    /// Runs one or more statements and returns the rows of the last one that produced a result.
    pub fn query(&mut self, sql: &str, params: &Params) -> Result<Rows> {
        self.store.run(sql, params, true).map(|(_, rows)| rows)
    }

    /// True while a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.store.in_transaction()
    }

    /// Starts capturing changes to `table` (or changes its conflict strategy).
    pub fn enable_sync(&mut self, table: &str, strategy: ConflictStrategy) -> Result<()> {
        self.store.enable_sync(table, strategy)
    }

    /// Stops capturing changes to `table`.
    pub fn disable_sync(&mut self, table: &str) -> Result<()> {
        self.store.disable_sync(table)
    }

    /// The synced tables, sorted by name.
    pub fn synced_tables(&self) -> Vec<String> {
        self.store.synced_tables()
    }

    /// Highest change counter known per device.
    pub fn vector_clock(&self) -> Result<VectorClock> {
        self.store.vector_clock()
    }

    /// The change log, in commit order.
    pub fn change_log(&self) -> Result<Vec<ChangeRecord>> {
        self.store.change_log()
    }

    /// Every change `peer` is not known to have (all changes when `peer` is `None` or unknown),
    /// as a bundle; `None` when there is nothing to send.
    pub fn generate_bundle(&mut self, peer: Option<&DeviceId>) -> Result<Option<Vec<u8>>> {
        self.store.generate_bundle(peer, Carry::Unacknowledged)
    }

    /// Like [`generate_bundle`](Self::generate_bundle), choosing which records the bundle
    /// carries: with [`Carry::Unsent`], only those no earlier bundle to `peer` carried.
    pub fn generate_bundle_carrying(
        &mut self,
        peer: Option<&DeviceId>,
        carry: Carry,
    ) -> Result<Option<Vec<u8>>> {
        self.store.generate_bundle(peer, carry)
    }

    /// Validates a bundle completely, then applies it in one transaction.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<ImportOutcome> {
        self.store.import_bundle(bytes)
    }

    /// Open conflicts, oldest first.
    pub fn conflicts(&mut self) -> Result<Vec<Conflict>> {
        self.store.conflicts()
    }

    /// Resolves a conflict by writing the chosen version as a new change.
    pub fn resolve_conflict(&mut self, id: ConflictId, choice: Choice) -> Result<()> {
        self.store.resolve_conflict(id, choice)
    }

    /// Received records that wait for a change they depend on.
    pub fn pending_records(&self) -> Result<Vec<PendingRecord>> {
        self.store.pending_records()
    }

    /// Drops waiting records (all, or those of `origin`); returns how many. A peer that holds
    /// them sends them again.
    pub fn discard_pending(&mut self, origin: Option<&DeviceId>) -> Result<u64> {
        self.store.discard_pending(origin)
    }

    /// The whole database as bytes, to persist it elsewhere and reopen it with
    /// [`Location::Snapshot`].
    pub fn snapshot(&mut self) -> Result<Vec<u8>> {
        self.store.snapshot()
    }

    /// Closes the database.
    pub fn close(self) -> Result<()> {
        self.store.close()
    }
}
