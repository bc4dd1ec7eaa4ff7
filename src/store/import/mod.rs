//! Records in, as the store sees them, whether a bundle or a relay's page brought them: which
//! records it holds, then the fresh ones applied in causal order inside one transaction
//! ([`Import`]). The engine reads the bundle or the page and decides whether its records are
//! believable ([`engine::import`](crate::engine)); the store answers what it holds and writes what
//! it is told.
//!
//! | module | owns |
//! |---|---|
//! | this one | the transaction, what each record is to this replica, the order, the counts |
//! | [`validate`] | checking a record's change set against the synced tables |
//! | [`apply`] | merging a record's rows into the tables |
//!
//! A received record is applied only after every record it depends on: the previous record of its
//! origin and everything in its causal context ([`Planner`]). Records that arrive early wait
//! ([`pending`](crate::store::log::pending)) until their predecessors come, so out-of-order or lossy
//! delivery never wedges a pair of replicas. A record already held is recognised by its dot, and
//! its digest must be the one held: the same dot with other content is refused. This replica's
//! own records coming back (after it lost them, a peer that has them relays them) are applied
//! like anyone else's, so its counter moves past them and is never reused.

pub mod apply;
pub mod validate;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use crate::bundle::{self, Bundle, Record, RecordDigest};
use crate::clock::VectorClock;
use crate::error::{Error, Result};
use crate::ids::{DeviceId, Dot};
use crate::merge::order::Planner;
use crate::merge::stamp;
use crate::model::{ConflictStrategy, ImportOutcome, Tally};
use crate::store::capture::{self, Mode, ModeGuard};
use crate::store::log::{self, from_sql_int, peers, pending, relays, to_sql_int};
use crate::store::schema;
use crate::store::schema::tables::{self, TableShape};
use crate::store::sql::txn::{refuse_open, OwnTransaction};
use crate::store::{conflicts, Journal, Store};
use apply::{Merger, RecordContext};
use validate::{Checked, ALL_KINDS};

/// Where a record to apply comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The import's record number `index`, with its row count and kinds of row change.
    Bundle { index: usize, checked: Checked },
    /// A record that was waiting.
    Waiting,
}

/// A record of the import that this replica does not hold: what [`Import::apply`] applies or
/// keeps waiting.
#[derive(Debug, Clone, Copy)]
pub struct Fresh {
    /// Its place among the import's records.
    pub index: usize,
    checked: Checked,
}

/// An import in progress: one write transaction of the store's own, with capture set to
/// importing and foreign keys off. [`commit`](Import::commit) makes it permanent; dropping it
/// uncommitted (an error anywhere, a refusal by the engine's policy) rolls everything back and
/// brings capture back in step with the database.
pub struct Import<'s> {
    conn: &'s Connection,
    journal: &'s mut Journal,
    transaction: Option<OwnTransaction<'s>>,
    _mode: ModeGuard,
    /// Whether the caller had foreign keys enforced (restored at the end).
    foreign_keys: bool,
}

impl Store {
    /// Begins an import for the operation `what` (its JS name; refused inside the caller's
    /// transaction).
    pub fn begin_import(&mut self, what: &str) -> Result<Import<'_>> {
        let Store { conn, journal } = self;
        refuse_open(conn, what)?;
        // Foreign keys are not enforced while merging: a parent deleted on one replica while a
        // child was added on another must merge the same way everywhere (and a cascade here would
        // delete rows without recording it). The caller's setting is restored afterwards (outside
        // the transaction, where SQLite takes the pragma into account).
        let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        if foreign_keys {
            conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        }
        let transaction = match OwnTransaction::begin(conn, what) {
            Ok(transaction) => transaction,
            Err(error) => {
                restore_foreign_keys(conn, foreign_keys);
                return Err(error);
            }
        };
        let mut import = Import {
            conn,
            _mode: capture::enter(&journal.capture, Mode::Importing),
            journal,
            transaction: Some(transaction),
            foreign_keys,
        };
        let Import { conn, journal, .. } = &mut import;
        journal.index_local(conn)?;
        Ok(import)
    }
}

impl Drop for Import<'_> {
    fn drop(&mut self) {
        if let Some(transaction) = self.transaction.take() {
            drop(transaction);
            // Nothing can be reported from a drop; the next write re-reads what it needs.
            let _ = self.journal.rolled_back(self.conn);
        }
        restore_foreign_keys(self.conn, self.foreign_keys);
    }
}

fn restore_foreign_keys(conn: &Connection, enforced: bool) {
    if enforced {
        let _ = conn.execute_batch("PRAGMA foreign_keys = ON");
    }
}

impl Import<'_> {
    /// This replica's id.
    pub fn device(&self) -> DeviceId {
        self.journal.device
    }

    /// This replica's latest own sequence number (its records brought back included).
    pub fn local_seq(&self) -> u64 {
        self.journal.local_seq
    }

    /// The outcome of this exact bundle's earlier import, if there was one.
    pub fn imported_before(&self, bundle: &Bundle<'_>) -> Result<Option<ImportOutcome>> {
        let seen: Option<i64> = self
            .conn
            .prepare_cached("SELECT total FROM main._sync_imports WHERE digest = ?1")?
            .query_row(params![bundle.digest.as_slice()], |r| r.get(0))
            .optional()?;
        let Some(total) = seen else {
            return Ok(None);
        };
        let total = from_sql_int(total)?;
        let mut outcome = ImportOutcome::for_bundle(bundle.id, bundle.source);
        outcome.total = total;
        outcome.duplicates = total;
        outcome.skipped = true;
        Ok(Some(outcome))
    }

    /// Sorts `records` into those already held (counted as duplicates; a held dot with another
    /// digest is refused) and the fresh ones, which are surveyed (their rows are checked when they
    /// are applied or stored); returns the fresh ones.
    ///
    /// An origin's applied records are exactly 1..=frontier, so a record at or below the frontier
    /// is held whether or not the log still has it (a log pruned of old records compares digests
    /// only for what it kept); one beyond it is in the log only if it is this replica's own; and
    /// when nothing waits, nothing waits.
    pub fn sort(&self, records: &[Record<'_>], tally: &mut Tally) -> Result<Vec<Fresh>> {
        let conn = self.conn;
        let journal = &*self.journal;
        let mut in_import: HashMap<Dot, (RecordDigest, u64)> = HashMap::new();
        let mut fresh = Vec::new();
        let applied = journal.clock(conn)?;
        let (waiting, _) = pending::usage(conn)?;
        for (index, record) in records.iter().enumerate() {
            let held = match in_import.get(&record.dot) {
                Some(&(digest, rows)) => Held::As(digest, rows),
                None if record.dot.seq <= applied.get(&record.dot.origin) => {
                    log::held(conn, record.dot)?.map_or(Held::Pruned, |(rows, d)| Held::As(d, rows))
                }
                None if waiting > 0 => {
                    pending::held(conn, record.dot)?.map_or(Held::No, |(rows, d)| Held::As(d, rows))
                }
                None => Held::No,
            };
            let rows = match held {
                Held::As(digest, _) if digest != record.digest => {
                    return Err(Error::RecordMismatch(record.dot.to_string()));
                }
                Held::As(_, rows) => rows,
                Held::Pruned => validate::survey(record)?.rows,
                Held::No => {
                    let checked = validate::survey(record)?;
                    in_import.insert(record.dot, (record.digest, checked.rows));
                    tally.total += checked.rows;
                    if record.dot.origin == journal.device && record.dot.seq <= journal.local_seq {
                        // One of this replica's own records that its log lacks: never applied
                        // twice.
                        tally.duplicates += checked.rows;
                    } else {
                        fresh.push(Fresh { index, checked });
                    }
                    continue;
                }
            };
            tally.duplicates += rows;
            tally.total += rows;
        }
        Ok(fresh)
    }

    /// Applies the fresh records (and the waiting ones they complete) in causal order, keeps the
    /// ones that must wait, and brings conflicts up to date; counts it all in `tally`.
    pub fn apply(
        &mut self,
        records: &[Record<'_>],
        fresh: &[Fresh],
        tally: &mut Tally,
    ) -> Result<()> {
        self.journal.import(self.conn, records, fresh, tally)
    }

    /// Records what `peer`'s bundle claimed it has (the peer-clock table, `_sync_peers`).
    pub fn record_claim(
        &self,
        peer: &DeviceId,
        claimed: &VectorClock,
        forget_reported: bool,
    ) -> Result<()> {
        peers::record_claim(self.conn, peer, claimed, forget_reported)
    }

    /// Keeps, with the records this import applies, how far the pull of (`relay`, `space`) came.
    pub fn save_relay_cursor(
        &self,
        relay: &str,
        space: &str,
        log: &[u8; 16],
        position: u64,
    ) -> Result<()> {
        relays::save_cursor(self.conn, relay, space, log, position)
    }

    /// Notes the bundle as imported (so importing it again is skipped).
    pub fn note_bundle(&self, bundle: &Bundle<'_>, outcome: &ImportOutcome) -> Result<()> {
        self.conn.prepare_cached(
            "INSERT INTO main._sync_imports (digest, bundle_id, source, imported_at, total, applied, conflicts, duplicates)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            bundle.digest.as_slice(),
            bundle.id.0.as_slice(),
            bundle.source.0.as_slice(),
            to_sql_int((self.journal.now_ms)())?,
            to_sql_int(outcome.total)?,
            to_sql_int(outcome.applied)?,
            to_sql_int(outcome.conflicts)?,
            to_sql_int(outcome.duplicates)?
        ])?;
        Ok(())
    }

    /// Commits the import.
    pub fn commit(mut self) -> Result<()> {
        if let Some(transaction) = self.transaction.take() {
            if let Err(error) = transaction.commit() {
                let _ = self.journal.rolled_back(self.conn);
                return Err(error);
            }
        }
        self.journal.refresh_context(self.conn)
    }
}

/// Whether an imported record is one this replica holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Not held.
    No,
    /// Held with this digest and row count.
    As(RecordDigest, u64),
    /// Applied (at or below its origin's frontier), its log entry pruned.
    Pruned,
}

impl Journal {
    /// The body of [`Import::apply`].
    fn import(
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
                    std::borrow::Cow::Borrowed(record.changes),
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
