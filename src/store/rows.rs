//! Applying a change to one synced row through the merge rules, and keeping the row's merge state
//! (`_sync_rows`) in step.
//!
//! Received changes update both the user's table and the merge state; local changes (already in
//! the table) only update the merge state, which is brought up to date before every import rather
//! than on the write path, so capture stays cheap. Rows are addressed by their encoded primary key
//! (a MessagePack array of the key values, the same bytes capture produces).

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::merge::{Change, Head, RowMeta, RowValues};
use crate::model::{RowChange, TableChanges, Value};
use crate::store::apply::upsert_sql;
use crate::store::capture::{borrowed, owned, write_array_len, write_value};
use crate::store::tables::TableShape;

/// A row's merge state after a change, and how many heads it had before.
pub struct Merged {
    pub meta: RowMeta,
    pub heads_before: usize,
}

/// The encoded form of a primary key.
pub fn encode_key<'a, I>(key: I) -> Vec<u8>
where
    I: IntoIterator<Item = &'a Value>,
    I::IntoIter: ExactSizeIterator,
{
    let key = key.into_iter();
    let mut out = Vec::with_capacity(16);
    write_array_len(&mut out, key.len());
    for value in key {
        write_value(&mut out, borrowed(value));
    }
    out
}

/// Decodes an encoded primary key.
pub fn decode_key(bytes: &[u8]) -> Result<Vec<Value>> {
    rmp_serde::from_slice(bytes).map_err(|e| Error::Corrupt(format!("unreadable row key: {e}")))
}

/// The merge state of a row, if it has one.
pub fn load(conn: &Connection, table: &str, pk: &[u8]) -> Result<Option<RowMeta>> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT meta FROM _sync_rows WHERE tbl = ?1 AND pk = ?2")?
        .query_row(params![table, pk], |r| r.get(0))
        .optional()?;
    bytes.map(|b| decode_meta(&b)).transpose()
}

/// Encodes a merge state. The state of a row that one insert created and nothing has touched
/// since, which is most rows after a first sync, is stored as just that insert's
/// `[origin, seq, hlc]`; any other state is the full [`RowMeta`] (a five-element array).
pub fn encode_meta(meta: &RowMeta) -> Result<Vec<u8>> {
    let encoded = match meta.only_insert() {
        Some(head) => rmp_serde::to_vec(&(head.origin, head.seq, head.hlc)),
        None => rmp_serde::to_vec(meta),
    };
    encoded.map_err(|e| Error::Corrupt(format!("cannot encode row state: {e}")))
}

fn decode_meta(bytes: &[u8]) -> Result<RowMeta> {
    const INSERT_ONLY: u8 = 0x93;
    let decoded = match bytes.first() {
        Some(&INSERT_ONLY) => rmp_serde::from_slice(bytes).map(|(origin, seq, hlc)| {
            RowMeta::inserted_by(Head {
                origin,
                seq,
                hlc,
                delete: false,
                columns: None,
            })
        }),
        _ => rmp_serde::from_slice(bytes),
    };
    decoded.map_err(|e| Error::Corrupt(format!("unreadable row state: {e}")))
}

/// Stores the merge state of a row that has none; false when it already has one.
fn claim(conn: &Connection, table: &str, pk: &[u8], meta: &RowMeta) -> Result<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO _sync_rows (tbl, pk, meta) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![table, pk, encode_meta(meta)?])?;
    Ok(inserted == 1)
}

/// Undoes [`claim`] when the row itself could not be written.
pub fn unclaim(conn: &Connection, table: &str, pk: &[u8]) -> Result<()> {
    conn.prepare_cached("DELETE FROM _sync_rows WHERE tbl = ?1 AND pk = ?2")?
        .execute(params![table, pk])?;
    Ok(())
}

fn save(conn: &Connection, table: &str, pk: &[u8], meta: &RowMeta) -> Result<()> {
    let bytes = encode_meta(meta)?;
    conn.prepare_cached(
        "INSERT INTO _sync_rows (tbl, pk, meta) VALUES (?1, ?2, ?3)
         ON CONFLICT (tbl, pk) DO UPDATE SET meta = excluded.meta",
    )?
    .execute(params![table, pk, bytes])?;
    Ok(())
}

/// Merges a received change (`row` of `table`, seen by the merge as `change`) into the row: the
/// table and the merge state both change.
pub fn merge_remote(
    conn: &Connection,
    shape: &TableShape,
    table: &TableChanges,
    row: &RowChange,
    key: &[Value],
    pk: &[u8],
    change: &Change<'_>,
) -> Result<Merged> {
    // The common case of a first sync: a row this replica has never seen, inserted with columns
    // in the same order as here. Claiming its merge state first also tells whether it is new.
    if let RowChange::Insert { values } = row {
        if table.columns == shape.columns {
            let meta = RowMeta::inserted(change);
            if claim(conn, &shape.name, pk, &meta)? {
                let written = conn
                    .prepare_cached(&shape.upsert_sql)?
                    .execute(params_from_iter(values));
                if let Err(error) = written {
                    unclaim(conn, &shape.name, pk)?;
                    return Err(error.into());
                }
                return Ok(Merged {
                    meta,
                    heads_before: 0,
                });
            }
        }
    }
    let mut state = RowState::load(conn, shape, key, pk)?;
    state.absorb(change);
    state.write(conn, shape, key, pk)
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
    /// The row as stored: its merge state, and its values from the table or its tombstone.
    pub fn load(
        conn: &Connection,
        shape: &TableShape,
        key: &[Value],
        pk: &[u8],
    ) -> Result<RowState> {
        let mut meta = load(conn, &shape.name, pk)?;
        let heads_before = meta.as_ref().map_or(0, |m| m.heads.len());
        let values = match meta.as_mut() {
            Some(m) if m.deleted => m.tombstone.take().unwrap_or_default(),
            _ => current(conn, shape, key)?.unwrap_or_default(),
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
        save(conn, &shape.name, pk, &meta)?;
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

/// Merges a local change, already in the table, into the row's merge state. `columns` are the
/// table's columns when the change was made; `old` is the row as it was before a local delete (it
/// becomes the tombstone).
pub fn merge_local(
    conn: &Connection,
    table: &str,
    columns: &[String],
    pk: &[u8],
    change: &Change<'_>,
    old: Option<RowValues>,
) -> Result<Merged> {
    let merged = match load(conn, table, pk)? {
        None => {
            let mut meta = RowMeta::unseen();
            meta.absorb(change, &mut Vec::new());
            meta.tombstone = if meta.deleted { old } else { None };
            Merged {
                meta,
                heads_before: 0,
            }
        }
        Some(mut meta) => {
            let heads_before = meta.heads.len();
            // The table already holds the values; every column is listed so that the ones this
            // change did not write keep their own stamps.
            let mut values = meta
                .tombstone
                .take()
                .unwrap_or_else(|| columns.iter().map(|c| (c.clone(), Value::Null)).collect());
            meta.absorb(change, &mut values);
            meta.tombstone = if meta.deleted {
                old.or(Some(values))
            } else {
                None
            };
            Merged { meta, heads_before }
        }
    };
    save(conn, table, pk, &merged.meta)?;
    Ok(merged)
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
mod tests {
    use super::*;
    use crate::merge::Stamp;
    use crate::model::DeviceId;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn head(seq: u64, columns: Option<Vec<String>>) -> Head {
        Head {
            origin: DeviceId([7; 16]),
            seq,
            hlc: 1 << 40 | seq,
            delete: false,
            columns,
        }
    }

    #[test]
    fn an_untouched_insert_is_stored_in_its_short_form() {
        let meta = RowMeta::inserted_by(head(3, None));
        let bytes = encode_meta(&meta).expect("encode");
        assert!(bytes.len() <= 32, "{} bytes", bytes.len());
        assert_eq!(decode_meta(&bytes).expect("decode"), meta);
    }

    #[test]
    fn every_other_state_keeps_its_full_form() {
        let mut edited = RowMeta::inserted_by(head(3, None));
        edited.heads.push(head(4, Some(vec!["v".into()])));
        let mut restamped = RowMeta::inserted_by(head(3, None));
        restamped.columns.insert(
            "v".into(),
            Stamp {
                hlc: 9,
                origin: DeviceId([1; 16]),
            },
        );
        let mut deleted = RowMeta::inserted_by(head(3, None));
        deleted.deleted = true;
        deleted.heads[0].delete = true;
        let mut restamped_row = RowMeta::inserted_by(head(3, None));
        restamped_row.live = Stamp {
            hlc: 1,
            origin: DeviceId([2; 16]),
        };
        let mut with_tombstone = RowMeta::inserted_by(head(3, None));
        with_tombstone.tombstone = Some(vec![("v".into(), Value::Integer(1))]);
        for meta in [edited, restamped, deleted, restamped_row, with_tombstone] {
            let bytes = encode_meta(&meta).expect("encode");
            assert_ne!(bytes[0], 0x93);
            assert_eq!(decode_meta(&bytes).expect("decode"), meta);
        }
    }
}
