//! Decoding refusals: each kind of malformed message gets its coded error, and encoding refuses
//! what decoding would.

use super::*;
use crate::codec::write;
use crate::error::{Error, ErrorCode};
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// `[version, kind, fields…]` with integer fields.
fn message(version: u64, kind: u64, fields: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    write::array_len(&mut out, 2 + fields.len());
    write::uint(&mut out, version);
    write::uint(&mut out, kind);
    for field in fields {
        write::uint(&mut out, *field);
    }
    out
}

fn protocol_error(bytes: &[u8]) -> String {
    match decode(bytes) {
        Err(Error::Protocol(message)) => message,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// A push of one record whose content is `record` as given (not necessarily canonical).
fn push_of(record: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode::head(&mut out, kind::PUSH, 1);
    write::array_len(&mut out, 1);
    write::bin(&mut out, record);
    out
}

/// A record's content from its parts, each field written as given.
fn record_bytes(seq: &[u8], hlc: &[u8], clock: &[u8], changes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x95];
    write::device(&mut out, &device(1));
    out.extend_from_slice(seq);
    out.extend_from_slice(hlc);
    out.extend_from_slice(clock);
    write::bin(&mut out, changes);
    out
}

#[test]
fn an_unknown_version_is_refused_saying_which_versions_are_spoken() {
    let error = decode(&message(2, kind::PING, &[1])).unwrap_err();
    assert_eq!(
        error,
        Error::ProtocolVersion {
            ours: vec![1],
            theirs: vec![2]
        }
    );
    assert_eq!(error.code(), ErrorCode::Protocol);
    assert!(error.to_string().contains("[1]"));
    // The version is read first: whatever follows it in another version is not looked at.
    assert!(matches!(
        decode(&[0x92, 0x07, 0xc1]),
        Err(Error::ProtocolVersion { .. })
    ));
}

#[test]
fn unknown_kinds_and_wrong_field_counts_are_refused() {
    assert!(protocol_error(&message(1, 10, &[1])).contains("unknown message kind 10"));
    assert!(protocol_error(&message(1, kind::PING, &[])).contains("0 fields"));
    assert!(protocol_error(&message(1, kind::PING, &[1, 2])).contains("2 fields"));
    assert!(protocol_error(&message(1, kind::PULL, &[1, 2])).contains("not 3"));
    protocol_error(&[0x91, 0x01]);
    protocol_error(&[0x90]);
    protocol_error(&[]);
    protocol_error(&[0x01]);
    protocol_error(&[0x93, 0xa1, b'1', 0x08, 0x01]);
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = message(1, kind::PING, &[42]);
    bytes.push(0xc0);
    assert!(protocol_error(&bytes).contains("1 bytes after the message"));
}

#[test]
fn a_message_over_the_limit_is_refused_before_it_is_read() {
    let bytes = vec![0u8; MAX_MESSAGE_BYTES + 1];
    assert_eq!(decode(&bytes).unwrap_err().code(), ErrorCode::TooLarge);
}

#[test]
fn counters_beyond_2_pow_53_are_refused() {
    protocol_error(&message(1, kind::PING, &[MAX_SEQ + 1]));
    protocol_error(&message(1, kind::NOTIFY, &[u64::MAX >> 1]));
    protocol_error(&message(1, kind::PULL, &[MAX_SEQ + 1, 1, 1]));
    let mut pushed = Vec::new();
    encode::head(&mut pushed, kind::PUSHED, 1);
    write::clock(&mut pushed, &clock(&[(1, MAX_SEQ + 1)]));
    assert!(protocol_error(&pushed).contains("out of range"));
}

#[test]
fn records_out_of_the_bundle_bounds_are_refused() {
    let empty = [0x91, 0x90];
    for (seq, hlc, clock) in [
        (&[0x00][..], &[0x01][..], &[0x80][..]),
        (&[0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0], &[0x01], &[0x80]),
        (&[0x01], &[0xcf, 0x40, 0, 0, 0, 0, 0, 0, 1], &[0x80]),
    ] {
        let bytes = push_of(&record_bytes(seq, hlc, clock, &empty));
        assert!(
            protocol_error(&bytes).contains("out of range"),
            "{bytes:02x?}"
        );
    }
    let mut big_context = Vec::new();
    write::clock(&mut big_context, &super::clock(&[(2, MAX_SEQ + 1)]));
    let bytes = push_of(&record_bytes(&[0x01], &[0x01], &big_context, &empty));
    assert!(protocol_error(&bytes).contains("causal context"));
    // At the bounds, accepted.
    let mut max_context = Vec::new();
    write::clock(&mut max_context, &super::clock(&[(2, MAX_SEQ)]));
    let max_seq = [0xcf, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let hlc = [0xcf, 0x40, 0, 0, 0, 0, 0, 0, 0];
    assert!(decode(&push_of(&record_bytes(
        &max_seq,
        &hlc,
        &max_context,
        &empty
    )))
    .is_ok());
}

#[test]
fn a_record_in_any_but_its_canonical_encoding_is_refused() {
    let canonical = record_bytes(&[0x03], &[0x05], &[0x80], &[0x91, 0x90]);
    assert!(decode(&push_of(&canonical)).is_ok());
    for wide in [
        record_bytes(&[0xcc, 0x03], &[0x05], &[0x80], &[0x91, 0x90]),
        record_bytes(&[0x03], &[0xd0, 0x05], &[0x80], &[0x91, 0x90]),
        record_bytes(&[0x03], &[0x05], &[0xde, 0x00, 0x00], &[0x91, 0x90]),
    ] {
        assert!(protocol_error(&push_of(&wide)).contains("canonical"));
    }
    // A clock entry of zero means no entry: written, it is not canonical.
    let mut zero = vec![0x81];
    write::device(&mut zero, &device(2));
    zero.push(0x00);
    let bytes = push_of(&record_bytes(&[0x03], &[0x05], &zero, &[0x91, 0x90]));
    assert!(protocol_error(&bytes).contains("canonical"));
    // Bytes after the record inside its element.
    let mut trailing = canonical.clone();
    trailing.push(0xc0);
    assert!(protocol_error(&push_of(&trailing)).contains("after the record"));
}

#[test]
fn clocks_out_of_order_and_ids_of_the_wrong_size_are_refused() {
    let mut hello = Vec::new();
    encode::head(&mut hello, kind::HELLO, 3);
    write::device(&mut hello, &device(1));
    write::str(&mut hello, "s");
    write::map_len(&mut hello, 2);
    for d in [2, 1] {
        write::device(&mut hello, &device(d));
        write::uint(&mut hello, 1);
    }
    assert!(protocol_error(&hello).contains("increasing device order"));
    let mut short = Vec::new();
    encode::head(&mut short, kind::HELLO, 3);
    write::bin(&mut short, &[1; 15]);
    write::str(&mut short, "s");
    write::map_len(&mut short, 0);
    assert!(protocol_error(&short).contains("15 bytes"));
}

#[test]
fn space_names_must_take_1_to_256_bytes_both_ways() {
    for space in [String::new(), "x".repeat(MAX_SPACE_BYTES + 1)] {
        let hello = Message::Hello(Hello {
            device: device(1),
            space: space.clone(),
            clock: VectorClock::new(),
        });
        assert_eq!(
            encode(&hello).unwrap_err().code(),
            ErrorCode::InvalidArgument
        );
        let mut bytes = Vec::new();
        encode::head(&mut bytes, kind::HELLO, 3);
        write::device(&mut bytes, &device(1));
        write::str(&mut bytes, &space);
        write::map_len(&mut bytes, 0);
        assert!(protocol_error(&bytes).contains("space name"));
    }
    let longest = Message::Hello(Hello {
        device: device(1),
        space: "é".repeat(MAX_SPACE_BYTES / 2),
        clock: VectorClock::new(),
    });
    assert_eq!(decode(&encode(&longest).unwrap()).unwrap(), longest);
}

#[test]
fn lists_longer_than_their_maximum_are_refused() {
    let element = {
        let mut out = Vec::new();
        write::bin(&mut out, &record_bytes(&[0x01], &[0x01], &[0x80], &[]));
        out
    };
    assert_eq!(element.len(), record::MIN_ELEMENT_LEN);
    for (count, ok) in [(MAX_RECORDS, true), (MAX_RECORDS + 1, false)] {
        let mut bytes = Vec::new();
        encode::head(&mut bytes, kind::PUSH, 1);
        write::array_len(&mut bytes, count);
        for _ in 0..count {
            bytes.extend_from_slice(&element);
        }
        assert_eq!(decode(&bytes).is_ok(), ok, "{count} records");
    }
    let mut welcome = Vec::new();
    encode::head(&mut welcome, kind::WELCOME, 4);
    write::array_len(&mut welcome, MAX_VERSIONS + 1);
    for _ in 0..=MAX_VERSIONS {
        write::uint(&mut welcome, 1);
    }
    write::bin(&mut welcome, &[0; 16]);
    write::uint(&mut welcome, 0);
    write::map_len(&mut welcome, 0);
    assert!(protocol_error(&welcome).contains("versions"));
}

#[test]
fn lengths_beyond_the_input_are_refused_without_allocating() {
    let mut bytes = Vec::new();
    encode::head(&mut bytes, kind::PUSH, 1);
    bytes.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff]);
    assert!(protocol_error(&bytes).contains("exceeds the input"));
    let mut page = Vec::new();
    encode::head(&mut page, kind::PAGE, 4);
    write::array_len(&mut page, 1);
    page.extend_from_slice(&[0xc6, 0xff, 0xff, 0xff, 0xff]);
    assert!(protocol_error(&page).contains("exceeds the input"));
}

#[test]
fn encoding_refuses_records_that_do_not_fit_one_message() {
    let changes = [0u8; 16];
    let many: Vec<_> = (1..=MAX_RECORDS as u64 + 1)
        .map(|seq| record(1, seq, 1, VectorClock::new(), &changes))
        .collect();
    let error = encode(&Message::Push(many)).unwrap_err();
    assert_eq!(error.code(), ErrorCode::TooLarge);
    let huge = vec![0u8; MAX_MESSAGE_BYTES];
    let error = encode(&Message::Push(vec![record(
        1,
        1,
        1,
        VectorClock::new(),
        &huge,
    )]));
    assert_eq!(error.unwrap_err().code(), ErrorCode::TooLarge);
}
