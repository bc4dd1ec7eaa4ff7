//! The device's round against the relay model: push in batches, then pull across pages with
//! progress until caught up; saved cursors, replaced logs, refusals, pings and notifications; and
//! every answer out of turn ending the round with a coded error.

use super::model::{refuse, relay as new_relay, Device, Held};
use super::*;
use crate::error::{Error, ErrorCode};
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn progress(pairs: &[(u64, u64)]) -> Vec<Progress> {
    pairs
        .iter()
        .map(|&(received, total)| Progress { received, total })
        .collect()
}

#[test]
fn a_round_pushes_then_pulls_across_pages_until_caught_up() {
    let mut relay = new_relay(2);
    let mut a = Device::new(1, 5, 10);
    let run = a.sync(&mut relay);
    let summary = run.result.unwrap();
    assert_eq!(run.pushes, 1);
    assert_eq!(relay.len(), 5);
    // A new device pulls the whole log back (its own records included, which it ignores).
    assert_eq!(run.progress, progress(&[(2, 5), (4, 5), (5, 5)]));
    assert_eq!((summary.sent, summary.received), (5, 5));
    assert_eq!(summary.acked, clock(&[(1, 5)]));
    assert_eq!(
        summary.cursor,
        Cursor {
            log: relay.log(),
            position: 5
        }
    );
    assert!(!summary.behind);

    let mut b = Device::new(2, 1, 10);
    let summary = b.sync(&mut relay).result.unwrap();
    assert_eq!((summary.sent, summary.received), (1, 6));
    assert_eq!(b.clock(), clock(&[(1, 5), (2, 1)]));
    // A's next round pushes nothing and pulls only what is new since its cursor.
    let run = a.sync(&mut relay);
    assert_eq!(run.pushes, 0);
    assert_eq!(run.progress, progress(&[(1, 1)]));
    assert_eq!(a.clock(), b.clock());
}

#[test]
fn a_large_push_goes_in_batches_within_the_page_bounds() {
    let mut relay = new_relay(1_000);
    let mut a = Device::new(1, 2_500, 10);
    let run = a.sync(&mut relay);
    assert_eq!(run.pushes, 3);
    assert_eq!(relay.pushes(), 3);
    assert_eq!(run.result.unwrap().sent, 2_500);
    assert_eq!(
        run.progress,
        progress(&[(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)])
    );
    // Large records: 900 KB batches, eight records of 100 KB at most.
    let mut relay = new_relay(1_000);
    let mut big = Device::new(3, 20, 100_000);
    assert_eq!(big.sync(&mut relay).pushes, 3);
}

#[test]
fn an_empty_page_means_caught_up() {
    let mut relay = new_relay(10);
    let mut a = Device::new(1, 0, 0);
    let run = a.sync(&mut relay);
    let summary = run.result.unwrap();
    assert!(run.progress.is_empty());
    assert_eq!((summary.sent, summary.received), (0, 0));
    assert_eq!(summary.cursor.position, 0);
}

#[test]
fn a_cursor_of_another_log_or_beyond_the_head_pulls_from_the_start() {
    let mut relay = new_relay(100);
    let mut a = Device::new(1, 3, 10);
    a.sync(&mut relay).result.unwrap();
    for cursor in [
        Cursor {
            log: LogId([0xcd; 16]),
            position: 2,
        },
        Cursor {
            log: relay.log(),
            position: 99,
        },
    ] {
        a.cursor = Some(cursor);
        let summary = a.sync(&mut relay).result.unwrap();
        assert_eq!(summary.received, 3);
        assert_eq!(
            summary.cursor,
            Cursor {
                log: relay.log(),
                position: 3
            }
        );
    }
    // A relay that lost its storage: a new log, and the device pushes everything again.
    let mut fresh = MemoryRelay::new(LogId([0xef; 16]), 100);
    let run = a.sync(&mut fresh);
    assert_eq!(run.result.unwrap().sent, 3);
    assert_eq!(fresh.len(), 3);
}

#[test]
fn a_refusal_fails_the_round_with_the_relays_code() {
    let mut a = Device::new(1, 2, 10);
    for (code, expected) in [
        ("ERR_FORBIDDEN", ErrorCode::Forbidden),
        ("ERR_UNAUTHORIZED", ErrorCode::Unauthorized),
        ("ERR_RATE_LIMITED", ErrorCode::RateLimited),
    ] {
        let (mut round, _hello) = ClientRound::start(a.local());
        let refusal = encode(&refuse(code, "no")).unwrap();
        let Next::Step(Step::Fail(error)) = round.on_message(decode(&refusal).unwrap()) else {
            panic!("{code} did not fail the round")
        };
        assert_eq!(error.code(), expected);
        assert_eq!(
            round.applied(),
            Step::Fail(Error::Internal(
                "sync round: called after the round ended".into()
            ))
        );
    }
    // A record the relay holds with other bytes.
    let mut relay = new_relay(10);
    let other = Held::new(1, 2, 99);
    relay.hold(other.dot, other.hlc, &other.clock, &other.changes);
    a.held.truncate(2);
    let error = a.sync(&mut relay).result.unwrap_err();
    assert_eq!(error.code(), ErrorCode::RecordMismatch);
    assert_eq!(relay.len(), 1);
}

#[test]
fn a_version_refusal_says_which_versions_each_side_speaks() {
    let (mut round, _hello) = ClientRound::start(Device::new(1, 0, 0).local());
    let refusal = Message::Error(refusal("ERR_PROTOCOL", "v1 is too old", None, &[2, 3]));
    let Next::Step(Step::Fail(error)) = round.on_message(refusal) else {
        panic!("not a failure")
    };
    assert_eq!(
        error,
        Error::ProtocolVersion {
            ours: vec![1],
            theirs: vec![2, 3]
        }
    );
}

#[test]
fn an_answer_out_of_turn_is_a_protocol_error() {
    let welcome = || {
        Message::Welcome(Welcome {
            versions: vec![1],
            log: LogId([1; 16]),
            head: 0,
            clock: VectorClock::new(),
        })
    };
    let page = || {
        Message::Page(Page {
            records: Vec::new(),
            next: 0,
            remaining: 0,
            caught_up: true,
        })
    };
    let hello = Message::Hello(Hello {
        device: device(9),
        space: "s".into(),
        clock: VectorClock::new(),
    });
    let cases: Vec<(Vec<Message<'static>>, &str)> = vec![
        (vec![page()], "unexpected Page message instead of Welcome"),
        (vec![hello], "unexpected Hello message instead of Welcome"),
        (
            vec![welcome(), welcome()],
            "unexpected Welcome message instead of Page",
        ),
        (
            vec![Message::Pushed(VectorClock::new())],
            "instead of Welcome",
        ),
        (
            vec![Message::Pull(Pull {
                after: 0,
                max_records: 1,
                max_bytes: 1,
            })],
            "Pull",
        ),
    ];
    for (messages, expected) in cases {
        let (mut round, _hello) = ClientRound::start(Device::new(1, 0, 0).local());
        let mut last = None;
        for message in messages {
            last = Some(round.on_message(message));
        }
        match last {
            Some(Next::Step(Step::Fail(Error::Protocol(text)))) => {
                assert!(text.contains(expected), "{text}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_page_that_does_not_move_on_or_goes_back_is_a_protocol_error() {
    let mut relay = new_relay(10);
    let mut a = Device::new(1, 4, 10);
    a.sync(&mut relay).result.unwrap();
    let changes = [0x91, 0x90];
    // After position 4: (next, caught up, with a record, accepted).
    for (next, caught_up, with_record, accepted) in [
        (4, true, false, true),
        (5, true, true, true),
        (6, false, false, true),
        (4, false, false, false),
        (3, true, false, false),
        (4, true, true, false),
    ] {
        let (mut round, Step::Send(hello)) = ClientRound::start(a.local()) else {
            panic!("no hello")
        };
        let welcome = relay.answer(&hello).unwrap();
        let Next::Step(Step::Send(_pull)) = round.on_message(decode(&welcome).unwrap()) else {
            panic!("no pull")
        };
        let records = match with_record {
            true => vec![record(2, 1, HLC, VectorClock::new(), &changes)],
            false => Vec::new(),
        };
        let next_step = round.on_message(Message::Page(Page {
            records,
            next,
            remaining: 0,
            caught_up,
        }));
        let refused = matches!(next_step, Next::Step(Step::Fail(Error::Protocol(_))));
        assert_eq!(
            !refused, accepted,
            "next {next}, caught up {caught_up}: {next_step:?}"
        );
    }
}

#[test]
fn pings_are_answered_and_notifications_noted_during_a_round() {
    let mut relay = new_relay(10);
    let mut a = Device::new(1, 1, 10);
    let (mut round, Step::Send(hello)) = ClientRound::start(a.local()) else {
        panic!("no hello")
    };
    assert_eq!(
        round.on_message(Message::Ping(7)),
        Next::Step(Step::Send(encode(&Message::Pong(7)).unwrap()))
    );
    assert_eq!(round.on_message(Message::Pong(3)), Next::Step(Step::Wait));
    assert_eq!(
        round.on_message(Message::Notify(50)),
        Next::Step(Step::Wait)
    );
    // The round goes on as if nothing had come between.
    let Next::Step(Step::Collect(wanted)) =
        round.on_message(decode(&relay.answer(&hello).unwrap()).unwrap())
    else {
        panic!("no collect")
    };
    assert_eq!(wanted, vec![(device(1), 0)]);
    let Step::Send(push) = round.push(a.collect(&wanted)) else {
        panic!("no push")
    };
    let Next::Step(Step::Send(pull)) =
        round.on_message(decode(&relay.answer(&push).unwrap()).unwrap())
    else {
        panic!("no pull")
    };
    let page = relay.answer(&pull).unwrap();
    let Next::Apply(delivery) = round.on_message(decode(&page).unwrap()) else {
        panic!("no records")
    };
    a.import(delivery);
    let Step::Done(summary) = round.applied() else {
        panic!("not done")
    };
    // Position 1 is behind the notified 50: the caller runs another round.
    assert!(summary.behind);
}

#[test]
fn calls_out_of_turn_and_batches_that_repeat_records_end_the_round_as_bugs() {
    let a = Device::new(1, 3, 10);
    let internal = |step: Step| match step {
        Step::Fail(error) => assert_eq!(error.code(), ErrorCode::Internal),
        other => panic!("{other:?}"),
    };
    let (mut round, _) = ClientRound::start(a.local());
    internal(round.push(Batch::default()));
    let (mut round, _) = ClientRound::start(a.local());
    internal(round.applied());
    // A batch with a record the relay already holds, or out of order, or of another origin.
    let mut relay = new_relay(10);
    let first = &a.held[0];
    relay.hold(first.dot, first.hlc, &first.clock, &first.changes);
    for dots in [&[(1, 1)][..], &[(1, 3), (1, 2)], &[(2, 1)]] {
        let (mut round, Step::Send(hello)) = ClientRound::start(a.local()) else {
            panic!("no hello")
        };
        let welcome = relay.answer(&hello).unwrap();
        let next = round.on_message(decode(&welcome).unwrap());
        assert_eq!(next, Next::Step(Step::Collect(vec![(device(1), 1)])));
        let mut batch = Batch::default();
        for &(origin, seq) in dots {
            assert!(batch
                .offer(Dot::new(device(origin), seq), 1, &[0x80], &[])
                .unwrap());
        }
        internal(round.push(batch));
    }
}
