//! The storage seam: the only code that speaks SQL. [`Store`] owns the rusqlite connection, runs
//! the caller's statements, and keeps the change log in step with every write.
//!
//! Capture works at transaction boundaries. The pre-update hook (`capture`) buffers row images;
//! before anything commits (a `COMMIT`, `END`, `RELEASE`, the end of an autocommit statement, which
//! the store wraps in its own transaction) the store diffs the buffer into one change-log record in
//! the same transaction. Before `SAVEPOINT` and schema statements it flushes too, so a later
//! `ROLLBACK TO` removes data and log records together. A rollback discards the buffer. The result:
//! a committed write always has its record, a rolled-back one never does, whatever SQL the user ran.
//!
//! The store answers record-level questions and writes what it is told; what a peer gets, how
//! bundles are framed and which clocks are believed is the engine's business
//! ([`crate::engine`]).
//!
//! ## Module map
//!
//! | module | holds |
//! |---|---|
//! | `mod.rs` | [`Store`]: opening, the caller's statements |
//! | `journal` | the journal of one connection: identity, clocks, capture state, and turning a transaction's row images into its record |
//! | `peering` | what the store answers about peers and relays: records after a frontier, origins, peer and relay state |
//! | [`sql`] | SQL itself: running statements (`exec`), the authorizer that keeps callers out of `_sync_*` (`authorize`), statement kinds (`statement`), quoting (`quote`), row SQL by key (`bulk`), values (`values`), transaction guards (`txn`) |
//! | [`schema`] | the internal tables and their migrations (`migrate`), synced tables and their columns (`tables`), type affinity and checks (`affinity`, `typecheck`, `syncable`), the worker's reply cache (`replies`) |
//! | `capture` | the pre-update hook and its per-transaction buffer, the diff into one record, local changes into row state, `enableSync` of a table that holds rows |
//! | `log` | the change log (`_sync_log`), records waiting for a predecessor (`pending`), the peer-clock table (`peers`), relay cursors (`relays`), rows as records wrote them (`rowlog`) |
//! | `rowstate` | each synced row's merge state (`_sync_rows`) and its stored forms |
//! | `import` | the [`Import`] guard: which records are held, the fresh ones validated and applied in causal order in one transaction |
//! | `conflicts` | conflict records, as the API lists them, and their resolution |

mod capture;
mod conflicts;
mod import;
mod journal;
mod log;
mod peering;
mod rowstate;
pub mod schema;
pub mod sql;

use std::rc::Rc;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::clock::{Hlc, VectorClock};
use crate::error::{Error, Result};
use crate::ids::DeviceId;
use crate::model::{
    ChangeRecord, ChangeSet, ConflictStrategy, ExecOutcome, Location, Params, PendingRecord, Rows,
};
use capture::reconcile;
use capture::{lock, SharedCapture};
use log::pending;
use schema::replies;
use schema::tables::{self, TableShape};
use sql::authorize;
use sql::exec::{Binder, Output};
use sql::statement::classify;
use sql::txn::{refuse_open, Savepoint};

use journal::Journal;

pub use import::{Fresh, Import};
pub use log::peers::PeerState;
pub use log::relays::RelayState;
pub use log::Stored as StoredRecord;
pub use schema::RESERVED_PREFIX;

/// The wall clock in Unix milliseconds, shared with the engine (injected: wasm has no system
/// clock).
pub type SharedClock = Rc<dyn Fn() -> u64>;

/// Fills a buffer with random bytes.
pub type Random<'a> = &'a mut dyn FnMut(&mut [u8]);

/// How to open a [`Store`]: everything outside the database that it depends on, so that a test can
/// fix all of it and replay a run exactly.
pub struct Config<'a> {
    pub location: Location,
    pub clock: SharedClock,
    /// Randomness for a new database's device id; SQLite's own random source when `None`.
    pub random: Option<Random<'a>>,
    /// The device id a new database takes (an existing database must already have it); a fresh
    /// UUIDv7 when `None`.
    pub device_id: Option<DeviceId>,
}

/// One open database with change capture.
pub struct Store {
    conn: Connection,
    journal: Journal,
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::SqliteFailure(failure, message) => {
                let message = message.unwrap_or_else(|| failure.to_string());
                match failure.code {
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                        Error::Busy(message)
                    }
                    _ => Error::Sql {
                        message,
                        sqlite_code: Some(failure.extended_code),
                    },
                }
            }
            other => Error::Sql {
                message: other.to_string(),
                sqlite_code: None,
            },
        }
    }
}

impl Store {
    /// Opens (creating when needed) a database and its sync bookkeeping.
    pub fn open(config: Config) -> Result<Store> {
        let Config {
            location,
            clock: now_ms,
            random,
            device_id,
        } = config;
        let mut conn = match &location {
            Location::Memory => Connection::open_in_memory()?,
            Location::Path { path, vfs: None } => Connection::open(path)?,
            Location::Path {
                path,
                vfs: Some(vfs),
            } => Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs.as_str())?,
            Location::Snapshot(bytes) => {
                let mut conn = Connection::open_in_memory()?;
                if !bytes.is_empty() {
                    conn.deserialize_read_exact(
                        rusqlite::MAIN_DB,
                        bytes.as_slice(),
                        bytes.len(),
                        false,
                    )
                    .map_err(|e| Error::InvalidArgument(format!("not a database snapshot: {e}")))?;
                }
                conn
            }
        };
        let device = schema::initialise(&conn, device_id, now_ms(), || {
            let random = match random {
                Some(fill) => {
                    let mut bytes = [0u8; 10];
                    fill(&mut bytes);
                    bytes
                }
                None => schema::sqlite_random(&conn)?,
            };
            Ok(DeviceId::new_v7(now_ms(), random))
        })?;
        let capture: SharedCapture = Arc::new(Mutex::new(capture::Capture::default()));
        conn.preupdate_hook(Some(capture::hook(capture.clone())))?;
        let user_sql = authorize::UserSql::default();
        authorize::install(&mut conn, &user_sql)?;
        let local_seq = log::latest_seq(&conn, &device)?;
        let last_hlc = log::max_stamp(&conn)?;
        let mut journal = Journal {
            device,
            capture,
            capturing: false,
            local_seq,
            hlc: Hlc::starting_after(last_hlc),
            context: Vec::new(),
            now_ms,
            user_sql,
            replies: 0,
        };
        journal.refresh_context(&conn)?;
        for (name, _strategy) in tables::load(&conn)? {
            journal.follow(&conn, &name)?;
        }
        Ok(Store { conn, journal })
    }

    /// This replica's id.
    pub fn device_id(&self) -> DeviceId {
        self.journal.device
    }

    /// True while a transaction is open.
    pub fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Runs one or more statements; keeps the last result set's rows when `collect` is set.
    pub fn run(
        &mut self,
        sql: &str,
        params: &Params,
        collect: bool,
    ) -> Result<(ExecOutcome, Rows)> {
        let Store { conn, journal } = self;
        let mut binder = Binder::new(params);
        let mut out = Output::default();
        let prepared = {
            let _user = journal.user_sql.raise();
            conn.prepare_cached(&authorize::cache_key(sql))
        };
        match prepared {
            Ok(mut stmt) => journal.step(
                conn,
                &mut stmt,
                classify(sql),
                &mut binder,
                collect,
                &mut out,
            )?,
            Err(rusqlite::Error::Empty) => {}
            Err(_) => journal.run_batch(conn, sql, &mut binder, collect, &mut out)?,
        }
        binder.finish()?;
        Ok((out.outcome, out.rows))
    }

    /// Starts capturing `table`, or changes its strategy when it is already synced. The rows the
    /// table holds are recorded as inserts, and rows that synced before and were deleted while
    /// capture was off as deletes, so that what changed while the table was not synced reaches the
    /// other replicas.
    pub fn enable_sync(&mut self, table: &str, strategy: ConflictStrategy) -> Result<()> {
        let Store { conn, journal } = self;
        let shape = TableShape::describe(conn, table)?;
        shape.check_key()?;
        let already = lock(&journal.capture)
            .tracked()
            .any(|s| s.name == shape.name);
        journal.flush(conn)?;
        let savepoint = Savepoint::open(conn)?;
        tables::save(conn, &shape.name, strategy)?;
        if !already {
            journal.index_local(conn)?;
            let (shape, _) = shape
                .clone()
                .with_generations(tables::generations(conn, &shape.name)?);
            let mut changes = reconcile::existing_rows(conn, &shape)?;
            changes.rows.extend(reconcile::vanished_rows(conn, &shape)?);
            if !changes.rows.is_empty() {
                let set = ChangeSet {
                    tables: vec![changes],
                };
                journal.append_local(conn, &set.to_bytes()?, set.len() as u64)?;
            }
        }
        savepoint.release()?;
        journal.follow(conn, &shape.name)
    }

    /// Stops capturing `table`; changes made before this call are kept in the log.
    pub fn disable_sync(&mut self, table: &str) -> Result<()> {
        let Store { conn, journal } = self;
        let name = journal
            .synced_name(table)
            .ok_or_else(|| Error::TableNotSynced(table.to_owned()))?;
        journal.flush(conn)?;
        let savepoint = Savepoint::open(conn)?;
        tables::remove(conn, &name)?;
        savepoint.release()?;
        journal.unfollow(&name);
        Ok(())
    }

    /// Names of the synced tables, sorted.
    pub fn synced_tables(&self) -> Vec<String> {
        lock(&self.journal.capture)
            .tracked()
            .map(|s| s.name.clone())
            .collect()
    }

    /// Highest change counter applied per device (without gaps).
    pub fn vector_clock(&self) -> Result<VectorClock> {
        self.journal.clock(&self.conn)
    }

    /// Every record of the change log, in commit order.
    pub fn change_log(&self) -> Result<Vec<ChangeRecord>> {
        log::read_all(&self.conn)
    }

    /// The received records that wait for a change they depend on.
    pub fn pending_records(&self) -> Result<Vec<PendingRecord>> {
        pending::list(&self.conn)
    }

    /// Drops waiting records (all, or those of `origin`); a peer that has them sends them again.
    /// Returns how many were dropped.
    pub fn discard_pending(&mut self, origin: Option<&DeviceId>) -> Result<u64> {
        refuse_open(&self.conn, "discardPendingChanges")?;
        pending::discard(&self.conn, origin)
    }

    /// Keeps `reply` as the answer of the worker call `key`, in the current transaction, so that
    /// the call repeated after a takeover is answered instead of run twice.
    pub fn remember_reply(&mut self, key: &str, reply: &str) -> Result<()> {
        let now = (self.journal.now_ms)();
        replies::remember(&self.conn, key, reply, now, self.journal.replies)?;
        self.journal.replies += 1;
        Ok(())
    }

    /// The reply kept for the worker call `key`, if it committed before.
    pub fn recall_reply(&self, key: &str) -> Result<Option<String>> {
        replies::recall(&self.conn, key)
    }

    /// Refuses `what` (an operation's JS name) while the caller has a transaction open.
    pub fn refuse_in_transaction(&self, what: &str) -> Result<()> {
        refuse_open(&self.conn, what)
    }

    /// 10 random bytes from SQLite's random source.
    pub fn sqlite_random(&self) -> Result<[u8; 10]> {
        schema::sqlite_random(&self.conn)
    }

    /// The whole database as bytes (SQLite's serialization), for [`Location::Snapshot`].
    pub fn snapshot(&mut self) -> Result<Vec<u8>> {
        refuse_open(&self.conn, "snapshot")?;
        Ok(self.conn.serialize(rusqlite::MAIN_DB)?.to_vec())
    }

    /// Closes the connection.
    pub fn close(self) -> Result<()> {
        self.conn.close().map_err(|(_, error)| Error::from(error))
    }
}
