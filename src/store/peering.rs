//! What the store answers about the replicas it syncs with, and keeps of them: the records after a
//! frontier (what a peer or a relay lacks), the origins the log holds, what is known of each peer
//! (`_sync_peers`) and of each relay (`_sync_relays`). The engine decides what to send and what to
//! believe; these are the questions it asks.

use crate::clock::VectorClock;
use crate::error::Result;
use crate::ids::DeviceId;
use crate::store::log::{self, peers, relays};
use crate::store::{PeerState, RelayState, Store, StoredRecord};

impl Store {
    /// What is known of `peer`: what it claimed to have, what we last reported to it, what our
    /// bundles to it carried.
    pub fn peer(&self, peer: &DeviceId) -> Result<PeerState> {
        peers::read(&self.conn, peer)
    }

    /// Records a bundle made for `peer`: the clock it reported and the records it carried.
    pub fn record_sent(
        &mut self,
        peer: &DeviceId,
        reported: &VectorClock,
        carried: &VectorClock,
    ) -> Result<()> {
        peers::record_sent(&self.conn, peer, reported, carried)
    }

    /// Every device the log holds records of.
    pub fn origins(&self) -> Result<Vec<DeviceId>> {
        log::origins(&self.conn)
    }

    /// The applied records of `origin` after sequence number `after`, in order, as they travel;
    /// at most `limit` of them when a limit is given.
    pub fn records_after(
        &self,
        origin: &DeviceId,
        after: u64,
        limit: Option<usize>,
    ) -> Result<Vec<StoredRecord>> {
        log::after(&self.conn, origin, after, limit)
    }

    /// What is kept of (`relay`, `space`), if this replica ever synced with it.
    pub fn relay(&self, relay: &str, space: &str) -> Result<Option<RelayState>> {
        relays::read(&self.conn, relay, space)
    }

    /// Keeps the state of (`relay`, `space`) at the end of a round (refused inside the caller's
    /// transaction, like every write of the store's own).
    pub fn save_relay(&self, relay: &str, space: &str, state: &RelayState) -> Result<()> {
        self.refuse_in_transaction("sync")?;
        relays::save(&self.conn, relay, space, state, (self.journal.now_ms)())
    }
}
