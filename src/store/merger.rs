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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::types::ToSql;
use rusqlite::{params_from_iter, Connection};

use crate::bundle::WireRecord;
use crate::error::{Error, Result};
use crate::merge::{Change, Event, RowMeta};
use crate::model::{ChangeSet, ConflictStrategy, RowChange, TableChanges, Value};
use crate::store::rows::{self, Merged, RowState};
use crate::store::tables::{self, TableShape};
use crate::store::{apply, conflicts};

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

    /// Merges every row change of a record. Rows go one by one, except a record's inserts of rows
    /// this replica has never seen (the bulk of a first sync), which are claimed and written many
    /// per statement; any of those that cannot be written that way go one by one after all.
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
        let mut bulk: Vec<(&TableChanges, Vec<&RowChange>)> = Vec::new();
        for (table, row) in queue {
            let in_bulk = matches!(row, RowChange::Insert { .. })
                && self.deferred.is_empty()
                && self
                    .shapes
                    .get(&table.table)
                    .is_some_and(|shape| shape.columns == table.columns);
            if !in_bulk {
                self.apply_one(conn, record, table, row)?;
                continue;
            }
            match bulk.iter_mut().find(|(t, _)| std::ptr::eq(*t, table)) {
                Some((_, rows)) => rows.push(row),
                None => bulk.push((table, vec![row])),
            }
        }
        for (table, inserts) in bulk {
            self.insert_new_rows(conn, record, table, &inserts)?;
        }
        Ok(())
    }

    /// Merges one row change.
    fn apply_one(
        &mut self,
        conn: &Connection,
        record: &WireRecord,
        table: &TableChanges,
        row: &RowChange,
    ) -> Result<()> {
        let Some(shape) = self.shapes.get(&table.table).cloned() else {
            return Ok(());
        };
        let key = table.key_of(row)?;
        let pk = rows::encode_key(&key);
        let change = change_of(record, table, row);
        if !self.deferred.is_empty() {
            if let Some(waiting) = self.deferred.get_mut(&(table.table.clone(), pk.clone())) {
                waiting.state.absorb(&change);
                return Ok(());
            }
        }
        match rows::merge_remote(conn, &shape, table, row, &key, &pk, &change) {
            Ok(merged) => self.refresh(conn, &table.table, &pk, &merged),
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
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Inserts, many per statement, the rows of `inserts` that have no merge state yet: each
    /// chunk's merge states are claimed in one statement (which reports the rows that were new),
    /// then those rows are written in one statement. A new row has one head and no conflict.
    fn insert_new_rows(
        &mut self,
        conn: &Connection,
        record: &WireRecord,
        table: &TableChanges,
        inserts: &[&RowChange],
    ) -> Result<()> {
        let Some(shape) = self.shapes.get(&table.table).cloned() else {
            return Ok(());
        };
        let Some(first) = inserts.first() else {
            return Ok(());
        };
        let meta = rows::encode_meta(&RowMeta::inserted(&change_of(record, table, first)))?;
        let columns: Vec<&str> = shape.columns.iter().map(String::as_str).collect();
        let key_columns: Vec<&str> = shape.key_columns().collect();
        let per_statement = (MAX_PARAMETERS / columns.len().max(3)).clamp(1, 256);
        // The statements for a full chunk, built once; only a last, shorter chunk needs others.
        let full_claim = apply::claim_many_sql(per_statement);
        let full_upsert =
            apply::upsert_many_sql(&shape.name, &columns, &key_columns, per_statement);
        for chunk in inserts.chunks(per_statement) {
            let pks = chunk
                .iter()
                .map(|row| table.key_refs(row).map(rows::encode_key))
                .collect::<Result<Vec<_>>>()?;
            let claimed = match chunk.len() {
                n if n == per_statement => claim(conn, &full_claim, &shape.name, &pks, &meta)?,
                n => claim(conn, &apply::claim_many_sql(n), &shape.name, &pks, &meta)?,
            };
            let new: Vec<usize> = (0..chunk.len()).filter(|&i| claimed[i]).collect();
            let written: Result<usize> = match new.len() {
                0 => Ok(0),
                n => {
                    let values = new.iter().flat_map(|&i| match chunk[i] {
                        RowChange::Insert { values } => values.as_slice(),
                        _ => &[],
                    });
                    let sql = match n {
                        n if n == per_statement => std::borrow::Cow::Borrowed(&full_upsert),
                        n => std::borrow::Cow::Owned(apply::upsert_many_sql(
                            &shape.name,
                            &columns,
                            &key_columns,
                            n,
                        )),
                    };
                    conn.prepare_cached(&sql)?
                        .execute(params_from_iter(values))
                        .map_err(Error::from)
                }
            };
            match written {
                Ok(_) => {
                    for (row, new) in chunk.iter().zip(&claimed) {
                        if !new {
                            self.apply_one(conn, record, table, row)?;
                        }
                    }
                }
                Err(error) if is_constraint(&error) => {
                    for &i in &new {
                        rows::unclaim(conn, &shape.name, &pks[i])?;
                    }
                    for row in chunk {
                        self.apply_one(conn, record, table, row)?;
                    }
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

/// Claims merge states for the rows with keys `pks` (all of one table) in one statement; returns
/// which of them had none, which are the rows this replica has never seen. When some had one, the
/// claimed keys are those now holding `meta`: no earlier state equals it, as it names this record.
fn claim(
    conn: &Connection,
    sql: &str,
    table: &str,
    pks: &[Vec<u8>],
    meta: &[u8],
) -> Result<Vec<bool>> {
    let params = || {
        [&table as &dyn ToSql, &meta]
            .into_iter()
            .chain(pks.iter().map(|pk| pk as &dyn ToSql))
    };
    let inserted = conn
        .prepare_cached(sql)?
        .execute(params_from_iter(params()))?;
    if inserted == pks.len() {
        return Ok(vec![true; pks.len()]);
    }
    let mut claimed = HashSet::with_capacity(inserted);
    if inserted > 0 {
        let mut stmt = conn.prepare_cached(&apply::claimed_sql(pks.len()))?;
        let mut rows = stmt.query(params_from_iter(params()))?;
        while let Some(row) = rows.next()? {
            claimed.insert(row.get::<_, Vec<u8>>(0)?);
        }
    }
    Ok(pks.iter().map(|pk| claimed.contains(pk)).collect())
}

/// Parameters one statement may bind (SQLite's default limit is 32,766).
const MAX_PARAMETERS: usize = 30_000;

fn is_constraint(error: &Error) -> bool {
    matches!(error, Error::Sql { sqlite_code: Some(code), .. } if code & 0xff == 19)
}
