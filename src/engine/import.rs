//! Records in: reading a bundle (or taking a relay's page), and the policy on what its records may
//! claim, around the store's import transaction ([`Import`]).
//!
//! The store says which records it already holds and applies the rest; this module decides what
//! is believable before anything is applied, and what is recorded of the sender:
//!
//! - **Clock skew.** A record stamped more than [`MAX_CLOCK_LEAD_MS`] ahead of this replica's wall
//!   clock is refused: its stamp would drag every later local timestamp with it.
//! - **Causality.** A record whose causal context includes itself is malformed.
//! - **This replica's history.** Nothing a bundle says about this replica's own history is
//!   believed beyond what its log shows, except its own records coming back (after it lost them,
//!   a peer that has them relays them): a record claiming to have seen a change of ours that we
//!   never made is refused, and a sender claiming to hold such changes is recorded as holding
//!   none of ours, so we go on sending all of them (duplicates are harmless; a claim believed
//!   wrongly loses them).

use crate::bundle::{self, Bundle, Record};
use crate::clock::{Hlc, VectorClock};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, Dot};
use crate::model::{ImportOutcome, Tally};
use crate::store::{Import, Store};

/// How far ahead of this replica's wall clock a received change may be stamped (366 days). A
/// change stamped later would drag every later local timestamp with it; refusing it keeps clocks
/// bounded, at the price of refusing peers whose clock is wrong by more than a year.
pub const MAX_CLOCK_LEAD_MS: u64 = 366 * 24 * 60 * 60 * 1000;

/// Validates a bundle completely, then applies it in one transaction.
pub fn import(store: &mut Store, now_ms: u64, bytes: &[u8]) -> Result<ImportOutcome> {
    let mut import = store.begin_import("importBundle")?;
    let bundle = bundle::read(bytes)?;
    if let Some(outcome) = import.imported_before(&bundle)? {
        return Ok(outcome);
    }
    let tally = apply_believable(&mut import, &bundle.records, now_ms)?;
    let outcome = ImportOutcome::counted(bundle.id, bundle.source, tally);
    record_sender(&import, &bundle, &outcome)?;
    import.note_bundle(&bundle, &outcome)?;
    import.commit()?;
    Ok(outcome)
}

/// Applies records that arrived without a bundle (a relay's page) in one transaction, under the
/// same policy as a bundle's; `keep` writes, in the same transaction, what the caller keeps with
/// them (how far it pulled).
pub fn import_records(
    store: &mut Store,
    now_ms: u64,
    records: &[Record<'_>],
    keep: impl FnOnce(&Import<'_>) -> Result<()>,
) -> Result<Tally> {
    let mut import = store.begin_import("sync")?;
    let tally = apply_believable(&mut import, records, now_ms)?;
    keep(&import)?;
    import.commit()?;
    Ok(tally)
}

/// Sorts out the records this replica holds, refuses the import when a fresh one is not
/// believable, and applies the rest.
fn apply_believable(import: &mut Import<'_>, records: &[Record<'_>], now_ms: u64) -> Result<Tally> {
    let mut tally = Tally::default();
    let fresh = import.sort(records, &mut tally)?;
    let fresh_records = || fresh.iter().map(|f| &records[f.index]);
    check_stamps(fresh_records(), now_ms)?;
    check_history(fresh_records(), import.device(), import.local_seq())?;
    import.apply(records, &fresh, &mut tally)?;
    Ok(tally)
}

/// Refuses records stamped too far in the future, or whose context includes themselves.
fn check_stamps<'r, 'b: 'r>(
    records: impl Iterator<Item = &'r Record<'b>>,
    now_ms: u64,
) -> Result<()> {
    let horizon = now_ms.saturating_add(MAX_CLOCK_LEAD_MS);
    for record in records {
        if Hlc::millis(record.hlc) > horizon {
            return Err(Error::BundleMalformed(format!(
                "record {} is stamped more than a year in the future",
                record.dot
            )));
        }
        if record.clock.get(&record.dot.origin) >= record.dot.seq {
            return Err(Error::BundleMalformed(format!(
                "record {} claims to have seen itself",
                record.dot
            )));
        }
    }
    Ok(())
}

/// Refuses records that claim to have seen changes of this replica (`device`, whose log reaches
/// `local_seq`) that it never made, beyond its own records that the bundle brings back.
fn check_history<'r, 'b: 'r>(
    records: impl Iterator<Item = &'r Record<'b>> + Clone,
    device: DeviceId,
    local_seq: u64,
) -> Result<()> {
    let mut own: Vec<u64> = records
        .clone()
        .filter(|record| record.dot.origin == device)
        .map(|record| record.dot.seq)
        .collect();
    own.sort_unstable();
    let mut known = local_seq;
    for seq in own {
        if seq == known + 1 {
            known = seq;
        }
    }
    for record in records {
        let claimed = record.clock.get(&device);
        if claimed > known {
            return Err(Error::BundleMalformed(format!(
                "record {} claims to have seen change {} of this replica, which it never made",
                record.dot,
                Dot::new(device, claimed)
            )));
        }
    }
    Ok(())
}

/// Records what the sender claimed to have (nothing of ours beyond our log: see the module
/// docs). When its bundle carried changes we already had, it has not heard that we have them,
/// so the next bundle for it acknowledges them.
fn record_sender(import: &Import<'_>, bundle: &Bundle<'_>, outcome: &ImportOutcome) -> Result<()> {
    let device = import.device();
    if bundle.source == device {
        return Ok(());
    }
    let claimed = believed(&bundle.sender_clock, device, import.local_seq());
    import.record_claim(&bundle.source, &claimed, outcome.duplicates > 0)
}

/// `claimed` with its entry for `device` dropped when it goes beyond `local_seq`.
fn believed(claimed: &VectorClock, device: DeviceId, local_seq: u64) -> VectorClock {
    let mut believed = claimed.clone();
    if believed.get(&device) > local_seq {
        believed.set(device, 0);
    }
    believed
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const ME: DeviceId = DeviceId([1; 16]);
    const PEER: DeviceId = DeviceId([2; 16]);

    fn record(dot: Dot, hlc: u64, clock: &[(DeviceId, u64)]) -> Record<'static> {
        Record {
            dot,
            hlc,
            clock: clock.iter().copied().collect(),
            changes: &[],
            digest: bundle::digest::RecordDigest([0; 16]),
        }
    }

    #[test]
    fn a_record_stamped_over_a_year_ahead_is_refused() {
        let now = 1_764_000_000_000;
        let ahead = |ms: u64| record(Dot::new(PEER, 1), Hlc::default().tick(now + ms), &[]);
        assert!(check_stamps([ahead(MAX_CLOCK_LEAD_MS)].iter(), now).is_ok());
        let refused = check_stamps([ahead(MAX_CLOCK_LEAD_MS + 1)].iter(), now);
        assert_eq!(
            refused.map_err(|e| e.code()),
            Err(crate::ErrorCode::BundleMalformed)
        );
    }

    #[test]
    fn a_record_that_has_seen_itself_is_refused() {
        let looped = record(Dot::new(PEER, 3), 0, &[(PEER, 3)]);
        assert!(check_stamps([looped].iter(), 0).is_err());
        let fine = record(Dot::new(PEER, 3), 0, &[(PEER, 2)]);
        assert!(check_stamps([fine].iter(), 0).is_ok());
    }

    #[test]
    fn claims_on_our_history_are_believed_up_to_our_log_and_our_records_coming_back() {
        let saw = |seq| record(Dot::new(PEER, 1), 0, &[(ME, seq)]);
        assert!(check_history([saw(5)].iter(), ME, 5).is_ok());
        assert!(check_history([saw(6)].iter(), ME, 5).is_err());
        // Our own record 6 (lost here, relayed back) makes a claim on 6 believable, not on 8.
        let own = record(Dot::new(ME, 6), 0, &[]);
        assert!(check_history([own.clone(), saw(6)].iter(), ME, 5).is_ok());
        let gap = record(Dot::new(ME, 7), 0, &[]);
        assert!(check_history([gap, saw(7)].iter(), ME, 5).is_err());
    }

    #[test]
    fn a_senders_claim_beyond_our_log_is_recorded_as_none_of_ours() {
        let mut claimed = VectorClock::new();
        claimed.observe(ME, 9);
        claimed.observe(PEER, 4);
        let believed_clock = believed(&claimed, ME, 5);
        assert_eq!(believed_clock.get(&ME), 0);
        assert_eq!(believed_clock.get(&PEER), 4);
        assert_eq!(believed(&claimed, ME, 9), claimed);
    }
}
