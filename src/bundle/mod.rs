//! The bundle: a self-contained, versioned binary file carrying change-log records between
//! replicas over any transport. Pure: no I/O, no SQL.
//!
//! ## Format, version 1
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 6 | magic | ASCII `SQSYNC` |
//! | 6 | 2 | version | format version, big-endian; this build writes and reads `1` |
//! | 8 | 2 | flags | big-endian bit set; bit 0 = signed, bit 1 = encrypted (reserved: must be 0 in v1) |
//! | 10 | n | body | MessagePack [`BundleBody`] (structs as arrays, in field order) |
//! | 10+n | 32 | digest | SHA-256 of bytes `0 .. 10+n` (header and body) |
//!
//! The body is `[id, source, created_at, schema_version, sender_clock, records]`: a 16-byte bundle
//! id (UUIDv7), the 16-byte id of the device that wrote the bundle, its wall time in milliseconds,
//! the schema version (0 until schema evolution lands), the sender's vector clock (a map of 16-byte
//! device id to counter: what the sender has applied, which acknowledges those changes to the
//! receiver), and the records. A record is `[origin, seq, hlc, clock, changes]`: its causal position
//! (origin device, per-origin counter, hybrid logical clock, causal context) and the change set as
//! an opaque byte string, exactly as stored in the change log. A relay can therefore route and
//! deduplicate records by `(origin, seq)` without decoding row data, and end-to-end encryption can
//! later wrap `changes` alone. Flags reserve room for a signature trailer and encryption; a reader
//! rejects flags it does not know.
//!
//! Counters are at most 2^53 − 1 and hybrid logical clocks at most 2^62; a record outside those
//! bounds is malformed. The digest covers every byte before it, so any altered, truncated or reordered content fails
//! verification. Decoding checks magic, version, flags, size and digest before it parses the body,
//! and parses all of the body before anything is applied.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::clock::VectorClock;
use crate::error::{Error, Result};
use crate::model::DeviceId;

/// The first six bytes of every bundle.
pub const MAGIC: [u8; 6] = *b"SQSYNC";
/// The format version this build writes.
pub const FORMAT_VERSION: u16 = 1;
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

/// Raw bytes, serialised as a MessagePack `bin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> std::result::Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        deserializer.deserialize_bytes(BytesVisitor)
    }
}

/// One change-log record on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireRecord {
    pub origin: DeviceId,
    pub seq: u64,
    pub hlc: u64,
    pub clock: VectorClock,
    /// The encoded [`ChangeSet`](crate::model::ChangeSet).
    pub changes: Bytes,
}

/// Everything a bundle carries besides its header and digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleBody {
    pub id: DeviceId,
    pub source: DeviceId,
    pub created_at: u64,
    pub schema_version: u32,
    pub sender_clock: VectorClock,
    pub records: Vec<WireRecord>,
}

/// Encodes a bundle: header, body and digest.
pub fn encode(body: &BundleBody) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(
        HEADER_LEN
            + DIGEST_LEN
            + body
                .records
                .iter()
                .map(|r| r.changes.0.len() + 64)
                .sum::<usize>(),
    );
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    rmp_serde::encode::write(&mut out, body)
        .map_err(|e| Error::BundleMalformed(format!("cannot encode bundle: {e}")))?;
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// Checks a bundle's header, size and digest, then decodes its body.
pub fn decode(bytes: &[u8]) -> Result<BundleBody> {
    decode_with_limit(bytes, MAX_BUNDLE_BYTES)
}

/// [`decode`] with an explicit size limit.
pub fn decode_with_limit(bytes: &[u8], limit: usize) -> Result<BundleBody> {
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
    if version != FORMAT_VERSION || flags != 0 {
        return Err(Error::BundleVersion { version, flags });
    }
    let (content, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
    if Sha256::digest(content).as_slice() != digest {
        return Err(Error::BundleTampered);
    }
    let mut body_bytes = &content[HEADER_LEN..];
    let body: BundleBody = rmp_serde::decode::from_read(&mut body_bytes)
        .map_err(|e| Error::BundleMalformed(format!("undecodable body: {e}")))?;
    if !body_bytes.is_empty() {
        return Err(Error::BundleMalformed(
            "trailing bytes after the body".into(),
        ));
    }
    let counters_valid = |clock: &VectorClock| clock.iter().all(|(_, seq)| *seq <= MAX_SEQ);
    for record in &body.records {
        if record.seq == 0 || record.seq > MAX_SEQ {
            return Err(Error::BundleMalformed(format!(
                "record sequence number {} out of range",
                record.seq
            )));
        }
        if record.hlc > MAX_HLC {
            return Err(Error::BundleMalformed(format!(
                "record clock {} out of range",
                record.hlc
            )));
        }
        if !counters_valid(&record.clock) {
            return Err(Error::BundleMalformed(
                "a causal context counter is out of range".into(),
            ));
        }
    }
    if !counters_valid(&body.sender_clock) {
        return Err(Error::BundleMalformed(
            "a sender clock counter is out of range".into(),
        ));
    }
    Ok(body)
}

/// The digest of an encoded bundle (its last 32 bytes), used as its identity for idempotency.
pub fn digest_of(bytes: &[u8]) -> &[u8] {
    &bytes[bytes.len().saturating_sub(DIGEST_LEN)..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn body() -> BundleBody {
        let device = DeviceId([7; 16]);
        BundleBody {
            id: DeviceId([1; 16]),
            source: device,
            created_at: 1_764_000_000_000,
            schema_version: 0,
            sender_clock: [(device, 2)].into_iter().collect(),
            records: vec![WireRecord {
                origin: device,
                seq: 2,
                hlc: 99,
                clock: VectorClock::new(),
                changes: Bytes(vec![0x91, 0x90]),
            }],
        }
    }

    #[test]
    fn a_bundle_round_trips() {
        let bytes = encode(&body()).unwrap();
        assert_eq!(&bytes[..6], b"SQSYNC");
        assert_eq!(decode(&bytes).unwrap(), body());
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = encode(&body()).unwrap();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                let code = decode(&flipped).unwrap_err().code();
                assert!(
                    matches!(
                        code,
                        ErrorCode::BundleTampered
                            | ErrorCode::BundleMalformed
                            | ErrorCode::BundleVersion
                    ),
                    "byte {i} bit {bit}: {code}"
                );
            }
        }
    }

    #[test]
    fn truncation_versions_flags_and_size_are_refused() {
        let bytes = encode(&body()).unwrap();
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        let mut newer = bytes.clone();
        newer[7] = 2;
        assert_eq!(decode(&newer).unwrap_err().code(), ErrorCode::BundleVersion);
        let mut signed = bytes.clone();
        signed[9] = 1;
        assert_eq!(
            decode(&signed).unwrap_err().code(),
            ErrorCode::BundleVersion
        );
        assert_eq!(
            decode_with_limit(&bytes, 10).unwrap_err().code(),
            ErrorCode::BundleTooLarge
        );
        assert_eq!(decode(&[]).unwrap_err().code(), ErrorCode::BundleMalformed);
    }
}
