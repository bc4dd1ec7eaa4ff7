//! The change log: one `_sync_log` row per applied record, from this device or received from
//! others, keyed by its dot (origin, seq), and the per-device frontier of what has been applied.
//!
//! A record is stored as it travels: its origin's hybrid logical clock, its causal context (the
//! canonical clock encoding), its change set bytes and its digest, so it is shipped again exactly
//! as received. Beside them the log keeps the record's effective stamp (the clock the merge
//! uses, see [`stamp`](crate::merge::stamp)). Records of one origin are applied in sequence order
//! without gaps, so the applied records of an origin are exactly `1..=frontier`. Only this module
//! reads or writes these tables.

pub mod peers;
pub mod pending;
pub mod relays;
pub mod rowlog;

use std::borrow::Cow;
use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use crate::bundle::RecordDigest;
use crate::clock::VectorClock;
use crate::codec::Reader;
use crate::error::{Error, Result};
use crate::ids::{DeviceId, Dot};
use crate::model::{ChangeRecord, ChangeSet};

/// A record to store: its dot, clocks, change set, and what the import knows of it.
pub struct Entry<'a> {
    pub dot: Dot,
    pub hlc: u64,
    /// The effective stamp.
    pub stamp: u64,
    /// The encoded causal context.
    pub clock: &'a [u8],
    pub changes: &'a [u8],
    /// Number of row changes in `changes`.
    pub rows: u64,
    pub digest: RecordDigest,
}

/// Appends applied records many per statement (an import applies thousands of small records);
/// [`finish`](Appender::finish) writes the rest. Nothing reads a record back during an import
/// before the import's last step, which finishes the appender first.
#[derive(Default)]
pub struct Appender<'a> {
    entries: Vec<OwnedEntry<'a>>,
    statements: HashMap<usize, String>,
}

/// An [`Entry`] whose change set may be borrowed from a bundle or owned.
pub struct OwnedEntry<'a> {
    pub dot: Dot,
    pub hlc: u64,
    pub stamp: u64,
    pub clock: Vec<u8>,
    pub changes: Cow<'a, [u8]>,
    pub rows: u64,
    pub digest: RecordDigest,
}

/// Records appended per statement.
const APPEND_ROWS: usize = 128;

impl<'a> Appender<'a> {
    /// Adds a record, writing a batch when one is full.
    pub fn push(&mut self, conn: &Connection, entry: OwnedEntry<'a>) -> Result<()> {
        self.entries.push(entry);
        if self.entries.len() == APPEND_ROWS {
            self.flush(conn)?;
        }
        Ok(())
    }

    /// Writes every record added and not written yet.
    pub fn finish(mut self, conn: &Connection) -> Result<()> {
        self.flush(conn)
    }

    fn flush(&mut self, conn: &Connection) -> Result<()> {
        let count = self.entries.len();
        if count == 0 {
            return Ok(());
        }
        let sql = self.statements.entry(count).or_insert_with(|| {
            let row = "(?, ?, ?, ?, ?, ?, ?, ?)";
            format!(
                "INSERT INTO main._sync_log (origin, seq, hlc, stamp, clock, changes, rows, digest) VALUES {}",
                vec![row; count].join(", ")
            )
        });
        let mut stmt = conn.prepare_cached(sql)?;
        let mut index = 1;
        for entry in &self.entries {
            stmt.raw_bind_parameter(index, entry.dot.origin.0.as_slice())?;
            stmt.raw_bind_parameter(index + 1, to_sql_int(entry.dot.seq)?)?;
            stmt.raw_bind_parameter(index + 2, to_sql_int(entry.hlc)?)?;
            stmt.raw_bind_parameter(index + 3, to_sql_int(entry.stamp)?)?;
            stmt.raw_bind_parameter(index + 4, entry.clock.as_slice())?;
            stmt.raw_bind_parameter(index + 5, entry.changes.as_ref())?;
            stmt.raw_bind_parameter(index + 6, to_sql_int(entry.rows)?)?;
            stmt.raw_bind_parameter(index + 7, entry.digest.0.as_slice())?;
            index += 8;
        }
        stmt.raw_execute()?;
        self.entries.clear();
        Ok(())
    }
}

/// Appends an applied record.
pub fn append(conn: &Connection, entry: &Entry<'_>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_log (origin, seq, hlc, stamp, clock, changes, rows, digest)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        entry.dot.origin.0.as_slice(),
        to_sql_int(entry.dot.seq)?,
        to_sql_int(entry.hlc)?,
        to_sql_int(entry.stamp)?,
        entry.clock,
        entry.changes,
        to_sql_int(entry.rows)?,
        entry.digest.0.as_slice()
    ])?;
    Ok(())
}

/// The number of row changes and the digest of a record the log holds, if it holds it.
pub fn held(conn: &Connection, dot: Dot) -> Result<Option<(u64, RecordDigest)>> {
    held_by(
        conn,
        "SELECT rows, digest FROM main._sync_log WHERE origin = ?1 AND seq = ?2",
        dot,
    )
}

/// The number of row changes and the digest of the record `dot` that `select` (a query of the
/// log or of the pending records, taking origin and seq) finds, if it finds it.
pub(in crate::store) fn held_by(
    conn: &Connection,
    select: &str,
    dot: Dot,
) -> Result<Option<(u64, RecordDigest)>> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(select)?
        .query_row(
            params![dot.origin.0.as_slice(), to_sql_int(dot.seq)?],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(rows, digest)| Ok((from_sql_int(rows)?, digest_from(&digest)?)))
        .transpose()
}

/// The effective stamp of an applied record.
pub fn stamp_of(conn: &Connection, dot: Dot) -> Result<Option<u64>> {
    let stamp: Option<i64> = conn
        .prepare_cached("SELECT stamp FROM main._sync_log WHERE origin = ?1 AND seq = ?2")?
        .query_row(
            params![dot.origin.0.as_slice(), to_sql_int(dot.seq)?],
            |r| r.get(0),
        )
        .optional()?;
    stamp.map(from_sql_int).transpose()
}

/// Moves `origin`'s applied frontier to `seq`.
pub fn advance(conn: &Connection, origin: &DeviceId, seq: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_clock (origin, seq) VALUES (?1, ?2)
         ON CONFLICT (origin) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?
    .execute(params![origin.0.as_slice(), to_sql_int(seq)?])?;
    Ok(())
}

/// The highest sequence number the log holds for `origin`.
pub fn latest_seq(conn: &Connection, origin: &DeviceId) -> Result<u64> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT max(seq) FROM main._sync_log WHERE origin = ?1")?
        .query_row(params![origin.0.as_slice()], |r| r.get(0))?;
    seq.map_or(Ok(0), from_sql_int)
}

/// The greatest effective stamp of any record.
pub fn max_stamp(conn: &Connection) -> Result<u64> {
    let stamp: Option<i64> =
        conn.query_row("SELECT max(stamp) FROM main._sync_log", [], |r| r.get(0))?;
    stamp.map_or(Ok(0), from_sql_int)
}

/// Per other device, the highest counter applied.
pub fn frontier(conn: &Connection) -> Result<VectorClock> {
    let mut stmt = conn.prepare_cached("SELECT origin, seq FROM main._sync_clock")?;
    let mut rows = stmt.query([])?;
    let mut clock = VectorClock::new();
    while let Some(row) = rows.next()? {
        let origin: Vec<u8> = row.get(0)?;
        clock.observe(DeviceId::from_slice(&origin)?, from_sql_int(row.get(1)?)?);
    }
    Ok(clock)
}

/// The devices that have records in the log.
pub fn origins(conn: &Connection) -> Result<Vec<DeviceId>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT origin FROM main._sync_log")?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|origin| DeviceId::from_slice(&origin?)).collect()
}

/// A stored record as it is sent again.
pub struct Stored {
    pub dot: Dot,
    pub hlc: u64,
    pub stamp: u64,
    pub clock: Vec<u8>,
    pub changes: Vec<u8>,
    pub digest: RecordDigest,
}

/// Records of `origin` with a sequence number above `after`, in order; at most `limit`.
pub fn after(
    conn: &Connection,
    origin: &DeviceId,
    after: u64,
    limit: Option<usize>,
) -> Result<Vec<Stored>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, hlc, stamp, clock, changes, digest FROM main._sync_log
         WHERE origin = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    // SQLite reads a negative LIMIT as none.
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let rows = stmt.query_map(
        params![origin.0.as_slice(), to_sql_int(after)?, limit],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, Vec<u8>>(5)?,
            ))
        },
    )?;
    rows.map(|row| {
        let (seq, hlc, stamp, clock, changes, digest) = row?;
        Ok(Stored {
            dot: Dot::new(*origin, from_sql_int(seq)?),
            hlc: from_sql_int(hlc)?,
            stamp: from_sql_int(stamp)?,
            clock,
            changes,
            digest: digest_from(&digest)?,
        })
    })
    .collect()
}

/// The change set bytes and effective stamp of an applied record.
pub fn changes_of(conn: &Connection, dot: Dot) -> Result<Option<(Vec<u8>, u64)>> {
    let row: Option<(Vec<u8>, i64)> = conn
        .prepare_cached("SELECT changes, stamp FROM main._sync_log WHERE origin = ?1 AND seq = ?2")?
        .query_row(
            params![dot.origin.0.as_slice(), to_sql_int(dot.seq)?],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(changes, stamp)| Ok((changes, from_sql_int(stamp)?)))
        .transpose()
}

/// Every applied record, in commit order (effective stamp, then origin and sequence).
pub fn read_all(conn: &Connection) -> Result<Vec<ChangeRecord>> {
    let mut stmt = conn.prepare(
        "SELECT origin, seq, hlc, clock, changes FROM main._sync_log ORDER BY stamp, origin, seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        let origin: Vec<u8> = row.get(0)?;
        let clock: Vec<u8> = row.get(3)?;
        let changes: Vec<u8> = row.get(4)?;
        records.push(ChangeRecord {
            origin: DeviceId::from_slice(&origin)?,
            seq: from_sql_int(row.get(1)?)?,
            hlc: from_sql_int(row.get(2)?)?,
            clock: decode_clock(&clock)?,
            changes: ChangeSet::from_bytes(&changes)?,
        });
    }
    Ok(records)
}

/// Reads a stored causal context.
pub fn decode_clock(bytes: &[u8]) -> Result<VectorClock> {
    let mut reader = Reader::new(bytes);
    let clock = reader
        .clock()
        .map_err(|e| Error::Corrupt(format!("undecodable clock: {e}")))?;
    reader
        .finish("clock")
        .map_err(|e| Error::Corrupt(format!("undecodable clock: {e}")))?;
    Ok(clock)
}

/// Reads a stored digest.
pub fn digest_from(bytes: &[u8]) -> Result<RecordDigest> {
    RecordDigest::from_slice(bytes)
        .ok_or_else(|| Error::Corrupt(format!("a record digest of {} bytes", bytes.len())))
}

pub fn to_sql_int(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::Corrupt(format!("counter {value} out of range")))
}

pub fn from_sql_int(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Corrupt(format!("negative counter {value}")))
}
