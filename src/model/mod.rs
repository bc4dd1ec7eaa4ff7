//! Plain data shared by every layer: SQL values, device ids, statement parameters and the shape of a
//! captured change.
//!
//! A committed local transaction becomes one [`ChangeRecord`]: its causal position (origin device,
//! per-device sequence number, hybrid logical clock, and the vector clock it was made against) plus a
//! [`ChangeSet`] of row changes grouped by table. Row changes name their columns through the table
//! entry, so a record stays meaningful on a replica whose columns are in another order. How these
//! types are written as bytes is the business of [`codec`](crate::codec).

use std::hash::{Hash, Hasher};

use crate::clock::VectorClock;
use crate::error::{Error, Result};
use crate::ids::DeviceId;

mod outcome;

pub use outcome::{
    Choice, Conflict, ConflictVersion, ImportOutcome, NamedValues, PendingRecord, Tally,
};

/// One SQLite value.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl PartialEq for Value {
    /// Exact equality: REALs compare by bit pattern, and `1`, `1.0` and `'1'` are all different, as
    /// they are different values to SQLite.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Real(a), Value::Real(b)) => a.to_bits() == b.to_bits(),
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::Blob(a), Value::Blob(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Null => {}
            Value::Integer(v) => v.hash(state),
            Value::Real(v) => v.to_bits().hash(state),
            Value::Text(v) => v.hash(state),
            Value::Blob(v) => v.hash(state),
        }
    }
}

/// A borrowed SQLite value: what a change set's bytes decode to without copying text or blobs.
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl ValueRef<'_> {
    /// An owned copy.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Integer(v),
            ValueRef::Real(v) => Value::Real(v),
            ValueRef::Text(v) => Value::Text(v.to_owned()),
            ValueRef::Blob(v) => Value::Blob(v.to_vec()),
        }
    }
}

impl PartialEq for ValueRef<'_> {
    /// Exact equality, as for [`Value`].
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ValueRef::Null, ValueRef::Null) => true,
            (ValueRef::Integer(a), ValueRef::Integer(b)) => a == b,
            (ValueRef::Real(a), ValueRef::Real(b)) => a.to_bits() == b.to_bits(),
            (ValueRef::Text(a), ValueRef::Text(b)) => a == b,
            (ValueRef::Blob(a), ValueRef::Blob(b)) => a == b,
            _ => false,
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(value: &'a Value) -> ValueRef<'a> {
        value.as_ref()
    }
}

impl Value {
    /// A borrowed view.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v),
            Value::Blob(v) => ValueRef::Blob(v),
        }
    }
}

/// Where a database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A private in-memory database.
    Memory,
    /// A file (or VFS path), optionally through a named SQLite VFS.
    Path { path: String, vfs: Option<String> },
    /// An in-memory database starting from a snapshot (`Engine::snapshot`; empty bytes: a new
    /// database).
    Snapshot(Vec<u8>),
}

/// Statement parameters as the caller gave them.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Params {
    /// No parameters.
    #[default]
    None,
    /// Bound to `?` / `?NNN` in order, consumed statement by statement.
    Positional(Vec<Value>),
    /// Bound by name; keys are given without the `:`, `@` or `$` prefix.
    Named(Vec<(String, Value)>),
}

/// What `execute` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecOutcome {
    /// Rows changed by the INSERT, UPDATE and DELETE statements of the call (not counting triggers).
    pub changes: u64,
    /// SQLite's last inserted rowid after the call.
    pub last_insert_rowid: i64,
}

/// Rows returned by `query`: column names and one value per column per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// How a table's concurrent edits are settled (used by the merge; stored per synced table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictStrategy {
    /// Keep the conflict listed until the app resolves it.
    #[default]
    Manual,
    /// Resolve automatically: the later write (hybrid logical clock, then device id) wins.
    LastWriterWins,
    /// Merge columns changed on one side only; conflict only on columns changed on both.
    FieldMerge,
}

impl ConflictStrategy {
    /// The option string used by the JS API.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictStrategy::Manual => "manual",
            ConflictStrategy::LastWriterWins => "lww",
            ConflictStrategy::FieldMerge => "field-merge",
        }
    }

    /// Parses the option string used by the JS API.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "manual" => Ok(ConflictStrategy::Manual),
            "lww" => Ok(ConflictStrategy::LastWriterWins),
            "field-merge" => Ok(ConflictStrategy::FieldMerge),
            other => Err(Error::InvalidArgument(format!(
                "conflictStrategy must be \"manual\", \"lww\" or \"field-merge\", not {other:?}"
            ))),
        }
    }
}

/// One row's net change within a captured transaction. Column positions refer to the owning
/// [`TableChanges::columns`].
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    /// A new row: every column's value.
    Insert { values: Vec<Value> },
    /// Changed columns of an existing row, identified by its primary key values.
    Update {
        key: Vec<Value>,
        columns: Vec<u32>,
        old: Vec<Value>,
        new: Vec<Value>,
    },
    /// A removed row: every column's value before the delete.
    Delete { old: Vec<Value> },
}

/// The changes of one table inside a [`ChangeSet`].
#[derive(Debug, Clone, PartialEq)]
pub struct TableChanges {
    /// The table's name.
    pub table: String,
    /// Column names, in the order row values use.
    pub columns: Vec<String>,
    /// Positions (into `columns`) of the primary key columns, in key order.
    pub primary_key: Vec<u32>,
    /// Net row changes, in the order rows were first touched.
    pub rows: Vec<RowChange>,
}

impl TableChanges {
    /// The primary key values of a row change.
    pub fn key_of(&self, row: &RowChange) -> Result<Vec<Value>> {
        Ok(self.key_refs(row)?.into_iter().cloned().collect())
    }

    /// The primary key values of a row change, borrowed from it.
    pub fn key_refs<'a>(&self, row: &'a RowChange) -> Result<Vec<&'a Value>> {
        let pick = |values: &'a [Value]| {
            self.primary_key
                .iter()
                .map(|&i| values.get(i as usize))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::Corrupt(format!("row of {} lacks key columns", self.table)))
        };
        match row {
            RowChange::Insert { values } => pick(values),
            RowChange::Delete { old } => pick(old),
            RowChange::Update { key, .. } => Ok(key.iter().collect()),
        }
    }
}

/// All row changes of one captured transaction, grouped by table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    pub tables: Vec<TableChanges>,
}

impl ChangeSet {
    /// Number of row changes.
    pub fn len(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len()).sum()
    }

    /// True when no row changed.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(|t| t.rows.is_empty())
    }
}

/// One entry of the change log: a transaction's changes and their causal position.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// The device that made the change.
    pub origin: DeviceId,
    /// The origin's counter: 1 for its first record, then one more per record.
    pub seq: u64,
    /// Hybrid logical clock at commit (milliseconds << 16 | logical counter).
    pub hlc: u64,
    /// What the origin had seen from other devices when it committed (its causal context).
    pub clock: VectorClock,
    /// The row changes.
    pub changes: ChangeSet,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn equality_is_exact_across_types() {
        assert_ne!(Value::Integer(1), Value::Real(1.0));
        assert_ne!(Value::Integer(1), Value::Text("1".into()));
        assert_ne!(Value::Real(0.0), Value::Real(-0.0));
    }
}
