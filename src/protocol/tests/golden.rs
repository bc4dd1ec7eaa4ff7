//! Golden bytes: every sample message encodes to exactly the bytes of
//! `tests/fixtures/protocol/v1.txt` and decodes back to itself, so the wire format cannot change
//! by accident and other implementations have vectors to test against.

use super::*;
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const FIXTURE: &str = include_str!("../../../tests/fixtures/protocol/v1.txt");

/// The fixture's `name hex` lines, in order.
fn vectors() -> Vec<(&'static str, Vec<u8>)> {
    FIXTURE
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, hex) = line.split_once(' ').expect("a `name hex` line");
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            (name, bytes)
        })
        .collect()
}

#[test]
fn every_sample_encodes_to_its_golden_bytes_and_back() {
    let samples = samples();
    let vectors = vectors();
    assert_eq!(
        samples.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        vectors.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
    );
    for ((name, message), (_, golden)) in samples.iter().zip(&vectors) {
        assert_eq!(&encode(message).unwrap(), golden, "{name}");
        assert_eq!(&decode(golden).unwrap(), message, "{name}");
    }
}

#[test]
fn the_golden_messages_cover_every_kind() {
    let mut kinds: Vec<u8> = vectors().iter().map(|(_, bytes)| bytes[2]).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds, (0..=9).collect::<Vec<u8>>());
}

#[test]
fn decoded_records_borrow_their_change_sets_and_keep_their_digests() {
    let (_, bytes) = vectors()
        .into_iter()
        .find(|(name, _)| *name == "push")
        .unwrap();
    let Message::Push(records) = decode(&bytes).unwrap() else {
        panic!("not a push")
    };
    let input = bytes.as_ptr_range();
    for record in &records {
        assert!(input.contains(&record.changes.as_ptr()));
    }
    let expected = record(0x22, 70_000, MAX_HLC, VectorClock::new(), TEN_BYTES);
    assert_eq!(records[1].digest, expected.digest);
}

#[test]
fn a_record_element_is_the_canonical_record_a_relay_reads_at_fixed_offsets() {
    let (_, bytes) = vectors()
        .into_iter()
        .find(|(name, _)| *name == "page")
        .unwrap();
    // [1, 6, [bin 53 …], …]: the element's content starts at byte 6.
    let content = &bytes[6..6 + 53];
    assert_eq!(&content[..3], &[0x95, 0xc4, 0x10]);
    assert_eq!(&content[3..19], &[0x11; 16]);
    assert_eq!(content[19], 3);
    let digest = blake3::hash(content);
    let expected = record(0x11, 3, HLC, clock(&[(0x22, 5)]), EMPTY_CHANGES);
    assert_eq!(&digest.as_bytes()[..16], &expected.digest.0);
}
