//! Logical time: vector clocks (what a replica has seen) and the hybrid logical clock that orders
//! commits for deterministic tie-breaks.
//!
//! A [`VectorClock`] maps each device to the highest change counter known from it. Comparing two
//! clocks tells whether one change causally precedes another or whether they are concurrent, which
//! is how conflicts are detected, never by wall time. The [`Hlc`] is a 64-bit timestamp
//! (`milliseconds << 16 | counter`) that never goes backwards on one replica and moves past every
//! timestamp it has seen, so it is a stable, total tie-breaker across replicas.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::DeviceId;

/// Device → highest change counter seen from that device. Absent devices count as 0, and two
/// clocks are equal when every device's counter is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VectorClock(BTreeMap<DeviceId, u64>);

impl PartialEq for VectorClock {
    fn eq(&self, other: &Self) -> bool {
        self.compare(other) == Causality::Equal
    }
}

impl Eq for VectorClock {}

/// How two clocks relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Causality {
    Equal,
    Before,
    After,
    Concurrent,
}

impl VectorClock {
    /// The empty clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter known for `device` (0 when unknown).
    pub fn get(&self, device: &DeviceId) -> u64 {
        self.0.get(device).copied().unwrap_or(0)
    }

    /// Raises the entry for `device` to at least `seq`.
    pub fn observe(&mut self, device: DeviceId, seq: u64) {
        if seq == 0 {
            return;
        }
        let entry = self.0.entry(device).or_insert(0);
        *entry = (*entry).max(seq);
    }

    /// Pointwise maximum with `other`.
    pub fn merge(&mut self, other: &VectorClock) {
        for (device, seq) in &other.0 {
            self.observe(*device, *seq);
        }
    }

    /// Entries with a non-zero counter, in device order.
    pub fn iter(&self) -> impl Iterator<Item = (&DeviceId, &u64)> {
        self.0.iter().filter(|(_, seq)| **seq > 0)
    }

    /// How `self` relates to `other`.
    pub fn compare(&self, other: &VectorClock) -> Causality {
        let devices = self.0.keys().chain(other.0.keys());
        let (mut less, mut greater) = (false, false);
        for device in devices {
            let (a, b) = (self.get(device), other.get(device));
            less |= a < b;
            greater |= a > b;
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }
}

impl FromIterator<(DeviceId, u64)> for VectorClock {
    fn from_iter<I: IntoIterator<Item = (DeviceId, u64)>>(iter: I) -> Self {
        let mut clock = VectorClock::new();
        for (device, seq) in iter {
            clock.observe(device, seq);
        }
        clock
    }
}

/// A replica's hybrid logical clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hlc {
    last: u64,
}

impl Hlc {
    /// Bits of the timestamp that hold the logical counter.
    const COUNTER_BITS: u32 = 16;

    /// A clock that will issue timestamps after `last`.
    pub fn starting_after(last: u64) -> Self {
        Hlc { last }
    }

    /// A new timestamp for a local commit at wall time `now_ms`: greater than every timestamp issued
    /// or observed so far.
    pub fn tick(&mut self, now_ms: u64) -> u64 {
        let physical = now_ms.saturating_mul(1 << Self::COUNTER_BITS);
        self.last = physical.max(self.last.saturating_add(1));
        self.last
    }

    /// Moves past a timestamp seen on a remote change.
    pub fn observe(&mut self, remote: u64) {
        self.last = self.last.max(remote);
    }

    /// Wall-clock milliseconds of a timestamp.
    pub fn millis(timestamp: u64) -> u64 {
        timestamp >> Self::COUNTER_BITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn device(n: u8) -> DeviceId {
        DeviceId([n; 16])
    }

    #[test]
    fn compare_detects_order_and_concurrency() {
        let a: VectorClock = [(device(1), 2), (device(2), 1)].into_iter().collect();
        let mut b = a.clone();
        assert_eq!(a.compare(&b), Causality::Equal);
        b.observe(device(2), 3);
        assert_eq!(a.compare(&b), Causality::Before);
        assert_eq!(b.compare(&a), Causality::After);
        let c: VectorClock = [(device(1), 3)].into_iter().collect();
        assert_eq!(b.compare(&c), Causality::Concurrent);
    }

    #[test]
    fn zero_entries_are_the_same_as_absent() {
        let a: VectorClock = [(device(1), 0)].into_iter().collect();
        assert_eq!(a.compare(&VectorClock::new()), Causality::Equal);
        assert_eq!(a.iter().count(), 0);
    }

    #[test]
    fn hlc_is_monotonic_even_when_wall_time_goes_back() {
        let mut hlc = Hlc::default();
        let first = hlc.tick(1_000);
        let second = hlc.tick(999);
        assert!(second > first);
        hlc.observe(Hlc::default().tick(5_000));
        let third = hlc.tick(1_000);
        assert!(Hlc::millis(third) >= 5_000);
    }
}
