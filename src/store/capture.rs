//! Change capture: the pre-update hook that records row images, and the per-transaction buffer
//! that turns them into one net [`ChangeSet`].
//!
//! SQLite calls the hook before every row insert, update and delete. For rows of synced tables the
//! buffer keeps, per primary key, the row as it was when the transaction first touched it and the
//! row as it is now. When the store commits (or reaches a savepoint or schema change) it takes the
//! buffer and diffs the two images: that yields the net insert, update (changed columns only) or
//! delete, and nothing for a row that ended as it began. A primary-key change is a delete of the
//! old key plus an insert of the new one. If a statement failed inside a transaction, SQLite may
//! have undone part of what the hook saw, so the buffer is marked for verification and the "now"
//! images are re-read from the table instead of trusted. The hook never touches the database, and
//! the buffer lock is never held while the store writes, so the hook cannot re-enter it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::hooks::{Action, PreUpdateCase};
use rusqlite::types::ValueRef;

use crate::error::{Error, Result};
use crate::model::{ChangeSet, RowChange, TableChanges, Value};
use crate::store::tables::TableShape;

/// Shared between the store and the hook closure.
pub type SharedCapture = Arc<Mutex<Capture>>;

/// Locks the capture state; a poisoned lock (a panic elsewhere) still yields the data.
pub fn lock(shared: &SharedCapture) -> MutexGuard<'_, Capture> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The capture state of one connection.
#[derive(Debug, Default)]
pub struct Capture {
    /// While true (remote changes or schema statements are being applied), nothing is recorded.
    pub suspended: bool,
    /// Set when a statement failed inside the transaction: "now" images must be re-read.
    pub needs_verify: bool,
    /// A failure inside the hook (reading a value); the next flush reports it.
    pub failure: Option<String>,
    tables: BTreeMap<String, Pending>,
}

/// Buffered images of one synced table.
#[derive(Debug)]
struct Pending {
    shape: TableShape,
    rows: Vec<Touched>,
    by_key: HashMap<Vec<Value>, usize>,
}

/// A row the transaction touched: its image before the first touch and its latest image (`None`
/// where the row did not exist).
#[derive(Debug)]
struct Touched {
    key: Vec<Value>,
    before: Option<Vec<Value>>,
    after: Option<Vec<Value>>,
}

/// A table's buffered rows, handed out by [`Capture::take`] for diffing.
#[derive(Debug)]
pub struct TakenTable {
    pub shape: TableShape,
    rows: Vec<Touched>,
}

impl Capture {
    /// Starts (or refreshes the shape of) capture for a table.
    pub fn track(&mut self, shape: TableShape) {
        match self.tables.get_mut(&shape.name) {
            Some(pending) => pending.shape = shape,
            None => {
                let pending = Pending {
                    shape,
                    rows: Vec::new(),
                    by_key: HashMap::new(),
                };
                self.tables.insert(pending.shape.name.clone(), pending);
            }
        }
    }

    /// Stops capture for a table.
    pub fn untrack(&mut self, name: &str) {
        self.tables.remove(name);
    }

    /// Names of the tables being captured.
    pub fn tracked(&self) -> impl Iterator<Item = &TableShape> {
        self.tables.values().map(|p| &p.shape)
    }

    /// Drops everything buffered (the transaction rolled back).
    pub fn discard(&mut self) {
        for pending in self.tables.values_mut() {
            pending.rows.clear();
            pending.by_key.clear();
        }
        self.needs_verify = false;
        self.failure = None;
    }

    /// Hands out the buffered rows and resets the buffer. Reports a failure seen by the hook.
    pub fn take(&mut self) -> Result<(Vec<TakenTable>, bool)> {
        if let Some(failure) = self.failure.take() {
            self.discard();
            return Err(Error::Corrupt(format!("change capture failed: {failure}")));
        }
        let verify = std::mem::take(&mut self.needs_verify);
        let mut taken = Vec::new();
        for pending in self.tables.values_mut() {
            if pending.rows.is_empty() {
                continue;
            }
            pending.by_key.clear();
            taken.push(TakenTable {
                shape: pending.shape.clone(),
                rows: std::mem::take(&mut pending.rows),
            });
        }
        Ok((taken, verify))
    }

    /// The pre-update hook body.
    pub fn on_change(&mut self, database: &str, table: &str, case: &PreUpdateCase) {
        if self.suspended || database != "main" {
            return;
        }
        let Some(pending) = self.tables.get_mut(table) else {
            return;
        };
        let outcome = match case {
            PreUpdateCase::Insert(new) => read_row(&pending.shape, |i| new.get_new_column_value(i))
                .map(|after| pending.record_insert(after)),
            PreUpdateCase::Delete(old) => read_row(&pending.shape, |i| old.get_old_column_value(i))
                .map(|before| pending.record_delete(before)),
            PreUpdateCase::Update {
                old_value_accessor: old,
                new_value_accessor: new,
            } => read_row(&pending.shape, |i| old.get_old_column_value(i)).and_then(|before| {
                read_row(&pending.shape, |i| new.get_new_column_value(i))
                    .map(|after| pending.record_update(before, after))
            }),
            PreUpdateCase::Unknown => Err("unknown pre-update case".to_owned()),
        };
        if let Err(message) = outcome {
            self.failure.get_or_insert(message);
        }
    }
}

/// The hook closure installed on the connection.
pub fn hook(
    shared: SharedCapture,
) -> impl FnMut(Action, &str, &str, &PreUpdateCase) + Send + 'static {
    move |_action, database, table, case| lock(&shared).on_change(database, table, case)
}

fn read_row<'a>(
    shape: &TableShape,
    get: impl Fn(i32) -> rusqlite::Result<ValueRef<'a>>,
) -> std::result::Result<Vec<Value>, String> {
    shape
        .hook_index
        .iter()
        .map(|&i| get(i).map(owned).map_err(|e| e.to_string()))
        .collect()
}

/// Copies a borrowed SQLite value.
pub fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Integer(v),
        ValueRef::Real(v) => Value::Real(v),
        ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
    }
}

impl Pending {
    fn key_of(&self, row: &[Value]) -> Vec<Value> {
        self.shape
            .primary_key
            .iter()
            .map(|&i| row[i as usize].clone())
            .collect()
    }

    fn record_insert(&mut self, after: Vec<Value>) {
        let key = self.key_of(&after);
        self.set_after(key, None, Some(after));
    }

    fn record_delete(&mut self, before: Vec<Value>) {
        let key = self.key_of(&before);
        self.set_after(key, Some(before), None);
    }

    fn record_update(&mut self, before: Vec<Value>, after: Vec<Value>) {
        let old_key = self.key_of(&before);
        let new_key = self.key_of(&after);
        if old_key == new_key {
            self.set_after(new_key, Some(before), Some(after));
        } else {
            self.set_after(old_key, Some(before), None);
            self.set_after(new_key, None, Some(after));
        }
    }

    /// Updates the latest image of `key`, remembering `first_before` if this is the first touch.
    fn set_after(
        &mut self,
        key: Vec<Value>,
        first_before: Option<Vec<Value>>,
        after: Option<Vec<Value>>,
    ) {
        match self.by_key.get(&key) {
            Some(&index) => self.rows[index].after = after,
            None => {
                self.by_key.insert(key.clone(), self.rows.len());
                self.rows.push(Touched {
                    key,
                    before: first_before,
                    after,
                });
            }
        }
    }
}

/// Diffs taken rows into a change set. `reread` fetches a row's current image when the buffer
/// needs verification.
pub fn diff(
    taken: Vec<TakenTable>,
    verify: bool,
    mut reread: impl FnMut(&TableShape, &[Value]) -> Result<Option<Vec<Value>>>,
) -> Result<ChangeSet> {
    let mut set = ChangeSet::default();
    for table in taken {
        let mut rows = Vec::new();
        for touched in table.rows {
            let after = if verify {
                reread(&table.shape, &touched.key)?
            } else {
                touched.after
            };
            if let Some(change) = net_change(touched.key, touched.before, after) {
                rows.push(change);
            }
        }
        if !rows.is_empty() {
            set.tables.push(TableChanges {
                table: table.shape.name,
                columns: table.shape.columns,
                primary_key: table.shape.primary_key,
                rows,
            });
        }
    }
    Ok(set)
}

/// The net change between a row's first and last image.
fn net_change(
    key: Vec<Value>,
    before: Option<Vec<Value>>,
    after: Option<Vec<Value>>,
) -> Option<RowChange> {
    match (before, after) {
        (None, None) => None,
        (None, Some(values)) => Some(RowChange::Insert { values }),
        (Some(old), None) => Some(RowChange::Delete { old }),
        (Some(before), Some(after)) => {
            let mut columns = Vec::new();
            let (mut old, mut new) = (Vec::new(), Vec::new());
            for (i, (b, a)) in before.into_iter().zip(after).enumerate() {
                if b != a {
                    columns.push(i as u32);
                    old.push(b);
                    new.push(a);
                }
            }
            (!columns.is_empty()).then_some(RowChange::Update {
                key,
                columns,
                old,
                new,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn int(v: i64) -> Value {
        Value::Integer(v)
    }

    #[test]
    fn net_change_keeps_only_what_differs() {
        assert_eq!(net_change(vec![int(1)], None, None), None);
        assert_eq!(
            net_change(
                vec![int(1)],
                Some(vec![int(1), int(2)]),
                Some(vec![int(1), int(2)])
            ),
            None
        );
        assert_eq!(
            net_change(
                vec![int(1)],
                Some(vec![int(1), int(2), int(3)]),
                Some(vec![int(1), int(5), int(3)])
            ),
            Some(RowChange::Update {
                key: vec![int(1)],
                columns: vec![1],
                old: vec![int(2)],
                new: vec![int(5)]
            })
        );
        assert_eq!(
            net_change(vec![int(1)], Some(vec![int(1)]), None),
            Some(RowChange::Delete { old: vec![int(1)] })
        );
    }

    #[test]
    fn first_image_is_kept_and_last_image_wins() {
        let shape = TableShape {
            name: "t".into(),
            columns: vec!["id".into(), "v".into()],
            hook_index: vec![0, 1],
            primary_key: vec![0],
        };
        let mut pending = Pending {
            shape,
            rows: Vec::new(),
            by_key: HashMap::new(),
        };
        pending.record_update(vec![int(1), int(10)], vec![int(1), int(11)]);
        pending.record_update(vec![int(1), int(11)], vec![int(1), int(12)]);
        pending.record_insert(vec![int(2), int(20)]);
        pending.record_delete(vec![int(2), int(20)]);
        pending.record_update(vec![int(3), int(30)], vec![int(4), int(30)]);
        let shape = pending.shape.clone();
        let set = diff(
            vec![TakenTable {
                shape,
                rows: pending.rows,
            }],
            false,
            |_, _| Ok(None),
        )
        .expect("diff");
        assert_eq!(
            set.tables[0].rows,
            vec![
                RowChange::Update {
                    key: vec![int(1)],
                    columns: vec![1],
                    old: vec![int(10)],
                    new: vec![int(12)]
                },
                RowChange::Delete {
                    old: vec![int(3), int(30)]
                },
                RowChange::Insert {
                    values: vec![int(4), int(30)]
                },
            ]
        );
    }
}
