//! Digests: of one record (its identity beside its dot) and of a whole bundle.
//!
//! A record's digest is the first 16 bytes of the SHA-256 of its canonical encoding, the MessagePack
//! array `[origin, seq, hlc, clock, changes]` with every integer in its shortest form and the clock's
//! devices in increasing order. Two records with the same dot and different digests are two
//! different records claiming one identity, which replicas and relays refuse. A bundle's digest
//! (format 2) hashes its header, the body bytes before the records, and each record's digest in
//! order, so every byte of a bundle is hashed once and a record's digest, computed once when the
//! record is made, never needs recomputing when the record is sent again.

use sha2::{Digest, Sha256};

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
    // A byte-string header of the change set's length: bin8/16/32 as rmp writes it.
    let _ = rmp::encode::write_bin_len(out, changes_len as u32);
}

/// The digest of a record whose clock is already encoded (`clock`, the canonical map form).
pub fn record_digest(dot: Dot, hlc: u64, clock: &[u8], changes: &[u8]) -> RecordDigest {
    let mut prefix = Vec::with_capacity(48 + clock.len());
    record_prefix(dot, hlc, clock, changes.len(), &mut prefix);
    let mut hasher = Sha256::new();
    hasher.update(&prefix);
    update_in_pieces(&mut hasher, changes);
    let full = hasher.finalize();
    let mut digest = [0u8; 16];
    digest.copy_from_slice(&full[..16]);
    RecordDigest(digest)
}

/// The canonical encoding of a clock, as stored and as hashed.
pub fn encode_clock(clock: &VectorClock) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + clock.len() * 27);
    write::clock(&mut out, clock);
    out
}

/// Accumulates a format-2 bundle digest.
pub struct BundleHasher(Sha256);

impl BundleHasher {
    /// Starts with the header and the body bytes before the records.
    pub fn new(header_and_prefix: &[u8]) -> BundleHasher {
        let mut hasher = Sha256::new();
        hasher.update(header_and_prefix);
        BundleHasher(hasher)
    }

    /// Adds the next record's digest.
    pub fn record(&mut self, digest: &RecordDigest) {
        self.0.update(digest.0);
    }

    /// The bundle's digest.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// The format-1 digest: the SHA-256 of every byte before it.
pub fn whole(bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    update_in_pieces(&mut hasher, bytes);
    hasher.finalize().into()
}

/// Feeds `bytes` to `hasher` 16 KiB at a time. The digest is the same; the point is speed in
/// WebAssembly engines that run a function optimised only from its next call on (V8 without
/// on-stack replacement): one call over megabytes would run start to end unoptimised, many calls
/// over pieces are optimised after the first few.
fn update_in_pieces(hasher: &mut Sha256, bytes: &[u8]) {
    const PIECE: usize = 16 << 10;
    for piece in bytes.chunks(PIECE) {
        absorb(hasher, piece);
    }
}

#[inline(never)]
fn absorb(hasher: &mut Sha256, piece: &[u8]) {
    hasher.update(piece);
}
