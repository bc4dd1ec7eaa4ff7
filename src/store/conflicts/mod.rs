//! Conflict records (`_sync_conflicts`): kept in step with each row's heads, listed, described.
//!
//! A row whose merge state holds two or more concurrent heads has one open conflict, identified by
//! its table, key and heads ([`versions`](crate::merge::versions)). When a row's heads change (a
//! later change saw them, a resolution arrived, a new concurrent version came), the conflict that no
//! longer matches is marked resolved and the new one, if any, is recorded. Rows are brought in line
//! in batches, at the end of an import or of indexing local changes, from the rows' final states:
//! only those states are the same on every replica that holds the same changes.

mod resolve;

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::error::{Error, Result};
use crate::ids::{ConflictId, DeviceId, Dot};
use crate::merge::versions::{self, Edit};
use crate::merge::{RowMeta, RowValues};
use crate::model::{Conflict, ConflictStrategy, ConflictVersion, RowChange};
use crate::store::log::rowlog::Records;
use crate::store::log::{from_sql_int, to_sql_int};
use crate::store::rowstate;
use crate::store::schema::tables::TableShape;

/// Rows whose heads changed, with their final merge states, to bring their conflicts in line.
#[derive(Default)]
pub struct Touched(HashMap<(String, Vec<u8>), RowMeta>);

impl Touched {
    /// Notes a row's new state when it is or was in conflict (`heads_before` heads before).
    pub fn note(&mut self, table: &str, pk: &[u8], meta: &RowMeta, heads_before: usize) {
        if meta.heads.len() > 1 || heads_before > 1 {
            self.0.insert((table.to_owned(), pk.to_vec()), meta.clone());
        }
    }
}

/// Brings the conflicts of every touched row in line with its heads. `strategy` gives each table's
/// conflict strategy; returns each new conflict's id and whether it is listed.
pub fn refresh(
    conn: &Connection,
    touched: Touched,
    shapes: &HashMap<String, std::sync::Arc<TableShape>>,
    mut strategy: impl FnMut(&str) -> Result<ConflictStrategy>,
    now_ms: u64,
) -> Result<Vec<(ConflictId, bool)>> {
    let mut wanted = Vec::new();
    for ((table, pk), meta) in touched.0 {
        let desired = meta.in_conflict().then(|| {
            let dots: Vec<Dot> = meta.heads.iter().map(|h| h.dot).collect();
            (versions::conflict_id(&table, &pk, &dots), dots)
        });
        let existing = open_for_row(conn, &table, &pk)?;
        for id in &existing {
            if desired.as_ref().map(|(d, _)| d) != Some(id) {
                conn.prepare_cached(
                    "UPDATE main._sync_conflicts SET resolved_at = ?2 WHERE id = ?1",
                )?
                .execute(params![id.0.as_slice(), to_sql_int(now_ms)?])?;
            }
        }
        if let Some((id, dots)) = desired {
            if !existing.contains(&id) {
                wanted.push((table, pk, id, dots, meta.deleted, meta.tombstone));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut records = Records::default();
    for (table, pk, _, dots, ..) in &wanted {
        for dot in dots {
            records.want(*dot, table, pk);
        }
    }
    records.load(conn)?;
    let mut created = Vec::with_capacity(wanted.len());
    for (table, pk, id, dots, deleted, tombstone) in wanted {
        let listed = match (strategy(&table)?, shapes.get(&table)) {
            (ConflictStrategy::LastWriterWins, _) | (_, None) => false,
            (strategy, Some(shape)) => {
                let base = base_row(conn, shape, &pk, deleted, tombstone)?;
                let edits = edits(&records, &table, &pk, &dots)?;
                let versions = versions::versions(&base, &edits);
                versions::listed(strategy, &edits, &versions)
            }
        };
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO main._sync_conflicts (id, tbl, pk, heads, visible, detected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id.0.as_slice(),
                table,
                pk,
                encode_dots(&dots),
                listed,
                to_sql_int(now_ms)?
            ])?;
        if inserted == 1 {
            created.push((id, listed));
        }
    }
    Ok(created)
}

/// The merged row a conflict's versions start from: the table's row, or the tombstone.
fn base_row(
    conn: &Connection,
    shape: &TableShape,
    pk: &[u8],
    deleted: bool,
    tombstone: Option<RowValues>,
) -> Result<RowValues> {
    if deleted {
        return Ok(tombstone.unwrap_or_default());
    }
    let key = rowstate::decode_key(pk)?;
    Ok(rowstate::current(conn, shape, &key)?.unwrap_or_default())
}

fn open_for_row(conn: &Connection, table: &str, pk: &[u8]) -> Result<Vec<ConflictId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM main._sync_conflicts WHERE tbl = ?1 AND pk = ?2 AND resolved_at IS NULL",
    )?;
    let ids = stmt.query_map(params![table, pk], |r| r.get::<_, Vec<u8>>(0))?;
    ids.map(|id| ConflictId::from_slice(&id?)).collect()
}

fn encode_dots(dots: &[Dot]) -> Vec<u8> {
    dots.iter().flat_map(|d| d.to_bytes()).collect()
}

fn decode_dots(bytes: &[u8]) -> Result<Vec<Dot>> {
    if !bytes.len().is_multiple_of(24) {
        return Err(Error::Corrupt("a conflict's heads are unreadable".into()));
    }
    bytes.chunks(24).map(Dot::from_bytes).collect()
}

/// An open conflict's row and heads, as stored.
pub struct Located {
    pub id: ConflictId,
    pub table: String,
    pub pk: Vec<u8>,
    pub heads: Vec<Dot>,
    pub detected_at: u64,
}

/// Open, listed conflicts, oldest first (all, or only the one with id `only`).
pub fn unresolved(conn: &Connection, only: Option<ConflictId>) -> Result<Vec<Located>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, tbl, pk, heads, detected_at FROM main._sync_conflicts
         WHERE resolved_at IS NULL AND visible = 1 AND (?1 IS NULL OR id = ?1)
         ORDER BY detected_at, id",
    )?;
    let only = only.map(|id| id.0.to_vec());
    let rows = stmt.query_map(params![only], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Vec<u8>>(2)?,
            r.get::<_, Vec<u8>>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    rows.map(|row| {
        let (id, table, pk, heads, detected_at) = row?;
        Ok(Located {
            id: ConflictId::from_slice(&id)?,
            table,
            pk,
            heads: decode_dots(&heads)?,
            detected_at: from_sql_int(detected_at)?,
        })
    })
    .collect()
}

/// Describes conflicts with every version of their rows, from the point of view of device `me`.
pub fn describe(
    conn: &Connection,
    me: DeviceId,
    shapes: &HashMap<String, std::sync::Arc<TableShape>>,
    located: Vec<Located>,
) -> Result<Vec<Conflict>> {
    let mut records = Records::default();
    for at in &located {
        for dot in &at.heads {
            records.want(*dot, &at.table, &at.pk);
        }
    }
    records.load(conn)?;
    let mut out = Vec::with_capacity(located.len());
    for at in located {
        let Some(shape) = shapes.get(&at.table) else {
            continue;
        };
        let meta = rowstate::load(conn, &at.table, &shape.generations, &at.pk)?
            .ok_or_else(|| Error::Corrupt("a conflict names a row without merge state".into()))?;
        let base = base_row(conn, shape, &at.pk, meta.deleted, meta.tombstone)?;
        let edits = edits(&records, &at.table, &at.pk, &at.heads)?;
        let rows = versions::versions(&base, &edits);
        let versions: Vec<ConflictVersion> = edits
            .iter()
            .zip(rows)
            .map(|(edit, values)| ConflictVersion {
                device: edit.origin,
                values,
            })
            .collect();
        let mine = versions.iter().position(|v| v.device == me).unwrap_or(0);
        let theirs = (0..versions.len()).find(|&i| i != mine).unwrap_or(mine);
        let key = rowstate::decode_key(&at.pk)?;
        out.push(Conflict {
            id: at.id,
            table: at.table,
            primary_key: shape.key_columns().map(str::to_owned).zip(key).collect(),
            local: versions[mine].values.clone(),
            remote: versions[theirs].values.clone(),
            versions,
            detected_at: at.detected_at,
        });
    }
    Ok(out)
}

/// Each head's edit of the row.
fn edits<'r>(records: &'r Records, table: &str, pk: &[u8], dots: &[Dot]) -> Result<Vec<Edit<'r>>> {
    dots.iter()
        .map(|dot| {
            let (columns, row) = records.row(*dot, table, pk).ok_or_else(|| {
                Error::Corrupt(format!("record {dot} does not touch a row it conflicts on"))
            })?;
            Ok(edit_of(dot.origin, columns, row))
        })
        .collect()
}

/// What a row change does, as a conflict's version sees it.
fn edit_of<'a>(origin: DeviceId, columns: &'a [String], row: &'a RowChange) -> Edit<'a> {
    let named = |positions: &'a [u32], values: &'a [crate::model::Value]| {
        positions
            .iter()
            .zip(values)
            .filter_map(|(&i, v)| columns.get(i as usize).map(|c| (c.as_str(), v)))
            .collect::<Vec<_>>()
    };
    match row {
        RowChange::Insert { values } => Edit {
            origin,
            delete: false,
            writes: columns.iter().map(String::as_str).zip(values).collect(),
            before: Vec::new(),
        },
        RowChange::Update {
            columns: positions,
            old,
            new,
            ..
        } => Edit {
            origin,
            delete: false,
            writes: named(positions, new),
            before: named(positions, old),
        },
        RowChange::Delete { .. } => Edit {
            origin,
            delete: true,
            writes: Vec::new(),
            before: Vec::new(),
        },
    }
}
