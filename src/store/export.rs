//! Bundles out: the records a peer is not known to have, framed as a bundle.
//!
//! What goes into a bundle for a peer is decided by what that peer's latest bundle said it has
//! ([`peers`](super::peers)), never by what we once sent it, so a bundle lost in transit is sent
//! again, unless the caller asks for only the records no earlier bundle to that peer carried (for
//! one-way flows, such as a daily file for a peer that never answers). Only applied records travel:
//! a record still waiting for its predecessors is sent by the replicas that have applied it.

use crate::bundle::{BundleHead, BundleWriter};
use crate::clock::VectorClock;
use crate::error::Result;
use crate::ids::DeviceId;
use crate::store::{log, peers, Store};

/// Which records a bundle for a peer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Carry {
    /// Everything the peer has not acknowledged (the default: lost bundles are sent again).
    #[default]
    Unacknowledged,
    /// Only what no earlier bundle to the peer carried.
    Unsent,
}

impl Store {
    /// Every change the peer is not known to have (or, with [`Carry::Unsent`], that no bundle to
    /// it carried yet), as a bundle; `None` when there is nothing to send.
    pub fn generate_bundle(
        &mut self,
        peer: Option<&DeviceId>,
        carry: Carry,
    ) -> Result<Option<Vec<u8>>> {
        self.refuse_in_transaction("generateBundle")?;
        let Store { conn, journal } = self;
        let (known, mut carried) = match peer {
            Some(peer) => (peers::claimed(conn, peer)?, peers::carried(conn, peer)?),
            None => (VectorClock::new(), VectorClock::new()),
        };
        let mut records = Vec::new();
        for origin in log::origins(conn)? {
            let mut after = known.get(&origin);
            if carry == Carry::Unsent {
                after = after.max(carried.get(&origin));
            }
            records.extend(log::after(conn, &origin, after)?);
        }
        let clock = journal.clock(conn)?;
        // With no change to send, a bundle is still worth sending to a peer that has not heard
        // our clock since it last changed: it acknowledges what the peer sent, so the peer stops
        // sending it again.
        let acknowledge = match peer {
            Some(peer) => peers::reported(conn, peer)?.as_ref() != Some(&clock),
            None => false,
        };
        if records.is_empty() && !acknowledge {
            return Ok(None);
        }
        let head = BundleHead {
            id: journal.new_bundle_id(conn)?,
            source: journal.device,
            created_at: (journal.now_ms)(),
            schema_version: 0,
            sender_clock: clock,
        };
        let size = records
            .iter()
            .map(|r| r.changes.len() + r.clock.len() + 40)
            .sum();
        let mut writer = BundleWriter::new(&head, records.len(), size);
        for record in &records {
            writer.record(
                record.dot,
                record.hlc,
                &record.clock,
                &record.changes,
                &record.digest,
            );
            carried.observe(record.dot.origin, record.dot.seq);
        }
        let bytes = writer.finish()?;
        if let Some(peer) = peer {
            peers::record_sent(conn, peer, &head.sender_clock, &carried)?;
        }
        Ok(Some(bytes))
    }
}
