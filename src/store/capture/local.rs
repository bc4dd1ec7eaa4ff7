//! Bringing the merge state up to date with local changes.
//!
//! Local changes are already in the tables; their effect on the rows' merge states is computed
//! lazily, before anything reads those states (an import, a conflict listing, a resolution), which
//! keeps capture off the write path. Inserts of rows that have no merge state yet (the bulk of
//! local writes) are claimed many per statement in their short form; every other row change goes
//! through the merge rules one row at a time.

use rusqlite::Connection;

use crate::codec::changes::{ChangeSetCursor, RowRef};
use crate::error::{Error, Result};
use crate::store::conflicts::{self, Touched};
use crate::store::import::apply::claim;
use crate::store::import::view::{change_of, RecordContext};
use crate::store::rowstate::{self, encode_key, form};
use crate::store::sql::bulk::BulkSql;
use crate::store::{log, schema, Journal};

/// Rows claimed per statement.
const CLAIM_ROWS: usize = 256;

impl Journal {
    /// Brings the merge state up to date with local changes recorded since the last time.
    pub(in crate::store) fn index_local(&mut self, conn: &Connection) -> Result<()> {
        let indexed = schema::setting(conn, "indexed")?.map_or(Ok(0), log::from_sql_int)?;
        if indexed >= self.local_seq {
            return Ok(());
        }
        let shapes = self.shapes();
        let mut touched = Touched::default();
        let mut sql = BulkSql::default();
        for record in log::after(conn, &self.device, indexed, None)? {
            let clock = log::decode_clock(&record.clock)?;
            let context = RecordContext {
                dot: record.dot,
                stamp: record.stamp,
                clock: &clock,
            };
            let broken = |e: String| Error::Corrupt(format!("local record {}: {e}", record.dot));
            let mut cursor = ChangeSetCursor::new(&record.changes).map_err(broken)?;
            while let Some(header) = cursor.next_table().map_err(broken)? {
                let shape = shapes.get(header.name);
                let generations: &[Vec<String>] = shape.map_or(&[], |s| &s.generations);
                let whole = shape.is_some_and(|s| header.columns.iter().eq(s.columns.iter()));
                let mut inserts: Vec<RowRef<'_>> = Vec::new();
                let mut index_inserts = |inserts: &mut Vec<RowRef<'_>>, touched: &mut _| {
                    self.index_inserts(
                        conn,
                        &mut sql,
                        &context,
                        &header,
                        inserts,
                        touched,
                        generations,
                    )
                };
                while let Some(row) = cursor.next_row().map_err(broken)? {
                    if whole && matches!(row, RowRef::Insert { .. }) {
                        inserts.push(row);
                        continue;
                    }
                    // Rows are indexed in order: the inserts before this row first.
                    index_inserts(&mut inserts, &mut touched)?;
                    let pk = encode_key(row.key(&header.primary_key).into_iter());
                    let old = match &row {
                        RowRef::Delete { old } => Some(
                            header
                                .columns
                                .iter()
                                .map(|c| (*c).to_owned())
                                .zip(old.iter().map(|v| v.to_value()))
                                .collect(),
                        ),
                        _ => None,
                    };
                    let change = change_of(&context, &header, &row);
                    let merged =
                        rowstate::merge_local(conn, header.name, generations, &pk, &change, old)?;
                    touched.note(header.name, &pk, &merged.meta, merged.heads_before);
                }
                index_inserts(&mut inserts, &mut touched)?;
            }
        }
        schema::set_setting(conn, "indexed", log::to_sql_int(self.local_seq)?)?;
        let now = (self.now_ms)();
        conflicts::refresh(
            conn,
            touched,
            &shapes,
            crate::store::import::strategies(conn),
            now,
        )?;
        Ok(())
    }

    /// Indexes local inserts of whole rows: rows without merge state are claimed in bulk with the
    /// insert's short form; the others go through the merge rules.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn index_inserts(
        &self,
        conn: &Connection,
        sql: &mut BulkSql,
        context: &RecordContext<'_>,
        header: &crate::codec::changes::TableHeader<'_>,
        inserts: &mut Vec<RowRef<'_>>,
        touched: &mut Touched,
        generations: &[Vec<String>],
    ) -> Result<()> {
        let Some(first) = inserts.first() else {
            return Ok(());
        };
        let head = change_of(context, header, first).head();
        // Only whole rows of a synced table come here: they wrote its current generation.
        let generation = generations.len().saturating_sub(1) as u32;
        let meta = form::encode_short(&head, generation);
        for chunk in inserts.chunks(CLAIM_ROWS) {
            let pks: Vec<Vec<u8>> = chunk
                .iter()
                .map(|row| encode_key(row.key(&header.primary_key).into_iter()))
                .collect();
            let claimed = claim(conn, sql, header.name, &pks, &meta)?;
            for ((row, pk), new) in chunk.iter().zip(&pks).zip(claimed) {
                if new {
                    continue;
                }
                let change = change_of(context, header, row);
                let merged =
                    rowstate::merge_local(conn, header.name, generations, pk, &change, None)?;
                touched.note(header.name, pk, &merged.meta, merged.heads_before);
            }
        }
        inserts.clear();
        Ok(())
    }
}
