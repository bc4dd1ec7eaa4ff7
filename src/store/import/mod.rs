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
//! | `causal` | applying the fresh records in causal order, and keeping those that must wait |
//! | [`apply`] | merging a record's rows into the tables |
//! | [`view`] | how the merge sees a record's row changes |
//!
//! A received record is applied only after every record it depends on: the previous record of its
//! origin and everything in its causal context ([`Planner`]). Records that arrive early wait
//! ([`pending`](crate::store::log::pending)) until their predecessors come, so out-of-order or lossy
//! delivery never wedges a pair of replicas. A record already held is recognised by its dot, and
//! its digest must be the one held: the same dot with other content is refused. This replica's
//! own records coming back (after it lost them, a peer that has them relays them) are applied
//! like anyone else's, so its counter moves past them and is never reused.

pub mod apply;
mod causal;
pub mod validate;
pub mod view;

pub(in crate::store) use causal::strategies;

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use crate::bundle::{Bundle, Record, RecordDigest};
use crate::clock::VectorClock;
use crate::error::{Error, Result};
use crate::ids::{DeviceId, Dot};
use crate::model::{ImportOutcome, Tally};
use crate::store::capture::{self, Mode, ModeGuard};
use crate::store::log::{self, from_sql_int, peers, pending, relays, to_sql_int};
use crate::store::sql::txn::{refuse_open, OwnTransaction};
use crate::store::{Journal, Store};
use validate::Checked;

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
