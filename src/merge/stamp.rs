//! Effective stamps: hybrid logical clocks made consistent with causality.
//!
//! Last-writer-wins needs stamps that order every change after everything it had seen; otherwise a
//! causally later change with a smaller clock would lose to the value it overwrote, and with a
//! third concurrent change the outcome would depend on delivery order. An honest replica's hybrid
//! logical clock already has this property (it moves past every clock it applies), but a replica
//! must not depend on its peers being honest or bug-free. So a record's *effective* stamp is its own
//! clock raised above the effective stamp of each record it depends on (its origin's previous
//! record and every record its causal context names). The effective stamps of those dependencies
//! are fixed once they are applied, so every replica computes the same value, and by induction
//! effective stamps are strictly increasing along every causal chain.

/// The effective stamp of a record stamped `hlc` whose dependencies have the effective stamps
/// `dependencies`.
pub fn effective(hlc: u64, dependencies: impl IntoIterator<Item = u64>) -> u64 {
    dependencies.into_iter().fold(hlc, |stamp, dependency| {
        stamp.max(dependency.saturating_add(1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn an_honest_clock_is_kept_and_a_lagging_one_is_raised_above_what_it_saw() {
        assert_eq!(effective(100, [40, 99]), 100);
        assert_eq!(effective(100, [40, 150]), 151);
        assert_eq!(effective(7, []), 7);
        assert_eq!(effective(0, [u64::MAX]), u64::MAX);
    }
}
