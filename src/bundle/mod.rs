//! The bundle: a self-contained, versioned binary file carrying change-log records between
//! replicas over any transport. Pure: no I/O, no SQL.
//!
//! ## Format, version 2
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 6 | magic | ASCII `SQSYNC` |
//! | 6 | 2 | version | format version, big-endian: this build writes `2` and reads `1` and `2` |
//! | 8 | 2 | flags | big-endian bit set; bit 0 = signed, bit 1 = encrypted (reserved: must be 0) |
//! | 10 | n | body | MessagePack, below |
//! | 10+n | 32 | digest | BLAKE3, below |
//!
//! The body is `[id, source, created_at, schema_version, sender_clock, records]`: a 16-byte bundle
//! id (UUIDv7), the 16-byte id of the device that wrote the bundle, its wall time in milliseconds,
//! the schema version (0 until schema evolution lands), the sender's vector clock (a map of 16-byte
//! device id to counter, devices in increasing order: what the sender has applied, which
//! acknowledges those changes to the receiver), and the records. A record is `[origin, seq, hlc,
//! clock, changes]`: its dot (origin device and that device's counter), the origin's hybrid logical
//! clock at commit, its causal context (a clock, as above) and the change set as an opaque byte
//! string, exactly as stored in the change log ([`codec::changes`](crate::codec::changes)). A relay
//! can therefore route and deduplicate records by dot without decoding row data, and end-to-end
//! encryption can later wrap `changes` alone.
//!
//! The digest is the BLAKE3 hash of: the 10 header bytes, the body bytes that come before the first
//! record, and then, for each record in order, its 16-byte record digest (see [`digest`]). So a
//! change to any byte changes the digest, and a sender hashes each record once in its life.
//! Version 1 bundles (the same header and body) have as digest the SHA-256 of every byte before it.
//!
//! Counters are at most 2^53 − 1 and hybrid logical clocks at most 2^62; a record outside those
//! bounds is malformed. Reading checks the header and size first, then parses the whole body
//! (borrowing every record's change set from the input, so the records take memory in proportion
//! to their count, not their size) and verifies the digest before anything is applied.

pub mod digest;

use crate::clock::VectorClock;
use crate::codec::{write, Reader};
use crate::error::{Error, Result};
use crate::ids::{BundleId, DeviceId, Dot};

pub use digest::RecordDigest;

/// The first six bytes of every bundle.
pub const MAGIC: [u8; 6] = *b"SQSYNC";
/// The bundle format version this build writes.
pub const BUNDLE_VERSION: u16 = 2;
/// Bundles larger than this are refused before any parsing (256 MiB).
pub const MAX_BUNDLE_BYTES: usize = 256 << 20;
/// Largest change counter a record or clock may carry: 2^53 − 1, so that counters stay exact as
/// JavaScript numbers and in SQLite integers.
pub const MAX_SEQ: u64 = (1 << 53) - 1;
/// Largest hybrid logical clock a record may carry (2^62): far beyond any real wall clock, and low
/// enough that later local timestamps never overflow.
pub const MAX_HLC: u64 = 1 << 62;

const HEADER_LEN: usize = 10;
const DIGEST_LEN: usize = 32;
/// The fewest bytes a record can take in a body.
const MIN_RECORD_LEN: usize = 24;

/// One record, borrowing its change set from the bundle's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    pub dot: Dot,
    pub hlc: u64,
    pub clock: VectorClock,
    /// The encoded change set.
    pub changes: &'a [u8],
    pub digest: RecordDigest,
}

/// A bundle read and verified, its records borrowing from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle<'a> {
    pub version: u16,
    pub id: BundleId,
    pub source: DeviceId,
    pub created_at: u64,
    pub schema_version: u32,
    pub sender_clock: VectorClock,
    pub records: Vec<Record<'a>>,
    /// The bundle's digest: its identity, for recognising a bundle imported before.
    pub digest: [u8; 32],
}

/// One record, owned (for building bundles by hand).
#[derive(Debug, Clone, PartialEq)]
pub struct WireRecord {
    pub origin: DeviceId,
    pub seq: u64,
    pub hlc: u64,
    pub clock: VectorClock,
    /// The encoded change set.
    pub changes: Vec<u8>,
}

/// Everything a bundle carries besides its header and digest, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleBody {
    pub id: BundleId,
    pub source: DeviceId,
    pub created_at: u64,
    pub schema_version: u32,
    pub sender_clock: VectorClock,
    pub records: Vec<WireRecord>,
}

/// Writes a format-2 bundle record by record, hashing as it goes.
pub struct BundleWriter {
    out: Vec<u8>,
    hasher: digest::BundleHasher,
    records_left: usize,
}

impl BundleWriter {
    /// Starts a bundle of `records` records; `capacity` is a hint of its size in bytes.
    pub fn new(head: &BundleHead, records: usize, capacity: usize) -> BundleWriter {
        let mut out = Vec::with_capacity(capacity + 128);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&BUNDLE_VERSION.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        write::array_len(&mut out, 6);
        write::bin(&mut out, &head.id.0);
        write::device(&mut out, &head.source);
        write::uint(&mut out, head.created_at);
        write::uint(&mut out, u64::from(head.schema_version));
        write::clock(&mut out, &head.sender_clock);
        write::array_len(&mut out, records);
        BundleWriter {
            hasher: digest::BundleHasher::new(&out),
            out,
            records_left: records,
        }
    }

    /// Appends a record whose clock is already in its canonical encoding and whose digest is
    /// known (records in the change log keep theirs).
    pub fn record(
        &mut self,
        dot: Dot,
        hlc: u64,
        clock: &[u8],
        changes: &[u8],
        digest: &RecordDigest,
    ) {
        digest::record_prefix(dot, hlc, clock, changes.len(), &mut self.out);
        self.out.extend_from_slice(changes);
        self.hasher.record(digest);
        self.records_left = self.records_left.saturating_sub(1);
    }

    /// The finished bundle; an error if fewer records were written than announced.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        if self.records_left != 0 {
            return Err(Error::Internal(format!(
                "a bundle announced {} more records than it got",
                self.records_left
            )));
        }
        let digest = self.hasher.finish();
        self.out.extend_from_slice(&digest);
        Ok(self.out)
    }
}

/// The fields of a bundle besides its records.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleHead {
    pub id: BundleId,
    pub source: DeviceId,
    pub created_at: u64,
    pub schema_version: u32,
    pub sender_clock: VectorClock,
}

/// Encodes a bundle (format 2) from owned records, computing their digests.
pub fn encode(body: &BundleBody) -> Result<Vec<u8>> {
    let head = BundleHead {
        id: body.id,
        source: body.source,
        created_at: body.created_at,
        schema_version: body.schema_version,
        sender_clock: body.sender_clock.clone(),
    };
    let size = body.records.iter().map(|r| r.changes.len() + 64).sum();
    let mut writer = BundleWriter::new(&head, body.records.len(), size);
    for record in &body.records {
        let dot = Dot::new(record.origin, record.seq);
        let clock = digest::encode_clock(&record.clock);
        let record_digest = digest::record_digest(dot, record.hlc, &clock, &record.changes);
        writer.record(dot, record.hlc, &clock, &record.changes, &record_digest);
    }
    writer.finish()
}

/// Checks a bundle's header and size, parses its body and verifies its digest.
pub fn read(bytes: &[u8]) -> Result<Bundle<'_>> {
    read_with_limit(bytes, MAX_BUNDLE_BYTES)
}

/// [`read`] with an explicit size limit.
pub fn read_with_limit(bytes: &[u8], limit: usize) -> Result<Bundle<'_>> {
    if bytes.len() > limit {
        return Err(Error::BundleTooLarge {
            size: bytes.len(),
            limit,
        });
    }
    if bytes.len() < HEADER_LEN + DIGEST_LEN {
        return Err(Error::BundleMalformed(format!(
            "{} bytes is too short for a bundle",
            bytes.len()
        )));
    }
    if bytes[..6] != MAGIC {
        return Err(Error::BundleMalformed(
            "not a sqlite-sync-wasm bundle (bad magic bytes)".into(),
        ));
    }
    let version = u16::from_be_bytes([bytes[6], bytes[7]]);
    let flags = u16::from_be_bytes([bytes[8], bytes[9]]);
    if !(1..=BUNDLE_VERSION).contains(&version) || flags != 0 {
        return Err(Error::BundleVersion { version, flags });
    }
    let (content, stated) = bytes.split_at(bytes.len() - DIGEST_LEN);
    let mut parsed = parse(version, content).map_err(Error::BundleMalformed)?;
    if parsed.trailing != 0 {
        return Err(Error::BundleMalformed(format!(
            "{} bytes after the bundle body",
            parsed.trailing
        )));
    }
    let computed = parsed.digest(content);
    if computed.as_slice() != stated {
        return Err(Error::BundleTampered);
    }
    parsed.bundle.digest = computed;
    Ok(parsed.bundle)
}

/// Appends to `content` (a bundle's header and body) the digest its format version gives it: for
/// tools and tests that build bundles by hand. Bytes after the body are not covered by a format-2
/// digest (and a reader refuses them).
pub fn seal(content: &[u8]) -> Result<Vec<u8>> {
    if content.len() < HEADER_LEN {
        return Err(Error::BundleMalformed("too short to seal".into()));
    }
    let version = u16::from_be_bytes([content[6], content[7]]);
    let digest = match version {
        1 => digest::whole(content),
        _ => parse(version, content)
            .map_err(Error::BundleMalformed)?
            .digest(content),
    };
    let mut out = content.to_vec();
    out.extend_from_slice(&digest);
    Ok(out)
}

/// A parsed body, where its records start, and how many bytes follow it.
struct Parsed<'a> {
    bundle: Bundle<'a>,
    prefix_end: usize,
    trailing: usize,
}

impl Parsed<'_> {
    /// The digest the bundle's format version gives `content` (header and body).
    fn digest(&self, content: &[u8]) -> [u8; 32] {
        match self.bundle.version {
            1 => digest::whole(content),
            _ => {
                let mut hasher = digest::BundleHasher::new(&content[..self.prefix_end]);
                for record in &self.bundle.records {
                    hasher.record(&record.digest);
                }
                hasher.finish()
            }
        }
    }
}

fn parse(version: u16, content: &[u8]) -> std::result::Result<Parsed<'_>, String> {
    // The header was checked by the caller; the body follows it.
    let mut reader = Reader::new(&content[HEADER_LEN..]);
    reader.fields(6, "the bundle body")?;
    let id = BundleId(reader.id()?);
    let source = reader.device()?;
    let created_at = reader.uint()?;
    let schema_version =
        u32::try_from(reader.uint()?).map_err(|_| "schema version out of range".to_owned())?;
    let sender_clock = bounded_clock(&mut reader, "the sender clock")?;
    let count = reader.array_len(MIN_RECORD_LEN)?;
    let prefix_end = HEADER_LEN + reader.position();
    let mut records = Vec::with_capacity(count);
    let mut clock_bytes = Vec::new();
    for _ in 0..count {
        records.push(parse_record(&mut reader, &mut clock_bytes)?);
    }
    let trailing = reader.rest().len();
    Ok(Parsed {
        bundle: Bundle {
            version,
            id,
            source,
            created_at,
            schema_version,
            sender_clock,
            records,
            digest: [0; 32],
        },
        prefix_end,
        trailing,
    })
}

/// One record of a body, with its digest (computed over its canonical encoding); `clock_bytes`
/// holds the canonical encoding of its causal context afterwards. The protocol reads its records
/// with this too.
#[inline(never)]
pub(crate) fn parse_record<'a>(
    reader: &mut Reader<'a>,
    clock_bytes: &mut Vec<u8>,
) -> std::result::Result<Record<'a>, String> {
    reader.fields(5, "a record")?;
    let origin = reader.device()?;
    let seq = reader.uint()?;
    if seq == 0 || seq > MAX_SEQ {
        return Err(format!("record sequence number {seq} out of range"));
    }
    let hlc = reader.uint()?;
    if hlc > MAX_HLC {
        return Err(format!("record clock {hlc} out of range"));
    }
    let clock = bounded_clock(reader, "a causal context")?;
    let changes = reader.bin()?;
    let dot = Dot::new(origin, seq);
    clock_bytes.clear();
    write::clock(clock_bytes, &clock);
    let digest = digest::record_digest(dot, hlc, clock_bytes, changes);
    Ok(Record {
        dot,
        hlc,
        clock,
        changes,
        digest,
    })
}

/// A clock whose counters are all within [`MAX_SEQ`].
fn bounded_clock(reader: &mut Reader<'_>, what: &str) -> std::result::Result<VectorClock, String> {
    let clock = reader.clock()?;
    if clock.iter().any(|(_, seq)| *seq > MAX_SEQ) {
        return Err(format!("a counter of {what} is out of range"));
    }
    Ok(clock)
}

/// Reads a bundle into owned records (for tests and tools that take bundles apart).
pub fn decode(bytes: &[u8]) -> Result<BundleBody> {
    let bundle = read(bytes)?;
    Ok(BundleBody {
        id: bundle.id,
        source: bundle.source,
        created_at: bundle.created_at,
        schema_version: bundle.schema_version,
        sender_clock: bundle.sender_clock,
        records: bundle
            .records
            .into_iter()
            .map(|r| WireRecord {
                origin: r.dot.origin,
                seq: r.dot.seq,
                hlc: r.hlc,
                clock: r.clock,
                changes: r.changes.to_vec(),
            })
            .collect(),
    })
}

/// The digest of an encoded bundle (its last 32 bytes), used as its identity for idempotency.
pub fn digest_of(bytes: &[u8]) -> &[u8] {
    &bytes[bytes.len().saturating_sub(DIGEST_LEN)..]
}

#[cfg(test)]
mod tests;
