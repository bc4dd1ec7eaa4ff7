//! The change log: one append-only `_sync_log` row per transaction, from this device or received
//! from others, keyed by (origin, seq), and the per-device frontier of what has been applied.
//!
//! The row data is stored as the MessagePack [`ChangeSet`], and the causal context as a MessagePack
//! [`VectorClock`], so a record is shipped exactly as stored. A received record whose predecessors
//! have not arrived yet waits with `applied = 0`. Only this module reads or writes these tables.

use rusqlite::{params, Connection, OptionalExtension};

use crate::bundle::{Bytes, WireRecord};
use crate::clock::VectorClock;
use crate::error::{Error, Result};
use crate::model::{ChangeRecord, ChangeSet, DeviceId};

/// A local (already applied) record: its position, causal context and encoded change set.
pub struct LocalRecord<'a> {
    pub origin: &'a DeviceId,
    pub seq: u64,
    pub hlc: u64,
    pub clock: &'a [u8],
    pub changes: &'a [u8],
    /// Number of row changes in `changes`.
    pub rows: u64,
}

/// Appends a local record.
pub fn append(conn: &Connection, record: &LocalRecord<'_>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO _sync_log (origin, seq, hlc, clock, changes, rows) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        record.origin.0.as_slice(),
        to_sql_int(record.seq)?,
        to_sql_int(record.hlc)?,
        record.clock,
        record.changes,
        to_sql_int(record.rows)?
    ])?;
    Ok(())
}

/// The number of row changes of a record the log holds, or `None` when it does not hold it.
pub fn held_rows(conn: &Connection, origin: &DeviceId, seq: u64) -> Result<Option<u64>> {
    let rows: Option<i64> = conn
        .prepare_cached("SELECT rows FROM _sync_log WHERE origin = ?1 AND seq = ?2")?
        .query_row(params![origin.0.as_slice(), to_sql_int(seq)?], |r| r.get(0))
        .optional()?;
    rows.map(from_sql_int).transpose()
}

/// Stores a received record (of `rows` row changes) the log does not hold, as applied or as
/// waiting to be.
pub fn receive(conn: &Connection, record: &WireRecord, rows: u64, applied: bool) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO _sync_log (origin, seq, hlc, clock, changes, applied, rows)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        record.origin.0.as_slice(),
        to_sql_int(record.seq)?,
        to_sql_int(record.hlc)?,
        encode_clock(&record.clock)?,
        record.changes.0.as_slice(),
        applied,
        to_sql_int(rows)?
    ])?;
    Ok(())
}

/// Every record still waiting for a predecessor, by origin and sequence.
pub fn waiting(conn: &Connection) -> Result<Vec<WireRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT origin, seq, hlc, clock, changes FROM _sync_log WHERE applied = 0 ORDER BY origin, seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, Vec<u8>>(3)?,
            r.get(4)?,
        ))
    })?;
    rows.map(|row| {
        let (origin, seq, hlc, clock, changes) = row?;
        wire(&origin, seq, hlc, &clock, changes)
    })
    .collect()
}

/// Marks a record that was waiting as applied.
pub fn mark_applied(conn: &Connection, origin: &DeviceId, seq: u64) -> Result<()> {
    conn.prepare_cached("UPDATE _sync_log SET applied = 1 WHERE origin = ?1 AND seq = ?2")?
        .execute(params![origin.0.as_slice(), to_sql_int(seq)?])?;
    Ok(())
}

/// Moves `origin`'s applied frontier to `seq`.
pub fn advance(conn: &Connection, origin: &DeviceId, seq: u64) -> Result<()> {
    let seq = to_sql_int(seq)?;
    conn.prepare_cached(
        "INSERT INTO _sync_clock (origin, seq) VALUES (?1, ?2)
         ON CONFLICT (origin) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?
    .execute(params![origin.0.as_slice(), seq])?;
    Ok(())
}

/// The highest sequence number recorded for `origin`, and that record's hybrid logical clock.
pub fn latest(conn: &Connection, origin: &DeviceId) -> Result<Option<(u64, u64)>> {
    let row: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT seq, hlc FROM _sync_log WHERE origin = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![origin.0.as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(seq, hlc)| Ok((from_sql_int(seq)?, from_sql_int(hlc)?)))
        .transpose()
}

/// The greatest hybrid logical clock of any record.
pub fn max_hlc(conn: &Connection) -> Result<u64> {
    let hlc: Option<i64> = conn.query_row("SELECT max(hlc) FROM _sync_log", [], |r| r.get(0))?;
    hlc.map_or(Ok(0), from_sql_int)
}

/// Per other device, the highest counter applied without gaps.
pub fn frontier(conn: &Connection) -> Result<VectorClock> {
    let mut stmt = conn.prepare_cached("SELECT origin, seq FROM _sync_clock")?;
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
    let mut stmt = conn.prepare_cached("SELECT DISTINCT origin FROM _sync_log")?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|origin| DeviceId::from_slice(&origin?)).collect()
}

/// Records of `origin` with a sequence number above `after`, in order.
pub fn after(conn: &Connection, origin: &DeviceId, after: u64) -> Result<Vec<WireRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, hlc, clock, changes FROM _sync_log WHERE origin = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![origin.0.as_slice(), to_sql_int(after)?], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, Vec<u8>>(2)?, r.get(3)?))
    })?;
    rows.map(|row| {
        let (seq, hlc, clock, changes) = row?;
        wire(&origin.0, seq, hlc, &clock, changes)
    })
    .collect()
}

/// One record, decoded.
pub fn get(conn: &Connection, origin: &DeviceId, seq: u64) -> Result<Option<ChangeRecord>> {
    let row: Option<(i64, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached("SELECT hlc, clock, changes FROM _sync_log WHERE origin = ?1 AND seq = ?2")?
        .query_row(params![origin.0.as_slice(), to_sql_int(seq)?], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(hlc, clock, changes)| {
        Ok(ChangeRecord {
            origin: *origin,
            seq,
            hlc: from_sql_int(hlc)?,
            clock: decode_clock(&clock)?,
            changes: ChangeSet::from_bytes(&changes)?,
        })
    })
    .transpose()
}

/// Every applied record, in commit order (hybrid logical clock, then origin and sequence).
pub fn read_all(conn: &Connection) -> Result<Vec<ChangeRecord>> {
    let mut stmt = conn.prepare(
        "SELECT origin, seq, hlc, clock, changes FROM _sync_log WHERE applied = 1
         ORDER BY hlc, origin, seq",
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

/// The stored form of a causal context.
pub fn encode_clock(clock: &VectorClock) -> Result<Vec<u8>> {
    rmp_serde::to_vec(clock).map_err(|e| Error::Corrupt(format!("cannot encode clock: {e}")))
}

fn decode_clock(bytes: &[u8]) -> Result<VectorClock> {
    rmp_serde::from_slice(bytes).map_err(|e| Error::Corrupt(format!("undecodable clock: {e}")))
}

fn wire(origin: &[u8], seq: i64, hlc: i64, clock: &[u8], changes: Vec<u8>) -> Result<WireRecord> {
    Ok(WireRecord {
        origin: DeviceId::from_slice(origin)?,
        seq: from_sql_int(seq)?,
        hlc: from_sql_int(hlc)?,
        clock: decode_clock(clock)?,
        changes: Bytes(changes),
    })
}

pub fn to_sql_int(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::Corrupt(format!("counter {value} out of range")))
}

pub fn from_sql_int(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Corrupt(format!("negative counter {value}")))
}
