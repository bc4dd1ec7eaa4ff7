//! The network sync protocol, sans-IO: messages in, messages out. No sockets, timers, URLs or
//! SQL: [`decode()`] and [`encode()`] turn bytes into [`Message`]s and back, a [`Batch`] builds the
//! records of one message within the page bounds, and a [`ClientRound`] runs a device's round
//! (push what the relay lacks, then pull until caught up) as a state machine whose caller does the
//! I/O. The relay (TypeScript) implements the same wire format from the description below; the
//! golden vectors in `tests/fixtures/protocol/v1.txt` pin it byte for byte.
//!
//! | module | owns |
//! |---|---|
//! | [`message`] | the messages as Rust values |
//! | [`encode`](mod@encode), [`decode`](mod@decode) | the wire format, both ways |
//! | [`record`] | one record inside a `Push` or `Page` |
//! | [`batch`] | page bounds: how many records one message takes |
//! | [`refusal`] | a relay's error codes as the crate's [`Error`](crate::Error)s |
//! | [`round`] | the device's round |
//! | [`memory`] | an in-memory relay over one space, for tests and as the relay rules' reference |
//!
//! ## Wire format, version 1
//!
//! Every message is one MessagePack array `[version, kind, fields…]`, carried whole as one HTTP
//! body or one binary WebSocket frame, never larger than [`MAX_MESSAGE_BYTES`]. `version` is `1`;
//! a decoder reads it before anything else and refuses a version it does not speak, so a later
//! version may change everything after it. Each kind has an exact number of fields, and nothing
//! may follow the array. Encoders write integers in their shortest form (readers accept any
//! width) and never write a map or array other than those below.
//!
//! | kind | message | sent by | fields after `[version, kind]` | answered by |
//! |---|---|---|---|---|
//! | 0 | `Error` | relay | `code`, `message`, `retry_after_ms`, `versions` | — |
//! | 1 | `Hello` | device | `device`, `space`, `clock` | `Welcome` |
//! | 2 | `Welcome` | relay | `versions`, `log`, `head`, `clock` | — |
//! | 3 | `Push` | device | `records` | `Pushed` |
//! | 4 | `Pushed` | relay | `clock` | — |
//! | 5 | `Pull` | device | `after`, `max_records`, `max_bytes` | `Page` |
//! | 6 | `Page` | relay | `records`, `next`, `remaining`, `caught_up` | — |
//! | 7 | `Notify` | relay | `head` | — (WebSocket only) |
//! | 8 | `Ping` | either | `nonce` | `Pong` |
//! | 9 | `Pong` | either | `nonce` | — |
//!
//! | field | MessagePack | meaning |
//! |---|---|---|
//! | `code` | str | a stable error code, `"ERR_…"` (see [`refusal`]) |
//! | `message` | str | a human-readable reason; never contains a token |
//! | `retry_after_ms` | uint or nil | for `ERR_RATE_LIMITED`: milliseconds to wait; otherwise nil |
//! | `versions` | array of uint, ≤ [`MAX_VERSIONS`] | every protocol version the relay speaks, increasing (in `Error`: only when refusing a version, else empty) |
//! | `device` | bin, 16 bytes | the device id; must be the token's `sub` |
//! | `space` | str, 1 to [`MAX_SPACE_BYTES`] bytes | the space; must be the token's |
//! | `clock` | map of bin (16 bytes) to uint | a vector clock as in bundles: devices in strictly increasing byte order, no zero counters. `Hello`: per origin, the highest sequence number the device has applied. `Welcome`, `Pushed`: per origin, the `n` such that the relay durably holds every record `1..=n` of it |
//! | `log` | bin, 16 bytes | the identity of the space's log at the relay (below) |
//! | `head` | uint | the position of the last record in the space's log (0: empty) |
//! | `records` | array of bin, ≤ [`MAX_RECORDS`] | records, each a byte string holding the record's canonical encoding (below) |
//! | `after` | uint | the position after which records are wanted (0: from the start) |
//! | `max_records`, `max_bytes` | uint | the most records and bytes the device wants in the page |
//! | `next` | uint | the position of the page's last record (`after` itself when empty) |
//! | `remaining` | uint | how many records follow `next` (an estimate is fine; 0 when caught up) |
//! | `caught_up` | bool | true when the relay had nothing after `next` when it answered |
//! | `nonce` | uint | any number, echoed by `Pong` |
//!
//! Every uint above (positions, counters, nonces, versions, delays) is at most 2^53 − 1, so it is
//! exact as a JavaScript number; a larger one is malformed.
//!
//! **Records.** Each element of `records` is a MessagePack bin whose content is the record in the
//! bundle's record form `[origin, seq, hlc, clock, changes]`
//! ([`bundle`](crate::bundle)), in its canonical encoding: the bytes whose BLAKE3 hash is the
//! record's digest. Counters (`seq` ≥ 1 and every clock entry) are at most 2^53 − 1 and `hlc` at
//! most 2^62; `changes` is the change set as an opaque byte string, which a relay never decodes
//! (so end-to-end encryption can later wrap it alone). The content always begins `95 c4 10`, then
//! the 16 bytes of `origin` (offsets 3 to 18), then `seq` at offset 19 as a canonical uint (one
//! byte `00`–`7f`, or `cc`, `cd`, `ce`, `cf` followed by 1, 2, 4 or 8 big-endian bytes): what a relay
//! reads to store the record by `(space, origin, seq)` with its bytes untouched. Two records with
//! the same `(origin, seq)` are the same record exactly when their bytes are equal.
//!
//! **Positions and the log.** The relay appends each record it stores for the first time to the
//! space's log, at the next position (1, 2, 3, …). `log` is 16 random bytes the relay makes when
//! it starts a space's log and keeps with it; positions mean something only within one log, so a
//! relay whose storage was lost or replaced has a new `log`, and devices pull it from the start
//! (and push again what its clock says it lacks).
//!
//! ## Exchanges
//!
//! A device's round ([`round`]): `Hello` → `Welcome`; then, while the relay's clock lacks records
//! the device holds, `Push` → `Pushed`; then `Pull` → `Page` until a page is caught up. The relay
//! answers every `Hello`, `Push` and `Pull` with exactly one message, its answer or an `Error`, and
//! keeps no state between them (each HTTP request carries one message and its response the
//! answer; a WebSocket carries them in order). The relay's rules:
//!
//! - **Push** is all or nothing and answered only once durable. A record whose `(origin, seq)` the
//!   relay holds with the same bytes is already stored; with other bytes the push is refused
//!   with `ERR_RECORD_MISMATCH` and nothing of it is stored. `Pushed` carries the relay's clock
//!   after the push. A push carries at most [`MAX_RECORDS`] records.
//! - **Pull** is answered with the records after `after` in log order: at most
//!   `min(max_records, MAX_RECORDS)` of them, and no more than `min(max_bytes, MAX_BATCH_BYTES)`
//!   bytes of message, except that a page with any records holds at least one even when that
//!   record alone exceeds the byte bound (as [`Batch`] builds it). With nothing after `after` the
//!   answer is an empty page with `next = after` and `caught_up = true`: the relay always answers.
//!   A page that is not caught up has records or a `next` beyond `after`.
//! - **Notify** goes, on a WebSocket, to the space's other connected devices after records are
//!   stored: the device starts a round when `head` is past its cursor.
//! - **Ping** is answered with `Pong` and the same nonce, by either side.
//! - **Error** refuses the message it answers. Its form is the same in every protocol version, and a
//!   relay that refuses a version answers with a version-1 `Error` whose `code` is `ERR_PROTOCOL`
//!   and whose `versions` lists those it speaks, so any device can read the refusal.
//!
//! For example `Ping` with nonce 42 is the four bytes `93 01 08 2a`, and an empty `Page` at
//! position 7 is `96 01 06 90 07 00 c3`.

pub mod batch;
pub mod decode;
pub mod encode;
pub mod memory;
pub mod message;
pub mod record;
pub mod refusal;
pub mod round;

pub use batch::Batch;
pub use decode::decode;
pub use encode::encode;
pub use memory::MemoryRelay;
pub use message::{Cursor, Hello, LogId, Message, Page, Pull, Refusal, Welcome};
pub use round::{ClientRound, Delivery, Local, Next, Progress, Step, Summary};

/// The protocol version this build writes.
pub const VERSION: u64 = 1;
/// Every protocol version this build reads.
pub const SUPPORTED_VERSIONS: [u64; 1] = [VERSION];
/// The most records one `Push` or `Page` carries.
pub const MAX_RECORDS: usize = 1_000;
/// The size a `Push` or `Page` stays within unless its one record is larger (900 KB: under the 1
/// MiB WebSocket frames some runtimes still handle badly, with room for framing).
pub const MAX_BATCH_BYTES: usize = 900_000;
/// The largest message (16 MiB): a record larger than a page travels alone, up to this size; a
/// larger one is refused with `ERR_TOO_LARGE`. Half the strictest WebSocket limit among the
/// runtimes the relay targets (a Cloudflare Durable Object receives messages up to 32 MiB).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// The longest space name, in bytes of UTF-8.
pub const MAX_SPACE_BYTES: usize = 256;
/// The most versions a `versions` list may name.
pub const MAX_VERSIONS: usize = 64;

/// The kind number that follows the version in every message.
pub mod kind {
    pub const ERROR: u64 = 0;
    pub const HELLO: u64 = 1;
    pub const WELCOME: u64 = 2;
    pub const PUSH: u64 = 3;
    pub const PUSHED: u64 = 4;
    pub const PULL: u64 = 5;
    pub const PAGE: u64 = 6;
    pub const NOTIFY: u64 = 7;
    pub const PING: u64 = 8;
    pub const PONG: u64 = 9;
}

#[cfg(test)]
mod tests;
