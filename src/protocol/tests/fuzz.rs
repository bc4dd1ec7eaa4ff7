//! Proptest fuzzing (native only): random messages of every kind round-trip; arbitrary bytes and
//! valid encodings with bytes changed, truncated, inserted or removed never panic the decoder and
//! give either a message that round-trips or a coded error; and random message sequences never
//! panic a round. `PROTOCOL_FUZZ_CASES` sets the cases per property (default 2,048).

use proptest::prelude::*;

use super::damage::{apply_damage, damage};
use super::*;
use crate::error::ErrorCode;

fn cases() -> u32 {
    std::env::var("PROTOCOL_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_048)
}

/// Counters of every encoded width, up to the bound.
fn counter() -> impl Strategy<Value = u64> {
    prop_oneof![0..200u64, 0..=MAX_SEQ, Just(MAX_SEQ)]
}

fn clock_entries() -> impl Strategy<Value = Vec<(u8, u64)>> {
    prop::collection::btree_map(any::<u8>(), 1..=MAX_SEQ, 0..4)
        .prop_map(|entries| entries.into_iter().collect())
}

#[derive(Debug, Clone)]
struct OwnedRecord {
    origin: u8,
    seq: u64,
    hlc: u64,
    context: Vec<(u8, u64)>,
    changes: Vec<u8>,
}

fn owned_record() -> impl Strategy<Value = OwnedRecord> {
    (
        any::<u8>(),
        1..=MAX_SEQ,
        prop_oneof![0..1_000u64, 0..=MAX_HLC],
        clock_entries(),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(origin, seq, hlc, context, changes)| OwnedRecord {
            origin,
            seq,
            hlc,
            context,
            changes,
        })
}

/// A message's content, owned, so a [`Message`] can borrow its records' change sets from it.
#[derive(Debug, Clone)]
enum Spec {
    Error(String, String, Option<u64>, Vec<u64>),
    Hello(u8, String, Vec<(u8, u64)>),
    Welcome(Vec<u64>, u8, u64, Vec<(u8, u64)>),
    Push(Vec<OwnedRecord>),
    Pushed(Vec<(u8, u64)>),
    Pull(u64, u64, u64),
    Page(Vec<OwnedRecord>, u64, u64, bool),
    Notify(u64),
    Ping(u64),
    Pong(u64),
}

fn spec() -> impl Strategy<Value = Spec> {
    let versions = || prop::collection::vec(counter(), 0..4);
    let records = || prop::collection::vec(owned_record(), 0..4);
    prop_oneof![
        (
            ".{0,20}",
            ".{0,40}",
            prop::option::of(counter()),
            versions()
        )
            .prop_map(|(c, m, r, v)| Spec::Error(c, m, r, v)),
        (any::<u8>(), "[a-z0-9é-]{1,40}", clock_entries())
            .prop_map(|(d, s, c)| Spec::Hello(d, s, c)),
        (versions(), any::<u8>(), counter(), clock_entries())
            .prop_map(|(v, l, h, c)| Spec::Welcome(v, l, h, c)),
        records().prop_map(Spec::Push),
        clock_entries().prop_map(Spec::Pushed),
        (counter(), counter(), counter()).prop_map(|(a, r, b)| Spec::Pull(a, r, b)),
        (records(), counter(), counter(), any::<bool>())
            .prop_map(|(r, n, m, c)| Spec::Page(r, n, m, c)),
        counter().prop_map(Spec::Notify),
        counter().prop_map(Spec::Ping),
        counter().prop_map(Spec::Pong),
    ]
}

fn records_of(records: &[OwnedRecord]) -> Vec<Record<'_>> {
    records
        .iter()
        .map(|r| record(r.origin, r.seq, r.hlc, clock(&r.context), &r.changes))
        .collect()
}

fn message(spec: &Spec) -> Message<'_> {
    match spec {
        Spec::Error(code, text, retry, versions) => {
            Message::Error(refusal(code, text, *retry, versions))
        }
        Spec::Hello(d, space, c) => Message::Hello(Hello {
            device: device(*d),
            space: space.clone(),
            clock: clock(c),
        }),
        Spec::Welcome(versions, log, head, c) => Message::Welcome(Welcome {
            versions: versions.clone(),
            log: LogId([*log; 16]),
            head: *head,
            clock: clock(c),
        }),
        Spec::Push(records) => Message::Push(records_of(records)),
        Spec::Pushed(c) => Message::Pushed(clock(c)),
        Spec::Pull(after, max_records, max_bytes) => Message::Pull(Pull {
            after: *after,
            max_records: *max_records,
            max_bytes: *max_bytes,
        }),
        Spec::Page(records, next, remaining, caught_up) => Message::Page(Page {
            records: records_of(records),
            next: *next,
            remaining: *remaining,
            caught_up: *caught_up,
        }),
        Spec::Notify(n) => Message::Notify(*n),
        Spec::Ping(n) => Message::Ping(*n),
        Spec::Pong(n) => Message::Pong(*n),
    }
}

/// Decodes: a refusal must be coded `ERR_PROTOCOL`, and anything accepted must encode and decode
/// back to itself.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    match decode(bytes) {
        Ok(message) => {
            let again = encode(&message).expect("an accepted message encodes");
            prop_assert_eq!(decode(&again).expect("and decodes again"), message);
        }
        Err(error) => prop_assert_eq!(error.code(), ErrorCode::Protocol, "{}", error),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_messages_round_trip(spec in spec()) {
        let message = message(&spec);
        let bytes = encode(&message).expect("encode");
        prop_assert_eq!(decode(&bytes).expect("decode"), message);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_head_never_panic(
        kind in 0..12u8,
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = vec![0x90 + (tail.len() % 8) as u8, 0x01, kind];
        bytes.extend_from_slice(&tail);
        check(&bytes)?;
    }

    #[test]
    fn damaged_encodings_never_panic(
        spec in spec(),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let mut bytes = encode(&message(&spec)).expect("encode");
        for damage in &damages {
            apply_damage(&mut bytes, damage);
        }
        check(&bytes)?;
    }

    #[test]
    fn random_message_sequences_never_panic_a_round(
        specs in prop::collection::vec(spec(), 0..12),
        local in clock_entries(),
    ) {
        let (mut round, _hello) = ClientRound::start(Local {
            device: device(1),
            space: "s".into(),
            clock: clock(&local),
            cursor: None,
        });
        let mut over = false;
        for spec in &specs {
            let mut step = match round.on_message(message(spec)) {
                Next::Apply(_) => round.applied(),
                Next::Step(step) => step,
            };
            if let Step::Collect(_) = step {
                step = round.push(Batch::default());
            }
            if over {
                prop_assert!(matches!(step, Step::Fail(_)), "{:?}", step);
            }
            over |= matches!(step, Step::Done(_) | Step::Fail(_));
        }
    }
}
