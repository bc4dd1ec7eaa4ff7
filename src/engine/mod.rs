//! The native Rust API: one [`Engine`] per open database, and the sync policy.
//!
//! The engine is what the wasm layer wraps and what Rust users call directly. The
//! [`Store`] below it answers record-level questions (the records after a
//! frontier, the clock, what is known of a peer) and writes what it is told (apply these records in
//! one transaction, record this claim); the engine decides what a peer gets and frames it as a
//! bundle ([`export`]), reads bundles and decides what their records may claim ([`import`]), and
//! owns the ids it mints. Rounds with a relay ([`sync`]) sit beside bundle framing, on the same
//! store questions.
//!
//! The public data types ([`ImportOutcome`], [`Conflict`], [`Choice`], [`Location`], …) are
//! exported from here; the wasm boundary imports only from this module. Where the JS API names a
//! concept differently, the README's "Rust and JS names" table gives the pairs.

pub mod export;
pub mod import;
pub mod sync;

use std::rc::Rc;

use crate::bundle::BundleHead;
use crate::clock::VectorClock;
use crate::error::Result;
use crate::ids::{BundleId, ConflictId, DeviceId};
use crate::store::{Config, SharedClock, Store};

pub use crate::model::{
    ChangeRecord, Choice, Conflict, ConflictStrategy, ConflictVersion, ExecOutcome, ImportOutcome,
    Location, Params, PendingRecord, Rows,
};
pub use export::Carry;
pub use sync::{Action, Round, RoundReport};

/// A source of wall-clock time in Unix milliseconds (injected: wasm has no system clock).
pub type WallClock = Box<dyn Fn() -> u64>;

/// Fills a buffer with random bytes; the ids a database makes (its device id, bundle ids) take
/// their randomness from it.
pub type RandomSource = Box<dyn FnMut(&mut [u8])>;

/// An open database with change capture.
pub struct Engine {
    store: Store,
    clock: SharedClock,
    /// Randomness for ids; SQLite's own random source when `None`.
    random: Option<RandomSource>,
}

/// Opens an [`Engine`] with everything it depends on from outside chosen by the caller: where the
/// database lives, the wall clock, the randomness its ids take, and (for a new database) its
/// device id. Fixing all of them makes a run replay exactly, which is how a property-test failure
/// is reproduced from its seed.
///
/// ```
/// use sqlite_sync_wasm::{DeviceId, Engine, Location};
///
/// let db = Engine::builder(Location::Memory, Box::new(|| 1_764_000_000_000))
///     .device_id(DeviceId([7; 16]))
///     .random(Box::new(|bytes: &mut [u8]| bytes.fill(1)))
///     .open()?;
/// assert_eq!(db.device_id(), DeviceId([7; 16]));
/// # Ok::<(), sqlite_sync_wasm::Error>(())
/// ```
pub struct EngineBuilder {
    location: Location,
    clock: WallClock,
    random: Option<RandomSource>,
    device_id: Option<DeviceId>,
}

impl EngineBuilder {
    /// Takes the randomness for new ids from `random` instead of SQLite's random source.
    pub fn random(mut self, random: RandomSource) -> Self {
        self.random = Some(random);
        self
    }

    /// The device id of a new database; an existing database must already have this id.
    pub fn device_id(mut self, device: DeviceId) -> Self {
        self.device_id = Some(device);
        self
    }

    /// Opens (creating when needed) the database.
    pub fn open(self) -> Result<Engine> {
        let EngineBuilder {
            location,
            clock,
            mut random,
            device_id,
        } = self;
        let clock: SharedClock = Rc::from(clock);
        let store = Store::open(Config {
            location,
            clock: clock.clone(),
            random: random
                .as_mut()
                .map(|fill| fill.as_mut() as &mut dyn FnMut(&mut [u8])),
            device_id,
        })?;
        Ok(Engine {
            store,
            clock,
            random,
        })
    }
}

impl Engine {
    /// Starts opening a database at `location` with `clock` (Unix milliseconds) as its wall clock.
    pub fn builder(location: Location, clock: WallClock) -> EngineBuilder {
        EngineBuilder {
            location,
            clock,
            random: None,
            device_id: None,
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
        self.generate_bundle_carrying(peer, Carry::Unacknowledged)
    }

    /// Like [`generate_bundle`](Self::generate_bundle), choosing which records the bundle
    /// carries: with [`Carry::Unsent`], only those no earlier bundle to `peer` carried.
    pub fn generate_bundle_carrying(
        &mut self,
        peer: Option<&DeviceId>,
        carry: Carry,
    ) -> Result<Option<Vec<u8>>> {
        let Some(outgoing) = export::plan(&self.store, peer, carry)? else {
            return Ok(None);
        };
        let head = BundleHead {
            id: self.new_bundle_id()?,
            source: self.store.device_id(),
            created_at: (self.clock)(),
            schema_version: 0,
            sender_clock: outgoing.clock,
        };
        let bytes = export::frame(&head, &outgoing.records)?;
        if let Some(peer) = peer {
            self.store
                .record_sent(peer, &head.sender_clock, &outgoing.carried)?;
        }
        Ok(Some(bytes))
    }

    /// Validates a bundle completely, then applies it in one transaction.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<ImportOutcome> {
        import::import(&mut self.store, (self.clock)(), bytes)
    }

    /// Starts a sync round with `relay` (its base URL) over `space`: what to send first, and the
    /// round to feed the relay's replies to ([`continue_round`](Self::continue_round)).
    pub fn begin_round(&mut self, relay: &str, space: &str) -> Result<(Round, Action)> {
        Round::begin(&self.store, relay, space)
    }

    /// Feeds one message from the relay to `round`; pages are imported here, each with the
    /// cursor after it in one transaction. An error ends the round.
    pub fn continue_round(&mut self, round: &mut Round, message: &[u8]) -> Result<Action> {
        round.receive(&mut self.store, (self.clock)(), message)
    }

    /// This replica's own records that (`relay`, `space`) has not acknowledged.
    pub fn sync_pending(&self, relay: &str, space: &str) -> Result<u64> {
        sync::pending(&self.store, relay, space)
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

    /// Keeps `reply` as the answer of a call that may be repeated (the package's OPFS worker
    /// keeps its replies so that a call repeated after a tab takes the database over is answered,
    /// not run twice). Written in the current transaction, so it commits with the call's effect.
    pub fn remember_reply(&mut self, key: &str, reply: &str) -> Result<()> {
        self.store.remember_reply(key, reply)
    }

    /// The reply kept for `key`, if the call committed before.
    pub fn recall_reply(&self, key: &str) -> Result<Option<String>> {
        self.store.recall_reply(key)
    }

    /// The whole database as bytes, to persist it elsewhere and reopen it with
    /// [`Location::Snapshot`].
    pub fn snapshot(&mut self) -> Result<Vec<u8>> {
        self.store.snapshot()
    }

    /// A new bundle id (a UUIDv7).
    fn new_bundle_id(&mut self) -> Result<BundleId> {
        let random = match &mut self.random {
            Some(fill) => {
                let mut bytes = [0u8; 10];
                fill(&mut bytes);
                bytes
            }
            None => self.store.sqlite_random()?,
        };
        Ok(BundleId::new_v7((self.clock)(), random))
    }

    /// Closes the database.
    pub fn close(self) -> Result<()> {
        self.store.close()
    }
}
