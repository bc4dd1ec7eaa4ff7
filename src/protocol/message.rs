//! The protocol's messages as Rust values: one variant of [`Message`] per wire kind, and the few
//! value types their fields are made of ([`LogId`], [`Cursor`]). Records are the bundle's
//! [`Record`], borrowing their change sets from the bytes they were decoded from, so a page goes
//! from the wire to the store's import without copying row data. How each is written is in the
//! [module docs](super); this file only says what the fields mean.

use crate::bundle::Record;
use crate::clock::VectorClock;
use crate::ids::DeviceId;

/// One protocol message (of the version this build speaks).
#[derive(Debug, Clone, PartialEq)]
pub enum Message<'a> {
    /// A refusal: the answer to a message the relay will not or cannot serve.
    Error(Refusal),
    /// The first message of a round: who the device is and what it holds.
    Hello(Hello),
    /// The relay's answer to [`Hello`](Message::Hello).
    Welcome(Welcome),
    /// Records for the relay to store, at most [`MAX_RECORDS`](super::MAX_RECORDS).
    Push(Vec<Record<'a>>),
    /// The answer to a push, sent once the push is durable: the relay's clock after it.
    Pushed(VectorClock),
    /// A request for the records after a cursor position.
    Pull(Pull),
    /// The answer to a pull.
    Page(Page<'a>),
    /// Live push: the space's log has grown to this position (on a WebSocket; never answered).
    Notify(u64),
    /// A keep-alive probe, answered with a [`Pong`](Message::Pong) carrying the same nonce.
    Ping(u64),
    /// The answer to a [`Ping`](Message::Ping).
    Pong(u64),
}

impl Message<'_> {
    /// The message's name, as the module docs' table gives it (for error messages).
    pub fn name(&self) -> &'static str {
        match self {
            Message::Error(_) => "Error",
            Message::Hello(_) => "Hello",
            Message::Welcome(_) => "Welcome",
            Message::Push(_) => "Push",
            Message::Pushed(_) => "Pushed",
            Message::Pull(_) => "Pull",
            Message::Page(_) => "Page",
            Message::Notify(_) => "Notify",
            Message::Ping(_) => "Ping",
            Message::Pong(_) => "Pong",
        }
    }
}

/// What a device says first.
#[derive(Debug, Clone, PartialEq)]
pub struct Hello {
    /// The device; the relay checks it against its token.
    pub device: DeviceId,
    /// The space; the relay checks it against its token.
    pub space: String,
    /// What the device holds: per origin, the highest sequence number it has applied.
    pub clock: VectorClock,
}

/// What the relay answers a [`Hello`] with.
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    /// Every protocol version the relay speaks, in increasing order.
    pub versions: Vec<u64>,
    /// The identity of the space's log at the relay: positions are meaningful only within it.
    pub log: LogId,
    /// The position of the last record in the space's log (0 when it is empty).
    pub head: u64,
    /// What the relay holds durably: per origin, a sequence number `n` such that it holds every
    /// record `1..=n` of that origin.
    pub clock: VectorClock,
}

/// A request for a page of the space's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pull {
    /// The position after which records are wanted (0: from the start).
    pub after: u64,
    /// The most records the device wants in one page (the relay may send fewer).
    pub max_records: u64,
    /// The most bytes the device wants in one page (a single larger record is still sent).
    pub max_bytes: u64,
}

/// A page of the space's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<'a> {
    /// Records in log order, after the pull's `after` position.
    pub records: Vec<Record<'a>>,
    /// The position to pull after next: the last record's, or `after` itself when empty.
    pub next: u64,
    /// How many records follow `next` (an estimate, for progress; 0 when caught up).
    pub remaining: u64,
    /// True when the relay had nothing after `next` when it answered.
    pub caught_up: bool,
}

/// A relay's refusal, as it travels (the code is kept as a string, so an unknown code survives
/// decoding; [`Refusal::into_error`](Refusal::into_error) makes it an [`Error`](crate::Error)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A stable error code, such as `"ERR_FORBIDDEN"`.
    pub code: String,
    /// A human-readable reason (never the token).
    pub message: String,
    /// For `ERR_RATE_LIMITED`: how long to wait before trying again, in milliseconds.
    pub retry_after_ms: Option<u64>,
    /// When refusing a protocol version: every version the relay speaks (otherwise empty).
    pub versions: Vec<u64>,
}

/// The identity of one space's log at one relay: 16 random bytes the relay makes when it starts
/// the log. A relay that loses or replaces its storage has a new log, whose positions start over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogId(pub [u8; 16]);

/// How far a device has pulled a space's log: what it keeps between rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// The log the position belongs to.
    pub log: LogId,
    /// The position of the last record received (0: none yet).
    pub position: u64,
}
