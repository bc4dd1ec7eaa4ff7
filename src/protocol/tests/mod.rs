//! Tests of the protocol: golden bytes of every message kind, decoding refusals, page bounds, the
//! device's round against a small relay model, and (natively) proptest fuzzing of the decoder and
//! the round, with the byte-level damage the integration tests' decoder fuzzers use. Shared here:
//! records and one sample message of each kind.

mod batch;
#[cfg(not(target_family = "wasm"))]
#[path = "../../../tests/it/damage.rs"]
mod damage;
mod decode;
#[cfg(not(target_family = "wasm"))]
mod fuzz;
mod golden;
mod model;
mod round;

use super::*;
use crate::bundle::digest::{encode_clock, record_digest};
use crate::bundle::{Record, MAX_HLC, MAX_SEQ};
use crate::clock::VectorClock;
use crate::ids::{DeviceId, Dot};

fn device(n: u8) -> DeviceId {
    DeviceId([n; 16])
}

fn clock(entries: &[(u8, u64)]) -> VectorClock {
    entries.iter().map(|&(d, seq)| (device(d), seq)).collect()
}

/// A record with its digest, borrowing `changes`.
fn record(origin: u8, seq: u64, hlc: u64, context: VectorClock, changes: &[u8]) -> Record<'_> {
    let dot = Dot::new(device(origin), seq);
    let digest = record_digest(dot, hlc, &encode_clock(&context), changes);
    Record {
        dot,
        hlc,
        clock: context,
        changes,
        digest,
    }
}

/// An empty change set (`[[]]`).
const EMPTY_CHANGES: &[u8] = &[0x91, 0x90];
const TEN_BYTES: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
/// A realistic hybrid logical clock: 2025-11-24 in milliseconds, shifted past the counter bits.
const HLC: u64 = 1_764_000_000_000 << 16;

fn refusal(code: &str, message: &str, retry_after_ms: Option<u64>, versions: &[u64]) -> Refusal {
    Refusal {
        code: code.into(),
        message: message.into(),
        retry_after_ms,
        versions: versions.to_vec(),
    }
}

/// One message of each kind (and a few variants), by the name the golden file gives it.
fn samples() -> Vec<(&'static str, Message<'static>)> {
    let first = || record(0x11, 3, HLC, clock(&[(0x22, 5)]), EMPTY_CHANGES);
    let second = record(0x22, 70_000, MAX_HLC, VectorClock::new(), TEN_BYTES);
    vec![
        (
            "error",
            Message::Error(refusal(
                "ERR_FORBIDDEN",
                "the token grants another space",
                None,
                &[],
            )),
        ),
        (
            "error_rate_limited",
            Message::Error(refusal("ERR_RATE_LIMITED", "slow down", Some(1_500), &[])),
        ),
        (
            "error_version",
            Message::Error(refusal(
                "ERR_PROTOCOL",
                "protocol version 2 is not spoken here",
                None,
                &[1],
            )),
        ),
        (
            "hello",
            Message::Hello(Hello {
                device: device(0x11),
                space: "team-42".into(),
                clock: clock(&[(0x11, 3), (0x22, 5)]),
            }),
        ),
        (
            "hello_new_device",
            Message::Hello(Hello {
                device: device(0x33),
                space: "s".into(),
                clock: VectorClock::new(),
            }),
        ),
        (
            "welcome",
            Message::Welcome(Welcome {
                versions: vec![1],
                log: LogId([0xab; 16]),
                head: 12,
                clock: clock(&[(0x11, 2), (0x22, 5)]),
            }),
        ),
        ("push", Message::Push(vec![first(), second])),
        (
            "pushed",
            Message::Pushed(clock(&[(0x11, 3), (0x22, 70_000)])),
        ),
        (
            "pull",
            Message::Pull(Pull {
                after: 12,
                max_records: 1_000,
                max_bytes: 900_000,
            }),
        ),
        (
            "page",
            Message::Page(Page {
                records: vec![first()],
                next: 13,
                remaining: 2,
                caught_up: false,
            }),
        ),
        (
            "page_caught_up",
            Message::Page(Page {
                records: Vec::new(),
                next: 7,
                remaining: 0,
                caught_up: true,
            }),
        ),
        ("notify", Message::Notify(15)),
        ("ping", Message::Ping(42)),
        ("ping_largest_nonce", Message::Ping(MAX_SEQ)),
        ("pong", Message::Pong(42)),
    ]
}
