//! The native Rust API: one [`Engine`] per open database.
//!
//! The engine is what the wasm layer wraps and what Rust users call directly. It owns the
//! [`Store`](crate::store::Store) and will own the merge and sync-session state as those land; for
//! now it forwards to the store, keeping the public surface in one place.

use crate::clock::VectorClock;
use crate::error::Result;
use crate::model::{
    ChangeRecord, ChangeSet, ConflictStrategy, DeviceId, ExecOutcome, Params, Rows,
};
use crate::store::{Location, Store, WallClock};

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

    /// Writes another replica's changes without capturing them as local ones.
    pub fn apply_remote(&mut self, set: &ChangeSet) -> Result<()> {
        self.store.apply_remote(set)
    }

    /// Closes the database.
    pub fn close(self) -> Result<()> {
        self.store.close()
    }
}
