//! Checking a received record: its change set must name only synced tables, their columns and
//! their primary key, and every row change must be well formed, with values the receiving columns
//! keep as they are ([`typecheck`](crate::store::schema::typecheck)).
//!
//! A record applied at once is checked row by row as it is applied (a failure rolls the whole
//! import back, so nothing of a refused bundle stays); a record that must wait is checked whole
//! before it is stored. Either way the change set is read row by row without being kept
//! ([`ChangeSetCursor`]), so checking costs memory in proportion to one row, whatever the record's
//! size.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bundle::Record;
use crate::codec::changes::{ChangeSetCursor, RowRef, TableHeader};
use crate::error::{Error, Result};
use crate::ids::Dot;
use crate::model::ValueRef;
use crate::store::schema::tables::TableShape;
use crate::store::schema::typecheck::RowCheck;

/// What a record holds: its number of row changes, and which kinds of row change (bit
/// `1 << kind` for each, so that applying it can skip passes over kinds it lacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub rows: u64,
    pub kinds: u8,
}

/// Every kind of row change (for a record whose kinds were not noted).
pub const ALL_KINDS: u8 = 0b111;

/// The error for what a record's change set cannot be.
pub fn malformed(dot: Dot) -> impl Fn(String) -> Error {
    move |e| Error::BundleMalformed(format!("record {dot}: {e}"))
}

/// Counts a record's row changes and notes their kinds, reading only its structure (rows are
/// skipped, not decoded): the cheap first look an import takes at every new record.
pub fn survey(record: &Record<'_>) -> Result<Checked> {
    let malformed = malformed(record.dot);
    let mut cursor = ChangeSetCursor::new(record.changes).map_err(&malformed)?;
    let (mut rows, mut kinds) = (0u64, 0u8);
    while cursor.next_table().map_err(&malformed)?.is_some() {
        while let Some(kind) = cursor.skip_row().map_err(&malformed)? {
            rows += 1;
            kinds |= 1 << kind;
        }
    }
    Ok(Checked { rows, kinds })
}

/// Checks a whole record against the synced tables `shapes` (a record that will wait).
pub fn record(shapes: &HashMap<String, Arc<TableShape>>, record: &Record<'_>) -> Result<()> {
    let malformed = malformed(record.dot);
    let mut cursor = ChangeSetCursor::new(record.changes).map_err(&malformed)?;
    while let Some(header) = cursor.next_table().map_err(&malformed)? {
        let shape = shape_of(shapes, &header)?;
        let check = TableCheck::new(shape, record.dot, &header)?;
        while let Some(row) = cursor.next_row().map_err(&malformed)? {
            check.row(&row)?;
        }
    }
    Ok(())
}

/// The synced table a table entry names.
pub fn shape_of<'s>(
    shapes: &'s HashMap<String, Arc<TableShape>>,
    header: &TableHeader<'_>,
) -> Result<&'s Arc<TableShape>> {
    shapes
        .get(header.name)
        .ok_or_else(|| Error::TableNotSynced(header.name.to_owned()))
}

/// The checks of one table entry of a received record: made once per entry (its header checked
/// against the synced table), then [`row`](TableCheck::row) for each row change as it is read.
pub struct TableCheck<'a> {
    shape: &'a TableShape,
    header: &'a TableHeader<'a>,
    types: RowCheck<'a>,
    dot: Dot,
}

impl<'a> TableCheck<'a> {
    /// Checks the entry `header` of record `dot` for the synced table `shape`: it must name only
    /// the table's columns, each once, and its primary key.
    pub fn new(shape: &'a TableShape, dot: Dot, header: &'a TableHeader<'a>) -> Result<Self> {
        for (i, column) in header.columns.iter().enumerate() {
            if !shape.columns.iter().any(|c| c == column) {
                return Err(Error::SchemaMismatch(format!(
                    "table {} has no column {column:?}",
                    shape.name
                )));
            }
            if header.columns[..i].contains(column) {
                return Err(malformed(dot)(format!("column {column:?} listed twice")));
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
        Ok(TableCheck {
            shape,
            header,
            types: RowCheck::new(shape, header)?,
            dot,
        })
    }

    /// Checks one row change of the entry: a key without NULLs, values the columns keep.
    pub fn row(&self, row: &RowRef<'_>) -> Result<()> {
        if row
            .key(&self.header.primary_key)
            .iter()
            .any(|v| matches!(v, ValueRef::Null))
        {
            return Err(malformed(self.dot)(format!(
                "a row change of {} has a NULL primary key",
                self.shape.name
            )));
        }
        self.types.row(row).map_err(|e| match e {
            Error::BundleMalformed(message) => malformed(self.dot)(message),
            other => other,
        })
    }
}
