//! The peer-clock table (`_sync_peers`): per peer, the clock its latest bundle claimed, the clock
//! this replica last reported to it, and the highest record of each origin that bundles to it
//! carried. What these decide (what a peer gets, what is believed of a claim) is the engine's
//! policy ([`engine::export`](crate::engine)); this module only keeps them.

use rusqlite::{params, Connection, OptionalExtension};

use crate::bundle::digest::encode_clock;
use crate::clock::VectorClock;
use crate::error::Result;
use crate::ids::DeviceId;
use crate::store::log::decode_clock;

/// What is known of one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerState {
    /// What its latest bundle claimed to have applied (empty for a peer never heard from).
    pub claimed: VectorClock,
    /// The clock this replica last reported to it, if any (forgotten when it must hear again).
    pub reported: Option<VectorClock>,
    /// The highest record of each origin that bundles to it carried.
    pub carried: VectorClock,
}

/// A `_sync_peers` row as stored: the claimed clock, and the reported and carried ones if kept.
type StoredPeer = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);

/// What is known of `peer`.
pub fn read(conn: &Connection, peer: &DeviceId) -> Result<PeerState> {
    let stored: Option<StoredPeer> = conn
        .prepare_cached("SELECT clock, sent, carried FROM main._sync_peers WHERE peer = ?1")?
        .query_row(params![peer.0.as_slice()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((claimed, reported, carried)) = stored else {
        return Ok(PeerState::default());
    };
    Ok(PeerState {
        claimed: decode_clock(&claimed)?,
        reported: reported.as_deref().map(decode_clock).transpose()?,
        carried: carried
            .as_deref()
            .map(decode_clock)
            .transpose()?
            .unwrap_or_default(),
    })
}

/// Records what `peer`'s latest bundle claimed. When `forget_reported` (the bundle carried changes
/// we already had, so the peer has not heard that we have them), what we last reported to it is
/// forgotten, so that the next bundle for it acknowledges them.
pub fn record_claim(
    conn: &Connection,
    peer: &DeviceId,
    claimed: &VectorClock,
    forget_reported: bool,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_peers (peer, clock) VALUES (?1, ?2)
         ON CONFLICT (peer) DO UPDATE SET clock = excluded.clock,
             sent = CASE WHEN ?3 THEN NULL ELSE sent END",
    )?
    .execute(params![
        peer.0.as_slice(),
        encode_clock(claimed),
        forget_reported
    ])?;
    Ok(())
}

/// Records a bundle sent to `peer`: the clock it reported and the records it carried.
pub fn record_sent(
    conn: &Connection,
    peer: &DeviceId,
    reported: &VectorClock,
    carried: &VectorClock,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_peers (peer, clock, sent, carried) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (peer) DO UPDATE SET sent = excluded.sent, carried = excluded.carried",
    )?
    .execute(params![
        peer.0.as_slice(),
        encode_clock(&VectorClock::new()),
        encode_clock(reported),
        encode_clock(carried)
    ])?;
    Ok(())
}
