//! The merge rules of one row: how its state absorbs a change, whatever order changes arrive in.
//!
//! Each synced row carries a [`RowMeta`]. Every change has a [`Stamp`] (its effective hybrid
//! logical clock, then its origin device), unique per change and greater than the stamp of every
//! change it had seen (see [`stamp`](super::stamp)). The rules make a row's state a function of the
//! *set* of changes it has absorbed, never of their order, so replicas that received the same
//! changes agree:
//!
//! - **Columns**: each column holds the value of the write with the greatest stamp among the
//!   changes that wrote it (last writer wins per column), so concurrent edits of different columns
//!   both survive. An insert writes exactly the columns its record lists; a column no change wrote
//!   (one added to the table later, say) has no stamp, and any write wins it.
//! - **Existence**: the row-level event (insert, update or delete) with the greatest stamp decides
//!   whether the row exists. A deleted row keeps its values as a tombstone, so a concurrent later
//!   update revives it with every column's winning value.
//! - **Heads**: the changes not causally superseded by another change of the same row. One head
//!   means no conflict; two or more are concurrent versions of the row, and the greatest stamp is
//!   the provisional winner shown in the table.

use crate::clock::VectorClock;
use crate::ids::{DeviceId, Dot};
use crate::model::{Value, ValueRef};

/// Total order of changes: effective hybrid logical clock, then origin device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub hlc: u64,
    pub origin: DeviceId,
}

impl Stamp {
    /// Older than every change.
    pub const ZERO: Stamp = Stamp {
        hlc: 0,
        origin: DeviceId([0; 16]),
    };
}

/// A change that is a head of a row: its identity and what it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub dot: Dot,
    /// The change's effective hybrid logical clock.
    pub hlc: u64,
    /// True for a delete.
    pub delete: bool,
    /// Columns written by an update; `None` for a whole row (insert or delete).
    pub columns: Option<Vec<String>>,
}

impl Head {
    /// The head's stamp.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            hlc: self.hlc,
            origin: self.dot.origin,
        }
    }

    /// Whether this head and `other` touch a common column (a delete touches every column).
    pub fn overlaps(&self, other: &Head) -> bool {
        match (&self.columns, &other.columns) {
            (Some(mine), Some(theirs)) => mine.iter().any(|c| theirs.contains(c)),
            _ => true,
        }
    }
}

/// A row's values by column name.
pub type RowValues = Vec<(String, Value)>;

/// The merge state of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowMeta {
    /// Stamp of the row-level event that decides existence.
    pub live: Stamp,
    pub deleted: bool,
    /// Every column some change wrote, with the stamp of its winning write, sorted by name.
    pub columns: Vec<(String, Stamp)>,
    /// The changes no other change of this row has seen, greatest stamp first.
    pub heads: Vec<Head>,
    /// The row's values while it is deleted.
    pub tombstone: Option<RowValues>,
}

/// What a change does to a row; column names and values are borrowed from the change set.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A whole row written: a value for every column of its record.
    Insert(Vec<(&'a str, ValueRef<'a>)>),
    /// Some columns written.
    Update(Vec<(&'a str, ValueRef<'a>)>),
    Delete,
}

/// A change as the merge sees it.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub dot: Dot,
    /// The record's effective hybrid logical clock.
    pub hlc: u64,
    /// What the origin had seen from other devices.
    pub context: &'a VectorClock,
    pub event: Event<'a>,
}

impl Change<'_> {
    /// The change's stamp.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            hlc: self.hlc,
            origin: self.dot.origin,
        }
    }

    /// Whether this change had seen `head` when it was made.
    fn has_seen(&self, head: &Head) -> bool {
        if head.dot.origin == self.dot.origin {
            head.dot.seq < self.dot.seq
        } else {
            self.context.get(&head.dot.origin) >= head.dot.seq
        }
    }

    /// The head this change becomes.
    pub fn head(&self) -> Head {
        let (delete, columns) = match &self.event {
            Event::Insert(_) => (false, None),
            Event::Update(written) => (
                false,
                Some(written.iter().map(|(c, _)| (*c).to_owned()).collect()),
            ),
            Event::Delete => (true, None),
        };
        Head {
            dot: self.dot,
            hlc: self.hlc,
            delete,
            columns,
        }
    }

    fn written(&self) -> &[(&str, ValueRef<'_>)] {
        match &self.event {
            Event::Insert(v) | Event::Update(v) => v,
            Event::Delete => &[],
        }
    }
}

impl RowMeta {
    /// The state of a row no change has touched yet: absent, older than every change.
    pub fn unseen() -> RowMeta {
        RowMeta {
            live: Stamp::ZERO,
            deleted: true,
            columns: Vec::new(),
            heads: Vec::new(),
            tombstone: None,
        }
    }

    /// The state of a row that one insert created: every column it wrote carries its stamp.
    pub fn inserted<'c>(head: Head, columns: impl IntoIterator<Item = &'c str>) -> RowMeta {
        let stamp = head.stamp();
        let mut columns: Vec<(String, Stamp)> =
            columns.into_iter().map(|c| (c.to_owned(), stamp)).collect();
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        RowMeta {
            live: stamp,
            deleted: false,
            columns,
            heads: vec![head],
            tombstone: None,
        }
    }

    /// The insert that created this row, when the state is exactly what that insert left and the
    /// insert wrote exactly `columns` (in any order).
    pub fn only_insert(&self, columns: &[String]) -> Option<&Head> {
        let [head] = self.heads.as_slice() else {
            return None;
        };
        let pristine = !head.delete
            && head.columns.is_none()
            && !self.deleted
            && self.tombstone.is_none()
            && self.live == head.stamp()
            && self.columns.len() == columns.len()
            && self
                .columns
                .iter()
                .all(|(c, stamp)| *stamp == self.live && columns.iter().any(|wanted| wanted == c));
        pristine.then_some(head)
    }

    /// The stamp of a column's winning write, if any change wrote it.
    pub fn stamp_of(&self, column: &str) -> Option<Stamp> {
        self.columns
            .binary_search_by(|(c, _)| c.as_str().cmp(column))
            .ok()
            .map(|i| self.columns[i].1)
    }

    fn set_stamp(&mut self, column: &str, stamp: Stamp) {
        match self
            .columns
            .binary_search_by(|(c, _)| c.as_str().cmp(column))
        {
            Ok(i) => self.columns[i].1 = stamp,
            Err(i) => self.columns.insert(i, (column.to_owned(), stamp)),
        }
    }

    /// Absorbs `change` into the row state. `values` are the row's current values (from the table,
    /// or the tombstone while deleted) and are updated in place with every column the change wins;
    /// the caller writes them back.
    pub fn absorb(&mut self, change: &Change<'_>, values: &mut RowValues) {
        let stamp = change.stamp();
        for &(column, value) in change.written() {
            if self.stamp_of(column).is_none_or(|current| stamp > current) {
                match values.iter_mut().find(|(c, _)| c == column) {
                    Some(slot) => slot.1 = value.to_value(),
                    None => values.push((column.to_owned(), value.to_value())),
                }
                self.set_stamp(column, stamp);
            }
        }
        if stamp > self.live {
            self.live = stamp;
            self.deleted = matches!(change.event, Event::Delete);
        }
        self.heads.retain(|h| !change.has_seen(h));
        self.heads.push(change.head());
        self.heads.sort_by_key(|h| std::cmp::Reverse(h.stamp()));
    }

    /// True when two or more concurrent versions of the row are held.
    pub fn in_conflict(&self) -> bool {
        self.heads.len() > 1 && !self.heads.iter().all(|h| h.delete)
    }
}

#[cfg(test)]
mod tests;
