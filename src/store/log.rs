//! The change log: one append-only `_sync_log` row per captured transaction, from this device or
//! imported from others, keyed by (origin, seq).
//!
//! The row data is stored as the MessagePack [`ChangeSet`], and the causal context as a MessagePack
//! [`VectorClock`], so a record can be shipped as stored. Only this module reads or writes the table.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock::VectorClock;
use crate::error::{Error, Result};
use crate::model::{ChangeRecord, ChangeSet, DeviceId};

/// Appends a record whose change set is already encoded.
pub fn append(
    conn: &Connection,
    origin: &DeviceId,
    seq: u64,
    hlc: u64,
    clock: &[u8],
    changes: &[u8],
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO _sync_log (origin, seq, hlc, clock, changes) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        origin.0.as_slice(),
        to_sql_int(seq)?,
        to_sql_int(hlc)?,
        clock,
        changes
    ])?;
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

/// The highest sequence number recorded per origin.
pub fn clock(conn: &Connection) -> Result<VectorClock> {
    let mut stmt = conn.prepare_cached("SELECT origin, max(seq) FROM _sync_log GROUP BY origin")?;
    let mut rows = stmt.query([])?;
    let mut clock = VectorClock::new();
    while let Some(row) = rows.next()? {
        let origin: Vec<u8> = row.get(0)?;
        clock.observe(DeviceId::from_slice(&origin)?, from_sql_int(row.get(1)?)?);
    }
    Ok(clock)
}

/// Every record, in commit order (hybrid logical clock, then origin and sequence).
pub fn read_all(conn: &Connection) -> Result<Vec<ChangeRecord>> {
    let mut stmt = conn.prepare(
        "SELECT origin, seq, hlc, clock, changes FROM _sync_log ORDER BY hlc, origin, seq",
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

fn to_sql_int(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::Corrupt(format!("counter {value} out of range")))
}

fn from_sql_int(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Corrupt(format!("negative counter {value}")))
}
