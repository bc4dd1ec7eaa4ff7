//! The storage seam: the only code that speaks SQL. [`Store`] owns the rusqlite connection, runs
//! the caller's statements, and keeps the change log in step with every write.
//!
//! Capture works at transaction boundaries. The pre-update hook ([`capture`]) buffers row images;
//! before anything commits (a `COMMIT`, `END`, `RELEASE`, the end of an autocommit statement, which
//! the store wraps in its own transaction) the store diffs the buffer into one change-log record in
//! the same transaction. Before `SAVEPOINT` and schema statements it flushes too, so a later
//! `ROLLBACK TO` removes data and log records together. A rollback discards the buffer. The result:
//! a committed write always has its record, a rolled-back one never does, whatever SQL the user ran.

pub mod apply;
mod authorize;
mod capture;
mod conflicts;
mod exec;
mod export;
mod import;
mod local;
mod log;
mod migrate;
mod peers;
mod pending;
pub mod quote;
mod resolve;
mod rowlog;
mod rowstate;
mod schema;
mod statement;
mod tables;
mod values;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::bundle::digest::{encode_clock, record_digest};
use crate::clock::{Hlc, VectorClock};
use crate::error::{Error, Result};
use crate::ids::{BundleId, DeviceId, Dot};
use crate::model::{
    ChangeRecord, ChangeSet, ConflictStrategy, ExecOutcome, Params, PendingRecord, RowChange, Rows,
    TableChanges,
};
use capture::{lock, SharedCapture};
use exec::{Binder, Output};
use statement::classify;
use tables::TableShape;

pub use export::Carry;
pub use schema::RESERVED_PREFIX;

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A private in-memory database.
    Memory,
    /// A file (or VFS path), optionally through a named SQLite VFS.
    Path { path: String, vfs: Option<String> },
    /// An in-memory database starting from a [`Store::snapshot`] (empty bytes: a new database).
    Snapshot(Vec<u8>),
}

/// A source of wall-clock time in Unix milliseconds (injected: wasm has no system clock).
pub type WallClock = Box<dyn Fn() -> u64>;

/// Fills a buffer with random bytes; the ids a database makes (its device id, bundle ids) take
/// their randomness from it.
pub type RandomSource = Box<dyn FnMut(&mut [u8])>;

/// How to open a [`Store`]: everything outside the database that it depends on, so that a test can
/// fix all of it and replay a run exactly.
pub struct Config {
    pub location: Location,
    pub clock: WallClock,
    /// Randomness for ids; SQLite's own random source when `None`.
    pub random: Option<RandomSource>,
    /// The device id a new database takes (an existing database must already have it); a fresh
    /// UUIDv7 when `None`.
    pub device_id: Option<DeviceId>,
}

/// One open database with change capture.
pub struct Store {
    conn: Connection,
    journal: Journal,
}

/// Everything besides the connection: identity, clocks and capture state.
struct Journal {
    device: DeviceId,
    capture: SharedCapture,
    /// True when at least one table is synced (so autocommit writes need wrapping).
    capturing: bool,
    local_seq: u64,
    hlc: Hlc,
    /// Encoded causal context recorded with local changes.
    context: Vec<u8>,
    now_ms: WallClock,
    random: Option<RandomSource>,
    /// Raised while the caller's SQL runs (see [`authorize`]).
    user_sql: authorize::UserSql,
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
            mut random,
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
            Ok(DeviceId::new_v7(
                now_ms(),
                random_bytes(&conn, &mut random)?,
            ))
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
            random,
            user_sql,
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
        let already = lock(&journal.capture)
            .tracked()
            .any(|s| s.name == shape.name);
        journal.flush(conn)?;
        in_savepoint(conn, || {
            tables::save(conn, &shape.name, strategy)?;
            if !already {
                journal.index_local(conn)?;
                let (shape, _) = shape
                    .clone()
                    .with_generations(tables::generations(conn, &shape.name)?);
                let mut changes = existing_rows(conn, &shape)?;
                changes.rows.extend(vanished_rows(conn, &shape)?);
                if !changes.rows.is_empty() {
                    let set = ChangeSet {
                        tables: vec![changes],
                    };
                    journal.append_local(conn, &set.to_bytes()?, set.len() as u64)?;
                }
            }
            Ok(())
        })?;
        journal.follow(conn, &shape.name)
    }

    /// Stops capturing `table`; changes made before this call are kept in the log.
    pub fn disable_sync(&mut self, table: &str) -> Result<()> {
        let Store { conn, journal } = self;
        let name = journal
            .synced_name(table)
            .ok_or_else(|| Error::TableNotSynced(table.to_owned()))?;
        journal.flush(conn)?;
        in_savepoint(conn, || tables::remove(conn, &name).map(drop))?;
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
        self.refuse_in_transaction("discardPendingChanges")?;
        pending::discard(&self.conn, origin)
    }

    /// Refuses an operation that must run outside an open transaction.
    pub(crate) fn refuse_in_transaction(&self, what: &str) -> Result<()> {
        if self.conn.is_autocommit() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "{what} cannot run inside an open transaction"
            )))
        }
    }

    /// The whole database as bytes (SQLite's serialization), for [`Location::Snapshot`].
    pub fn snapshot(&mut self) -> Result<Vec<u8>> {
        if !self.conn.is_autocommit() {
            return Err(Error::InvalidArgument(
                "snapshot cannot be taken inside an open transaction".into(),
            ));
        }
        Ok(self.conn.serialize(rusqlite::MAIN_DB)?.to_vec())
    }

    /// Closes the connection.
    pub fn close(self) -> Result<()> {
        self.conn.close().map_err(|(_, error)| Error::from(error))
    }
}

impl Journal {
    /// A new bundle id (a UUIDv7).
    fn new_bundle_id(&mut self, conn: &Connection) -> Result<BundleId> {
        let random = random_bytes(conn, &mut self.random)?;
        Ok(BundleId::new_v7((self.now_ms)(), random))
    }

    /// What this replica has applied: every other device's frontier and its own counter.
    fn clock(&self, conn: &Connection) -> Result<VectorClock> {
        let mut clock = log::frontier(conn)?;
        clock.observe(self.device, self.local_seq);
        Ok(clock)
    }

    /// Re-reads the causal context that local records are stamped with.
    fn refresh_context(&mut self, conn: &Connection) -> Result<()> {
        self.context = encode_clock(&log::frontier(conn)?);
        Ok(())
    }

    /// The synced tables' shapes by name.
    fn shapes(&self) -> HashMap<String, Arc<TableShape>> {
        lock(&self.capture)
            .tracked()
            .map(|s| (s.name.clone(), s.clone()))
            .collect()
    }

    /// Turns buffered row images into a change-log record, inside the current transaction.
    fn flush(&mut self, conn: &Connection) -> Result<()> {
        if !self.capturing {
            return Ok(());
        }
        let (taken, verify) = lock(&self.capture).take()?;
        if taken.is_empty() {
            return Ok(());
        }
        match capture::diff::encode(taken, verify, |shape, key| {
            rowstate::current_values(conn, shape, key)
        })? {
            Some((changes, rows)) => self.append_local(conn, &changes, rows),
            None => Ok(()),
        }
    }

    /// Appends a local record (an encoded change set) with the next sequence number.
    fn append_local(&mut self, conn: &Connection, changes: &[u8], rows: u64) -> Result<()> {
        let dot = Dot::new(self.device, self.local_seq + 1);
        let hlc = self.hlc.tick((self.now_ms)());
        let entry = log::Entry {
            dot,
            hlc,
            stamp: hlc,
            clock: &self.context,
            changes,
            rows,
            digest: record_digest(dot, hlc, &self.context, changes),
        };
        log::append(conn, &entry)?;
        self.local_seq = dot.seq;
        Ok(())
    }

    /// Starts (or refreshes) capture of a table recorded as synced; forgets it if it is gone.
    fn follow(&mut self, conn: &Connection, name: &str) -> Result<()> {
        match TableShape::describe(conn, name) {
            Ok(shape) => {
                let (shape, added) = shape.with_generations(tables::generations(conn, name)?);
                if added {
                    tables::save_generations(conn, &shape.name, &shape.generations)?;
                }
                lock(&self.capture).track(shape);
            }
            Err(Error::TableNotFound(_)) => {
                tables::remove(conn, name)?;
                lock(&self.capture).untrack(name);
            }
            Err(other) => return Err(other),
        }
        self.capturing = lock(&self.capture).tracked().next().is_some();
        Ok(())
    }

    fn unfollow(&mut self, name: &str) {
        let mut capture = lock(&self.capture);
        capture.untrack(name);
        self.capturing = capture.tracked().next().is_some();
    }

    /// Re-reads every synced table's shape after a schema statement.
    fn refresh(&mut self, conn: &Connection) -> Result<()> {
        let names: Vec<String> = lock(&self.capture)
            .tracked()
            .map(|s| s.name.clone())
            .collect();
        names.iter().try_for_each(|name| self.follow(conn, name))
    }

    /// Makes capture follow exactly the tables `_sync_tables` lists (after a rollback, which may
    /// have undone an `enableSync` or `disableSync`).
    fn resync_tables(&mut self, conn: &Connection) -> Result<()> {
        let stored: Vec<String> = tables::load(conn)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let followed: Vec<String> = lock(&self.capture)
            .tracked()
            .map(|s| s.name.clone())
            .collect();
        for name in followed.iter().filter(|n| !stored.contains(n)) {
            self.unfollow(name);
        }
        stored.iter().try_for_each(|name| self.follow(conn, name))
    }

    /// The declared name of a synced table, matched case-insensitively.
    fn synced_name(&self, table: &str) -> Option<String> {
        lock(&self.capture)
            .tracked()
            .find(|s| s.name.eq_ignore_ascii_case(table))
            .map(|s| s.name.clone())
    }
}

/// 10 random bytes from the injected source, or from SQLite's.
fn random_bytes(conn: &Connection, random: &mut Option<RandomSource>) -> Result<[u8; 10]> {
    match random {
        Some(fill) => {
            let mut bytes = [0u8; 10];
            fill(&mut bytes);
            Ok(bytes)
        }
        None => schema::sqlite_random(conn),
    }
}

/// Runs `f` in a transaction of its own (the connection must be in autocommit mode): committed when
/// `f` succeeds, rolled back when it fails.
fn in_transaction<T>(conn: &Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.raw_execute()?;
    match f() {
        Ok(value) => {
            conn.prepare_cached("COMMIT")?.raw_execute()?;
            Ok(value)
        }
        Err(error) => {
            conn.prepare_cached("ROLLBACK")?.raw_execute()?;
            Err(error)
        }
    }
}

/// Runs `f` inside a savepoint, undoing its writes when it fails.
fn in_savepoint<T>(conn: &Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    conn.execute_batch("SAVEPOINT _sync_internal")?;
    match f() {
        Ok(value) => {
            conn.execute_batch("RELEASE _sync_internal")?;
            Ok(value)
        }
        Err(error) => {
            conn.execute_batch("ROLLBACK TO _sync_internal; RELEASE _sync_internal")?;
            Err(error)
        }
    }
}

/// Every row of a table, as inserts.
fn existing_rows(conn: &Connection, shape: &TableShape) -> Result<TableChanges> {
    let sql = format!(
        "SELECT {} FROM {}",
        quote::ident_list(shape.columns.iter().map(String::as_str)),
        quote::ident(&shape.name)
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut changes = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(shape.columns.len());
        for (i, column) in shape.columns.iter().enumerate() {
            let value = values::borrowed(row.get_ref(i)?).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "column {column:?} of {} holds TEXT that is not valid UTF-8, which cannot be synced; store such bytes as a BLOB",
                    shape.name
                ))
            })?;
            values.push(value.to_value());
        }
        changes.push(RowChange::Insert { values });
    }
    Ok(TableChanges {
        table: shape.name.clone(),
        columns: shape.columns.clone(),
        primary_key: shape.primary_key.clone(),
        rows: changes,
    })
}

/// Deletes for the rows whose merge state says they exist but that the table no longer holds
/// (deleted while the table was not synced). Each carries the values the row's last writes gave it,
/// read from the records that made them, so its tombstone here is the one every replica keeps.
fn vanished_rows(conn: &Connection, shape: &TableShape) -> Result<Vec<RowChange>> {
    let mut vanished = Vec::new();
    {
        let mut stmt = conn.prepare("SELECT pk, meta FROM main._sync_rows WHERE tbl = ?1")?;
        let mut rows = stmt.query([&shape.name])?;
        while let Some(row) = rows.next()? {
            let pk: Vec<u8> = row.get(0)?;
            let meta = rowstate::decode_meta(&row.get::<_, Vec<u8>>(1)?, &shape.generations)?;
            if meta.deleted {
                continue;
            }
            let key = rowstate::decode_key(&pk)?;
            if rowstate::current_values(conn, shape, &key)?.is_none() {
                vanished.push((pk, key, meta));
            }
        }
    }
    let mut records = rowlog::Records::default();
    let mut writers = Vec::with_capacity(vanished.len());
    for (pk, _, meta) in &vanished {
        let mut by_column = Vec::with_capacity(meta.columns.len());
        for (column, stamp) in &meta.columns {
            if let Some(dot) = rowlog::find_by_stamp(conn, stamp.origin, stamp.hlc)? {
                records.want(dot, &shape.name, pk);
                by_column.push((column.clone(), dot));
            }
        }
        writers.push(by_column);
    }
    records.load(conn)?;
    let mut deletes = Vec::with_capacity(vanished.len());
    for ((pk, key, _), by_column) in vanished.iter().zip(writers) {
        let mut old: Vec<crate::model::Value> =
            vec![crate::model::Value::Null; shape.columns.len()];
        for (&position, value) in shape.primary_key.iter().zip(key) {
            old[position as usize] = value.clone();
        }
        for (column, dot) in by_column {
            let Some(position) = shape.columns.iter().position(|c| *c == column) else {
                continue;
            };
            if let Some((columns, change)) = records.row(dot, &shape.name, pk) {
                if let Some(value) = written_value(columns, change, &column) {
                    old[position] = value.clone();
                }
            }
        }
        deletes.push(RowChange::Delete { old });
    }
    Ok(deletes)
}

/// The value a row change wrote to `column`, if it wrote one.
fn written_value<'a>(
    columns: &[String],
    change: &'a RowChange,
    column: &str,
) -> Option<&'a crate::model::Value> {
    let position = columns.iter().position(|c| c == column)? as u32;
    match change {
        RowChange::Insert { values } => values.get(position as usize),
        RowChange::Update { columns, new, .. } => columns
            .iter()
            .position(|&c| c == position)
            .and_then(|i| new.get(i)),
        RowChange::Delete { .. } => None,
    }
}
