//! Checking a received record before anything of it is stored: its change set must name only
//! synced tables, their columns and their primary key, and every row change must be well formed.
//!
//! The change set is read row by row without being kept ([`ChangeSetCursor`]), so checking costs
//! memory in proportion to one row whatever the record's size.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bundle::Record;
use crate::codec::changes::ChangeSetCursor;
use crate::error::{Error, Result};
use crate::model::ValueRef;
use crate::store::tables::TableShape;
use crate::store::typecheck::RowCheck;

/// What checking a record found: its number of row changes, and which kinds of row change it holds
/// (bit `1 << kind` for each, so that applying it can skip passes over kinds it lacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub rows: u64,
    pub kinds: u8,
}

/// Every kind of row change (for a record whose kinds were not noted).
pub const ALL_KINDS: u8 = 0b111;

/// Checks a record against the synced tables `shapes`.
pub fn record(shapes: &HashMap<String, Arc<TableShape>>, record: &Record<'_>) -> Result<Checked> {
    let malformed = |e: String| Error::BundleMalformed(format!("record {}: {e}", record.dot));
    let mut cursor = ChangeSetCursor::new(record.changes).map_err(malformed)?;
    let mut rows = 0u64;
    let mut kinds = 0u8;
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
        let typecheck = RowCheck::new(shape, &header)?;
        while let Some(row) = cursor.next_row().map_err(malformed)? {
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
            typecheck.row(&row).map_err(|e| match e {
                Error::BundleMalformed(message) => malformed(message),
                other => other,
            })?;
            rows += 1;
            kinds |= 1 << row.kind();
        }
    }
    Ok(Checked { rows, kinds })
}
