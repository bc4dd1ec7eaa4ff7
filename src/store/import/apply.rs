//! Applying received records to rows, one record at a time in causal order, with rows that cannot
//! be written yet set aside.
//!
//! A record is one transaction's net effect, so its rows may only fit the table's constraints as a
//! whole, and sometimes only together with later records (a unique value that a later record
//! frees). Rows are written deletes first, then updates, then inserts (three passes over the
//! change set, which is read row by row and never held whole). A row whose write violates a
//! constraint is set aside with its merge state in memory; later changes to it are merged there,
//! and at the end of the import set-aside rows are written (rows that end deleted first) until none
//! is left. Rows that only fit together (values swapped between rows) are all removed, then
//! written; a clash that still remains fails the import, which then changes nothing.
//!
//! The user's triggers fire while rows are written. Their effects on other synced tables arrive
//! from the replica where they first fired, so here they must not stay: capture remembers each
//! synced row a trigger changed with its values before ([`Mode::Importing`]); a row merged later in
//! the import starts from those values instead of the trigger's, and the rows left changed at the
//! end are set back, with triggers off. Triggers writing tables that are not synced (a search
//! index, say) keep their effects.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::config::DbConfig;
use rusqlite::types::ToSql;
use rusqlite::{params_from_iter, Connection};

use crate::codec::changes::{kind, ChangeSetCursor, RowRef, TableHeader};
use crate::error::{Error, Result};
use crate::merge::{Change, RowMeta};
use crate::model::Value;
use crate::store::capture::{lock, SharedCapture};
use crate::store::conflicts::Touched;
use crate::store::import::validate::{malformed, shape_of, TableCheck};
use crate::store::rowstate::{self, encode_key, form, Merged, RowState};
use crate::store::schema::tables::TableShape;
use crate::store::sql::bulk::BulkSql;

use super::view::{change_of, RecordContext};

/// A row set aside until the end of the import.
struct Deferred {
    shape: Arc<TableShape>,
    key: Vec<Value>,
    state: RowState,
    error: Error,
}

/// The state of one import's merging.
pub struct Merger<'s> {
    shapes: &'s HashMap<String, Arc<TableShape>>,
    capture: SharedCapture,
    deferred: HashMap<(String, Vec<u8>), Deferred>,
    touched: Touched,
    sql: BulkSql,
}

/// Rows one bulk statement writes at most.
const BULK_ROWS: usize = 256;
/// Parameters one statement may bind (SQLite's default limit is 32,766).
const MAX_PARAMETERS: usize = 30_000;

impl<'s> Merger<'s> {
    /// A merger for the synced tables `shapes`; `capture` must be in the importing mode.
    pub fn new(shapes: &'s HashMap<String, Arc<TableShape>>, capture: SharedCapture) -> Self {
        Merger {
            shapes,
            capture,
            deferred: HashMap::new(),
            touched: Touched::default(),
            sql: BulkSql::default(),
        }
    }

    /// Merges every row change of a record's change set (already validated); `kinds` says which
    /// kinds of row change it holds (bit `1 << kind`), so that passes over absent kinds are skipped.
    pub fn apply(
        &mut self,
        conn: &Connection,
        record: &RecordContext<'_>,
        changes: &[u8],
        kinds: u8,
    ) -> Result<()> {
        let passes = [kind::DELETE, kind::UPDATE, kind::INSERT];
        let broken = malformed(record.dot);
        for pass in passes.into_iter().filter(|k| kinds & (1 << k) != 0) {
            let mut cursor = ChangeSetCursor::new(changes).map_err(&broken)?;
            while let Some(header) = cursor.next_table().map_err(&broken)? {
                let shape = shape_of(self.shapes, &header)?.clone();
                let check = TableCheck::new(&shape, record.dot, &header)?;
                let bulk = pass == kind::INSERT && header.columns.iter().eq(shape.columns.iter());
                let mut chunk: Vec<RowRef<'_>> = Vec::new();
                let per_statement =
                    (MAX_PARAMETERS / shape.columns.len().max(3)).clamp(1, BULK_ROWS);
                while let Some(row) = cursor.next_row_of(pass).map_err(&broken)? {
                    check.row(&row)?;
                    if bulk && self.deferred.is_empty() && !lock(&self.capture).tainted() {
                        chunk.push(row);
                        if chunk.len() == per_statement {
                            self.insert_new_rows(conn, record, &shape, &header, &chunk)?;
                            chunk.clear();
                        }
                    } else {
                        self.apply_one(conn, record, &shape, &header, &row)?;
                    }
                }
                if !chunk.is_empty() {
                    self.insert_new_rows(conn, record, &shape, &header, &chunk)?;
                }
            }
        }
        Ok(())
    }

    /// Merges one row change.
    #[inline(never)]
    fn apply_one(
        &mut self,
        conn: &Connection,
        record: &RecordContext<'_>,
        shape: &Arc<TableShape>,
        header: &TableHeader<'_>,
        row: &RowRef<'_>,
    ) -> Result<()> {
        let key_refs = row.key(&header.primary_key);
        let pk = encode_key(key_refs.iter().copied());
        let change = change_of(record, header, row);
        if !self.deferred.is_empty() {
            if let Some(waiting) = self.deferred.get_mut(&(shape.name.clone(), pk.clone())) {
                waiting.state.absorb(&change);
                return Ok(());
            }
        }
        let key: Vec<Value> = key_refs.iter().map(|v| v.to_value()).collect();
        let base = lock(&self.capture).take_taint(&shape.name, &pk)?;
        let merged = match (row, base) {
            (RowRef::Insert { values }, None) if header.columns.iter().eq(shape.columns.iter()) => {
                let head = change.head();
                let meta = form::encode_short(&head, shape.generation);
                if rowstate::claim(conn, &shape.name, &pk, &meta)? {
                    match conn
                        .prepare_cached(&shape.upsert_sql)?
                        .execute(params_from_iter(values))
                    {
                        Ok(_) => Ok(Merged {
                            meta: RowMeta::inserted(head, shape.columns.iter().map(String::as_str)),
                            heads_before: 0,
                        }),
                        Err(error) => {
                            rowstate::unclaim(conn, &shape.name, &pk)?;
                            Err(Error::from(error))
                        }
                    }
                } else {
                    self.merge(conn, shape, &key, &pk, &change, None)
                }
            }
            (_, base) => self.merge(conn, shape, &key, &pk, &change, base),
        };
        match merged {
            Ok(merged) => {
                self.touched
                    .note(&shape.name, &pk, &merged.meta, merged.heads_before);
                Ok(())
            }
            Err(error) if is_constraint(&error) => {
                // The row's state as it was, with this change absorbed, waits for the end.
                let mut state = RowState::load(conn, shape, &key, &pk, None)?;
                state.absorb(&change);
                self.deferred.insert(
                    (shape.name.clone(), pk),
                    Deferred {
                        shape: shape.clone(),
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

    fn merge(
        &self,
        conn: &Connection,
        shape: &TableShape,
        key: &[Value],
        pk: &[u8],
        change: &Change<'_>,
        base: Option<Option<Vec<Value>>>,
    ) -> Result<Merged> {
        let mut state = RowState::load(conn, shape, key, pk, base)?;
        state.absorb(change);
        state.write(conn, shape, key, pk)
    }

    /// Inserts, many per statement, the rows of `inserts` that have no merge state yet: each
    /// chunk's merge states are claimed in one statement (which reports the rows that were new),
    /// then those rows are written in one statement. A new row has one head and no conflict. The
    /// others are merged one by one.
    #[inline(never)]
    fn insert_new_rows(
        &mut self,
        conn: &Connection,
        record: &RecordContext<'_>,
        shape: &Arc<TableShape>,
        header: &TableHeader<'_>,
        inserts: &[RowRef<'_>],
    ) -> Result<()> {
        let Some(first) = inserts.first() else {
            return Ok(());
        };
        let head = change_of(record, header, first).head();
        let meta = form::encode_short(&head, shape.generation);
        let pks: Vec<Vec<u8>> = inserts
            .iter()
            .map(|row| encode_key(row.key(&header.primary_key).into_iter()))
            .collect();
        let claimed = claim(conn, &mut self.sql, &shape.name, &pks, &meta)?;
        let new: Vec<usize> = (0..inserts.len()).filter(|&i| claimed[i]).collect();
        let written: Result<usize> = match new.len() {
            0 => Ok(0),
            n => {
                let values = new.iter().flat_map(|&i| match &inserts[i] {
                    RowRef::Insert { values } => values.as_slice(),
                    _ => &[],
                });
                let columns: Vec<&str> = shape.columns.iter().map(String::as_str).collect();
                let key_columns: Vec<&str> = shape.key_columns().collect();
                let sql = self.sql.upsert(&shape.name, &columns, &key_columns, n);
                conn.prepare_cached(sql)?
                    .execute(params_from_iter(values))
                    .map_err(Error::from)
            }
        };
        match written {
            Ok(_) => {
                for (row, new) in inserts.iter().zip(&claimed) {
                    if !new {
                        self.apply_one(conn, record, shape, header, row)?;
                    }
                }
            }
            Err(error) if is_constraint(&error) => {
                for &i in &new {
                    rowstate::unclaim(conn, &shape.name, &pks[i])?;
                }
                for row in inserts {
                    self.apply_one(conn, record, shape, header, row)?;
                }
            }
            Err(error) => return Err(error),
        }
        Ok(())
    }

    /// Writes the rows set aside, then sets back the rows triggers changed; returns every row whose
    /// conflicts may have changed.
    pub fn finish(mut self, conn: &Connection) -> Result<Touched> {
        while !self.deferred.is_empty() {
            let mut keys: Vec<(String, Vec<u8>)> = self.deferred.keys().cloned().collect();
            keys.sort_by_key(|k| (!self.deferred[k].state.deleted(), k.clone()));
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
                        self.touched
                            .note(&key.0, &key.1, &merged.meta, merged.heads_before);
                        progress = true;
                    }
                    Err(error) if is_constraint(&error) => waiting.error = error,
                    Err(error) => return Err(error),
                }
            }
            if !progress {
                self.write_together(conn)?;
            }
        }
        self.untaint(conn)?;
        Ok(self.touched)
    }

    /// The last resort for rows that only fit together (unique values swapped between rows):
    /// every such row is removed first, then each is written in its final state. A clash that
    /// remains is one the complete history cannot satisfy, and fails the import.
    fn write_together(&mut self, conn: &Connection) -> Result<()> {
        for waiting in self.deferred.values() {
            rowstate::delete_row(conn, &waiting.shape, &waiting.key)?;
        }
        let mut keys: Vec<(String, Vec<u8>)> = self.deferred.keys().cloned().collect();
        keys.sort_by_key(|k| (!self.deferred[k].state.deleted(), k.clone()));
        for key in keys {
            if let Some(waiting) = self.deferred.remove(&key) {
                let merged = waiting
                    .state
                    .write(conn, &waiting.shape, &waiting.key, &key.1)?;
                self.touched
                    .note(&key.0, &key.1, &merged.meta, merged.heads_before);
            }
        }
        Ok(())
    }

    /// Sets every synced row a trigger changed (and no merge wrote since) back to what it was
    /// before, with triggers off so that setting it back fires nothing.
    fn untaint(&self, conn: &Connection) -> Result<()> {
        let taints = lock(&self.capture).take_taints()?;
        if taints.is_empty() {
            return Ok(());
        }
        let _triggers = TriggersOff::new(conn)?;
        for ((table, pk), before) in taints {
            let Some(shape) = self.shapes.get(&table) else {
                continue;
            };
            let key = rowstate::decode_key(&pk)?;
            match before {
                Some(values) => {
                    let named = shape.columns.iter().cloned().zip(values).collect();
                    rowstate::write_row(conn, shape, &key, &named)?;
                }
                None => rowstate::delete_row(conn, shape, &key)?,
            }
        }
        Ok(())
    }
}

/// Turns the connection's triggers off until dropped.
struct TriggersOff<'c>(&'c Connection);

impl<'c> TriggersOff<'c> {
    fn new(conn: &'c Connection) -> Result<Self> {
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
        Ok(TriggersOff(conn))
    }
}

impl Drop for TriggersOff<'_> {
    fn drop(&mut self) {
        // Turning triggers back on cannot fail for a valid connection; if it did, the next
        // statement would run without triggers, which the tests of triggers would show.
        let _ = self
            .0
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, true);
    }
}

/// Claims merge states for the rows with keys `pks` (all of one table) in one statement; returns
/// which of them had none, which are the rows this replica has never seen. When some had one, the
/// claimed keys are those now holding `meta`: no earlier state equals it, as it names this record.
pub fn claim(
    conn: &Connection,
    sql: &mut BulkSql,
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
        .prepare_cached(sql.claim(pks.len()))?
        .execute(params_from_iter(params()))?;
    if inserted == pks.len() {
        return Ok(vec![true; pks.len()]);
    }
    let mut claimed = HashSet::with_capacity(inserted);
    if inserted > 0 {
        let mut stmt = conn.prepare_cached(sql.claimed(pks.len()))?;
        let mut rows = stmt.query(params_from_iter(params()))?;
        while let Some(row) = rows.next()? {
            claimed.insert(row.get::<_, Vec<u8>>(0)?);
        }
    }
    Ok(pks.iter().map(|pk| claimed.contains(pk)).collect())
}

/// Whether an error is SQLite's constraint violation (primary result code `SQLITE_CONSTRAINT`).
pub fn is_constraint(error: &Error) -> bool {
    const SQLITE_CONSTRAINT: i32 = 19;
    matches!(error, Error::Sql { sqlite_code: Some(code), .. } if code & 0xff == SQLITE_CONSTRAINT)
}
