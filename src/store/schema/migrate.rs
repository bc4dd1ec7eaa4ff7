//! Bringing a database written by an older build to the current internal format, once, when it is
//! opened. Every step runs in one savepoint: a failure leaves the database as it was.
//!
//! Format 1 → 2: the change log gains each record's effective stamp (its own clock: format 1 had no
//! other) and digest; records that waited move to `_sync_pending`, indexed by what they wait for;
//! synced tables get their column generations (the current columns are generation 0, which is
//! what format-1 row states meant); peers get the clock of what bundles to them carried; and
//! conflicts, which were pairs of changes, become one per row and set of concurrent heads, rebuilt
//! from the rows' merge states (their ids change). Row states keep their stored form: format-1
//! states are read as such. The worker's replies table, which format 1 left to the package's JS,
//! is dropped and made again by the schema (its replies are kept for minutes only).
//!
//! Format 2 → 3: the table of relay cursors (`_sync_relays`) is added, empty.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;

use crate::bundle::digest::{encode_clock, record_digest};
use crate::bundle::{Record, RecordDigest};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, Dot};
use crate::merge::order::Planner;
use crate::store::conflicts::{self, Touched};
use crate::store::log::pending;
use crate::store::log::{self, from_sql_int};
use crate::store::schema::tables::{self, TableShape};
use crate::store::{rowstate, schema};

/// Migrates from format `version` to the current one.
pub fn from(conn: &Connection, version: i64, now_ms: u64) -> Result<()> {
    if !(1..schema::DATABASE_FORMAT).contains(&version) {
        return Err(Error::Corrupt(format!("unknown sync format {version}")));
    }
    conn.execute_batch("SAVEPOINT _sync_migrate")?;
    let steps = || -> Result<()> {
        if version == 1 {
            from_1(conn, now_ms)?;
        }
        from_2(conn)
    };
    match steps() {
        Ok(()) => {
            conn.execute_batch("RELEASE _sync_migrate")?;
            Ok(())
        }
        Err(error) => {
            conn.execute_batch("ROLLBACK TO _sync_migrate; RELEASE _sync_migrate")?;
            Err(error)
        }
    }
}

fn from_1(conn: &Connection, now_ms: u64) -> Result<()> {
    conn.execute_batch(
        "ALTER TABLE main._sync_tables ADD COLUMN generations BLOB NOT NULL DEFAULT x'90';
         ALTER TABLE main._sync_peers ADD COLUMN carried BLOB;
         ALTER TABLE main._sync_log RENAME TO _sync_log_1;
         ALTER TABLE main._sync_conflicts RENAME TO _sync_conflicts_1;
         DROP INDEX IF EXISTS main._sync_conflicts_row;
         DROP TABLE IF EXISTS main._sync_rpc;",
    )?;
    conn.execute_batch(schema::DDL)?;
    let mut shapes: HashMap<String, Arc<TableShape>> = HashMap::new();
    for (name, _) in tables::load(conn)? {
        if let Ok(shape) = TableShape::describe(conn, &name) {
            let (shape, _) = shape.with_generations(Vec::new());
            tables::save_generations(conn, &name, &shape.generations)?;
            shapes.insert(name, Arc::new(shape));
        }
    }
    move_log(conn, now_ms)?;
    rebuild_conflicts(conn, &shapes, now_ms)?;
    conn.execute_batch(
        "DROP TABLE main._sync_log_1;
         DROP TABLE main._sync_conflicts_1;",
    )
    .map_err(Error::from)
}

/// Format 2 → 3: only a table is added (`_sync_relays`, made by the schema): a database that never
/// synced through a relay has pulled nothing from any.
fn from_2(conn: &Connection) -> Result<()> {
    conn.execute_batch(schema::DDL)?;
    schema::set_setting(conn, "format", schema::DATABASE_FORMAT)
}

/// Moves every format-1 log record: applied ones into the new log, waiting ones into
/// `_sync_pending`.
fn move_log(conn: &Connection, now_ms: u64) -> Result<()> {
    let device: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM main._sync_meta WHERE key = 'device_id'",
            [],
            |r| r.get(0),
        )
        .ok();
    let mut frontier = log::frontier(conn)?;
    let mut waiting = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT origin, seq, hlc, clock, changes, applied, rows FROM main._sync_log_1
             ORDER BY origin, seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let origin = DeviceId::from_slice(&row.get::<_, Vec<u8>>(0)?)?;
            let dot = Dot::new(origin, from_sql_int(row.get(1)?)?);
            let hlc = from_sql_int(row.get(2)?)?;
            let clock = log::decode_clock(&row.get::<_, Vec<u8>>(3)?)?;
            let changes: Vec<u8> = row.get(4)?;
            let applied: bool = row.get(5)?;
            let count = from_sql_int(row.get(6)?)?;
            let clock_bytes = encode_clock(&clock);
            let digest = record_digest(dot, hlc, &clock_bytes, &changes);
            if applied {
                log::append(
                    conn,
                    &log::Entry {
                        dot,
                        hlc,
                        stamp: hlc,
                        clock: &clock_bytes,
                        changes: &changes,
                        rows: count,
                        digest,
                    },
                )?;
                if device.as_deref() == Some(origin.0.as_slice()) {
                    frontier.observe(origin, dot.seq);
                }
            } else {
                waiting.push((dot, hlc, clock, changes, count, digest));
            }
        }
    }
    let mut planner: Planner<usize> = Planner::new(frontier);
    for (i, (dot, _, clock, ..)) in waiting.iter().enumerate() {
        planner.add(*dot, clock.clone(), i);
    }
    // Nothing that waited can be applied now (it would have been); what is left of the plan is
    // what each record waits for.
    let mut waits: HashMap<usize, Dot> = HashMap::new();
    while let Some((dot, i)) = planner.next_ready() {
        waits.insert(i, Dot::new(dot.origin, dot.seq.saturating_sub(1)));
    }
    for (_, missing, i) in planner.into_blocked() {
        waits.insert(i, missing);
    }
    for (i, (dot, hlc, clock, changes, count, digest)) in waiting.iter().enumerate() {
        let record = Record {
            dot: *dot,
            hlc: *hlc,
            clock: clock.clone(),
            changes,
            digest: RecordDigest(digest.0),
        };
        let waits_for = waits.get(&i).copied().unwrap_or(*dot);
        pending::store(
            conn,
            &record,
            &encode_clock(clock),
            *count,
            waits_for,
            now_ms,
        )?;
    }
    Ok(())
}

/// Records one conflict per row whose merge state holds concurrent heads.
fn rebuild_conflicts(
    conn: &Connection,
    shapes: &HashMap<String, Arc<TableShape>>,
    now_ms: u64,
) -> Result<()> {
    let mut touched = Touched::default();
    {
        let mut stmt = conn.prepare("SELECT tbl, pk, meta FROM main._sync_rows")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let table: String = row.get(0)?;
            let Some(shape) = shapes.get(&table) else {
                continue;
            };
            let pk: Vec<u8> = row.get(1)?;
            let meta = rowstate::decode_meta(&row.get::<_, Vec<u8>>(2)?, &shape.generations)?;
            if meta.heads.len() > 1 {
                touched.note(&table, &pk, &meta, 0);
            }
        }
    }
    let strategy = |table: &str| Ok(tables::strategy(conn, table)?.unwrap_or_default());
    conflicts::refresh(conn, touched, shapes, strategy, now_ms)?;
    Ok(())
}
