//! Sync between replicas, the shared part: bundles out, what this replica has applied, and
//! bringing the merge state up to date with local changes.
//!
//! What goes into a bundle for a peer is decided only by what that peer has told us it has (the
//! clock in the last bundle it sent), never by what we once sent it, so a bundle lost in transit
//! is sent again. Local changes reach the merge state lazily, before anything reads it (an
//! import, a conflict listing, a resolution), which keeps capture off the write path.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bundle::{self, BundleBody};
use crate::clock::VectorClock;
use crate::error::{Error, Result};
use crate::merge::RowValues;
use crate::model::{ChangeSet, DeviceId, RowChange, Value};
use crate::store::capture::lock;
use crate::store::conflicts;
use crate::store::merger::{change_of, Strategies};
use crate::store::tables::TableShape;
use crate::store::{log, rows, schema, Journal, Store};

use rusqlite::{params, Connection, OptionalExtension};

impl Store {
    /// Every change the peer is not known to have, as a bundle; `None` when there is none.
    pub fn generate_bundle(&mut self, peer: Option<&DeviceId>) -> Result<Option<Vec<u8>>> {
        self.refuse_in_transaction("generateBundle")?;
        let conn = &self.conn;
        let known = match peer {
            Some(peer) => peer_clock(conn, peer)?,
            None => VectorClock::new(),
        };
        let mut records = Vec::new();
        for origin in log::origins(conn)? {
            records.extend(log::after(conn, &origin, known.get(&origin))?);
        }
        let clock = self.journal.clock(conn)?;
        // With no change to send, a bundle is still worth sending to a peer that has not heard
        // our clock since it last changed: it acknowledges what the peer sent, so the peer stops
        // sending it again.
        let acknowledge = match peer {
            Some(peer) => sent_clock(conn, peer)?.as_ref() != Some(&clock),
            None => false,
        };
        if records.is_empty() && !acknowledge {
            return Ok(None);
        }
        let now = (self.journal.now_ms)();
        let body = BundleBody {
            id: self.journal.new_id(conn)?,
            source: self.journal.device,
            created_at: now,
            schema_version: 0,
            sender_clock: clock,
            records,
        };
        let bytes = bundle::encode(&body)?;
        if let Some(peer) = peer {
            conn.prepare_cached(
                "INSERT INTO _sync_peers (peer, clock, sent) VALUES (?1, ?2, ?3)
                 ON CONFLICT (peer) DO UPDATE SET sent = excluded.sent",
            )?
            .execute(params![
                peer.0.as_slice(),
                log::encode_clock(&VectorClock::new())?,
                log::encode_clock(&body.sender_clock)?
            ])?;
        }
        Ok(Some(bytes))
    }

    pub(super) fn refuse_in_transaction(&self, what: &str) -> Result<()> {
        if self.conn.is_autocommit() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "{what} cannot run inside an open transaction"
            )))
        }
    }
}

impl Journal {
    /// What this replica has applied: every other device's frontier and its own counter.
    pub(super) fn clock(&self, conn: &Connection) -> Result<VectorClock> {
        let mut clock = log::frontier(conn)?;
        clock.observe(self.device, self.local_seq);
        Ok(clock)
    }

    pub(super) fn shapes(&self) -> HashMap<String, Arc<TableShape>> {
        lock(&self.capture)
            .tracked()
            .map(|s| (s.name.clone(), s.clone()))
            .collect()
    }

    /// Brings the merge state up to date with local changes recorded since the last time.
    pub(super) fn index_local(&mut self, conn: &Connection) -> Result<()> {
        let indexed = schema::setting(conn, "indexed")?.map_or(Ok(0), log::from_sql_int)?;
        if indexed >= self.local_seq {
            return Ok(());
        }
        let mut strategies = Strategies::default();
        let now = (self.now_ms)();
        for record in log::after(conn, &self.device, indexed)? {
            let set = ChangeSet::from_bytes(&record.changes.0)?;
            for table in &set.tables {
                let strategy = strategies.of(conn, &table.table)?;
                for row in &table.rows {
                    let key = table.key_of(row)?;
                    let pk = rows::encode_key(&key);
                    let old = match row {
                        RowChange::Delete { old } => Some(named(&table.columns, old)),
                        _ => None,
                    };
                    let change = change_of(&record, table, row);
                    let merged =
                        rows::merge_local(conn, &table.table, &table.columns, &pk, &change, old)?;
                    conflicts::refresh(
                        conn,
                        &table.table,
                        &pk,
                        &merged.meta,
                        merged.heads_before,
                        strategy,
                        now,
                    )?;
                }
            }
        }
        schema::set_setting(conn, "indexed", log::to_sql_int(self.local_seq)?)
    }
}

pub(super) fn named(columns: &[String], values: &[Value]) -> RowValues {
    columns
        .iter()
        .cloned()
        .zip(values.iter().cloned())
        .collect()
}

/// The clock we last reported to `peer`, if any.
fn sent_clock(conn: &Connection, peer: &DeviceId) -> Result<Option<VectorClock>> {
    let bytes: Option<Option<Vec<u8>>> = conn
        .prepare_cached("SELECT sent FROM _sync_peers WHERE peer = ?1")?
        .query_row(params![peer.0.as_slice()], |r| r.get(0))
        .optional()?;
    bytes
        .flatten()
        .map(|b| rmp_serde::from_slice(&b).map_err(|e| Error::Corrupt(format!("sent clock: {e}"))))
        .transpose()
}

pub(super) fn peer_clock(conn: &Connection, peer: &DeviceId) -> Result<VectorClock> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT clock FROM _sync_peers WHERE peer = ?1")?
        .query_row(params![peer.0.as_slice()], |r| r.get(0))
        .optional()?;
    match bytes {
        Some(bytes) => {
            rmp_serde::from_slice(&bytes).map_err(|e| Error::Corrupt(format!("peer clock: {e}")))
        }
        None => Ok(VectorClock::new()),
    }
}
