//! The merge rules: how one row's state absorbs a change, whatever order changes arrive in.
//!
//! Each synced row carries a [`RowMeta`]. Every change has a [`Stamp`] (its hybrid logical clock,
//! then origin device), unique per change and consistent with causality, because a replica's clock
//! moves past everything it has seen. The rules make a row's state a function of the *set* of
//! changes it has absorbed, never of their order, so replicas that received the same changes agree:
//!
//! - **Columns**: each column holds the value of the write with the greatest stamp (last writer
//!   wins per column), so concurrent edits of different columns both survive.
//! - **Existence**: the row-level event (insert, update or delete) with the greatest stamp decides
//!   whether the row exists. A deleted row keeps its last values as a tombstone, so a concurrent
//!   later update revives it with every column's winning value.
//! - **Heads**: the changes not causally superseded by another change of the same row. One head
//!   means no conflict. Two or more are concurrent edits: the greatest stamp is the provisional
//!   winner shown in the table and each other head is a conflict kept for inspection.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::VectorClock;
use crate::model::{DeviceId, Value};

/// Total order of changes: hybrid logical clock, then origin device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    pub hlc: u64,
    pub origin: DeviceId,
}

/// A change that is a head of a row: its identity and what it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub origin: DeviceId,
    pub seq: u64,
    pub hlc: u64,
    /// True for a delete.
    pub delete: bool,
    /// Columns written; `None` for a whole row (insert or delete).
    pub columns: Option<Vec<String>>,
}

impl Head {
    /// The head's stamp.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            hlc: self.hlc,
            origin: self.origin,
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

/// The merge state of one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowMeta {
    /// Stamp of the row-level event that decides existence.
    pub live: Stamp,
    pub deleted: bool,
    /// Stamps of columns whose winning write is not the `live` event.
    pub columns: BTreeMap<String, Stamp>,
    pub heads: Vec<Head>,
    /// The row's values while it is deleted.
    pub tombstone: Option<Vec<(String, Value)>>,
}

/// What a change does to a row; column names and values are borrowed from the change set.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A whole row written (values for every column).
    Insert(Vec<(&'a str, &'a Value)>),
    /// Some columns written.
    Update(Vec<(&'a str, &'a Value)>),
    Delete,
}

/// A change as the merge sees it.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub origin: DeviceId,
    pub seq: u64,
    pub hlc: u64,
    /// What the origin had seen from other devices.
    pub context: &'a VectorClock,
    pub event: Event<'a>,
}

impl Change<'_> {
    fn stamp(&self) -> Stamp {
        Stamp {
            hlc: self.hlc,
            origin: self.origin,
        }
    }

    /// Whether this change had seen `head` when it was made.
    fn has_seen(&self, head: &Head) -> bool {
        if head.origin == self.origin {
            head.seq < self.seq
        } else {
            self.context.get(&head.origin) >= head.seq
        }
    }

    fn head(&self) -> Head {
        let (delete, columns) = match &self.event {
            Event::Insert(_) => (false, None),
            Event::Update(written) => (
                false,
                Some(written.iter().map(|(c, _)| (*c).to_owned()).collect()),
            ),
            Event::Delete => (true, None),
        };
        Head {
            origin: self.origin,
            seq: self.seq,
            hlc: self.hlc,
            delete,
            columns,
        }
    }
}

/// A row's values by column name.
pub type RowValues = Vec<(String, Value)>;

impl RowMeta {
    /// The state of a row first seen through an insert: nothing else to merge with.
    pub fn inserted(change: &Change<'_>) -> RowMeta {
        RowMeta::inserted_by(change.head())
    }

    /// The state of a row that the insert `head` created.
    pub fn inserted_by(head: Head) -> RowMeta {
        RowMeta {
            live: head.stamp(),
            deleted: false,
            columns: BTreeMap::new(),
            heads: vec![head],
            tombstone: None,
        }
    }

    /// The insert that created this row, when the state is exactly what that insert left.
    pub fn only_insert(&self) -> Option<&Head> {
        match self.heads.as_slice() {
            [head]
                if !head.delete
                    && head.columns.is_none()
                    && !self.deleted
                    && self.live == head.stamp()
                    && self.columns.is_empty()
                    && self.tombstone.is_none() =>
            {
                Some(head)
            }
            _ => None,
        }
    }

    /// The state of a row no change has touched yet: absent, older than every change.
    pub fn unseen() -> RowMeta {
        RowMeta {
            live: Stamp {
                hlc: 0,
                origin: DeviceId([0; 16]),
            },
            deleted: true,
            columns: BTreeMap::new(),
            heads: Vec::new(),
            tombstone: None,
        }
    }

    /// Absorbs `change` into the row state. `values` are the row's current values (from the table,
    /// or the tombstone while deleted), one entry per column, and are updated in place; the caller
    /// writes them back. Columns absent from `values` are taken to have no value yet.
    pub fn absorb(&mut self, change: &Change<'_>, values: &mut RowValues) {
        let stamp = change.stamp();
        let written: &[(&str, &Value)] = match &change.event {
            Event::Insert(v) | Event::Update(v) => v,
            Event::Delete => &[],
        };
        // Every column stamp is at most `live`, so a change newer than `live` wins every column it
        // writes, and those columns then simply carry the new `live` stamp.
        let promote = stamp > self.live;
        for &(column, value) in written {
            if stamp > self.stamp_of(column) {
                match values.iter_mut().find(|(c, _)| c == column) {
                    Some(slot) => slot.1 = value.clone(),
                    None => values.push((column.to_owned(), value.clone())),
                }
                if promote {
                    self.columns.remove(column);
                } else {
                    self.columns.insert(column.to_owned(), stamp);
                }
            }
        }
        if promote {
            let old = self.live;
            for (column, _) in values.iter() {
                if !written.iter().any(|(w, _)| w == column) && !self.columns.contains_key(column) {
                    self.columns.insert(column.clone(), old);
                }
            }
            self.live = stamp;
            self.deleted = matches!(change.event, Event::Delete);
        }
        self.heads.retain(|h| !change.has_seen(h));
        self.heads.push(change.head());
        self.heads.sort_by_key(|h| std::cmp::Reverse(h.stamp()));
    }

    /// The stamp of a column's winning write.
    pub fn stamp_of(&self, column: &str) -> Stamp {
        self.columns.get(column).copied().unwrap_or(self.live)
    }

    /// The provisional winner and each concurrent loser, when the row is in conflict.
    pub fn conflicts(&self) -> impl Iterator<Item = (&Head, &Head)> {
        let winner = self.heads.first();
        self.heads
            .iter()
            .skip(1)
            .filter_map(move |loser| winner.map(|w| (w, loser)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn dev(n: u8) -> DeviceId {
        DeviceId([n; 16])
    }

    fn col(name: &str, v: i64) -> (String, Value) {
        (name.to_owned(), Value::Integer(v))
    }

    /// Owned form of an [`Event`], for building test histories.
    #[derive(Clone)]
    enum Ev {
        Insert(Vec<(String, Value)>),
        Update(Vec<(String, Value)>),
        Delete,
    }

    struct Op {
        origin: u8,
        seq: u64,
        hlc: u64,
        context: VectorClock,
        event: Ev,
    }

    /// Device `origin`'s change number `seq`, stamped `hlc`, made having seen `seen`.
    fn op(origin: u8, seq: u64, hlc: u64, seen: &[(u8, u64)], event: Ev) -> Op {
        let context = seen.iter().map(|&(d, s)| (dev(d), s)).collect();
        Op {
            origin,
            seq,
            hlc,
            context,
            event,
        }
    }

    /// Device 1's first change: it inserts row 1 with `a` and `b` at 0.
    fn base() -> Op {
        op(
            1,
            1,
            10,
            &[],
            Ev::Insert(vec![col("id", 1), col("a", 0), col("b", 0)]),
        )
    }

    fn run(ops: &[&Op]) -> (RowMeta, Option<RowValues>) {
        fn change(op: &Op) -> Change<'_> {
            fn borrow(cells: &[(String, Value)]) -> Vec<(&str, &Value)> {
                cells.iter().map(|(c, v)| (c.as_str(), v)).collect()
            }
            let event = match &op.event {
                Ev::Insert(cells) => Event::Insert(borrow(cells)),
                Ev::Update(cells) => Event::Update(borrow(cells)),
                Ev::Delete => Event::Delete,
            };
            Change {
                origin: dev(op.origin),
                seq: op.seq,
                hlc: op.hlc,
                context: &op.context,
                event,
            }
        }
        let mut meta = RowMeta::unseen();
        let mut values = Vec::new();
        for op in ops {
            meta.absorb(&change(op), &mut values);
        }
        values.sort_by(|a, b| a.0.cmp(&b.0));
        (meta.clone(), (!meta.deleted).then_some(values))
    }

    fn permutations<'a>(ops: &[&'a Op]) -> Vec<Vec<&'a Op>> {
        if ops.len() <= 1 {
            return vec![ops.to_vec()];
        }
        let mut all = Vec::new();
        for i in 0..ops.len() {
            let mut rest = ops.to_vec();
            let first = rest.remove(i);
            for mut tail in permutations(&rest) {
                tail.insert(0, first);
                all.push(tail);
            }
        }
        all
    }

    #[test]
    fn concurrent_edits_of_different_columns_both_survive_in_any_order() {
        let base = base();
        let edit_a = op(2, 1, 20, &[(1, 1)], Ev::Update(vec![col("a", 5)]));
        let edit_b = op(1, 2, 15, &[], Ev::Update(vec![col("b", 7)]));
        let outcomes: Vec<_> = permutations(&[&edit_a, &edit_b])
            .into_iter()
            .map(|order| run(&[&[&base][..], &order].concat()))
            .collect();
        assert!(outcomes.windows(2).all(|w| w[0].1 == w[1].1));
        assert_eq!(
            outcomes[0].1,
            Some(vec![col("a", 5), col("b", 7), col("id", 1)])
        );
        assert_eq!(outcomes[0].0.heads.len(), 2, "the two edits are concurrent");
        assert!(!outcomes[0].0.heads[0].overlaps(&outcomes[0].0.heads[1]));
    }

    #[test]
    fn a_later_delete_wins_and_a_later_update_revives_with_merged_values() {
        let base = base();
        let delete = op(2, 1, 30, &[(1, 1)], Ev::Delete);
        let update = op(3, 1, 20, &[(1, 1)], Ev::Update(vec![col("a", 9)]));
        for order in permutations(&[&delete, &update]) {
            let (meta, values) = run(&[&[&base][..], &order].concat());
            assert_eq!(values, None, "the delete is later");
            assert_eq!(meta.heads.len(), 2);
        }
        let revive = op(3, 1, 40, &[(1, 1)], Ev::Update(vec![col("a", 9)]));
        for order in permutations(&[&delete, &revive]) {
            let (_, values) = run(&[&[&base][..], &order].concat());
            assert_eq!(values, Some(vec![col("a", 9), col("b", 0), col("id", 1)]));
        }
    }

    #[test]
    fn a_change_that_saw_every_head_closes_the_conflict() {
        let a = op(1, 1, 10, &[], Ev::Insert(vec![col("id", 1), col("v", 1)]));
        let b = op(2, 1, 11, &[], Ev::Insert(vec![col("id", 1), col("v", 2)]));
        let resolve = op(
            1,
            2,
            12,
            &[(2, 1)],
            Ev::Insert(vec![col("id", 1), col("v", 3)]),
        );
        let (meta, _) = run(&[&a, &b]);
        assert_eq!(meta.conflicts().count(), 1);
        let (meta, values) = run(&[&a, &b, &resolve]);
        assert_eq!(meta.conflicts().count(), 0);
        assert_eq!(values, Some(vec![col("id", 1), col("v", 3)]));
    }
}
