//! Digests: of one record (its identity beside its dot) and of a whole bundle.
//!
//! A record's digest is the first 16 bytes of the BLAKE3 hash of its canonical encoding, the
//! MessagePack array `[origin, seq, hlc, clock, changes]` with every integer in its shortest form
//! and the clock's devices in increasing order. Two records with the same dot and different digests
//! are two different records claiming one identity, which replicas and relays refuse. A bundle's
//! digest (format 2) is the BLAKE3 hash of its header, the body bytes before the records, and each
//! record's digest in order, so every byte of a bundle is hashed once, and a record's digest,
//! computed once when the record is made, never needs recomputing when the record is sent again.
//! BLAKE3 is a cryptographic hash that runs about three times as fast as SHA-256 in WebAssembly,
//! where no hardware instructions help; format 1 used SHA-256 over the whole bundle, and is still
//! read.

use sha2::{Digest, Sha256};

/// Bytes hashed per call: the digest is the same however the input is split; the point is speed in
/// WebAssembly engines that optimise a function only from its next call on (V8 without on-stack
/// replacement): one call over megabytes would run start to end unoptimised, many calls over pieces
/// are optimised after the first few.
const PIECE: usize = 16 << 10;

use crate::clock::VectorClock;
use crate::codec::write;
use crate::ids::Dot;

/// A record's digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordDigest(pub [u8; 16]);

impl RecordDigest {
    /// Reads a stored digest.
    pub fn from_slice(bytes: &[u8]) -> Option<RecordDigest> {
        bytes.try_into().ok().map(RecordDigest)
    }
}

/// The bytes of a record's canonical encoding that come before its change set: the array header,
/// origin, seq, hlc, the encoded clock, and the change set's byte-string header.
pub fn record_prefix(dot: Dot, hlc: u64, clock: &[u8], changes_len: usize, out: &mut Vec<u8>) {
    write::array_len(out, 5);
    write::device(out, &dot.origin);
    write::uint(out, dot.seq);
    write::uint(out, hlc);
    out.extend_from_slice(clock);
    write::bin_len(out, changes_len);
}

/// The digest of a record whose clock is already encoded (`clock`, the canonical map form).
pub fn record_digest(dot: Dot, hlc: u64, clock: &[u8], changes: &[u8]) -> RecordDigest {
    let mut prefix = Vec::with_capacity(48 + clock.len());
    record_prefix(dot, hlc, clock, changes.len(), &mut prefix);
    let mut hasher = blake3::Hasher::new();
    hasher.update(&prefix);
    for piece in changes.chunks(PIECE) {
        absorb(&mut hasher, piece);
    }
    let full = hasher.finalize();
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&full.as_bytes()[..16]);
    RecordDigest(digest)
}

/// The canonical encoding of a clock, as stored and as hashed.
pub fn encode_clock(clock: &VectorClock) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + clock.len() * 27);
    write::clock(&mut out, clock);
    out
}

/// Accumulates a format-2 bundle digest.
pub struct BundleHasher(blake3::Hasher);

impl BundleHasher {
    /// Starts with the header and the body bytes before the records.
    pub fn new(header_and_prefix: &[u8]) -> BundleHasher {
        let mut hasher = blake3::Hasher::new();
        hasher.update(header_and_prefix);
        BundleHasher(hasher)
    }

    /// Adds the next record's digest.
    pub fn record(&mut self, digest: &RecordDigest) {
        self.0.update(&digest.0);
    }

    /// The bundle's digest.
    pub fn finish(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// The format-1 digest: the SHA-256 of every byte before it.
pub fn whole(bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for piece in bytes.chunks(PIECE) {
        absorb_sha(&mut hasher, piece);
    }
    hasher.finalize().into()
}

#[inline(never)]
fn absorb(hasher: &mut blake3::Hasher, piece: &[u8]) {
    hasher.update(piece);
}

#[inline(never)]
fn absorb_sha(hasher: &mut Sha256, piece: &[u8]) {
    hasher.update(piece);
}
