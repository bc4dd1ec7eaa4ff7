//! Received records that wait for a change they depend on (`_sync_pending`).
//!
//! A record arrives before its predecessor when bundles are lost, split or reordered. It waits
//! here, indexed by the first dependency it lacks, until an import applies that dependency; only
//! then is it read again. Waiting records are neither applied, nor counted in the vector clock,
//! nor sent onwards (a peer gets a record from a replica that has applied it), so the peers that
//! hold them send them again later: dropping one loses nothing. That is what makes the limits
//! safe: at most [`MAX_RECORDS`] records and [`MAX_BYTES`] bytes wait; a record that does not fit
//! is not stored (the import reports it as `deferred`), and the app can list and drop waiting
//! records.

use rusqlite::{params, Connection, OptionalExtension};

use crate::bundle::{Record, RecordDigest};
use crate::clock::VectorClock;
use crate::error::Result;
use crate::ids::{DeviceId, Dot};
use crate::model::PendingRecord;
use crate::store::log::{decode_clock, digest_from, from_sql_int, to_sql_int};

/// Most records that may wait at once.
pub const MAX_RECORDS: u64 = 10_000;
/// Most bytes of change sets that may wait at once (64 MiB).
pub const MAX_BYTES: u64 = 64 << 20;

/// Stores a record that waits for `waits_for`.
pub fn store(
    conn: &Connection,
    record: &Record<'_>,
    clock: &[u8],
    rows: u64,
    waits_for: Dot,
    now_ms: u64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_pending
         (origin, seq, hlc, clock, changes, rows, digest, waits_origin, waits_seq, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        record.dot.origin.0.as_slice(),
        to_sql_int(record.dot.seq)?,
        to_sql_int(record.hlc)?,
        clock,
        record.changes,
        to_sql_int(rows)?,
        record.digest.0.as_slice(),
        waits_for.origin.0.as_slice(),
        to_sql_int(waits_for.seq)?,
        to_sql_int(now_ms)?
    ])?;
    Ok(())
}

/// The number of row changes and the digest of a waiting record, if it waits.
pub fn held(conn: &Connection, dot: Dot) -> Result<Option<(u64, RecordDigest)>> {
    super::held_by(
        conn,
        "SELECT rows, digest FROM main._sync_pending WHERE origin = ?1 AND seq = ?2",
        dot,
    )
}

/// How many records wait, and their change sets' bytes.
pub fn usage(conn: &Connection) -> Result<(u64, u64)> {
    let (count, bytes): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(length(changes)), 0) FROM main._sync_pending",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((from_sql_int(count)?, from_sql_int(bytes)?))
}

/// What the planner needs of a waiting record (its change set stays stored until it applies).
pub struct Waiting {
    pub dot: Dot,
    pub clock: VectorClock,
}

/// The waiting records whose first missing dependency is a change of `device` up to `seq`.
pub fn waiting_on(conn: &Connection, device: &DeviceId, seq: u64) -> Result<Vec<Waiting>> {
    let mut stmt = conn.prepare_cached(
        "SELECT origin, seq, clock FROM main._sync_pending
         WHERE waits_origin = ?1 AND waits_seq <= ?2",
    )?;
    let rows = stmt.query_map(params![device.0.as_slice(), to_sql_int(seq)?], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    rows.map(|row| {
        let (origin, seq, clock) = row?;
        Ok(Waiting {
            dot: Dot::new(DeviceId::from_slice(&origin)?, from_sql_int(seq)?),
            clock: decode_clock(&clock)?,
        })
    })
    .collect()
}

/// A waiting record taken out to be applied: everything the log stores.
pub struct Taken {
    pub hlc: u64,
    pub clock: Vec<u8>,
    pub changes: Vec<u8>,
    pub rows: u64,
    pub digest: RecordDigest,
}

/// A waiting record's stored columns: hlc, clock, changes, rows, digest.
type StoredRow = (i64, Vec<u8>, Vec<u8>, i64, Vec<u8>);

/// Removes a waiting record and returns it.
pub fn take(conn: &Connection, dot: Dot) -> Result<Option<Taken>> {
    let key = params![dot.origin.0.as_slice(), to_sql_int(dot.seq)?];
    let row: Option<StoredRow> = conn
        .prepare_cached(
            "SELECT hlc, clock, changes, rows, digest FROM main._sync_pending
             WHERE origin = ?1 AND seq = ?2",
        )?
        .query_row(key, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((hlc, clock, changes, rows, digest)) = row else {
        return Ok(None);
    };
    conn.prepare_cached("DELETE FROM main._sync_pending WHERE origin = ?1 AND seq = ?2")?
        .execute(key)?;
    Ok(Some(Taken {
        hlc: from_sql_int(hlc)?,
        clock,
        changes,
        rows: from_sql_int(rows)?,
        digest: digest_from(&digest)?,
    }))
}

/// Records that a waiting record now waits for `waits_for`.
pub fn rewait(conn: &Connection, dot: Dot, waits_for: Dot) -> Result<()> {
    conn.prepare_cached(
        "UPDATE main._sync_pending SET waits_origin = ?3, waits_seq = ?4
         WHERE origin = ?1 AND seq = ?2",
    )?
    .execute(params![
        dot.origin.0.as_slice(),
        to_sql_int(dot.seq)?,
        waits_for.origin.0.as_slice(),
        to_sql_int(waits_for.seq)?
    ])?;
    Ok(())
}

/// Every waiting record, by origin and sequence number.
pub fn list(conn: &Connection) -> Result<Vec<PendingRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT origin, seq, rows, length(changes), waits_origin, waits_seq, received_at
         FROM main._sync_pending ORDER BY origin, seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Vec<u8>>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, i64>(6)?,
        ))
    })?;
    rows.map(|row| {
        let (origin, seq, count, bytes, waits_origin, waits_seq, received_at) = row?;
        Ok(PendingRecord {
            dot: Dot::new(DeviceId::from_slice(&origin)?, from_sql_int(seq)?),
            rows: from_sql_int(count)?,
            bytes: from_sql_int(bytes)?,
            waits_for: Dot::new(
                DeviceId::from_slice(&waits_origin)?,
                from_sql_int(waits_seq)?,
            ),
            received_at: from_sql_int(received_at)?,
        })
    })
    .collect()
}

/// Drops waiting records: all of them, or those of one origin. Returns how many were dropped.
pub fn discard(conn: &Connection, origin: Option<&DeviceId>) -> Result<u64> {
    let dropped = match origin {
        Some(origin) => conn
            .prepare_cached("DELETE FROM main._sync_pending WHERE origin = ?1")?
            .execute(params![origin.0.as_slice()])?,
        None => conn
            .prepare_cached("DELETE FROM main._sync_pending")?
            .execute([])?,
    };
    Ok(dropped as u64)
}
