//! Conflicts as the API shows them, and their resolution: the chosen version is written as a new
//! local change that has seen every concurrent version, so it supersedes them and closes the
//! conflict on every replica that receives it.

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::ids::ConflictId;
use crate::merge::RowValues;
use crate::model::{ChangeSet, Choice, Conflict, RowChange, TableChanges, Value};
use crate::store::capture::{self, Mode};
use crate::store::conflicts;
use crate::store::schema::tables::TableShape;
use crate::store::sql::txn::OwnTransaction;
use crate::store::{rowstate, Journal, Store};

impl Store {
    /// Open conflicts, oldest first. Local changes made since the last import are taken into
    /// account first (a local write that saw every version of a conflict closes it).
    pub fn conflicts(&mut self) -> Result<Vec<Conflict>> {
        let Store { conn, journal } = self;
        if conn.is_autocommit() {
            let transaction = OwnTransaction::begin(conn, "conflicts")?;
            journal.index_local(conn)?;
            transaction.commit()?;
        } else {
            journal.index_local(conn)?;
        }
        let shapes = journal.shapes();
        conflicts::describe(
            conn,
            journal.device,
            &shapes,
            conflicts::unresolved(conn, None)?,
        )
    }

    /// Keeps one version of a conflicting row by writing it as a new change that supersedes every
    /// version, so the conflict closes on every replica that receives it. A conflict that a later
    /// write or import has already settled (or changed: a new concurrent version makes a new
    /// conflict) is `ERR_CONFLICT_NOT_FOUND`.
    pub fn resolve_conflict(&mut self, wanted: ConflictId, choice: Choice) -> Result<()> {
        let Store { conn, journal } = self;
        let transaction = OwnTransaction::begin(conn, "resolveConflict")?;
        let resolved = journal
            .resolve(conn, wanted, choice)
            .and_then(|()| transaction.commit());
        if resolved.is_err() {
            journal.rolled_back(conn)?;
        }
        resolved
    }
}

impl Journal {
    /// The body of [`Store::resolve_conflict`], inside its transaction.
    fn resolve(&mut self, conn: &Connection, wanted: ConflictId, choice: Choice) -> Result<()> {
        self.index_local(conn)?;
        let located = conflicts::unresolved(conn, Some(wanted))?;
        let shapes = self.shapes();
        let conflict = conflicts::describe(conn, self.device, &shapes, located)?
            .pop()
            .ok_or_else(|| Error::ConflictNotFound(wanted.to_string()))?;
        let shape = shapes
            .get(&conflict.table)
            .ok_or_else(|| Error::TableNotSynced(conflict.table.clone()))?;
        let key: Vec<Value> = conflict
            .primary_key
            .iter()
            .map(|(_, v)| v.clone())
            .collect();
        let chosen = chosen_row(shape, &conflict, &key, choice)?;
        self.write_resolution(conn, shape, &key, chosen)
    }
}

/// The row a choice keeps (`None`: the row ends deleted).
fn chosen_row(
    shape: &TableShape,
    conflict: &Conflict,
    key: &[Value],
    choice: Choice,
) -> Result<Option<RowValues>> {
    Ok(match choice {
        Choice::Local => conflict.local.clone(),
        Choice::Remote => conflict.remote.clone(),
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
            if let Some((unknown, _)) = values.iter().find(|(c, _)| !shape.columns.contains(c)) {
                return Err(Error::SchemaMismatch(format!(
                    "table {} has no column {unknown:?}",
                    shape.name
                )));
            }
            let mut row = conflict
                .local
                .clone()
                .or_else(|| conflict.remote.clone())
                .unwrap_or_else(|| key_only(shape, key));
            for (column, value) in values {
                match row.iter_mut().find(|(c, _)| *c == column) {
                    Some(slot) => slot.1 = value,
                    None => row.push((column, value)),
                }
            }
            Some(row)
        }
    })
}

impl Journal {
    /// Writes the chosen version of a row and records it as a local change. What the user's
    /// triggers write in reaction is captured as a local change of its own.
    fn write_resolution(
        &mut self,
        conn: &Connection,
        shape: &TableShape,
        key: &[Value],
        chosen: Option<RowValues>,
    ) -> Result<()> {
        let current = rowstate::current(conn, shape, key)?;
        {
            let _mode = capture::enter(&self.capture, Mode::ReactionsOnly);
            match &chosen {
                Some(values) => rowstate::write_row(conn, shape, key, values)?,
                None => rowstate::delete_row(conn, shape, key)?,
            }
        }
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
                values: rowstate::current_values(conn, shape, key)?.ok_or_else(|| {
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
        self.flush(conn)?;
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
