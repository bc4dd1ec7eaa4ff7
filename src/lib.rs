//! # sqlite-sync-wasm
//!
//! SQLite that syncs. Tables marked for sync have every insert, update and delete captured in the
//! same transaction as the write; the captured changes travel between replicas and merge
//! deterministically. The same code runs natively (rusqlite with bundled SQLite) and on
//! `wasm32-unknown-unknown` (rusqlite over sqlite-wasm-rs), where `src/wasm` exposes it to
//! JavaScript.
//!
//! Layers, with dependencies pointing downward only: [`engine`] (the native Rust API) over
//! [`store`] (the only code that speaks SQL) over the pure modules [`bundle`] (the file format),
//! [`merge`] (the rules that make replicas agree), [`codec`] (every binary form), [`model`] (plain
//! data), [`clock`], [`ids`] and [`error`].
//!
//! ```
//! use sqlite_sync_wasm::{Engine, Location, Params};
//!
//! let mut db = Engine::open(&Location::Memory, Box::new(|| 1_764_000_000_000))?;
//! db.execute("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT)", &Params::None)?;
//! db.enable_sync("todos", Default::default())?;
//! db.execute("INSERT INTO todos (title) VALUES ('milk')", &Params::None)?;
//! assert_eq!(db.change_log()?.len(), 1);
//! # Ok::<(), sqlite_sync_wasm::Error>(())
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod bundle;
pub mod clock;
pub mod codec;
pub mod engine;
pub mod error;
pub mod ids;
pub mod merge;
pub mod model;
pub mod protocol;
pub mod store;

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
mod wasm;

pub use engine::{Carry, Engine, EngineBuilder, RandomSource, WallClock};
pub use error::{Error, ErrorCode, Result};
pub use ids::{BundleId, ConflictId, DeviceId, Dot};
pub use model::{
    ChangeRecord, ChangeSet, Choice, Conflict, ConflictStrategy, ConflictVersion, ExecOutcome,
    ImportOutcome, Location, Params, PendingRecord, RowChange, Rows, TableChanges, Value, ValueRef,
};
