//! Applying received records to rows, one record at a time in causal order, with rows that cannot
//! be written yet set aside.
//!
//! A record is one transaction's net effect, so its rows may only fit the table's constraints as a
//! whole, and sometimes only together with later records (a unique value that a later record
//! frees). Rows are written deletes first, then updates, then inserts. A row whose write violates a
//! constraint is set aside with its merge state in memory; later changes to it are merged there,
//! and at the end of the import set-aside rows are written (rows that end deleted first) until
//! none is left. Rows that only fit together (values swapped between rows) are all removed, then
//! written; a clash that still remains fails the import, which then changes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;

use crate::bundle::WireRecord;
use crate::error::{Error, Result};
use crate::merge::{Change, Event};
use crate::model::{ChangeSet, ConflictStrategy, RowChange, TableChanges, Value};
use crate::store::conflicts;
use crate::store::rows::{self, Merged, RowState};
use crate::store::tables::{self, TableShape};

/// A row set aside until the end of the import.
struct Deferred {
    shape: Arc<TableShape>,
    key: Vec<Value>,
    state: RowState,
    error: Error,
}

/// The state of one import's merging.
pub struct Merger {
    shapes: HashMap<String, Arc<TableShape>>,
    strategies: Strategies,
    deferred: HashMap<(String, Vec<u8>), Deferred>,
    created: Vec<([u8; 16], bool)>,
    now: u64,
}

impl Merger {
    /// A merger for the synced tables `shapes`, stamping conflicts with `now`.
    pub fn new(shapes: HashMap<String, Arc<TableShape>>, now: u64) -> Self {
        Merger {
            shapes,
            strategies: Strategies::default(),
            deferred: HashMap::new(),
            created: Vec::new(),
            now,
        }
    }

    /// Merges every row change of a record.
    pub fn apply(&mut self, conn: &Connection, record: &WireRecord, set: &ChangeSet) -> Result<()> {
        let rank = |row: &RowChange| match row {
            RowChange::Delete { .. } => 0,
            RowChange::Update { .. } => 1,
            RowChange::Insert { .. } => 2,
        };
        let mut queue: Vec<(&TableChanges, &RowChange)> = set
            .tables
            .iter()
            .flat_map(|t| t.rows.iter().map(move |r| (t, r)))
            .collect();
        queue.sort_by_key(|(_, row)| rank(row));
        for (table, row) in queue {
            let Some(shape) = self.shapes.get(&table.table).cloned() else {
                continue;
            };
            let key = table.key_of(row)?;
            let pk = rows::encode_key(&key);
            let change = change_of(record, table, row);
            if !self.deferred.is_empty() {
                if let Some(waiting) = self.deferred.get_mut(&(table.table.clone(), pk.clone())) {
                    waiting.state.absorb(&change);
                    continue;
                }
            }
            match rows::merge_remote(conn, &shape, table, row, &key, &pk, &change) {
                Ok(merged) => self.refresh(conn, &table.table, &pk, &merged)?,
                Err(error) if is_constraint(&error) => {
                    let mut state = RowState::load(conn, &shape, &key, &pk)?;
                    state.absorb(&change);
                    self.deferred.insert(
                        (table.table.clone(), pk),
                        Deferred {
                            shape,
                            key,
                            state,
                            error,
                        },
                    );
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Writes the rows set aside; returns the new conflicts (id, listed) of the whole import.
    pub fn finish(mut self, conn: &Connection) -> Result<Vec<([u8; 16], bool)>> {
        while !self.deferred.is_empty() {
            let mut keys: Vec<(String, Vec<u8>)> = self.deferred.keys().cloned().collect();
            keys.sort_by_key(|k| !self.deferred[k].state.deleted());
            let mut progress = false;
            for key in keys {
                let Some(waiting) = self.deferred.get_mut(&key) else {
                    continue;
                };
                match waiting
                    .state
                    .write(conn, &waiting.shape, &waiting.key, &key.1)
                {
                    Ok(merged) => {
                        self.deferred.remove(&key);
                        self.refresh(conn, &key.0, &key.1, &merged)?;
                        progress = true;
                    }
                    Err(error) if is_constraint(&error) => waiting.error = error,
                    Err(error) => return Err(error),
                }
            }
            if !progress {
                return self.write_together(conn);
            }
        }
        Ok(self.created)
    }

    /// The last resort for rows that only fit together (unique values swapped between rows):
    /// every such row is removed first, then each is written in its final state. A clash that
    /// remains is one the complete history cannot satisfy, and fails the import.
    fn write_together(mut self, conn: &Connection) -> Result<Vec<([u8; 16], bool)>> {
        for waiting in self.deferred.values() {
            rows::delete_row(conn, &waiting.shape, &waiting.key)?;
        }
        let mut keys: Vec<(String, Vec<u8>)> = self.deferred.keys().cloned().collect();
        keys.sort_by_key(|k| !self.deferred[k].state.deleted());
        for key in keys {
            if let Some(waiting) = self.deferred.remove(&key) {
                let merged = waiting
                    .state
                    .write(conn, &waiting.shape, &waiting.key, &key.1)?;
                self.refresh(conn, &key.0, &key.1, &merged)?;
            }
        }
        Ok(self.created)
    }

    fn refresh(
        &mut self,
        conn: &Connection,
        table: &str,
        pk: &[u8],
        merged: &Merged,
    ) -> Result<()> {
        let strategy = self.strategies.of(conn, table)?;
        self.created.extend(conflicts::refresh(
            conn,
            table,
            pk,
            &merged.meta,
            merged.heads_before,
            strategy,
            self.now,
        )?);
        Ok(())
    }
}

/// Conflict strategies of synced tables, read once per use.
#[derive(Default)]
pub struct Strategies(HashMap<String, ConflictStrategy>);

impl Strategies {
    /// The strategy of `table` (the default for a table no longer synced).
    pub fn of(&mut self, conn: &Connection, table: &str) -> Result<ConflictStrategy> {
        if let Some(strategy) = self.0.get(table) {
            return Ok(*strategy);
        }
        let strategy = tables::strategy(conn, table)?.unwrap_or_default();
        self.0.insert(table.to_owned(), strategy);
        Ok(strategy)
    }
}

/// How the merge sees one row change of a record.
pub fn change_of<'a>(
    record: &'a WireRecord,
    table: &'a TableChanges,
    row: &'a RowChange,
) -> Change<'a> {
    Change {
        origin: record.origin,
        seq: record.seq,
        hlc: record.hlc,
        context: &record.clock,
        event: event_of(table, row),
    }
}

/// What a row change does; names and values are borrowed from the change set.
fn event_of<'a>(table: &'a TableChanges, row: &'a RowChange) -> Event<'a> {
    match row {
        RowChange::Insert { values } => Event::Insert(
            table
                .columns
                .iter()
                .map(String::as_str)
                .zip(values)
                .collect(),
        ),
        RowChange::Update { columns, new, .. } => Event::Update(
            columns
                .iter()
                .zip(new)
                .filter_map(|(&i, v)| table.columns.get(i as usize).map(|c| (c.as_str(), v)))
                .collect(),
        ),
        RowChange::Delete { .. } => Event::Delete,
    }
}

fn is_constraint(error: &Error) -> bool {
    matches!(error, Error::Sql { sqlite_code: Some(code), .. } if code & 0xff == 19)
}
