//! What each peer is known to have (`_sync_peers`).
//!
//! Per peer three clocks are kept: the one its latest bundle claimed (what it has applied, which
//! decides what the next bundle for it carries; its claim about this replica is never taken beyond
//! what this replica's log shows), the clock this replica last reported to it (so a bundle with
//! nothing new is still sent when the peer has not heard our clock, acknowledging what it sent),
//! and the highest record of each origin that bundles to it carried (for bundles that carry only
//! what no earlier bundle to it did). A claim replaces the previous one rather than adding to it: a
//! peer restored from an older copy says so in its next bundle, and gets the changes it lost again.

use rusqlite::{params, Connection, OptionalExtension};

use crate::bundle::digest::encode_clock;
use crate::clock::VectorClock;
use crate::error::Result;
use crate::ids::DeviceId;
use crate::store::log::decode_clock;

/// The clock `peer`'s latest bundle claimed (empty for a peer never heard from).
pub fn claimed(conn: &Connection, peer: &DeviceId) -> Result<VectorClock> {
    Ok(read(conn, peer, Kept::Claimed)?.unwrap_or_default())
}

/// The clock this replica last reported to `peer`, if any.
pub fn reported(conn: &Connection, peer: &DeviceId) -> Result<Option<VectorClock>> {
    read(conn, peer, Kept::Reported)
}

/// The highest record of each origin that bundles to `peer` carried.
pub fn carried(conn: &Connection, peer: &DeviceId) -> Result<VectorClock> {
    Ok(read(conn, peer, Kept::Carried)?.unwrap_or_default())
}

/// The three clocks kept per peer.
enum Kept {
    Claimed,
    Reported,
    Carried,
}

fn read(conn: &Connection, peer: &DeviceId, kept: Kept) -> Result<Option<VectorClock>> {
    let sql = match kept {
        Kept::Claimed => "SELECT clock FROM main._sync_peers WHERE peer = ?1",
        Kept::Reported => "SELECT sent FROM main._sync_peers WHERE peer = ?1",
        Kept::Carried => "SELECT carried FROM main._sync_peers WHERE peer = ?1",
    };
    let bytes: Option<Option<Vec<u8>>> = conn
        .prepare_cached(sql)?
        .query_row(params![peer.0.as_slice()], |r| r.get(0))
        .optional()?;
    bytes.flatten().map(|b| decode_clock(&b)).transpose()
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
