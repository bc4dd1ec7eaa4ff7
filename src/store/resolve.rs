//! Conflicts as the API shows them, and their resolution: the chosen version is written as a new
//! local change that has seen both sides, so it supersedes them and closes the conflict on every
//! replica that receives it.

use crate::error::{Error, Result};
use crate::merge::RowValues;
use crate::model::{ChangeSet, RowChange, TableChanges, Value};
use crate::store::capture::lock;
use crate::store::conflicts::{self, Conflict, Records};
use crate::store::tables::TableShape;
use crate::store::{in_transaction, rows, Journal, Store};

use rusqlite::Connection;

/// The version `resolveConflict` keeps.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Local,
    Remote,
    Values(RowValues),
}

impl Store {
    /// Open conflicts, oldest first. Local changes made since the last import are taken into
    /// account first (a local write that saw both sides of a conflict closes it).
    pub fn conflicts(&mut self) -> Result<Vec<Conflict>> {
        let Store { conn, journal } = self;
        if conn.is_autocommit() {
            in_transaction(conn, || journal.index_local(conn))?;
        } else {
            journal.index_local(conn)?;
        }
        let shapes = self.journal.shapes();
        let mut records = Records::default();
        conflicts::open(&self.conn)?
            .into_iter()
            .filter_map(|(id, at)| shapes.get(&at.table).map(|shape| (id, at, shape)))
            .map(|(id, at, shape)| {
                conflicts::describe(
                    &self.conn,
                    &mut records,
                    self.journal.device,
                    shape,
                    id,
                    &at,
                )
            })
            .collect()
    }

    /// Keeps one version of a conflicting row by writing it as a new change that supersedes both
    /// sides, so the conflict closes on every replica that receives it.
    pub fn resolve_conflict(&mut self, id: &str, choice: Choice) -> Result<()> {
        self.refuse_in_transaction("resolveConflict")?;
        let Store { conn, journal } = self;
        let (raw, at) =
            conflicts::find(conn, id)?.ok_or_else(|| Error::ConflictNotFound(id.to_owned()))?;
        let shapes = journal.shapes();
        let shape = shapes
            .get(&at.table)
            .ok_or_else(|| Error::TableNotSynced(at.table.clone()))?;
        let conflict = conflicts::describe(
            conn,
            &mut Records::default(),
            journal.device,
            shape,
            raw,
            &at,
        )?;
        let key = rows::decode_key(&at.pk)?;
        let chosen = match choice {
            Choice::Local => conflict.local,
            Choice::Remote => conflict.remote,
            Choice::Values(values) => {
                let key_columns: Vec<&str> = shape.key_columns().collect();
                for (column, value) in &values {
                    let position = key_columns.iter().position(|k| k == column);
                    if position.is_some_and(|i| key.get(i) != Some(value)) {
                        return Err(Error::InvalidArgument(format!(
                            "resolveConflict cannot change the primary key column {column:?}"
                        )));
                    }
                }
                if let Some((unknown, _)) = values.iter().find(|(c, _)| !shape.columns.contains(c))
                {
                    return Err(Error::SchemaMismatch(format!(
                        "table {} has no column {unknown:?}",
                        shape.name
                    )));
                }
                let mut row = conflict.local.or(conflict.remote).unwrap_or_default();
                for (column, value) in values {
                    match row.iter_mut().find(|(c, _)| *c == column) {
                        Some(slot) => slot.1 = value,
                        None => row.push((column, value)),
                    }
                }
                Some(row)
            }
        };
        in_transaction(conn, || journal.write_resolution(conn, shape, &key, chosen))
    }
}

impl Journal {
    /// Writes the chosen version of a row and records it as a local change.
    fn write_resolution(
        &mut self,
        conn: &Connection,
        shape: &TableShape,
        key: &[Value],
        chosen: Option<RowValues>,
    ) -> Result<()> {
        self.index_local(conn)?;
        let current = rows::current(conn, shape, key)?;
        lock(&self.capture).suspended = true;
        let written = match &chosen {
            Some(values) => rows::write_row(conn, shape, key, values),
            None => rows::delete_row(conn, shape, key),
        };
        lock(&self.capture).suspended = false;
        written?;
        let pick = |values: &RowValues| -> Vec<Value> {
            shape
                .columns
                .iter()
                .map(|c| {
                    values
                        .iter()
                        .find(|(n, _)| n == c)
                        .map_or(Value::Null, |(_, v)| v.clone())
                })
                .collect()
        };
        let row = match (&chosen, current) {
            // Recorded as SQLite stored it: its columns may have converted the chosen values (5
            // into a REAL column is 5.0), and receivers refuse values their columns would convert.
            (Some(_), _) => RowChange::Insert {
                values: rows::current_values(conn, shape, key)?.ok_or_else(|| {
                    Error::Corrupt(format!("the resolved row of {} is missing", shape.name))
                })?,
            },
            (None, Some(old)) => RowChange::Delete { old: pick(&old) },
            (None, None) => RowChange::Delete {
                old: pick(&key_only(shape, key)),
            },
        };
        let set = ChangeSet {
            tables: vec![TableChanges {
                table: shape.name.clone(),
                columns: shape.columns.clone(),
                primary_key: shape.primary_key.clone(),
                rows: vec![row],
            }],
        };
        self.append_local(conn, &set.to_bytes()?, 1)?;
        self.index_local(conn)
    }
}

fn key_only(shape: &TableShape, key: &[Value]) -> RowValues {
    shape
        .key_columns()
        .map(str::to_owned)
        .zip(key.iter().cloned())
        .collect()
}
