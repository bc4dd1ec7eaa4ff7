//! One sync round from the device's side, as a pure state machine: messages in, [`Step`]s out.
//!
//! A round says Hello, pushes what the relay lacks (by the relay's clock in its Welcome) in
//! batches until it lacks nothing, then pulls pages after the device's cursor until a page says it
//! is caught up. It never touches a socket, a timer or the store: each [`Step`] tells its caller
//! what to do (send these bytes, gather records into a [`Batch`], wait for a message), a message
//! fed to [`ClientRound::on_message`] gives either a page's records to import ([`Next::Apply`]) or
//! the next step, and the caller reports back through [`ClientRound::push`] and
//! [`ClientRound::applied`]. Records borrow their change sets from the message's bytes, so only
//! [`Next::Apply`] borrows: every [`Step`] is owned, and the caller's loop over any transport
//! stays simple:
//!
//! ```text
//! let (mut round, mut step) = ClientRound::start(local);
//! loop {
//!     let reply = match step {
//!         Step::Send(bytes) => transport.exchange(bytes)?,
//!         Step::Wait => transport.next()?,
//!         Step::Collect(wanted) => { let batch = /* a Batch::default() offered the records after
//!             each (origin, seq), in sequence order, until full */; step = round.push(batch); continue }
//!         Step::Done(summary) => break Ok(summary),
//!         Step::Fail(error) => break Err(error),
//!     };
//!     step = match round.on_message(decode(&reply)?) {
//!         Next::Apply(delivery) => { /* import delivery.records, keep delivery.cursor */; round.applied() }
//!         Next::Step(step) => step,
//!     };
//! }
//! ```
//!
//! The round refuses what would keep it from ending: a page that is neither caught up nor moves
//! the cursor, and a batch that repeats records already pushed. A saved cursor is used only
//! within the log it belongs to: when the relay's log is another (its storage was replaced) or
//! shorter than the cursor, the round pulls from the start, and pushes again whatever the
//! relay's clock says it lacks.

use super::batch::Batch;
use super::encode::encode;
use super::message::{Cursor, Hello, LogId, Message, Page, Pull, Welcome};
use super::{MAX_BATCH_BYTES, MAX_RECORDS};
use crate::bundle::Record;
use crate::clock::VectorClock;
use crate::error::Error;
use crate::ids::DeviceId;

/// What a device brings to a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub device: DeviceId,
    pub space: String,
    /// What the device holds: per origin, the highest sequence number it has applied.
    pub clock: VectorClock,
    /// Where the last round with this relay left the device's pull (`None`: never pulled).
    pub cursor: Option<Cursor>,
}

/// What the caller does next.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Send these bytes (one message), then feed the next message that arrives (over HTTP: the
    /// response) to [`ClientRound::on_message`].
    Send(Vec<u8>),
    /// Offer a [`Batch`] the records of each listed origin after the listed sequence number, in
    /// sequence order, until it is full or they run out; then call [`ClientRound::push`].
    Collect(Vec<(DeviceId, u64)>),
    /// Nothing to send: feed the next message that arrives to [`ClientRound::on_message`].
    Wait,
    /// The round is complete.
    Done(Summary),
    /// The round failed with this error; nothing more is sent.
    Fail(Error),
}

/// What a message leads to.
#[derive(Debug, PartialEq)]
pub enum Next<'a> {
    /// Import these records and keep the cursor (together, ideally in one transaction); then call
    /// [`ClientRound::applied`].
    Apply(Delivery<'a>),
    /// Take this step.
    Step(Step),
}

/// One page's records, for the caller to import.
#[derive(Debug, PartialEq)]
pub struct Delivery<'a> {
    pub records: Vec<Record<'a>>,
    /// The cursor to keep once the records are imported.
    pub cursor: Cursor,
    pub progress: Progress,
}

/// How far a catch-up has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records received this round.
    pub received: u64,
    /// Records received this round plus those the relay says remain.
    pub total: u64,
}

/// What a completed round did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Records pushed.
    pub sent: u64,
    /// Records received.
    pub received: u64,
    /// What the relay said it durably holds, last (a device's records up to its entry here are
    /// acknowledged; the rest are pending).
    pub acked: VectorClock,
    /// The cursor to keep (it may be past the last delivery's, when the relay's last pages held
    /// no records).
    pub cursor: Cursor,
    /// True when the relay announced records past `cursor` during the round: run another.
    pub behind: bool,
}

/// Where a round stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitWelcome,
    Collecting,
    AwaitPushed,
    AwaitPage,
    Applying { caught_up: bool },
    Over,
}

/// One round of push-then-pull, from the device's side.
#[derive(Debug, Clone)]
pub struct ClientRound {
    phase: Phase,
    local: VectorClock,
    saved: Option<Cursor>,
    log: LogId,
    position: u64,
    /// Per origin: what the relay holds or has been pushed this round.
    pushed: VectorClock,
    acked: VectorClock,
    wanted: Vec<(DeviceId, u64)>,
    sent: u64,
    /// Records of the push awaiting its `Pushed`, and of the pushes acknowledged so far.
    in_flight: u64,
    acknowledged: u64,
    received: u64,
    notified: u64,
}

impl ClientRound {
    /// A round for `local`, and its first step (sending Hello).
    pub fn start(local: Local) -> (ClientRound, Step) {
        let Local {
            device,
            space,
            clock,
            cursor,
        } = local;
        let mut round = ClientRound {
            phase: Phase::AwaitWelcome,
            local: clock.clone(),
            saved: cursor,
            log: LogId([0; 16]),
            position: 0,
            pushed: VectorClock::new(),
            acked: VectorClock::new(),
            wanted: Vec::new(),
            sent: 0,
            in_flight: 0,
            acknowledged: 0,
            received: 0,
            notified: 0,
        };
        let hello = Message::Hello(Hello {
            device,
            space,
            clock,
        });
        let step = round.send(&hello);
        (round, step)
    }

    /// Takes the next message from the relay.
    pub fn on_message<'m>(&mut self, message: Message<'m>) -> Next<'m> {
        let step = match (self.phase, message) {
            (Phase::Over, _) => Step::Fail(over()),
            (_, Message::Ping(nonce)) => self.send(&Message::Pong(nonce)),
            (_, Message::Pong(_)) => Step::Wait,
            (_, Message::Notify(head)) => {
                self.notified = self.notified.max(head);
                Step::Wait
            }
            (_, Message::Error(refusal)) => self.fail(refusal.into_error()),
            (Phase::AwaitWelcome, Message::Welcome(welcome)) => self.welcomed(welcome),
            (Phase::AwaitPushed, Message::Pushed(clock)) => {
                self.acked = clock;
                self.acknowledged += std::mem::take(&mut self.in_flight);
                self.next_push()
            }
            (Phase::AwaitPage, Message::Page(page)) => return self.paged(page),
            (phase, other) => self.fail(Error::Protocol(format!(
                "unexpected {} message {}",
                other.name(),
                match phase {
                    Phase::AwaitWelcome => "instead of Welcome",
                    Phase::AwaitPushed => "instead of Pushed",
                    Phase::AwaitPage => "instead of Page",
                    _ => "while no answer was awaited",
                }
            ))),
        };
        Next::Step(step)
    }

    /// Takes the batch gathered for a [`Step::Collect`]; an empty batch ends the push.
    pub fn push(&mut self, batch: Batch) -> Step {
        if self.phase != Phase::Collecting {
            return self.misuse("push without a Collect step");
        }
        if batch.is_empty() {
            return self.pull();
        }
        let mut pushed = self.pushed.clone();
        for dot in batch.dots() {
            let wanted = self.wanted.iter().any(|(origin, _)| *origin == dot.origin);
            if !wanted || dot.seq <= pushed.get(&dot.origin) {
                return self.misuse(&format!(
                    "record {dot} was not asked for, or not in sequence order"
                ));
            }
            pushed.set(dot.origin, dot.seq);
        }
        self.pushed = pushed;
        self.sent += batch.len() as u64;
        self.in_flight = batch.len() as u64;
        self.phase = Phase::AwaitPushed;
        Step::Send(batch.into_push())
    }

    /// Records pushed this round that the relay has acknowledged holding (what a round cut short
    /// still sent).
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged
    }

    /// Reports that the records of the last [`Next::Apply`] were imported.
    pub fn applied(&mut self) -> Step {
        match self.phase {
            Phase::Applying { caught_up: true } => self.done(),
            Phase::Applying { caught_up: false } => self.pull(),
            _ => self.misuse("applied without an Apply step"),
        }
    }

    fn welcomed(&mut self, welcome: Welcome) -> Step {
        self.log = welcome.log;
        self.position = match self.saved {
            Some(cursor) if cursor.log == welcome.log && cursor.position <= welcome.head => {
                cursor.position
            }
            _ => 0,
        };
        self.pushed = welcome.clock.clone();
        self.acked = welcome.clock;
        self.next_push()
    }

    /// Asks for the next batch to push, or goes on to pulling when the relay lacks nothing.
    fn next_push(&mut self) -> Step {
        self.wanted = self
            .local
            .iter()
            .map(|(origin, _)| (*origin, self.pushed.get(origin)))
            .filter(|(origin, after)| self.local.get(origin) > *after)
            .collect();
        if self.wanted.is_empty() {
            return self.pull();
        }
        self.phase = Phase::Collecting;
        Step::Collect(self.wanted.clone())
    }

    fn pull(&mut self) -> Step {
        self.phase = Phase::AwaitPage;
        self.send(&Message::Pull(Pull {
            after: self.position,
            max_records: MAX_RECORDS as u64,
            max_bytes: MAX_BATCH_BYTES as u64,
        }))
    }

    fn paged<'m>(&mut self, page: Page<'m>) -> Next<'m> {
        let moves_on = page.next > self.position;
        if page.next < self.position || (!moves_on && (!page.caught_up || !page.records.is_empty()))
        {
            return Next::Step(self.fail(Error::Protocol(format!(
                "a page after position {} that ends at {} ({} records, {})",
                self.position,
                page.next,
                page.records.len(),
                if page.caught_up {
                    "caught up"
                } else {
                    "not caught up"
                }
            ))));
        }
        self.position = page.next;
        if page.records.is_empty() {
            return Next::Step(if page.caught_up {
                self.done()
            } else {
                self.pull()
            });
        }
        self.received += page.records.len() as u64;
        self.phase = Phase::Applying {
            caught_up: page.caught_up,
        };
        Next::Apply(Delivery {
            records: page.records,
            cursor: self.cursor(),
            progress: Progress {
                received: self.received,
                total: self.received.saturating_add(page.remaining),
            },
        })
    }

    fn cursor(&self) -> Cursor {
        Cursor {
            log: self.log,
            position: self.position,
        }
    }

    fn done(&mut self) -> Step {
        self.phase = Phase::Over;
        Step::Done(Summary {
            sent: self.sent,
            received: self.received,
            acked: std::mem::take(&mut self.acked),
            cursor: self.cursor(),
            behind: self.notified > self.position,
        })
    }

    fn send(&mut self, message: &Message<'_>) -> Step {
        match encode(message) {
            Ok(bytes) => Step::Send(bytes),
            Err(error) => self.fail(error),
        }
    }

    fn fail(&mut self, error: Error) -> Step {
        self.phase = Phase::Over;
        Step::Fail(error)
    }

    /// A call out of turn: the caller's bug, which ends the round.
    fn misuse(&mut self, what: &str) -> Step {
        if self.phase == Phase::Over {
            return Step::Fail(over());
        }
        self.fail(Error::Internal(format!("sync round: {what}")))
    }
}

fn over() -> Error {
    Error::Internal("sync round: called after the round ended".into())
}
