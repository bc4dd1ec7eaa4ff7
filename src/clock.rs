//! Logical time: vector clocks (what a replica has seen) and the hybrid logical clock that orders
//! commits for deterministic tie-breaks.
//!
//! A [`VectorClock`] maps each device to the highest change counter known from it. Comparing two
//! clocks tells whether one change causally precedes another or whether they are concurrent, which
//! is how conflicts are detected, never by wall time. The [`Hlc`] is a 64-bit timestamp
//! (`milliseconds << 16 | counter`) that never goes backwards on one replica and moves past every
//! timestamp it has seen, so it is a stable, total tie-breaker across replicas.

use crate::ids::DeviceId;

/// Device → highest change counter seen from that device. Absent devices count as 0, and two
/// clocks are equal when every device's counter is. Kept as a list sorted by device, which is
/// compact for the few devices a clock usually names and is the order it is encoded in.
#[derive(Debug, Clone, Default)]
pub struct VectorClock(Vec<(DeviceId, u64)>);

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
        match self.0.binary_search_by(|(d, _)| d.cmp(device)) {
            Ok(i) => self.0[i].1,
            Err(_) => 0,
        }
    }

    /// Raises the entry for `device` to at least `seq`.
    pub fn observe(&mut self, device: DeviceId, seq: u64) {
        if seq == 0 {
            return;
        }
        match self.0.binary_search_by(|(d, _)| d.cmp(&device)) {
            Ok(i) => self.0[i].1 = self.0[i].1.max(seq),
            Err(i) => self.0.insert(i, (device, seq)),
        }
    }

    /// Sets the entry for `device` to exactly `seq` (0 removes it).
    pub fn set(&mut self, device: DeviceId, seq: u64) {
        match self.0.binary_search_by(|(d, _)| d.cmp(&device)) {
            Ok(i) if seq == 0 => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = seq,
            Err(_) if seq == 0 => {}
            Err(i) => self.0.insert(i, (device, seq)),
        }
    }

    /// Pointwise maximum with `other`.
    pub fn merge(&mut self, other: &VectorClock) {
        for (device, seq) in other.iter() {
            self.observe(*device, *seq);
        }
    }

    /// Entries with a non-zero counter, in device order.
    pub fn iter(&self) -> impl Iterator<Item = (&DeviceId, &u64)> {
        self.0.iter().map(|(d, s)| (d, s))
    }

    /// Number of devices with a non-zero counter.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no device has a non-zero counter.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How `self` relates to `other`.
    pub fn compare(&self, other: &VectorClock) -> Causality {
        let devices = self.0.iter().chain(&other.0).map(|(d, _)| d);
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
    fn set_replaces_and_zero_removes() {
        let mut clock: VectorClock = [(device(1), 5), (device(3), 2)].into_iter().collect();
        clock.set(device(1), 2);
        clock.set(device(3), 0);
        clock.set(device(2), 7);
        assert_eq!(
            clock.iter().map(|(d, s)| (*d, *s)).collect::<Vec<_>>(),
            vec![(device(1), 2), (device(2), 7)]
        );
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
