//! Change capture: the pre-update hook that records row images, buffered per transaction, and
//! what it does while the engine itself writes.
//!
//! SQLite calls the hook before every row insert, update and delete. For rows of synced tables in
//! schema `main` the [`Buffer`] keeps, per primary key, the row as it was when the transaction first
//! touched it and as it is now; [`diff`] later turns the two into the change-log record. What the
//! hook records depends on the [`Mode`]: while the engine applies received changes, writes a
//! conflict's resolution or runs a schema statement, the rows it writes itself are not local
//! changes, but the rows that the user's triggers and foreign-key actions write in reaction
//! (SQLite's pre-update depth ≥ 1) are: during a resolution or a schema statement they are captured
//! like any local write, and during an import (where their effects arrive from the replica where
//! they first fired) they are remembered as *taints* so that the import can set those rows back. The
//! hook never touches the database, and the lock is never held while the store writes, so the
//! hook cannot re-enter it.

pub mod buffer;
pub mod diff;
pub mod local;
pub mod reconcile;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::hooks::{Action, PreUpdateCase};

use crate::codec::Reader;
use crate::error::{Error, Result};
use crate::model::Value;
use crate::store::schema::tables::TableShape;

pub use buffer::Buffer;

/// Shared between the store and the hook closure.
pub type SharedCapture = Arc<Mutex<Capture>>;

/// Locks the capture state; a poisoned lock (a panic elsewhere) still yields the data.
pub fn lock(shared: &SharedCapture) -> MutexGuard<'_, Capture> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the hook does with a row change of a synced table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every row change is a local change and is recorded.
    #[default]
    Record,
    /// Only changes made by triggers and foreign-key actions are recorded; the statement's own
    /// (the engine writing a resolution, a schema statement's implicit deletes) are not.
    ReactionsOnly,
    /// Nothing is recorded; rows that triggers change are remembered as taints.
    Importing,
}

/// A row a trigger changed during an import, by table and encoded key.
pub type TaintKey = (String, Vec<u8>);

/// The capture state of one connection.
#[derive(Debug, Default)]
pub struct Capture {
    mode: Mode,
    /// Set when a statement failed inside the transaction: "now" images must be re-read.
    pub needs_verify: bool,
    /// A failure inside the hook. Every flush reports it until the transaction rolls back, so a
    /// write whose change could not be recorded can never commit.
    failure: Option<Error>,
    tables: BTreeMap<String, Pending>,
    /// During an import: each row a trigger changed, with its image before the first such change
    /// (`None` where the row did not exist), encoded.
    taints: HashMap<TaintKey, Option<Vec<u8>>>,
    /// Room for encoding taints.
    scratch: Buffer,
}

#[derive(Debug)]
struct Pending {
    shape: Arc<TableShape>,
    buffer: Buffer,
}

/// A table's buffered rows, handed out by [`Capture::take`] for diffing.
#[derive(Debug)]
pub struct TakenTable {
    pub shape: Arc<TableShape>,
    pub buffer: Buffer,
}

/// Restores the previous [`Mode`] when dropped, so no path out of an engine write (an error
/// included) leaves capture in the wrong mode.
pub struct ModeGuard {
    shared: SharedCapture,
    previous: Mode,
}

impl Drop for ModeGuard {
    fn drop(&mut self) {
        lock(&self.shared).mode = self.previous;
    }
}

/// Switches capture to `mode` until the returned guard is dropped.
pub fn enter(shared: &SharedCapture, mode: Mode) -> ModeGuard {
    let previous = std::mem::replace(&mut lock(shared).mode, mode);
    ModeGuard {
        shared: shared.clone(),
        previous,
    }
}

impl Capture {
    /// Starts (or refreshes the shape of) capture for a table.
    pub fn track(&mut self, shape: TableShape) {
        let shape = Arc::new(shape);
        match self.tables.get_mut(&shape.name) {
            Some(pending) => pending.shape = shape,
            None => {
                let name = shape.name.clone();
                self.tables.insert(
                    name,
                    Pending {
                        shape,
                        buffer: Buffer::default(),
                    },
                );
            }
        }
    }

    /// Stops capture for a table.
    pub fn untrack(&mut self, name: &str) {
        self.tables.remove(name);
    }

    /// The tables being captured.
    pub fn tracked(&self) -> impl Iterator<Item = &Arc<TableShape>> {
        self.tables.values().map(|p| &p.shape)
    }

    /// Drops everything buffered (the transaction rolled back).
    pub fn discard(&mut self) {
        for pending in self.tables.values_mut() {
            pending.buffer.clear();
        }
        self.needs_verify = false;
        self.failure = None;
        self.taints.clear();
    }

    /// Reports a failure the hook has seen in this transaction.
    pub fn check(&self) -> Result<()> {
        match &self.failure {
            Some(failure) => Err(failure.clone()),
            None => Ok(()),
        }
    }

    /// Hands out the buffered rows and resets the buffer. Reports a failure seen by the hook.
    pub fn take(&mut self) -> Result<(Vec<TakenTable>, bool)> {
        self.check()?;
        let verify = std::mem::take(&mut self.needs_verify);
        let taken = self
            .tables
            .values_mut()
            .filter(|p| !p.buffer.rows.is_empty())
            .map(|p| TakenTable {
                shape: p.shape.clone(),
                buffer: std::mem::take(&mut p.buffer),
            })
            .collect();
        Ok((taken, verify))
    }

    /// True when a trigger changed some synced row during the current import.
    pub fn tainted(&self) -> bool {
        !self.taints.is_empty()
    }

    /// Takes the taint of a row: `Some(before)` when a trigger changed it (`before` is its values
    /// before, `None` for no row), `None` when no trigger did.
    pub fn take_taint(&mut self, table: &str, pk: &[u8]) -> Result<Option<Option<Vec<Value>>>> {
        if self.taints.is_empty() {
            return Ok(None);
        }
        match self.taints.remove(&(table.to_owned(), pk.to_vec())) {
            Some(image) => image.as_deref().map(decode_image).transpose().map(Some),
            None => Ok(None),
        }
    }

    /// Takes every taint left, with its row's values before the first trigger change.
    pub fn take_taints(&mut self) -> Result<Vec<(TaintKey, Option<Vec<Value>>)>> {
        let mut taints: Vec<_> = std::mem::take(&mut self.taints).into_iter().collect();
        taints.sort_by(|a, b| a.0.cmp(&b.0));
        taints
            .into_iter()
            .map(|(key, image)| Ok((key, image.as_deref().map(decode_image).transpose()?)))
            .collect()
    }

    /// The pre-update hook body.
    pub fn on_change(&mut self, database: &str, table: &str, case: &PreUpdateCase) {
        if database != "main" {
            return;
        }
        let depth = match case {
            PreUpdateCase::Insert(new) => new.get_query_depth(),
            PreUpdateCase::Delete(old) => old.get_query_depth(),
            PreUpdateCase::Update {
                old_value_accessor, ..
            } => old_value_accessor.get_query_depth(),
            PreUpdateCase::Unknown => 0,
        };
        let outcome = match (self.mode, depth) {
            (Mode::Record, _) | (Mode::ReactionsOnly, 1..) => self.record(table, case),
            (Mode::Importing, 1..) => self.taint(table, case),
            _ => Ok(()),
        };
        if let Err(error) = outcome {
            self.failure.get_or_insert(error);
        }
    }

    fn record(&mut self, table: &str, case: &PreUpdateCase) -> Result<()> {
        let Some(Pending { shape, buffer }) = self.tables.get_mut(table) else {
            return Ok(());
        };
        match case {
            PreUpdateCase::Insert(new) => {
                let (after, key) = buffer.image(shape, |i| new.get_new_column_value(i))?;
                buffer.touch(key, None, Some(after))
            }
            PreUpdateCase::Delete(old) => {
                let (before, key) = buffer.image(shape, |i| old.get_old_column_value(i))?;
                buffer.touch(key, Some(before), None)
            }
            PreUpdateCase::Update {
                old_value_accessor: old,
                new_value_accessor: new,
            } => {
                let (before, old_key) = buffer.image(shape, |i| old.get_old_column_value(i))?;
                let (after, new_key) = buffer.image(shape, |i| new.get_new_column_value(i))?;
                if buffer.bytes(old_key) == buffer.bytes(new_key) {
                    buffer.touch(new_key, Some(before), Some(after))
                } else {
                    buffer.touch(old_key, Some(before), None)?;
                    buffer.touch(new_key, None, Some(after))
                }
            }
            PreUpdateCase::Unknown => Err(Error::Internal("unknown pre-update case".into())),
        }
    }

    /// Remembers, for each row a trigger changes during an import, its image before the first
    /// such change.
    fn taint(&mut self, table: &str, case: &PreUpdateCase) -> Result<()> {
        let Some(Pending { shape, .. }) = self.tables.get(table) else {
            return Ok(());
        };
        let scratch = &mut self.scratch;
        scratch.clear();
        let mut touched: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::with_capacity(2);
        match case {
            PreUpdateCase::Insert(new) => {
                let (_, key) = scratch.image(shape, |i| new.get_new_column_value(i))?;
                touched.push((scratch.bytes(key).to_vec(), None));
            }
            PreUpdateCase::Delete(old) => {
                let (before, key) = scratch.image(shape, |i| old.get_old_column_value(i))?;
                touched.push((
                    scratch.bytes(key).to_vec(),
                    Some(scratch.bytes(before).to_vec()),
                ));
            }
            PreUpdateCase::Update {
                old_value_accessor: old,
                new_value_accessor: new,
            } => {
                let (before, old_key) = scratch.image(shape, |i| old.get_old_column_value(i))?;
                let (_, new_key) = scratch.image(shape, |i| new.get_new_column_value(i))?;
                touched.push((
                    scratch.bytes(old_key).to_vec(),
                    Some(scratch.bytes(before).to_vec()),
                ));
                if scratch.bytes(old_key) != scratch.bytes(new_key) {
                    touched.push((scratch.bytes(new_key).to_vec(), None));
                }
            }
            PreUpdateCase::Unknown => {
                return Err(Error::Internal("unknown pre-update case".into()))
            }
        }
        for (key, before) in touched {
            self.taints.entry((table.to_owned(), key)).or_insert(before);
        }
        Ok(())
    }
}

/// Decodes a row image (an array of values, as the buffer writes them).
fn decode_image(bytes: &[u8]) -> Result<Vec<Value>> {
    let broken = |e: String| Error::Internal(format!("unreadable captured row: {e}"));
    let mut reader = Reader::new(bytes);
    let len = reader.array_len(1).map_err(broken)?;
    (0..len)
        .map(|_| reader.value().map(|v| v.to_value()))
        .collect::<std::result::Result<_, _>>()
        .map_err(broken)
}

/// The hook closure installed on the connection.
pub fn hook(
    shared: SharedCapture,
) -> impl FnMut(Action, &str, &str, &PreUpdateCase) + Send + 'static {
    move |_action, database, table, case| lock(&shared).on_change(database, table, case)
}
