//! The journal of one connection: everything the store keeps beside it (this replica's identity,
//! its clocks, the capture state and the tables it follows), and turning the row images a
//! transaction buffered into that transaction's one change-log record.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;

use crate::bundle::digest::{encode_clock, record_digest};
use crate::clock::{Hlc, VectorClock};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, Dot};
use crate::store::capture::{self, lock, SharedCapture};
use crate::store::log;
use crate::store::rowstate;
use crate::store::schema::tables::{self, TableShape};
use crate::store::sql::authorize;
use crate::store::SharedClock;

/// Everything besides the connection: identity, clocks and capture state.
pub(in crate::store) struct Journal {
    pub(in crate::store) device: DeviceId,
    pub(in crate::store) capture: SharedCapture,
    /// True when at least one table is synced (so autocommit writes need wrapping).
    pub(in crate::store) capturing: bool,
    pub(in crate::store) local_seq: u64,
    pub(in crate::store) hlc: Hlc,
    /// Encoded causal context recorded with local changes.
    pub(in crate::store) context: Vec<u8>,
    pub(in crate::store) now_ms: SharedClock,
    /// Raised while the caller's SQL runs (see [`authorize`]).
    pub(in crate::store) user_sql: authorize::UserSql,
    /// Worker replies kept through this connection (see [`replies`]).
    pub(in crate::store) replies: u64,
}

impl Journal {
    /// What this replica has applied: every other device's frontier and its own counter.
    pub(in crate::store) fn clock(&self, conn: &Connection) -> Result<VectorClock> {
        let mut clock = log::frontier(conn)?;
        clock.observe(self.device, self.local_seq);
        Ok(clock)
    }

    /// Re-reads the causal context that local records are stamped with.
    pub(in crate::store) fn refresh_context(&mut self, conn: &Connection) -> Result<()> {
        self.context = encode_clock(&log::frontier(conn)?);
        Ok(())
    }

    /// The synced tables' shapes by name.
    pub(in crate::store) fn shapes(&self) -> HashMap<String, Arc<TableShape>> {
        lock(&self.capture)
            .tracked()
            .map(|s| (s.name.clone(), s.clone()))
            .collect()
    }

    /// Turns buffered row images into a change-log record, inside the current transaction.
    pub(in crate::store) fn flush(&mut self, conn: &Connection) -> Result<()> {
        if !self.capturing {
            return Ok(());
        }
        let (taken, verify) = lock(&self.capture).take()?;
        if taken.is_empty() {
            return Ok(());
        }
        match capture::diff::encode(taken, verify, |shape, key| {
            rowstate::current_values(conn, shape, key)
        })? {
            Some((changes, rows)) => self.append_local(conn, &changes, rows),
            None => Ok(()),
        }
    }

    /// Appends a local record (an encoded change set) with the next sequence number.
    pub(in crate::store) fn append_local(
        &mut self,
        conn: &Connection,
        changes: &[u8],
        rows: u64,
    ) -> Result<()> {
        let dot = Dot::new(self.device, self.local_seq + 1);
        let hlc = self.hlc.tick((self.now_ms)());
        let entry = log::Entry {
            dot,
            hlc,
            stamp: hlc,
            clock: &self.context,
            changes,
            rows,
            digest: record_digest(dot, hlc, &self.context, changes),
        };
        log::append(conn, &entry)?;
        self.local_seq = dot.seq;
        Ok(())
    }

    /// Starts (or refreshes) capture of a table recorded as synced; forgets it if it is gone.
    pub(in crate::store) fn follow(&mut self, conn: &Connection, name: &str) -> Result<()> {
        match TableShape::describe(conn, name) {
            Ok(shape) => {
                let (shape, added) = shape.with_generations(tables::generations(conn, name)?);
                if added {
                    tables::save_generations(conn, &shape.name, &shape.generations)?;
                }
                lock(&self.capture).track(shape);
            }
            Err(Error::TableNotFound(_)) => {
                tables::remove(conn, name)?;
                lock(&self.capture).untrack(name);
            }
            Err(other) => return Err(other),
        }
        self.capturing = lock(&self.capture).tracked().next().is_some();
        Ok(())
    }

    pub(in crate::store) fn unfollow(&mut self, name: &str) {
        let mut capture = lock(&self.capture);
        capture.untrack(name);
        self.capturing = capture.tracked().next().is_some();
    }

    /// Re-reads every synced table's shape after a schema statement.
    pub(in crate::store) fn refresh(&mut self, conn: &Connection) -> Result<()> {
        let names: Vec<String> = lock(&self.capture)
            .tracked()
            .map(|s| s.name.clone())
            .collect();
        names.iter().try_for_each(|name| self.follow(conn, name))
    }

    /// Makes capture follow exactly the tables `_sync_tables` lists (after a rollback, which may
    /// have undone an `enableSync` or `disableSync`).
    pub(in crate::store) fn resync_tables(&mut self, conn: &Connection) -> Result<()> {
        let stored: Vec<String> = tables::load(conn)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let followed: Vec<String> = lock(&self.capture)
            .tracked()
            .map(|s| s.name.clone())
            .collect();
        for name in followed.iter().filter(|n| !stored.contains(n)) {
            self.unfollow(name);
        }
        stored.iter().try_for_each(|name| self.follow(conn, name))
    }

    /// The declared name of a synced table, matched case-insensitively.
    pub(in crate::store) fn synced_name(&self, table: &str) -> Option<String> {
        lock(&self.capture)
            .tracked()
            .find(|s| s.name.eq_ignore_ascii_case(table))
            .map(|s| s.name.clone())
    }
}
