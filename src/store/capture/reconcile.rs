//! What `enableSync` records for a table that was not synced: every row it holds, as inserts,
//! and, for rows that synced before and were deleted while capture was off, deletes, so that what
//! changed while the table was not synced reaches the other replicas.

use rusqlite::Connection;

use crate::error::Result;
use crate::model::{RowChange, TableChanges, Value, ValueRef};
use crate::store::log::rowlog;
use crate::store::rowstate;
use crate::store::schema::syncable;
use crate::store::schema::tables::TableShape;
use crate::store::sql::{quote, values};

/// Every row of a table, as inserts.
pub fn existing_rows(conn: &Connection, shape: &TableShape) -> Result<TableChanges> {
    let sql = format!(
        "SELECT {} FROM {}",
        quote::ident_list(shape.columns.iter().map(String::as_str)),
        quote::main_table(&shape.name)
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut changes = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..shape.columns.len())
            .map(|i| {
                values::borrowed(row.get_ref(i)?)
                    .map(ValueRef::to_value)
                    .ok_or_else(|| syncable::invalid_text(shape, i))
            })
            .collect::<Result<Vec<_>>>()?;
        syncable::check_keys(shape, &values)?;
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
pub fn vanished_rows(conn: &Connection, shape: &TableShape) -> Result<Vec<RowChange>> {
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
        let mut old: Vec<Value> = vec![Value::Null; shape.columns.len()];
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
fn written_value<'a>(columns: &[String], change: &'a RowChange, column: &str) -> Option<&'a Value> {
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
