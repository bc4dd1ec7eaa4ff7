//! Bundles in: validated completely, then applied in causal order inside one transaction.
//!
//! A received record is applied only after every record it depends on: the previous record of its
//! origin and everything in its causal context. Records that arrive early wait in the log (and are
//! still relayed onwards) until their predecessors come, so out-of-order or lossy delivery never
//! wedges a pair of replicas. A bundle imported before, and records already held, are recognised
//! before anything is decoded.

use std::collections::{HashMap, HashSet};

use crate::bundle::{self, BundleBody, WireRecord};
use crate::clock::{Hlc, VectorClock};
use crate::error::{Error, Result};
use crate::model::{id_to_hex, ChangeSet, DeviceId, RowChange, Value};
use crate::store::capture::lock;
use crate::store::merger::Merger;
use crate::store::sync::peer_clock;
use crate::store::{in_transaction, log, Journal, Store};

use rusqlite::{params, Connection, OptionalExtension};

/// What an import did, in row changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub bundle_id: DeviceId,
    pub source: DeviceId,
    /// Row changes in the bundle.
    pub total: u64,
    /// Row changes of this bundle applied now.
    pub applied: u64,
    /// New conflict records.
    pub conflicts: u64,
    /// Row changes this replica already had.
    pub duplicates: u64,
    /// Row changes of this bundle still waiting for an earlier change that has not arrived.
    pub pending: u64,
    /// Row changes received earlier that could be applied now because this bundle completed them.
    pub released: u64,
    /// True when this exact bundle was imported before (nothing was done).
    pub skipped: bool,
    /// Ids of the new conflicts that `conflicts()` lists.
    pub new_conflicts: Vec<String>,
}

/// How far ahead of this replica's wall clock a received change may be stamped (366 days). A
/// change stamped later would drag every later local timestamp with it; refusing it keeps clocks
/// bounded, at the price of refusing peers whose clock is wrong by more than a year.
const MAX_CLOCK_LEAD_MS: u64 = 366 * 24 * 60 * 60 * 1000;

/// A bundle record as the import sees it.
pub(super) enum Received {
    /// Not held yet: decoded and validated.
    New(ChangeSet),
    /// Already held (or this replica's own): only its number of row changes.
    Held(u64),
}

impl Received {
    fn rows(&self) -> u64 {
        match self {
            Received::New(set) => set.len() as u64,
            Received::Held(rows) => *rows,
        }
    }
}

impl Store {
    /// Validates a bundle completely, then applies it in one transaction.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<ImportOutcome> {
        self.refuse_in_transaction("importBundle")?;
        let body = bundle::decode(bytes)?;
        let seen: Option<i64> = self
            .conn
            .prepare_cached("SELECT total FROM _sync_imports WHERE digest = ?1")?
            .query_row(params![bundle::digest_of(bytes)], |r| r.get(0))
            .optional()?;
        if let Some(total) = seen {
            let total = log::from_sql_int(total)?;
            return Ok(ImportOutcome {
                bundle_id: body.id,
                source: body.source,
                total,
                applied: 0,
                conflicts: 0,
                duplicates: total,
                pending: 0,
                released: 0,
                skipped: true,
                new_conflicts: Vec::new(),
            });
        }
        // Records already held are never applied again, so only their size matters; every other
        // record is decoded and validated before anything is written.
        let mut decoded = Vec::with_capacity(body.records.len());
        for record in &body.records {
            if let Some(rows) = log::held_rows(&self.conn, &record.origin, record.seq)? {
                decoded.push(Received::Held(rows));
                continue;
            }
            let set = ChangeSet::from_bytes(&record.changes.0)
                .map_err(|e| Error::BundleMalformed(format!("record {}: {e}", record.seq)))?;
            if record.origin == self.journal.device {
                decoded.push(Received::Held(set.len() as u64));
            } else {
                let horizon = (self.journal.now_ms)().saturating_add(MAX_CLOCK_LEAD_MS);
                if Hlc::millis(record.hlc) > horizon {
                    return Err(Error::BundleMalformed(format!(
                        "record {} of {} is stamped more than a year in the future",
                        record.seq, record.origin
                    )));
                }
                self.journal.validate(&set)?;
                decoded.push(Received::New(set));
            }
        }
        let Store { conn, journal } = self;
        // Foreign keys are not enforced while merging: a parent deleted on one replica while a
        // child was added on another must merge the same way everywhere (and a cascade here would
        // delete rows without recording it). The user's setting is restored afterwards.
        let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        if enforced {
            conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        }
        let outcome = journal.import_in_transaction(conn, bytes, &body, decoded);
        if enforced {
            conn.execute_batch("PRAGMA foreign_keys = ON")?;
        }
        outcome
    }
}

impl Journal {
    /// Checks that a received change set only names synced tables, their columns and their key,
    /// and that every row change is well formed.
    fn validate(&self, set: &ChangeSet) -> Result<()> {
        let capture = lock(&self.capture);
        for table in &set.tables {
            let shape = capture
                .tracked()
                .find(|s| s.name == table.table)
                .ok_or_else(|| Error::TableNotSynced(table.table.clone()))?;
            for (i, column) in table.columns.iter().enumerate() {
                if !shape.columns.contains(column) {
                    return Err(Error::SchemaMismatch(format!(
                        "table {} has no column {column:?}",
                        shape.name
                    )));
                }
                if table.columns[..i].contains(column) {
                    return Err(Error::BundleMalformed(format!(
                        "column {column:?} listed twice"
                    )));
                }
            }
            let remote_key: Vec<&str> = table
                .primary_key
                .iter()
                .map(|&i| table.columns.get(i as usize).map(String::as_str))
                .collect::<Option<_>>()
                .ok_or_else(|| Error::BundleMalformed("key column out of range".into()))?;
            if remote_key != shape.key_columns().collect::<Vec<_>>() {
                return Err(Error::SchemaMismatch(format!(
                    "primary key of {} does not match",
                    shape.name
                )));
            }
            let width = table.columns.len();
            let typecheck = super::typecheck::RowCheck::new(shape, table)?;
            for row in &table.rows {
                let well_formed = match row {
                    RowChange::Insert { values } => values.len() == width,
                    RowChange::Delete { old } => old.len() == width,
                    RowChange::Update {
                        key,
                        columns,
                        old,
                        new,
                    } => {
                        key.len() == remote_key.len()
                            && !columns.is_empty()
                            && old.len() == columns.len()
                            && new.len() == columns.len()
                            && columns.iter().all(|&c| (c as usize) < width)
                            && columns.windows(2).all(|w| w[0] < w[1])
                    }
                };
                let keyed = table
                    .key_refs(row)
                    .is_ok_and(|key| !key.contains(&&Value::Null));
                if !well_formed || !keyed {
                    return Err(Error::BundleMalformed(format!(
                        "malformed row change for {}",
                        table.table
                    )));
                }
                typecheck.row(row)?;
            }
        }
        Ok(())
    }

    /// Runs an import in its own transaction, with capture suspended.
    fn import_in_transaction(
        &mut self,
        conn: &Connection,
        bytes: &[u8],
        body: &BundleBody,
        decoded: Vec<Received>,
    ) -> Result<ImportOutcome> {
        let committed = in_transaction(conn, || {
            lock(&self.capture).suspended = true;
            let outcome = self.import(conn, bytes, body, decoded);
            lock(&self.capture).suspended = false;
            outcome
        })?;
        self.context = log::encode_clock(&log::frontier(conn)?)?;
        Ok(committed)
    }

    /// The body of an import, inside its transaction.
    fn import(
        &mut self,
        conn: &Connection,
        bytes: &[u8],
        body: &BundleBody,
        decoded: Vec<Received>,
    ) -> Result<ImportOutcome> {
        let total: u64 = decoded.iter().map(Received::rows).sum();
        let mut outcome = ImportOutcome {
            bundle_id: body.id,
            source: body.source,
            total,
            applied: 0,
            conflicts: 0,
            duplicates: 0,
            pending: 0,
            released: 0,
            skipped: false,
            new_conflicts: Vec::new(),
        };
        let digest = bundle::digest_of(bytes);
        self.index_local(conn)?;
        let held = log::waiting(conn)?;
        let mut ours: HashMap<(DeviceId, u64), (&WireRecord, ChangeSet)> = HashMap::new();
        for (record, received) in body.records.iter().zip(decoded) {
            match received {
                Received::New(set) if !ours.contains_key(&(record.origin, record.seq)) => {
                    ours.insert((record.origin, record.seq), (record, set));
                }
                other => outcome.duplicates += other.rows(),
            }
        }
        let order = causal_order(
            self.clock(conn)?,
            held.iter().chain(ours.values().map(|(record, _)| *record)),
        );
        // This bundle's records are stored once, already marked when they are applied now.
        let applied_now: HashSet<(DeviceId, u64)> =
            order.iter().map(|r| (r.origin, r.seq)).collect();
        for (key, (record, set)) in &ours {
            log::receive(conn, record, set.len() as u64, applied_now.contains(key))?;
        }
        let mut merger = Merger::new(self.shapes(), (self.now_ms)());
        let mut max_hlc = 0;
        for record in order {
            match ours.remove(&(record.origin, record.seq)) {
                Some((_, set)) => {
                    merger.apply(conn, record, &set)?;
                    outcome.applied += set.len() as u64;
                }
                None => {
                    let set = ChangeSet::from_bytes(&record.changes.0)?;
                    merger.apply(conn, record, &set)?;
                    outcome.released += set.len() as u64;
                    log::mark_applied(conn, &record.origin, record.seq)?;
                }
            }
            log::advance(conn, &record.origin, record.seq)?;
            max_hlc = max_hlc.max(record.hlc);
        }
        let created = merger.finish(conn)?;
        outcome.conflicts = created.len() as u64;
        outcome.new_conflicts = created
            .into_iter()
            .filter(|(_, listed)| *listed)
            .map(|(id, _)| id_to_hex(&id))
            .collect();
        outcome.pending = ours.values().map(|(_, set)| set.len() as u64).sum();
        self.hlc.observe(max_hlc);
        let mut known = peer_clock(conn, &body.source)?;
        known.merge(&body.sender_clock);
        // A peer that sent changes we already had has not heard that we have them: forget what
        // we last reported to it, so that the next bundle for it acknowledges them.
        conn.prepare_cached(
            "INSERT INTO _sync_peers (peer, clock) VALUES (?1, ?2)
             ON CONFLICT (peer) DO UPDATE SET clock = excluded.clock,
                 sent = CASE WHEN ?3 THEN NULL ELSE sent END",
        )?
        .execute(params![
            body.source.0.as_slice(),
            log::encode_clock(&known)?,
            outcome.duplicates > 0
        ])?;
        conn.prepare_cached(
            "INSERT INTO _sync_imports (digest, bundle_id, source, imported_at, total, applied, conflicts, duplicates)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            digest,
            body.id.0.as_slice(),
            body.source.0.as_slice(),
            log::to_sql_int((self.now_ms)())?,
            log::to_sql_int(outcome.total)?,
            log::to_sql_int(outcome.applied)?,
            log::to_sql_int(outcome.conflicts)?,
            log::to_sql_int(outcome.duplicates)?
        ])?;
        Ok(outcome)
    }
}

/// The records among `candidates` that can be applied now, in an order that applies each one after
/// everything it depends on (and is the same whatever order they came in); `frontier` is what has
/// been applied before.
fn causal_order<'a>(
    mut frontier: VectorClock,
    candidates: impl Iterator<Item = &'a WireRecord>,
) -> Vec<&'a WireRecord> {
    let mut waiting: Vec<&WireRecord> = candidates.collect();
    waiting.sort_unstable_by_key(|r| (r.origin, r.seq));
    let mut order = Vec::new();
    loop {
        let (ready, later): (Vec<&WireRecord>, Vec<&WireRecord>) =
            waiting.into_iter().partition(|r| is_ready(r, &frontier));
        if ready.is_empty() {
            return order;
        }
        for record in ready {
            frontier.observe(record.origin, record.seq);
            order.push(record);
        }
        waiting = later;
    }
}

/// Whether every change a record depends on has been applied.
fn is_ready(record: &WireRecord, frontier: &VectorClock) -> bool {
    frontier.get(&record.origin) + 1 == record.seq
        && record.clock.iter().all(|(device, seq)| {
            if *device == record.origin {
                *seq < record.seq
            } else {
                frontier.get(device) >= *seq
            }
        })
}
