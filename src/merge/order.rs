//! The causal order in which received records are applied.
//!
//! A record can be applied once everything it depends on has been: its origin's previous record
//! and every record its causal context names. [`Planner`] keeps the records that are not applied
//! yet in one queue per origin (by sequence number) and remembers, for each queue whose first
//! record is blocked, which dependency it waits for; when a record is applied, only the queues
//! waiting for its origin are looked at again. So planning is linear in the number of records and
//! context entries (times a logarithm), whatever order they arrive in, and the order it produces
//! is the same for the same records and frontier.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::clock::VectorClock;
use crate::ids::{DeviceId, Dot};

/// A record waiting to be applied: its causal context and the caller's handle for it.
struct Waiting<T> {
    clock: VectorClock,
    item: T,
}

/// Orders records so that each comes after everything it depends on.
pub struct Planner<T> {
    /// Per device, the highest counter applied so far.
    frontier: VectorClock,
    queues: BTreeMap<DeviceId, BTreeMap<u64, Waiting<T>>>,
    /// Per device and counter, the origins whose first record waits for that device to reach it.
    waiting_for: HashMap<DeviceId, BTreeMap<u64, Vec<DeviceId>>>,
    /// Origins whose first record may be ready.
    check: BTreeSet<DeviceId>,
}

impl<T> Planner<T> {
    /// A planner for records applied after `frontier`.
    pub fn new(frontier: VectorClock) -> Self {
        Planner {
            frontier,
            queues: BTreeMap::new(),
            waiting_for: HashMap::new(),
            check: BTreeSet::new(),
        }
    }

    /// What has been applied (the starting frontier plus every record handed out).
    pub fn frontier(&self) -> &VectorClock {
        &self.frontier
    }

    /// Adds a record. One the frontier already covers, or whose dot is already queued, is
    /// returned to the caller instead.
    pub fn add(&mut self, dot: Dot, clock: VectorClock, item: T) -> Option<T> {
        if dot.seq <= self.frontier.get(&dot.origin) {
            return Some(item);
        }
        let queue = self.queues.entry(dot.origin).or_default();
        if queue.contains_key(&dot.seq) {
            return Some(item);
        }
        queue.insert(dot.seq, Waiting { clock, item });
        self.check.insert(dot.origin);
        None
    }

    /// The next record whose dependencies have all been applied, taken out and counted as applied;
    /// `None` when every record left waits for something missing.
    pub fn next(&mut self) -> Option<(Dot, T)> {
        while let Some(origin) = self.check.pop_first() {
            let Some(queue) = self.queues.get_mut(&origin) else {
                continue;
            };
            let Some((&seq, first)) = queue.first_key_value() else {
                continue;
            };
            let dot = Dot::new(origin, seq);
            if let Some(missing) = unmet(&self.frontier, dot, &first.clock) {
                self.waiting_for
                    .entry(missing.origin)
                    .or_default()
                    .entry(missing.seq)
                    .or_default()
                    .push(origin);
                continue;
            }
            let Some(record) = queue.remove(&seq) else {
                continue;
            };
            if queue.is_empty() {
                self.queues.remove(&origin);
            } else {
                self.check.insert(origin);
            }
            self.frontier.observe(origin, seq);
            self.wake(origin, seq);
            return Some((dot, record.item));
        }
        None
    }

    /// Moves the origins that waited for `device` to reach `seq` (or less) back to be checked.
    fn wake(&mut self, device: DeviceId, seq: u64) {
        let Some(waiters) = self.waiting_for.get_mut(&device) else {
            return;
        };
        let later = waiters.split_off(&(seq + 1));
        for origins in std::mem::replace(waiters, later).into_values() {
            self.check.extend(origins);
        }
    }

    /// The records left (none of them can be applied), each with the first change it waits for
    /// that is missing: for a record behind a gap in its origin's sequence, the first record of
    /// that gap (so the whole run behind one gap is released together), otherwise the first
    /// dependency of its causal context not applied. In origin and sequence order.
    pub fn into_blocked(self) -> Vec<(Dot, Dot, T)> {
        let frontier = self.frontier;
        let mut out = Vec::new();
        for (origin, queue) in self.queues {
            for (seq, waiting) in queue {
                let dot = Dot::new(origin, seq);
                let next = frontier.get(&origin) + 1;
                let missing = if next != seq {
                    Dot::new(origin, next)
                } else {
                    unmet(&frontier, dot, &waiting.clock).unwrap_or(Dot::new(origin, next))
                };
                out.push((dot, missing, waiting.item));
            }
        }
        out
    }
}

/// The first dependency of the record `dot` (with causal context `clock`) that `frontier` lacks.
fn unmet(frontier: &VectorClock, dot: Dot, clock: &VectorClock) -> Option<Dot> {
    if frontier.get(&dot.origin) + 1 != dot.seq {
        return Some(Dot::new(dot.origin, dot.seq - 1));
    }
    clock
        .iter()
        .filter(|(device, _)| **device != dot.origin)
        .find(|(device, seq)| frontier.get(device) < **seq)
        .map(|(device, seq)| Dot::new(*device, *seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn dev(n: u8) -> DeviceId {
        DeviceId([n; 16])
    }

    fn drain(planner: &mut Planner<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| planner.next().map(|(_, item)| item)).collect()
    }

    #[test]
    fn records_come_out_after_their_predecessor_and_their_context() {
        let mut planner = Planner::new(VectorClock::new());
        let saw_a2: VectorClock = [(dev(1), 2)].into_iter().collect();
        planner.add(Dot::new(dev(2), 1), saw_a2, "b1");
        planner.add(Dot::new(dev(1), 2), VectorClock::new(), "a2");
        planner.add(Dot::new(dev(1), 1), VectorClock::new(), "a1");
        planner.add(Dot::new(dev(1), 4), VectorClock::new(), "a4");
        assert_eq!(drain(&mut planner), ["a1", "a2", "b1"]);
        let blocked = planner.into_blocked();
        assert_eq!(blocked.len(), 1);
        assert_eq!((blocked[0].0.seq, blocked[0].1), (4, Dot::new(dev(1), 3)));

        let mut planner = Planner::new(VectorClock::new());
        for seq in [3, 5, 4] {
            planner.add(Dot::new(dev(1), seq), VectorClock::new(), "behind a gap");
        }
        assert!(planner.next().is_none());
        let waits: Vec<Dot> = planner
            .into_blocked()
            .into_iter()
            .map(|(_, w, _)| w)
            .collect();
        assert_eq!(
            waits,
            vec![Dot::new(dev(1), 1); 3],
            "all wait for the gap's first record"
        );
    }

    #[test]
    fn duplicates_and_records_already_applied_are_handed_back() {
        let frontier: VectorClock = [(dev(1), 3)].into_iter().collect();
        let mut planner = Planner::new(frontier);
        assert_eq!(
            planner.add(Dot::new(dev(1), 3), VectorClock::new(), "old"),
            Some("old")
        );
        assert_eq!(
            planner.add(Dot::new(dev(1), 4), VectorClock::new(), "new"),
            None
        );
        assert_eq!(
            planner.add(Dot::new(dev(1), 4), VectorClock::new(), "again"),
            Some("again")
        );
        assert_eq!(drain(&mut planner), ["new"]);
    }

    #[test]
    fn a_long_chain_in_reverse_is_planned_in_linear_time() {
        let mut planner = Planner::new(VectorClock::new());
        let n = 50_000u64;
        for seq in (1..=n).rev() {
            planner.add(Dot::new(dev(1), seq), VectorClock::new(), seq);
        }
        let order: Vec<u64> = std::iter::from_fn(|| planner.next().map(|(_, s)| s)).collect();
        assert_eq!(order, (1..=n).collect::<Vec<_>>());
    }

    #[test]
    fn a_cycle_of_dependencies_is_left_blocked() {
        let mut planner = Planner::new(VectorClock::new());
        planner.add(
            Dot::new(dev(1), 1),
            [(dev(2), 1)].into_iter().collect(),
            "a1",
        );
        planner.add(
            Dot::new(dev(2), 1),
            [(dev(1), 1)].into_iter().collect(),
            "b1",
        );
        assert!(planner.next().is_none());
        assert_eq!(planner.into_blocked().len(), 2);
    }
}
