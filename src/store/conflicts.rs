//! Conflict records: kept in step with each row's causal heads, listed, and described.
//!
//! A row whose merge state has two or more heads has concurrent edits. Each head other than the
//! provisional winner (the greatest stamp) forms one conflict with the winner. Its id is a digest
//! of the table, the key and both changes' identities, so every replica that holds the same changes
//! derives the same ids. When the heads change (a later change saw them, or a resolution arrived)
//! records that no longer hold are marked resolved. Whether a record is listed by `conflicts()`
//! depends on the table's strategy: always for `manual`, never for `lww` (resolved automatically,
//! kept for inspection), and for `field-merge` only when both sides wrote a common column or one
//! side deleted the row.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::merge::{Head, RowMeta, RowValues};
use crate::model::{id_from_hex, id_to_hex, ConflictStrategy, DeviceId, RowChange, Value};
use crate::store::log;
use crate::store::rows;
use crate::store::tables::TableShape;

/// A conflict as the API reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// 32 lowercase hex characters; equal on every replica for the same pair of changes.
    pub id: String,
    pub table: String,
    /// Key column names and values.
    pub primary_key: RowValues,
    /// The row as this replica wrote it, or as the provisional winner has it (`None` = deleted).
    pub local: Option<RowValues>,
    /// The concurrent version (`None` = deleted).
    pub remote: Option<RowValues>,
    /// When this replica detected it, in Unix milliseconds.
    pub detected_at: u64,
}

/// Brings a row's conflict records in line with its heads; returns each new record's id and
/// whether it is listed.
pub fn refresh(
    conn: &Connection,
    table: &str,
    pk: &[u8],
    meta: &RowMeta,
    heads_before: usize,
    strategy: ConflictStrategy,
    now_ms: u64,
) -> Result<Vec<([u8; 16], bool)>> {
    if heads_before < 2 && meta.heads.len() < 2 {
        return Ok(Vec::new());
    }
    // Two deletes of the same row agree: there is nothing to choose between.
    let desired: Vec<([u8; 16], &Head, &Head)> = meta
        .conflicts()
        .filter(|(winner, loser)| !(winner.delete && loser.delete))
        .map(|(winner, loser)| (conflict_id(table, pk, winner, loser), winner, loser))
        .collect();
    let existing: Vec<Vec<u8>> = conn
        .prepare_cached(
            "SELECT id FROM _sync_conflicts WHERE tbl = ?1 AND pk = ?2 AND resolved_at IS NULL",
        )?
        .query_map(params![table, pk], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in &existing {
        if !desired
            .iter()
            .any(|(d, _, _)| d.as_slice() == id.as_slice())
        {
            conn.prepare_cached("UPDATE _sync_conflicts SET resolved_at = ?2 WHERE id = ?1")?
                .execute(params![id, log::to_sql_int(now_ms)?])?;
        }
    }
    let mut created = Vec::new();
    for (id, winner, loser) in desired {
        if existing.iter().any(|e| e.as_slice() == id.as_slice()) {
            continue;
        }
        let visible = match strategy {
            ConflictStrategy::Manual => true,
            ConflictStrategy::LastWriterWins => false,
            ConflictStrategy::FieldMerge => winner.overlaps(loser),
        };
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO _sync_conflicts (id, tbl, pk, winner, loser, visible, detected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                id.as_slice(),
                table,
                pk,
                dot(winner),
                dot(loser),
                visible,
                log::to_sql_int(now_ms)?
            ])?;
        if inserted == 1 {
            created.push((id, visible));
        }
    }
    Ok(created)
}

/// The row a conflict concerns: table, encoded key, winner and loser as (origin, seq).
pub struct Located {
    pub table: String,
    pub pk: Vec<u8>,
    pub winner: (DeviceId, u64),
    pub loser: (DeviceId, u64),
    pub detected_at: u64,
}

/// Open, listed conflicts, oldest first.
pub fn open(conn: &Connection) -> Result<Vec<([u8; 16], Located)>> {
    open_matching(conn, None)
}

/// Open, listed conflicts, all or only the one with id `only`.
fn open_matching(conn: &Connection, only: Option<&[u8]>) -> Result<Vec<([u8; 16], Located)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, tbl, pk, winner, loser, detected_at FROM _sync_conflicts
         WHERE resolved_at IS NULL AND visible = 1 AND (?1 IS NULL OR id = ?1)
         ORDER BY detected_at, id",
    )?;
    let rows = stmt.query_map(params![only], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, Vec<u8>>(3)?,
            r.get::<_, Vec<u8>>(4)?,
            r.get(5)?,
        ))
    })?;
    rows.map(|row| {
        let (id, table, pk, winner, loser, detected_at) = row?;
        let id: [u8; 16] = id
            .as_slice()
            .try_into()
            .map_err(|_| Error::Corrupt("conflict id length".into()))?;
        Ok((
            id,
            Located {
                table,
                pk,
                winner: undot(&winner)?,
                loser: undot(&loser)?,
                detected_at: log::from_sql_int(detected_at)?,
            },
        ))
    })
    .collect()
}

/// Describes a conflict with both versions of the row, from this replica's point of view.
pub fn describe(
    conn: &Connection,
    records: &mut Records,
    me: DeviceId,
    shape: &TableShape,
    id: [u8; 16],
    at: &Located,
) -> Result<Conflict> {
    let key = rows::decode_key(&at.pk)?;
    let base = match rows::current(conn, shape, &key)? {
        Some(values) => values,
        None => rows::load(conn, &shape.name, &at.pk)?
            .and_then(|m| m.tombstone)
            .unwrap_or_default(),
    };
    let winner = records.change(conn, &shape.name, &at.pk, at.winner)?;
    let loser = records.change(conn, &shape.name, &at.pk, at.loser)?;
    let (winner, loser) = (
        version(&base, &winner, &loser),
        version(&base, &loser, &winner),
    );
    let (local, remote) = if at.loser.0 == me {
        (loser, winner)
    } else {
        (winner, loser)
    };
    Ok(Conflict {
        id: id_to_hex(&id),
        table: shape.name.clone(),
        primary_key: shape.key_columns().map(str::to_owned).zip(key).collect(),
        local,
        remote,
        detected_at: at.detected_at,
    })
}

/// A change to one row: the column names of its record and the row change.
type RowEdit = (Arc<Vec<String>>, RowChange);

/// Change records decoded once and indexed by row, shared by the conflicts described together
/// (many conflicts usually come from the same few records).
#[derive(Default)]
pub struct Records(HashMap<(DeviceId, u64), RowsOfRecord>);

/// One record's row changes by (table, encoded key).
type RowsOfRecord = HashMap<(String, Vec<u8>), RowEdit>;

impl Records {
    /// The change a record made to the row with encoded key `pk` of `table`.
    fn change(
        &mut self,
        conn: &Connection,
        table: &str,
        pk: &[u8],
        (origin, seq): (DeviceId, u64),
    ) -> Result<RowEdit> {
        let rows = match self.0.entry((origin, seq)) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(index_record(conn, origin, seq)?)
            }
        };
        rows.get(&(table.to_owned(), pk.to_vec()))
            .cloned()
            .ok_or_else(|| {
                Error::Corrupt("conflict names a change that does not touch its row".into())
            })
    }
}

/// Decodes a record and indexes its row changes.
fn index_record(conn: &Connection, origin: DeviceId, seq: u64) -> Result<RowsOfRecord> {
    let record = log::get(conn, &origin, seq)?
        .ok_or_else(|| Error::Corrupt("conflict names a missing change".into()))?;
    let mut rows = HashMap::new();
    for changes in record.changes.tables {
        let columns = Arc::new(changes.columns.clone());
        for row in &changes.rows {
            let key = rows::encode_key(&changes.key_of(row)?);
            rows.insert((changes.table.clone(), key), (columns.clone(), row.clone()));
        }
    }
    Ok(rows)
}

/// The row as one side (`mine`) left it: the merged row (`base`), with the columns only the other
/// side (`theirs`) updated set back to what they were before, and this side's own writes on top.
/// `None` when this side deleted the row.
fn version(base: &RowValues, mine: &RowEdit, theirs: &RowEdit) -> Option<RowValues> {
    let mut values = base.clone();
    let mut set = |column: &str, value: &Value| match values.iter_mut().find(|(c, _)| c == column) {
        Some(slot) => slot.1 = value.clone(),
        None => values.push((column.to_owned(), value.clone())),
    };
    let (my_columns, my_change) = mine;
    let writes: Vec<(&str, &Value)> = match my_change {
        RowChange::Delete { .. } => return None,
        RowChange::Insert { values } => my_columns.iter().map(String::as_str).zip(values).collect(),
        RowChange::Update { columns, new, .. } => columns
            .iter()
            .zip(new)
            .filter_map(|(&i, v)| my_columns.get(i as usize).map(|c| (c.as_str(), v)))
            .collect(),
    };
    if let (their_columns, RowChange::Update { columns, old, .. }) = theirs {
        for (&i, before) in columns.iter().zip(old) {
            if let Some(column) = their_columns.get(i as usize) {
                if !writes.iter().any(|(c, _)| c == column) {
                    set(column, before);
                }
            }
        }
    }
    for (column, value) in writes {
        set(column, value);
    }
    Some(values)
}

/// Finds an unresolved conflict by its hex id.
pub fn find(conn: &Connection, id: &str) -> Result<Option<([u8; 16], Located)>> {
    let Some(raw) = id_from_hex(id) else {
        return Ok(None);
    };
    Ok(open_matching(conn, Some(&raw))?.into_iter().next())
}

fn conflict_id(table: &str, pk: &[u8], winner: &Head, loser: &Head) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update(table.as_bytes());
    hasher.update([0]);
    hasher.update(pk);
    hasher.update(dot(winner));
    hasher.update(dot(loser));
    let digest = hasher.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

fn dot(head: &Head) -> Vec<u8> {
    let mut out = head.origin.0.to_vec();
    out.extend_from_slice(&head.seq.to_be_bytes());
    out
}

fn undot(bytes: &[u8]) -> Result<(DeviceId, u64)> {
    let (origin, seq) = bytes
        .split_at_checked(16)
        .ok_or_else(|| Error::Corrupt("conflict change id".into()))?;
    let seq: [u8; 8] = seq
        .try_into()
        .map_err(|_| Error::Corrupt("conflict change id".into()))?;
    Ok((DeviceId::from_slice(origin)?, u64::from_be_bytes(seq)))
}
