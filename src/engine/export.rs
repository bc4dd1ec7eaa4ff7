//! Bundles out: which records a peer gets, and their framing as a bundle.
//!
//! What goes into a bundle for a peer is decided by what that peer's latest bundle said it has
//! ([`PeerState::claimed`]), never by what we once sent it, so a bundle lost in transit is sent
//! again, unless the caller asks for only the records no earlier bundle to that peer carried
//! ([`Carry::Unsent`], for one-way flows such as a daily file for a peer that never answers). Only
//! applied records travel: a record still waiting for its predecessors is sent by the replicas
//! that have applied it. With no change to send, a bundle is still worth making for a peer that
//! has not heard our clock since it last changed: it acknowledges what the peer sent, so the peer
//! stops sending it again.

use crate::bundle::{BundleHead, BundleWriter};
use crate::clock::VectorClock;
use crate::error::Result;
use crate::ids::DeviceId;
use crate::store::{PeerState, Store, StoredRecord};

/// Which records a bundle for a peer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Carry {
    /// Everything the peer has not acknowledged (the default: lost bundles are sent again).
    #[default]
    Unacknowledged,
    /// Only what no earlier bundle to the peer carried.
    Unsent,
}

/// What a bundle for a peer will hold, before it is framed.
pub struct Outgoing {
    pub records: Vec<StoredRecord>,
    /// This replica's clock, which the bundle reports.
    pub clock: VectorClock,
    /// What bundles to the peer will have carried once this one has.
    pub carried: VectorClock,
}

/// What a bundle for `peer` (anyone, when `None`) carries; `None` when there is nothing worth
/// sending.
pub fn plan(store: &Store, peer: Option<&DeviceId>, carry: Carry) -> Result<Option<Outgoing>> {
    store.refuse_in_transaction("generateBundle")?;
    let known = match peer {
        Some(peer) => store.peer(peer)?,
        None => PeerState::default(),
    };
    let mut records = Vec::new();
    for origin in store.origins()? {
        let mut after = known.claimed.get(&origin);
        if carry == Carry::Unsent {
            after = after.max(known.carried.get(&origin));
        }
        records.extend(store.records_after(&origin, after, None)?);
    }
    let clock = store.vector_clock()?;
    let acknowledge = peer.is_some() && known.reported.as_ref() != Some(&clock);
    if records.is_empty() && !acknowledge {
        return Ok(None);
    }
    let mut carried = known.carried;
    for record in &records {
        carried.observe(record.dot.origin, record.dot.seq);
    }
    Ok(Some(Outgoing {
        records,
        clock,
        carried,
    }))
}

/// Frames the planned records as a bundle with `head`.
pub fn frame(head: &BundleHead, records: &[StoredRecord]) -> Result<Vec<u8>> {
    let size = records
        .iter()
        .map(|r| r.changes.len() + r.clock.len() + 40)
        .sum();
    let mut writer = BundleWriter::new(head, records.len(), size);
    for record in records {
        writer.record(
            record.dot,
            record.hlc,
            &record.clock,
            &record.changes,
            &record.digest,
        );
    }
    writer.finish()
}
