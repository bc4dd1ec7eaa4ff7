//! The native Rust API: one [`Engine`] per open database.
//!
//! The engine is what the wasm layer wraps and what Rust users call directly. It owns the
//! [`Store`](crate::store::Store) and keeps the public surface in one place; the network sync
//! session will live here too.

use crate::clock::VectorClock;
use crate::error::Result;
use crate::model::{ChangeRecord, ConflictStrategy, DeviceId, ExecOutcome, Params, Rows};
use crate::store::{Choice, Conflict, ImportOutcome, Location, Store, WallClock};

/// An open database with change capture.
pub struct Engine {
    store: Store,
}

impl Engine {
    /// Opens a database at `location`, using `now_ms` as the wall clock.
    pub fn open(location: &Location, now_ms: WallClock) -> Result<Engine> {
        Ok(Engine {
            store: Store::open(location, now_ms)?,
        })
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
        self.store.generate_bundle(peer)
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
    pub fn resolve_conflict(&mut self, id: &str, choice: Choice) -> Result<()> {
        self.store.resolve_conflict(id, choice)
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
