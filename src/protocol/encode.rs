//! Writing messages: every [`Message`] in its canonical form (shortest integers, as
//! [`codec::write`](crate::codec::write) writes them), so equal messages are equal bytes and the
//! golden tests can compare bytes. Records go through a [`Batch`], the same path a device's push
//! and a relay's page take.

use super::batch::Batch;
use super::message::{Message, Refusal};
use super::{kind, MAX_MESSAGE_BYTES, MAX_RECORDS, MAX_SPACE_BYTES, VERSION};
use crate::bundle::Record;
use crate::codec::write;
use crate::error::{Error, Result};

/// Writes the array header of a message of `kind` with `fields` fields after the version and kind.
pub(super) fn head(out: &mut Vec<u8>, kind: u64, fields: usize) {
    write::array_len(out, 2 + fields);
    write::uint(out, VERSION);
    write::uint(out, kind);
}

/// Encodes a message. Fails for a space name that is empty or longer than [`MAX_SPACE_BYTES`]
/// (`ERR_INVALID_ARGUMENT`), and for records that do not fit one message (more than
/// [`MAX_RECORDS`], or over [`MAX_MESSAGE_BYTES`]: `ERR_TOO_LARGE`).
pub fn encode(message: &Message<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match message {
        Message::Error(refusal) => refusal_into(&mut out, refusal),
        Message::Hello(hello) => {
            if hello.space.is_empty() || hello.space.len() > MAX_SPACE_BYTES {
                return Err(Error::InvalidArgument(format!(
                    "a space name takes 1 to {MAX_SPACE_BYTES} bytes, not {}",
                    hello.space.len()
                )));
            }
            head(&mut out, kind::HELLO, 3);
            write::device(&mut out, &hello.device);
            write::str(&mut out, &hello.space);
            write::clock(&mut out, &hello.clock);
        }
        Message::Welcome(welcome) => {
            head(&mut out, kind::WELCOME, 4);
            versions_into(&mut out, &welcome.versions);
            write::bin(&mut out, &welcome.log.0);
            write::uint(&mut out, welcome.head);
            write::clock(&mut out, &welcome.clock);
        }
        Message::Push(records) => return batch_of(records).map(Batch::into_push),
        Message::Pushed(clock) => {
            head(&mut out, kind::PUSHED, 1);
            write::clock(&mut out, clock);
        }
        Message::Pull(pull) => {
            head(&mut out, kind::PULL, 3);
            write::uint(&mut out, pull.after);
            write::uint(&mut out, pull.max_records);
            write::uint(&mut out, pull.max_bytes);
        }
        Message::Page(page) => {
            return batch_of(&page.records)
                .map(|batch| batch.into_page(page.next, page.remaining, page.caught_up))
        }
        Message::Notify(head_position) => counter_message(&mut out, kind::NOTIFY, *head_position),
        Message::Ping(nonce) => counter_message(&mut out, kind::PING, *nonce),
        Message::Pong(nonce) => counter_message(&mut out, kind::PONG, *nonce),
    }
    Ok(out)
}

fn refusal_into(out: &mut Vec<u8>, refusal: &Refusal) {
    head(out, kind::ERROR, 4);
    write::str(out, &refusal.code);
    write::str(out, &refusal.message);
    match refusal.retry_after_ms {
        Some(ms) => write::uint(out, ms),
        None => write::nil(out),
    }
    versions_into(out, &refusal.versions);
}

fn versions_into(out: &mut Vec<u8>, versions: &[u64]) {
    write::array_len(out, versions.len());
    for version in versions {
        write::uint(out, *version);
    }
}

fn counter_message(out: &mut Vec<u8>, kind: u64, value: u64) {
    head(out, kind, 1);
    write::uint(out, value);
}

/// All of `records` in one batch, or an error when they do not fit one message.
fn batch_of(records: &[Record<'_>]) -> Result<Batch> {
    let mut batch = Batch::new(MAX_RECORDS as u64, MAX_MESSAGE_BYTES as u64);
    let mut clock = Vec::new();
    for record in records {
        clock.clear();
        write::clock(&mut clock, &record.clock);
        if !batch.offer(record.dot, record.hlc, &clock, record.changes)? {
            return Err(Error::TooLarge(format!(
                "{} records do not fit one message (at most {MAX_RECORDS} records and \
                 {MAX_MESSAGE_BYTES} bytes)",
                records.len()
            )));
        }
    }
    Ok(batch)
}
