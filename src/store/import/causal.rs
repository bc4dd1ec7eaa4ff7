//! Applying an import's fresh records in causal order: the planner releases each record once
//! everything it depends on is applied (the previous record of its origin and its causal context),
//! each is merged and logged with its effective stamp, records that waited come in when what they
//! waited for arrives, and what still cannot be applied is kept waiting within the limits. Then the
//! conflicts of the rows it touched are brought up to date.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rusqlite::Connection;

use super::apply::Merger;
use super::validate::{self, ALL_KINDS};
use super::view::RecordContext;
use super::{Fresh, Source};
use crate::bundle::{self, Record};
use crate::error::{Error, Result};
use crate::ids::Dot;
use crate::merge::order::Planner;
use crate::merge::stamp;
use crate::model::{ConflictStrategy, Tally};
use crate::store::log::{self, pending, to_sql_int};
use crate::store::schema;
use crate::store::schema::tables::{self, TableShape};
use crate::store::{conflicts, Journal};

impl Journal {
    /// The body of [`Import::apply`](super::Import::apply).
    pub(super) fn import(
        &mut self,
        conn: &Connection,
        records: &[Record<'_>],
        fresh: &[Fresh],
        tally: &mut Tally,
    ) -> Result<()> {
        let shapes = self.shapes();
        let frontier = self.clock(conn)?;
        let mut planner = Planner::new(frontier.clone());
        // Records that wait for nothing any more (the frontier moved without them) come in too.
        for (device, seq) in frontier.iter() {
            for waiting in pending::waiting_on(conn, device, *seq)? {
                planner.add(waiting.dot, waiting.clock, Source::Waiting);
            }
        }
        for &Fresh { index, checked } in fresh {
            let record = &records[index];
            planner.add(
                record.dot,
                record.clock.clone(),
                Source::Bundle { index, checked },
            );
        }
        let mut merger = Merger::new(&shapes, self.capture.clone());
        let mut appender = log::Appender::default();
        let mut stamps: HashMap<Dot, u64> = HashMap::new();
        let mut max_stamp = 0;
        loop {
            let mut advanced = BTreeSet::new();
            while let Some((dot, source)) = planner.next_ready() {
                let stamp = self.apply_record(
                    conn,
                    records,
                    dot,
                    source,
                    &mut merger,
                    &mut appender,
                    &mut stamps,
                    tally,
                )?;
                max_stamp = max_stamp.max(stamp);
                advanced.insert(dot.origin);
            }
            // Records that waited for what was just applied come into the plan.
            let mut added = false;
            for device in advanced {
                let up_to = planner.frontier().get(&device);
                for waiting in pending::waiting_on(conn, &device, up_to)? {
                    added |= planner
                        .add(waiting.dot, waiting.clock, Source::Waiting)
                        .is_none();
                }
            }
            if !added {
                break;
            }
        }
        appender.finish(conn)?;
        // What was applied moves each other origin's frontier, once per origin.
        for (device, seq) in planner.frontier().iter() {
            if *device != self.device && *seq > frontier.get(device) {
                log::advance(conn, device, *seq)?;
            }
        }
        self.keep_waiting(conn, records, planner, &shapes, tally)?;
        let touched = merger.finish(conn)?;
        let created =
            conflicts::refresh(conn, touched, &shapes, strategies(conn), (self.now_ms)())?;
        tally.conflicts = created.len() as u64;
        tally.new_conflicts = created
            .into_iter()
            .filter(|(_, listed)| *listed)
            .map(|(id, _)| id)
            .collect();
        self.hlc.observe(max_stamp);
        Ok(())
    }

    /// Applies one record the planner released: stores it in the log with its effective stamp,
    /// merges its rows, and moves its origin's frontier. Returns the effective stamp.
    #[allow(clippy::too_many_arguments)]
    fn apply_record<'b>(
        &mut self,
        conn: &Connection,
        records: &[Record<'b>],
        dot: Dot,
        source: Source,
        merger: &mut Merger<'_>,
        appender: &mut log::Appender<'b>,
        stamps: &mut HashMap<Dot, u64>,
        tally: &mut Tally,
    ) -> Result<u64> {
        let (hlc, clock, changes, rows, digest, kinds) = match source {
            Source::Bundle { index, checked } => {
                let record = &records[index];
                let clock = bundle::digest::encode_clock(&record.clock);
                tally.applied += checked.rows;
                (
                    record.hlc,
                    clock,
                    Cow::Borrowed(record.changes),
                    checked.rows,
                    record.digest,
                    checked.kinds,
                )
            }
            Source::Waiting => {
                let taken = pending::take(conn, dot)?
                    .ok_or_else(|| Error::Internal(format!("waiting record {dot} vanished")))?;
                tally.released += taken.rows;
                (
                    taken.hlc,
                    taken.clock,
                    Cow::Owned(taken.changes),
                    taken.rows,
                    taken.digest,
                    ALL_KINDS,
                )
            }
        };
        let context = log::decode_clock(&clock)?;
        let mut dependencies = Vec::with_capacity(context.len() + 1);
        if dot.seq > 1 {
            dependencies.push(Dot::new(dot.origin, dot.seq - 1));
        }
        dependencies.extend(
            context
                .iter()
                .filter(|(device, _)| **device != dot.origin)
                .map(|(device, seq)| Dot::new(*device, *seq)),
        );
        let mut dependency_stamps = Vec::with_capacity(dependencies.len());
        for dependency in dependencies {
            let known = match stamps.get(&dependency) {
                Some(&s) => Some(s),
                None => log::stamp_of(conn, dependency)?,
            };
            dependency_stamps.push(known.ok_or_else(|| {
                Error::Corrupt(format!(
                    "record {dot} depends on {dependency}, which the log lacks"
                ))
            })?);
        }
        let stamp = stamp::effective(hlc, dependency_stamps);
        merger.apply(
            conn,
            &RecordContext {
                dot,
                stamp,
                clock: &context,
            },
            &changes,
            kinds,
        )?;
        appender.push(
            conn,
            log::OwnedEntry {
                dot,
                hlc,
                stamp,
                clock,
                changes,
                rows,
                digest,
            },
        )?;
        if dot.origin == self.device {
            // One of this replica's own records, lost here and brought back by a peer.
            self.local_seq = dot.seq;
            schema::set_setting(conn, "indexed", to_sql_int(self.local_seq)?)?;
        }
        stamps.insert(dot, stamp);
        Ok(stamp)
    }

    /// Stores the import's records that must wait (within the limits) and notes what the records
    /// that already waited now wait for.
    fn keep_waiting(
        &self,
        conn: &Connection,
        records: &[Record<'_>],
        planner: Planner<Source>,
        shapes: &HashMap<String, Arc<TableShape>>,
        tally: &mut Tally,
    ) -> Result<()> {
        let (mut count, mut bytes) = pending::usage(conn)?;
        let now = (self.now_ms)();
        for (dot, waits_for, source) in planner.into_blocked() {
            match source {
                Source::Bundle { index, checked } => {
                    let rows = checked.rows;
                    let record = &records[index];
                    validate::record(shapes, record)?;
                    let size = record.changes.len() as u64;
                    if count + 1 > pending::MAX_RECORDS || bytes + size > pending::MAX_BYTES {
                        tally.deferred += rows;
                        continue;
                    }
                    let clock = bundle::digest::encode_clock(&record.clock);
                    pending::store(conn, record, &clock, rows, waits_for, now)?;
                    count += 1;
                    bytes += size;
                    tally.pending += rows;
                }
                Source::Waiting => pending::rewait(conn, dot, waits_for)?,
            }
        }
        Ok(())
    }
}

/// The conflict strategy of each table, read once per table.
pub(in crate::store) fn strategies(
    conn: &Connection,
) -> impl FnMut(&str) -> Result<ConflictStrategy> + '_ {
    let mut known: HashMap<String, ConflictStrategy> = HashMap::new();
    move |table| {
        if let Some(strategy) = known.get(table) {
            return Ok(*strategy);
        }
        let strategy = tables::strategy(conn, table)?.unwrap_or_default();
        known.insert(table.to_owned(), strategy);
        Ok(strategy)
    }
}
