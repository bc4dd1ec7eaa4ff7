//! Bundles in: every record checked, then applied in causal order inside one transaction.
//!
//! | module | owns |
//! |---|---|
//! | this one | the pipeline: what each record is to this replica, the checks on what a bundle claims, the order, the counts, what the sender is known to have |
//! | [`validate`] | checking a record's change set against the synced tables |
//! | [`apply`] | merging a record's rows into the tables |
//!
//! A received record is applied only after every record it depends on: the previous record of its
//! origin and everything in its causal context ([`Planner`]). Records that arrive early wait
//! ([`pending`](crate::store::pending)) until their predecessors come, so out-of-order or lossy
//! delivery never wedges a pair of replicas. A record already held is recognised by its dot, and
//! its digest must be the one held: the same dot with other content is refused. Nothing a bundle
//! says about this replica's own history is believed beyond what its log shows, except this
//! replica's own records coming back (after it lost them, a peer that has them relays them, and
//! they are applied like anyone else's, so its counter moves past them and is never reused).

pub mod apply;
pub mod validate;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use crate::bundle::{self, Bundle, RecordDigest};
use crate::clock::Hlc;
use crate::error::{Error, Result};
use crate::ids::Dot;
use crate::merge::order::Planner;
use crate::merge::stamp;
use crate::model::{ConflictStrategy, ImportOutcome};
use crate::store::capture::{self, Mode};
use crate::store::log::{self, from_sql_int, to_sql_int};
use crate::store::tables::TableShape;
use crate::store::{conflicts, peers, pending, schema, tables, Journal, Store};
use apply::{Merger, RecordContext};
use validate::{Checked, ALL_KINDS};

/// How far ahead of this replica's wall clock a received change may be stamped (366 days). A
/// change stamped later would drag every later local timestamp with it; refusing it keeps clocks
/// bounded, at the price of refusing peers whose clock is wrong by more than a year.
const MAX_CLOCK_LEAD_MS: u64 = 366 * 24 * 60 * 60 * 1000;

/// Where a record to apply comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The bundle's record number `index`, with its row count and kinds of row change.
    Bundle { index: usize, checked: Checked },
    /// A record that was waiting.
    Waiting,
}

impl Store {
    /// Validates a bundle completely, then applies it in one transaction.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<ImportOutcome> {
        self.refuse_in_transaction("importBundle")?;
        let bundle = bundle::read(bytes)?;
        if let Some(outcome) = imported_before(&self.conn, &bundle)? {
            return Ok(outcome);
        }
        let Store { conn, journal } = self;
        // Foreign keys are not enforced while merging: a parent deleted on one replica while a
        // child was added on another must merge the same way everywhere (and a cascade here would
        // delete rows without recording it). The user's setting is restored afterwards.
        let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        if enforced {
            conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        }
        let outcome = super::in_transaction(conn, || {
            let _mode = capture::enter(&journal.capture, Mode::Importing);
            journal.index_local(conn)?;
            journal.import(conn, &bundle)
        });
        if outcome.is_err() {
            journal.rolled_back(conn)?;
        }
        if enforced {
            conn.execute_batch("PRAGMA foreign_keys = ON")?;
        }
        let outcome = outcome?;
        journal.refresh_context(conn)?;
        Ok(outcome)
    }
}

/// The outcome of a bundle imported before, if it was.
fn imported_before(conn: &Connection, bundle: &Bundle<'_>) -> Result<Option<ImportOutcome>> {
    let seen: Option<i64> = conn
        .prepare_cached("SELECT total FROM main._sync_imports WHERE digest = ?1")?
        .query_row(params![bundle.digest.as_slice()], |r| r.get(0))
        .optional()?;
    let Some(total) = seen else {
        return Ok(None);
    };
    let total = from_sql_int(total)?;
    let mut outcome = empty_outcome(bundle);
    outcome.total = total;
    outcome.duplicates = total;
    outcome.skipped = true;
    Ok(Some(outcome))
}

fn empty_outcome(bundle: &Bundle<'_>) -> ImportOutcome {
    ImportOutcome {
        bundle_id: bundle.id,
        source: bundle.source,
        total: 0,
        applied: 0,
        conflicts: 0,
        duplicates: 0,
        pending: 0,
        deferred: 0,
        released: 0,
        skipped: false,
        new_conflicts: Vec::new(),
    }
}

impl Journal {
    /// The body of an import, inside its transaction.
    fn import(&mut self, conn: &Connection, bundle: &Bundle<'_>) -> Result<ImportOutcome> {
        let mut outcome = empty_outcome(bundle);
        let shapes = self.shapes();
        let fresh = self.classify(conn, bundle, &mut outcome)?;
        self.check_claims(bundle, &fresh)?;
        let frontier = self.clock(conn)?;
        let mut planner = Planner::new(frontier.clone());
        // Records that wait for nothing any more (the frontier moved without them) come in too.
        for (device, seq) in frontier.iter() {
            for waiting in pending::waiting_on(conn, device, *seq)? {
                planner.add(waiting.dot, waiting.clock, Source::Waiting);
            }
        }
        for &(index, checked) in &fresh {
            let record = &bundle.records[index];
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
                    bundle,
                    dot,
                    source,
                    &mut merger,
                    &mut appender,
                    &mut stamps,
                    &mut outcome,
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
        self.keep_waiting(conn, bundle, planner, &shapes, &mut outcome)?;
        let touched = merger.finish(conn)?;
        let created =
            conflicts::refresh(conn, touched, &shapes, strategies(conn), (self.now_ms)())?;
        outcome.conflicts = created.len() as u64;
        outcome.new_conflicts = created
            .into_iter()
            .filter(|(_, listed)| *listed)
            .map(|(id, _)| id)
            .collect();
        self.hlc.observe(max_stamp);
        if bundle.source != self.device {
            // A claim to hold changes of ours that we never made is not believed: we go on
            // sending all of ours (duplicates are harmless; a claim believed wrongly loses them).
            let mut claimed = bundle.sender_clock.clone();
            if claimed.get(&self.device) > self.local_seq {
                claimed.set(self.device, 0);
            }
            peers::record_claim(conn, &bundle.source, &claimed, outcome.duplicates > 0)?;
        }
        conn.prepare_cached(
            "INSERT INTO main._sync_imports (digest, bundle_id, source, imported_at, total, applied, conflicts, duplicates)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            bundle.digest.as_slice(),
            bundle.id.0.as_slice(),
            bundle.source.0.as_slice(),
            to_sql_int((self.now_ms)())?,
            to_sql_int(outcome.total)?,
            to_sql_int(outcome.applied)?,
            to_sql_int(outcome.conflicts)?,
            to_sql_int(outcome.duplicates)?
        ])?;
        Ok(outcome)
    }

    /// Sorts the bundle's records into those already held (counted as duplicates; a held dot with
    /// another digest is refused) and the fresh ones, which are surveyed (their rows are checked when
    /// they are applied or stored); returns the fresh ones.
    fn classify(
        &self,
        conn: &Connection,
        bundle: &Bundle<'_>,
        outcome: &mut ImportOutcome,
    ) -> Result<Vec<(usize, Checked)>> {
        let horizon = (self.now_ms)().saturating_add(MAX_CLOCK_LEAD_MS);
        let mut in_bundle: HashMap<Dot, (RecordDigest, u64)> = HashMap::new();
        let mut fresh = Vec::new();
        // An origin's applied records are exactly 1..=frontier, so a record beyond the frontier is
        // in the log only if it is this replica's own; and when nothing waits, nothing waits.
        let applied = self.clock(conn)?;
        let (waiting, _) = pending::usage(conn)?;
        for (index, record) in bundle.records.iter().enumerate() {
            let held = match in_bundle.get(&record.dot) {
                Some(&(digest, rows)) => Some((rows, digest)),
                None if record.dot.seq <= applied.get(&record.dot.origin) => {
                    log::held(conn, record.dot)?
                }
                None if waiting > 0 => pending::held(conn, record.dot)?,
                None => None,
            };
            if let Some((rows, digest)) = held {
                if digest != record.digest {
                    return Err(Error::RecordMismatch(record.dot.to_string()));
                }
                outcome.duplicates += rows;
                outcome.total += rows;
                continue;
            }
            let checked = validate::survey(record)?;
            let rows = checked.rows;
            if Hlc::millis(record.hlc) > horizon {
                return Err(Error::BundleMalformed(format!(
                    "record {} is stamped more than a year in the future",
                    record.dot
                )));
            }
            if record.clock.get(&record.dot.origin) >= record.dot.seq {
                return Err(Error::BundleMalformed(format!(
                    "record {} claims to have seen itself",
                    record.dot
                )));
            }
            in_bundle.insert(record.dot, (record.digest, rows));
            outcome.total += rows;
            if record.dot.origin == self.device && record.dot.seq <= self.local_seq {
                // One of this replica's own records that its log lacks: never applied twice.
                outcome.duplicates += rows;
                continue;
            }
            fresh.push((index, checked));
        }
        Ok(fresh)
    }

    /// Refuses a bundle whose records claim to have seen changes of this replica that it never
    /// made (beyond its own records that the bundle brings back).
    fn check_claims(&self, bundle: &Bundle<'_>, fresh: &[(usize, Checked)]) -> Result<()> {
        let mut own: Vec<u64> = fresh
            .iter()
            .map(|&(i, _)| bundle.records[i].dot)
            .filter(|dot| dot.origin == self.device)
            .map(|dot| dot.seq)
            .collect();
        own.sort_unstable();
        let mut known = self.local_seq;
        for seq in own {
            if seq == known + 1 {
                known = seq;
            }
        }
        for &(i, _) in fresh {
            let record = &bundle.records[i];
            let claimed = record.clock.get(&self.device);
            if claimed > known {
                return Err(Error::BundleMalformed(format!(
                    "record {} claims to have seen change {} of this replica, which it never made",
                    record.dot,
                    Dot::new(self.device, claimed)
                )));
            }
        }
        Ok(())
    }

    /// Applies one record the planner released: stores it in the log with its effective stamp,
    /// merges its rows, and moves its origin's frontier. Returns the effective stamp.
    #[allow(clippy::too_many_arguments)]
    fn apply_record<'b>(
        &mut self,
        conn: &Connection,
        bundle: &Bundle<'b>,
        dot: Dot,
        source: Source,
        merger: &mut Merger<'_>,
        appender: &mut log::Appender<'b>,
        stamps: &mut HashMap<Dot, u64>,
        outcome: &mut ImportOutcome,
    ) -> Result<u64> {
        let (hlc, clock, changes, rows, digest, kinds) = match source {
            Source::Bundle { index, checked } => {
                let record = &bundle.records[index];
                let clock = bundle::digest::encode_clock(&record.clock);
                outcome.applied += checked.rows;
                (
                    record.hlc,
                    clock,
                    std::borrow::Cow::Borrowed(record.changes),
                    checked.rows,
                    record.digest,
                    checked.kinds,
                )
            }
            Source::Waiting => {
                let taken = pending::take(conn, dot)?
                    .ok_or_else(|| Error::Internal(format!("waiting record {dot} vanished")))?;
                outcome.released += taken.rows;
                (
                    taken.hlc,
                    taken.clock,
                    std::borrow::Cow::Owned(taken.changes),
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

    /// Stores the bundle's records that must wait (within the limits) and notes what the records
    /// that already waited now wait for.
    fn keep_waiting(
        &self,
        conn: &Connection,
        bundle: &Bundle<'_>,
        planner: Planner<Source>,
        shapes: &HashMap<String, Arc<TableShape>>,
        outcome: &mut ImportOutcome,
    ) -> Result<()> {
        let (mut count, mut bytes) = pending::usage(conn)?;
        let now = (self.now_ms)();
        for (dot, waits_for, source) in planner.into_blocked() {
            match source {
                Source::Bundle { index, checked } => {
                    let rows = checked.rows;
                    let record = &bundle.records[index];
                    validate::record(shapes, record)?;
                    let size = record.changes.len() as u64;
                    if count + 1 > pending::MAX_RECORDS || bytes + size > pending::MAX_BYTES {
                        outcome.deferred += rows;
                        continue;
                    }
                    let clock = bundle::digest::encode_clock(&record.clock);
                    pending::store(conn, record, &clock, rows, waits_for, now)?;
                    count += 1;
                    bytes += size;
                    outcome.pending += rows;
                }
                Source::Waiting => pending::rewait(conn, dot, waits_for)?,
            }
        }
        Ok(())
    }
}

/// The conflict strategy of each table, read once per table.
pub(super) fn strategies(conn: &Connection) -> impl FnMut(&str) -> Result<ConflictStrategy> + '_ {
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
