//! Reading messages from untrusted bytes. [`decode`] checks the size first, then the version
//! (before anything else, so a later version may change everything after it), then the kind and
//! its exact number of fields, then each field with its bounds, and refuses bytes after the
//! message. Every length is checked against the bytes left before anything is allocated
//! ([`Reader`]), lists have fixed maxima, and records borrow their change sets from the input. A
//! refusal is `ERR_TOO_LARGE` (over [`MAX_MESSAGE_BYTES`]) or `ERR_PROTOCOL` (anything else,
//! [`Error::ProtocolVersion`] for a version this build does not speak); nothing panics.

use super::message::{Hello, LogId, Message, Page, Pull, Refusal, Welcome};
use super::record::{read_element, Scratch, MIN_ELEMENT_LEN};
use super::{
    kind, MAX_MESSAGE_BYTES, MAX_RECORDS, MAX_SPACE_BYTES, MAX_VERSIONS, SUPPORTED_VERSIONS,
};
use crate::bundle::{Record, MAX_SEQ};
use crate::clock::VectorClock;
use crate::codec::{DecodeError, Reader};
use crate::error::{Error, Result};

/// Decodes one message, borrowing its records' change sets from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Message<'_>> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(Error::TooLarge(format!(
            "a message of {} bytes exceeds the limit of {MAX_MESSAGE_BYTES} bytes",
            bytes.len()
        )));
    }
    let mut reader = Reader::new(bytes);
    let protocol = |e: DecodeError| Error::Protocol(format!("malformed message: {e}"));
    let len = reader.array_len(1).map_err(protocol)?;
    if len < 2 {
        return Err(Error::Protocol(format!(
            "a message of {len} fields has no version and kind"
        )));
    }
    let version = reader.uint().map_err(protocol)?;
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(Error::ProtocolVersion {
            ours: SUPPORTED_VERSIONS.to_vec(),
            theirs: vec![version],
        });
    }
    let kind = reader.uint().map_err(protocol)?;
    let (name, fields) =
        shape(kind).ok_or_else(|| Error::Protocol(format!("unknown message kind {kind}")))?;
    if len - 2 != fields {
        return Err(Error::Protocol(format!(
            "a {name} message has {} fields after its version and kind, not {fields}",
            len - 2
        )));
    }
    let in_kind = |e: DecodeError| Error::Protocol(format!("malformed {name} message: {e}"));
    let message = body(kind, &mut reader).map_err(in_kind)?;
    reader.finish("message").map_err(in_kind)?;
    Ok(message)
}

/// A kind's name and how many fields follow its version and kind; `None` for an unknown kind.
fn shape(kind: u64) -> Option<(&'static str, usize)> {
    Some(match kind {
        kind::ERROR => ("Error", 4),
        kind::HELLO => ("Hello", 3),
        kind::WELCOME => ("Welcome", 4),
        kind::PUSH => ("Push", 1),
        kind::PUSHED => ("Pushed", 1),
        kind::PULL => ("Pull", 3),
        kind::PAGE => ("Page", 4),
        kind::NOTIFY => ("Notify", 1),
        kind::PING => ("Ping", 1),
        kind::PONG => ("Pong", 1),
        _ => return None,
    })
}

/// The fields of a message of a known `kind`.
fn body<'a>(kind: u64, reader: &mut Reader<'a>) -> Result<Message<'a>, DecodeError> {
    Ok(match kind {
        kind::ERROR => Message::Error(Refusal {
            code: reader.str()?.to_owned(),
            message: reader.str()?.to_owned(),
            retry_after_ms: match reader.nil()? {
                true => None,
                false => Some(counter(reader, "a retry delay")?),
            },
            versions: versions(reader)?,
        }),
        kind::HELLO => Message::Hello(Hello {
            device: reader.device()?,
            space: space(reader)?,
            clock: clock(reader, "the device's clock")?,
        }),
        kind::WELCOME => Message::Welcome(Welcome {
            versions: versions(reader)?,
            log: LogId(reader.id()?),
            head: counter(reader, "the head position")?,
            clock: clock(reader, "the relay's clock")?,
        }),
        kind::PUSH => Message::Push(records(reader)?),
        kind::PUSHED => Message::Pushed(clock(reader, "the relay's clock")?),
        kind::PULL => Message::Pull(Pull {
            after: counter(reader, "the pull position")?,
            max_records: counter(reader, "the record limit")?,
            max_bytes: counter(reader, "the byte limit")?,
        }),
        kind::PAGE => Message::Page(Page {
            records: records(reader)?,
            next: counter(reader, "the next position")?,
            remaining: counter(reader, "the remaining count")?,
            caught_up: reader.bool()?,
        }),
        kind::NOTIFY => Message::Notify(counter(reader, "the head position")?),
        kind::PING => Message::Ping(counter(reader, "the nonce")?),
        _ => Message::Pong(counter(reader, "the nonce")?),
    })
}

/// A non-negative integer of at most [`MAX_SEQ`] (exact as a JavaScript number).
fn counter(reader: &mut Reader<'_>, what: &str) -> Result<u64, DecodeError> {
    match reader.uint()? {
        n if n <= MAX_SEQ => Ok(n),
        n => Err(format!("{what} {n} is out of range")),
    }
}

/// A vector clock whose counters are all within [`MAX_SEQ`].
fn clock(reader: &mut Reader<'_>, what: &str) -> Result<VectorClock, DecodeError> {
    let clock = reader.clock()?;
    if clock.iter().any(|(_, seq)| *seq > MAX_SEQ) {
        return Err(format!("a counter of {what} is out of range"));
    }
    Ok(clock)
}

fn space(reader: &mut Reader<'_>) -> Result<String, DecodeError> {
    let space = reader.str()?;
    if space.is_empty() || space.len() > MAX_SPACE_BYTES {
        return Err(format!(
            "a space name takes 1 to {MAX_SPACE_BYTES} bytes, not {}",
            space.len()
        ));
    }
    Ok(space.to_owned())
}

fn versions(reader: &mut Reader<'_>) -> Result<Vec<u64>, DecodeError> {
    let len = reader.array_len(1)?;
    if len > MAX_VERSIONS {
        return Err(format!("{len} versions, more than {MAX_VERSIONS}"));
    }
    (0..len).map(|_| counter(reader, "a version")).collect()
}

fn records<'a>(reader: &mut Reader<'a>) -> Result<Vec<Record<'a>>, DecodeError> {
    let len = reader.array_len(MIN_ELEMENT_LEN)?;
    if len > MAX_RECORDS {
        return Err(format!("{len} records, more than {MAX_RECORDS}"));
    }
    let mut scratch = Scratch::default();
    (0..len)
        .map(|_| read_element(reader, &mut scratch))
        .collect()
}
