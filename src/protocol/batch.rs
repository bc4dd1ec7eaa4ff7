//! Building the records of one `Push` or `Page` within the protocol's bounds.
//!
//! A [`Batch`] takes records one at a time and says when it is full: at `max_records` records, or
//! when the next record would take the message past `max_bytes`, whichever comes first. Its first
//! record is always taken, even alone over `max_bytes`, so a large record still travels, unless
//! the message it makes would exceed [`MAX_MESSAGE_BYTES`], which refuses the record with
//! `ERR_TOO_LARGE`. A record not taken is offered to the next batch. The records are written once,
//! as they come; finishing prepends the message's few header bytes.

use super::encode::head;
use super::record::{bin_header_len, write_element};
use super::{kind, MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, MAX_RECORDS};
use crate::bundle::digest::record_prefix;
use crate::codec::write;
use crate::error::{Error, Result};
use crate::ids::Dot;

/// The most bytes a `Push` or `Page` takes besides its records (a `Page`'s header, count and
/// trailing fields take at most 25).
const OVERHEAD: usize = 32;

/// The records of one `Push` or `Page`, as they are offered.
#[derive(Debug, Clone)]
pub struct Batch {
    max_records: usize,
    max_bytes: usize,
    elements: Vec<u8>,
    dots: Vec<Dot>,
    prefix: Vec<u8>,
}

impl Default for Batch {
    /// A batch within the protocol's page bounds: [`MAX_RECORDS`] and [`MAX_BATCH_BYTES`].
    fn default() -> Self {
        Batch::new(MAX_RECORDS as u64, MAX_BATCH_BYTES as u64)
    }
}

impl Batch {
    /// A batch of at most `max_records` records (at least 1, at most [`MAX_RECORDS`]) in a message
    /// of at most `max_bytes` bytes (at most [`MAX_MESSAGE_BYTES`]; a single record may exceed it).
    pub fn new(max_records: u64, max_bytes: u64) -> Batch {
        let clamp = |value: u64, max: usize| usize::try_from(value).map_or(max, |v| v.min(max));
        Batch {
            max_records: clamp(max_records, MAX_RECORDS).max(1),
            max_bytes: clamp(max_bytes, MAX_MESSAGE_BYTES),
            elements: Vec::new(),
            dots: Vec::new(),
            prefix: Vec::new(),
        }
    }

    /// Offers a record whose causal context is already encoded (`clock`, the canonical map form
    /// the change log keeps). `Ok(true)`: taken. `Ok(false)`: the batch is full and the record
    /// was not taken. An error when the record alone makes a message over [`MAX_MESSAGE_BYTES`].
    pub fn offer(&mut self, dot: Dot, hlc: u64, clock: &[u8], changes: &[u8]) -> Result<bool> {
        if self.dots.len() >= self.max_records {
            return Ok(false);
        }
        self.prefix.clear();
        record_prefix(dot, hlc, clock, changes.len(), &mut self.prefix);
        let record_len = self.prefix.len() + changes.len();
        let size = self.size() + bin_header_len(record_len) + record_len;
        if size > MAX_MESSAGE_BYTES && self.dots.is_empty() {
            return Err(Error::TooLarge(format!(
                "record {dot} takes {record_len} bytes, more than one message may carry \
                 ({MAX_MESSAGE_BYTES} bytes)"
            )));
        }
        // The first record is taken whatever `max_bytes` says; later ones only within it.
        if size > MAX_MESSAGE_BYTES || (size > self.max_bytes && !self.dots.is_empty()) {
            return Ok(false);
        }
        write_element(&mut self.elements, &self.prefix, changes);
        self.dots.push(dot);
        Ok(true)
    }

    /// How many records were taken.
    pub fn len(&self) -> usize {
        self.dots.len()
    }

    /// True when no record was taken.
    pub fn is_empty(&self) -> bool {
        self.dots.is_empty()
    }

    /// The dots of the records taken, in the order they were offered.
    pub fn dots(&self) -> &[Dot] {
        &self.dots
    }

    /// An upper bound of the size of the message the batch makes.
    pub fn size(&self) -> usize {
        OVERHEAD + self.elements.len()
    }

    /// The batch as a `Push` message.
    pub fn into_push(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size());
        head(&mut out, kind::PUSH, 1);
        self.records_into(&mut out);
        out
    }

    /// The batch as a `Page` message.
    pub fn into_page(self, next: u64, remaining: u64, caught_up: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size());
        head(&mut out, kind::PAGE, 4);
        self.records_into(&mut out);
        write::uint(&mut out, next);
        write::uint(&mut out, remaining);
        write::bool(&mut out, caught_up);
        out
    }

    fn records_into(self, out: &mut Vec<u8>) {
        write::array_len(out, self.dots.len());
        out.extend_from_slice(&self.elements);
    }
}
