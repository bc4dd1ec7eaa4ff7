//! One record inside a `Push` or a `Page`: a MessagePack byte string holding the record's
//! canonical encoding `[origin, seq, hlc, clock, changes]`, the very bytes its digest is the hash
//! of ([`bundle::digest`](crate::bundle::digest)). Wrapping each record lets a relay store and
//! forward it untouched, and compare two records by their bytes, after reading only its origin and
//! sequence number at fixed offsets. Reading checks the same bounds as bundle reading (counters
//! at most 2^53 − 1, clocks at most 2^62) and refuses any encoding but the canonical one, so equal
//! records are always equal bytes.

use crate::bundle::digest::record_prefix;
use crate::bundle::{parse_record, Record};
use crate::codec::{write, DecodeError, Reader};

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
    let record = parse_record(&mut inner, &mut scratch.clock)?;
    inner.finish("record")?;
    let Record {
        dot, hlc, changes, ..
    } = record;
    scratch.prefix.clear();
    record_prefix(dot, hlc, &scratch.clock, changes.len(), &mut scratch.prefix);
    // The change set ends the record, so the bytes before it are the prefix as read.
    let read_prefix = bytes.get(..bytes.len().saturating_sub(changes.len()));
    if read_prefix != Some(&scratch.prefix[..]) {
        return Err(format!("record {dot} is not in its canonical encoding"));
    }
    Ok(record)
}
