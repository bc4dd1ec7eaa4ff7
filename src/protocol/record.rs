//! One record inside a `Push` or a `Page`: a MessagePack byte string holding the record's
//! canonical encoding `[origin, seq, hlc, clock, changes]`, the very bytes its digest is the hash
//! of ([`bundle::digest`](crate::bundle::digest)). Wrapping each record lets a relay store and
//! forward it untouched, and compare two records by their bytes, after reading only its origin and
//! sequence number at fixed offsets. Reading checks the same bounds as bundle reading (counters
//! at most 2^53 − 1, clocks at most 2^62) and refuses any encoding but the canonical one, so equal
//! records are always equal bytes.

use crate::bundle::digest::{record_digest, record_prefix};
use crate::bundle::{Record, MAX_HLC, MAX_SEQ};
use crate::codec::{write, DecodeError, Reader};
use crate::ids::Dot;

/// The fewest bytes one record element can take: a byte-string header (2) and the smallest
/// record (1 + 18 + 1 + 1 + 1 + 2).
pub const MIN_ELEMENT_LEN: usize = 26;

/// The length of the byte-string header for `len` bytes.
pub fn bin_header_len(len: usize) -> usize {
    match len {
        0..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

/// Appends one record element: the byte-string header, `prefix` (the record's encoding up to its
/// change set, from [`record_prefix`]) and the change set.
pub fn write_element(out: &mut Vec<u8>, prefix: &[u8], changes: &[u8]) {
    write::bin_len(out, prefix.len() + changes.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(changes);
}

/// Buffers reused from record to record while reading.
#[derive(Default)]
pub struct Scratch {
    clock: Vec<u8>,
    prefix: Vec<u8>,
}

/// Reads one record element, borrowing its change set from the input.
pub fn read_element<'a>(
    reader: &mut Reader<'a>,
    scratch: &mut Scratch,
) -> Result<Record<'a>, DecodeError> {
    let bytes = reader.bin()?;
    let mut inner = Reader::new(bytes);
    inner.fields(5, "a record")?;
    let origin = inner.device()?;
    let seq = inner.uint()?;
    if seq == 0 || seq > MAX_SEQ {
        return Err(format!("record sequence number {seq} out of range"));
    }
    let hlc = inner.uint()?;
    if hlc > MAX_HLC {
        return Err(format!("record clock {hlc} out of range"));
    }
    let clock = inner.clock()?;
    if clock.iter().any(|(_, counter)| *counter > MAX_SEQ) {
        return Err("a counter of a causal context is out of range".into());
    }
    let changes = inner.bin()?;
    inner.finish("record")?;
    let dot = Dot::new(origin, seq);
    scratch.clock.clear();
    write::clock(&mut scratch.clock, &clock);
    scratch.prefix.clear();
    record_prefix(dot, hlc, &scratch.clock, changes.len(), &mut scratch.prefix);
    // The change set ends the record, so the bytes before it are the prefix as read.
    let read_prefix = bytes.get(..bytes.len().saturating_sub(changes.len()));
    if read_prefix != Some(&scratch.prefix[..]) {
        return Err(format!("record {dot} is not in its canonical encoding"));
    }
    Ok(Record {
        dot,
        hlc,
        clock,
        changes,
        digest: record_digest(dot, hlc, &scratch.clock, changes),
    })
}
