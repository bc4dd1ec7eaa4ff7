//! Checking a received record before anything of it is stored: its change set must name only
//! synced tables, their columns and their primary key, and every row change must be well formed.
//!
//! The change set is read row by row without being kept ([`ChangeSetCursor`]), so checking costs
//! memory in proportion to one row whatever the record's size.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bundle::Record;
use crate::codec::changes::{ChangeSetCursor, RowRef};
use crate::error::{Error, Result};
use crate::model::ValueRef;
use crate::store::tables::TableShape;

/// Checks a record against the synced tables `shapes`; returns its number of row changes.
pub fn record(shapes: &HashMap<String, Arc<TableShape>>, record: &Record<'_>) -> Result<u64> {
    let malformed = |e: String| Error::BundleMalformed(format!("record {}: {e}", record.dot));
    let mut cursor = ChangeSetCursor::new(record.changes).map_err(malformed)?;
    let mut rows = 0u64;
    while let Some(header) = cursor.next_table().map_err(malformed)? {
        let shape = shapes
            .get(header.name)
            .ok_or_else(|| Error::TableNotSynced(header.name.to_owned()))?;
        for (i, column) in header.columns.iter().enumerate() {
            if !shape.columns.iter().any(|c| c == column) {
                return Err(Error::SchemaMismatch(format!(
                    "table {} has no column {column:?}",
                    shape.name
                )));
            }
            if header.columns[..i].contains(column) {
                return Err(malformed(format!("column {column:?} listed twice")));
            }
        }
        let remote_key = header
            .primary_key
            .iter()
            .map(|&i| header.columns[i as usize]);
        if !remote_key.eq(shape.key_columns()) {
            return Err(Error::SchemaMismatch(format!(
                "primary key of {} does not match",
                shape.name
            )));
        }
        while let Some(row) = cursor.next_row().map_err(malformed)? {
            if let RowRef::Update { columns, .. } = &row {
                if columns.iter().any(|c| header.primary_key.contains(c)) {
                    return Err(malformed(format!(
                        "an update of {} changes a primary-key column (key changes travel as a delete and an insert)",
                        shape.name
                    )));
                }
            }
            if row
                .key(&header.primary_key)
                .iter()
                .any(|v| matches!(v, ValueRef::Null))
            {
                return Err(malformed(format!(
                    "a row change of {} has a NULL primary key",
                    shape.name
                )));
            }
            rows += 1;
        }
    }
    Ok(rows)
}
