//! Sync rounds with a relay: the engine's side of the protocol's [`ClientRound`], still without
//! I/O. A [`Round`] answers the round's questions from the store (what this replica holds, where
//! its last pull of this relay stopped, the records the relay lacks), imports each page the relay
//! sends under the same policy as a bundle ([`import::import_records`]), and tells its caller
//! only what to send and when a message is awaited ([`Action`]). The caller (the wasm layer, over
//! fetch or a WebSocket) moves the bytes.
//!
//! What is kept per relay and space (`_sync_relays`): the cursor, saved in the transaction that
//! imports each page, so a round cut short resumes after the last page it applied and never
//! applies one twice; and, at the end of a round, how much of this replica's own log the relay
//! acknowledged holding, which is what [`pending`] counts from.
//!
//! A page whose records this replica refuses (a change to a table it does not sync, a stamp more
//! than a year ahead, …) fails the round with that error and moves nothing: the cursor stays
//! before the page, so nothing is skipped and the error is what the app sees until it is fixed.

use crate::error::{Error, Result};
use crate::ids::{ConflictId, DeviceId};
use crate::protocol::{
    self, Batch, ClientRound, Cursor, Delivery, Local, LogId, Next, Progress, Step, Summary,
    MAX_RECORDS,
};
use crate::store::{RelayState, Store};

use super::import;

/// One round in progress with one relay, over one space.
pub struct Round {
    inner: ClientRound,
    relay: String,
    space: String,
    progress: Option<Progress>,
    /// Records pulled that this replica did not hold.
    received: u64,
    conflicts: u64,
    new_conflicts: Vec<ConflictId>,
    /// True once the round has failed or ended: it takes no more messages.
    over: bool,
}

/// What the caller does next.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Send this one protocol message, then feed the reply (over HTTP: the response body) to
    /// [`Round::receive`].
    Send(Vec<u8>),
    /// Nothing to send: feed the next message that arrives (over a WebSocket) to
    /// [`Round::receive`].
    Wait,
    /// The round is over.
    Done(RoundReport),
}

/// What a completed round did.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundReport {
    /// Records pushed to the relay.
    pub sent: u64,
    /// Records pulled from the relay that this replica did not hold (its own records coming back,
    /// and those it already had from elsewhere, are not counted).
    pub received: u64,
    /// Conflicts the pulled records created.
    pub conflicts: u64,
    /// This replica's own records the relay has not acknowledged.
    pub pending: u64,
    /// True when the relay announced more records during the round: run another soon.
    pub behind: bool,
    /// The conflicts the round created that `conflicts()` lists (less those taken earlier with
    /// [`Round::take_new_conflicts`]).
    pub new_conflicts: Vec<ConflictId>,
}

impl Round {
    /// Starts a round with `relay` (the relay's base URL, as the transport names it) over
    /// `space`, and says what to send first.
    pub fn begin(store: &Store, relay: &str, space: &str) -> Result<(Round, Action)> {
        store.refuse_in_transaction("sync")?;
        let kept = store.relay(relay, space)?;
        let local = Local {
            device: store.device_id(),
            space: space.to_owned(),
            clock: store.vector_clock()?,
            cursor: kept.map(|kept| Cursor {
                log: LogId(kept.log),
                position: kept.position,
            }),
        };
        let (inner, step) = ClientRound::start(local);
        let mut round = Round {
            inner,
            relay: relay.to_owned(),
            space: space.to_owned(),
            progress: None,
            received: 0,
            conflicts: 0,
            new_conflicts: Vec::new(),
            over: false,
        };
        let action = round.take(store, step);
        Ok((round, action?))
    }

    /// Takes one message from the relay (at `now_ms`, for the import's clock checks). An error
    /// ends the round: it takes no more messages.
    pub fn receive(&mut self, store: &mut Store, now_ms: u64, message: &[u8]) -> Result<Action> {
        if self.over {
            return Err(Error::Internal(
                "sync round: a message after the round ended".into(),
            ));
        }
        let result = self.receive_unchecked(store, now_ms, message);
        self.over |= !matches!(result, Ok(Action::Send(_) | Action::Wait));
        result
    }

    /// How far the round's pull has come (`None` before the first page with records).
    pub fn progress(&self) -> Option<Progress> {
        self.progress
    }

    /// Records this round pushed that the relay acknowledged, and records it pulled that this
    /// replica did not hold, so far (what a round cut short still did).
    pub fn counts(&self) -> (u64, u64) {
        (self.inner.acknowledged(), self.received)
    }

    /// The conflicts the pages imported so far created, not yet taken (by this call or in the
    /// [`RoundReport`]): a round cut short by a dropped connection still reports them, so that the
    /// app's resolvers see every conflict.
    pub fn take_new_conflicts(&mut self) -> Vec<ConflictId> {
        std::mem::take(&mut self.new_conflicts)
    }

    fn receive_unchecked(
        &mut self,
        store: &mut Store,
        now_ms: u64,
        message: &[u8],
    ) -> Result<Action> {
        let message = protocol::decode(message)?;
        let step = match self.inner.on_message(message) {
            Next::Step(step) => step,
            Next::Apply(delivery) => {
                self.import(store, now_ms, delivery)?;
                self.inner.applied()
            }
        };
        self.take(store, step)
    }

    /// Imports one page and keeps the cursor after it, in one transaction.
    fn import(&mut self, store: &mut Store, now_ms: u64, delivery: Delivery<'_>) -> Result<()> {
        let Delivery {
            records,
            cursor,
            progress,
        } = delivery;
        let (relay, space) = (&self.relay, &self.space);
        let tally = import::import_records(store, now_ms, &records, |import| {
            import.save_relay_cursor(relay, space, &cursor.log.0, cursor.position)
        })?;
        self.received += tally.fresh_records;
        self.conflicts += tally.conflicts;
        self.new_conflicts.extend(tally.new_conflicts);
        self.progress = Some(progress);
        Ok(())
    }

    /// Follows the round's steps until one needs the relay.
    fn take(&mut self, store: &Store, mut step: Step) -> Result<Action> {
        loop {
            step = match step {
                Step::Send(bytes) => return Ok(Action::Send(bytes)),
                Step::Wait => return Ok(Action::Wait),
                Step::Collect(wanted) => self.inner.push(collect(store, &wanted)?),
                Step::Done(summary) => return self.finish(store, summary).map(Action::Done),
                Step::Fail(error) => {
                    self.over = true;
                    return Err(error);
                }
            }
        }
    }

    /// Keeps what the round ended with and reports it.
    fn finish(&mut self, store: &Store, summary: Summary) -> Result<RoundReport> {
        let device = store.device_id();
        let acked = summary.acked.get(&device);
        store.save_relay(
            &self.relay,
            &self.space,
            &RelayState {
                log: summary.cursor.log.0,
                position: summary.cursor.position,
                acked,
            },
        )?;
        Ok(RoundReport {
            sent: summary.sent,
            received: self.received,
            conflicts: self.conflicts,
            pending: own_seq(store, device)?.saturating_sub(acked),
            behind: summary.behind,
            new_conflicts: std::mem::take(&mut self.new_conflicts),
        })
    }
}

/// This replica's own records that (`relay`, `space`) has not acknowledged, as of the last round
/// that completed with it (all of them, before any did).
pub fn pending(store: &Store, relay: &str, space: &str) -> Result<u64> {
    let acked = store.relay(relay, space)?.map_or(0, |kept| kept.acked);
    Ok(own_seq(store, store.device_id())?.saturating_sub(acked))
}

fn own_seq(store: &Store, device: DeviceId) -> Result<u64> {
    Ok(store.vector_clock()?.get(&device))
}

/// A batch of the records the relay lacks: each wanted origin's records after the given sequence
/// number, in order, until the batch is full.
fn collect(store: &Store, wanted: &[(DeviceId, u64)]) -> Result<Batch> {
    let mut batch = Batch::default();
    for (origin, after) in wanted {
        for record in store.records_after(origin, *after, Some(MAX_RECORDS))? {
            if !batch.offer(record.dot, record.hlc, &record.clock, &record.changes)? {
                return Ok(batch);
            }
        }
    }
    Ok(batch)
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
