//! Unit tests of the bundle format: round trips, every damaged byte refused, and format 1 still read.

use super::*;
use crate::ErrorCode;
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn body() -> BundleBody {
    let device = DeviceId([7; 16]);
    let other = DeviceId([3; 16]);
    BundleBody {
        id: BundleId([1; 16]),
        source: device,
        created_at: 1_764_000_000_000,
        schema_version: 0,
        sender_clock: [(device, 2), (other, 5)].into_iter().collect(),
        records: vec![
            WireRecord {
                origin: device,
                seq: 2,
                hlc: 99,
                clock: [(other, 5)].into_iter().collect(),
                changes: vec![0x91, 0x90],
            },
            WireRecord {
                origin: other,
                seq: 5,
                hlc: 1 << 40,
                clock: VectorClock::new(),
                changes: vec![0x91, 0x90],
            },
        ],
    }
}

#[test]
fn a_bundle_round_trips() {
    let bytes = encode(&body()).unwrap();
    assert_eq!(&bytes[..8], b"SQSYNC\0\x02");
    assert_eq!(decode(&bytes).unwrap(), body());
    let read = read(&bytes).unwrap();
    assert_eq!(read.digest.as_slice(), digest_of(&bytes));
    assert_eq!(read.records[0].changes, &[0x91, 0x90]);
}

#[test]
fn record_digests_depend_on_every_field_and_not_on_the_bundle() {
    let mut other = body();
    other.id = BundleId([2; 16]);
    other.records.swap(0, 1);
    let (a, b) = (encode(&body()).unwrap(), encode(&other).unwrap());
    let (a, b) = (read(&a).unwrap(), read(&b).unwrap());
    assert_eq!(a.records[0].digest, b.records[1].digest);
    assert_ne!(a.digest, b.digest);
    let digests: std::collections::HashSet<_> = [
        digest::record_digest(Dot::new(DeviceId([1; 16]), 1), 5, &[0x80], b"x"),
        digest::record_digest(Dot::new(DeviceId([2; 16]), 1), 5, &[0x80], b"x"),
        digest::record_digest(Dot::new(DeviceId([1; 16]), 2), 5, &[0x80], b"x"),
        digest::record_digest(Dot::new(DeviceId([1; 16]), 1), 6, &[0x80], b"x"),
        digest::record_digest(Dot::new(DeviceId([1; 16]), 1), 5, &[0x80], b"y"),
    ]
    .into_iter()
    .collect();
    assert_eq!(digests.len(), 5);
}

#[test]
fn every_single_bit_flip_is_detected() {
    let bytes = encode(&body()).unwrap();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1 << bit;
            let code = read(&flipped).unwrap_err().code();
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
        assert!(read(&bytes[..len]).is_err(), "truncated to {len}");
    }
    let mut newer = bytes.clone();
    newer[7] = 3;
    assert_eq!(read(&newer).unwrap_err().code(), ErrorCode::BundleVersion);
    let mut signed = bytes.clone();
    signed[9] = 1;
    assert_eq!(read(&signed).unwrap_err().code(), ErrorCode::BundleVersion);
    assert_eq!(
        read_with_limit(&bytes, 10).unwrap_err().code(),
        ErrorCode::BundleTooLarge
    );
    assert_eq!(read(&[]).unwrap_err().code(), ErrorCode::BundleMalformed);
}

#[test]
fn a_format_1_bundle_is_verified_by_its_whole_digest() {
    // The same body framed as format 1: version 1 and the SHA-256 of everything before it.
    let v2 = encode(&body()).unwrap();
    let mut v1 = v2[..v2.len() - 32].to_vec();
    v1[7] = 1;
    let whole = digest::whole(&v1);
    v1.extend_from_slice(&whole);
    let read = read(&v1).unwrap();
    assert_eq!(read.version, 1);
    assert_eq!(read.records.len(), 2);
    let mut tampered = v1.clone();
    let last = tampered.len() - 40;
    tampered[last] ^= 1;
    assert!(super::read(&tampered).is_err());
}
