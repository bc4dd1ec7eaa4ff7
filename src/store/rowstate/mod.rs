//! One synced row's merge state (`_sync_rows`) and the writes that keep the row and its state in
//! step.
//!
//! Received changes update both the user's table and the merge state; local changes (already in
//! the table) only update the merge state, which is brought up to date before every import rather
//! than on the write path, so capture stays cheap. Rows are addressed by their encoded primary key
//! ([`form`]), the same bytes capture produces.

pub mod form;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::error::Result;
use crate::merge::{Change, RowMeta, RowValues};
use crate::model::Value;
use crate::store::schema::tables::TableShape;
use crate::store::sql::bulk::upsert_sql;
use crate::store::sql::values::owned;

pub use form::{decode_key, decode_meta, encode_key, encode_meta};

/// A row's merge state after a change, and how many heads it had before.
pub struct Merged {
    pub meta: RowMeta,
    pub heads_before: usize,
}

/// The merge state of a row, if it has one.
pub fn load(
    conn: &Connection,
    table: &str,
    generations: &[Vec<String>],
    pk: &[u8],
) -> Result<Option<RowMeta>> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT meta FROM main._sync_rows WHERE tbl = ?1 AND pk = ?2")?
        .query_row(params![table, pk], |r| r.get(0))
        .optional()?;
    bytes.map(|b| decode_meta(&b, generations)).transpose()
}

/// Stores a row's merge state.
pub fn save(conn: &Connection, table: &str, pk: &[u8], meta: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_rows (tbl, pk, meta) VALUES (?1, ?2, ?3)
         ON CONFLICT (tbl, pk) DO UPDATE SET meta = excluded.meta",
    )?
    .execute(params![table, pk, meta])?;
    Ok(())
}

/// Stores the merge state of a row that has none; false when it already has one.
pub fn claim(conn: &Connection, table: &str, pk: &[u8], meta: &[u8]) -> Result<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO main._sync_rows (tbl, pk, meta) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![table, pk, meta])?;
    Ok(inserted == 1)
}

/// Undoes [`claim`] when the row itself could not be written.
pub fn unclaim(conn: &Connection, table: &str, pk: &[u8]) -> Result<()> {
    conn.prepare_cached("DELETE FROM main._sync_rows WHERE tbl = ?1 AND pk = ?2")?
        .execute(params![table, pk])?;
    Ok(())
}

/// A row's merge state and values, read from the database and changed in memory, so that a row
/// that cannot be written yet (a constraint that only later changes will satisfy) can go on
/// absorbing changes and be written once at the end.
#[derive(Debug, Clone)]
pub struct RowState {
    meta: Option<RowMeta>,
    values: RowValues,
    heads_before: usize,
}

impl RowState {
    /// The row as stored: its merge state, and its values from the table or its tombstone. When
    /// `base` is given it stands for the table's row (a trigger changed the table during this
    /// import; `base` is the row as it was before): `Some(values)`, or `None` for no row.
    pub fn load(
        conn: &Connection,
        shape: &TableShape,
        key: &[Value],
        pk: &[u8],
        base: Option<Option<Vec<Value>>>,
    ) -> Result<RowState> {
        let mut meta = load(conn, &shape.name, &shape.generations, pk)?;
        let heads_before = meta.as_ref().map_or(0, |m| m.heads.len());
        let values = match meta.as_mut() {
            Some(m) if m.deleted => m.tombstone.take().unwrap_or_default(),
            _ => {
                let row = match base {
                    Some(row) => row,
                    None => current_values(conn, shape, key)?,
                };
                row.map(|values| shape.columns.iter().cloned().zip(values).collect())
                    .unwrap_or_default()
            }
        };
        Ok(RowState {
            meta,
            values,
            heads_before,
        })
    }

    /// Merges a change in memory.
    pub fn absorb(&mut self, change: &Change<'_>) {
        self.meta
            .get_or_insert_with(RowMeta::unseen)
            .absorb(change, &mut self.values);
    }

    /// Writes the row (or removes it) and its merge state.
    pub fn write(
        &self,
        conn: &Connection,
        shape: &TableShape,
        key: &[Value],
        pk: &[u8],
    ) -> Result<Merged> {
        let mut meta = self.meta.clone().unwrap_or_else(RowMeta::unseen);
        if meta.deleted {
            delete_row(conn, shape, key)?;
            meta.tombstone = Some(self.values.clone());
        } else {
            write_row(conn, shape, key, &self.values)?;
            meta.tombstone = None;
        }
        save(
            conn,
            &shape.name,
            pk,
            &encode_meta(&meta, &shape.generations),
        )?;
        Ok(Merged {
            meta,
            heads_before: self.heads_before,
        })
    }

    /// Whether the row ends deleted (such rows are written first: removing a row frees its
    /// unique values for others).
    pub fn deleted(&self) -> bool {
        self.meta.as_ref().is_some_and(|m| m.deleted)
    }
}

/// Merges a local change, already in the table, into the row's merge state. `old` is the row as
/// it was before a local delete (it becomes the tombstone when the row was live).
pub fn merge_local(
    conn: &Connection,
    table: &str,
    generations: &[Vec<String>],
    pk: &[u8],
    change: &Change<'_>,
    old: Option<RowValues>,
) -> Result<Merged> {
    let mut meta = load(conn, table, generations, pk)?;
    let heads_before = meta.as_ref().map_or(0, |m| m.heads.len());
    let meta = meta.get_or_insert_with(RowMeta::unseen);
    let was_live = !meta.deleted;
    // The table holds the values; only the tombstone needs them.
    let mut values = meta.tombstone.take().unwrap_or_default();
    meta.absorb(change, &mut values);
    meta.tombstone = match (meta.deleted, was_live) {
        (false, _) => None,
        (true, true) => old.or(Some(values)),
        (true, false) => Some(values),
    };
    save(conn, table, pk, &encode_meta(meta, generations))?;
    Ok(Merged {
        meta: meta.clone(),
        heads_before,
    })
}

/// The row's current values in the table, in column order, if it exists.
pub fn current_values(
    conn: &Connection,
    shape: &TableShape,
    key: &[Value],
) -> Result<Option<Vec<Value>>> {
    let mut stmt = conn.prepare_cached(&shape.select_sql)?;
    let mut rows = stmt.query(params_from_iter(key.iter()))?;
    match rows.next()? {
        Some(row) => Ok(Some(
            (0..shape.columns.len())
                .map(|i| row.get_ref(i).map(owned))
                .collect::<rusqlite::Result<_>>()?,
        )),
        None => Ok(None),
    }
}

/// The row's current values in the table, by column name.
pub fn current(conn: &Connection, shape: &TableShape, key: &[Value]) -> Result<Option<RowValues>> {
    Ok(current_values(conn, shape, key)?
        .map(|values| shape.columns.iter().cloned().zip(values).collect()))
}

/// Writes the row with the given values (only columns the table has; the key always).
pub fn write_row(
    conn: &Connection,
    shape: &TableShape,
    key: &[Value],
    values: &RowValues,
) -> Result<()> {
    let ordered: Option<Vec<&Value>> = shape
        .columns
        .iter()
        .map(|column| values.iter().find(|(c, _)| c == column).map(|(_, v)| v))
        .collect();
    if let Some(ordered) = ordered {
        conn.prepare_cached(&shape.upsert_sql)?
            .execute(params_from_iter(ordered))?;
        return Ok(());
    }
    let mut columns: Vec<&str> = Vec::with_capacity(shape.columns.len());
    let mut bound: Vec<&Value> = Vec::with_capacity(shape.columns.len());
    for (column, value) in shape.key_columns().zip(key) {
        columns.push(column);
        bound.push(value);
    }
    for (column, value) in values {
        if shape.columns.contains(column) && !columns.contains(&column.as_str()) {
            columns.push(column);
            bound.push(value);
        }
    }
    let key_columns: Vec<&str> = shape.key_columns().collect();
    conn.prepare_cached(&upsert_sql(&shape.name, &columns, &key_columns))?
        .execute(params_from_iter(bound))?;
    Ok(())
}

/// Removes the row with `key` from the table (nothing if it is absent).
pub fn delete_row(conn: &Connection, shape: &TableShape, key: &[Value]) -> Result<()> {
    conn.prepare_cached(&shape.delete_sql)?
        .execute(params_from_iter(key.iter()))?;
    Ok(())
}

#[cfg(test)]
mod tests;
