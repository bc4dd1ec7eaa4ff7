//! Rounds between real engines through the protocol tests' relay model (an in-memory relay that
//! follows the documented rules): convergence with the same conflicts everywhere, catch-up in
//! pages, resuming a cut round, pending counts, a relay whose log was replaced, and a page this
//! replica refuses.

use std::cell::Cell;
use std::rc::Rc;

use super::*;
use crate::engine::{ConflictStrategy, Engine, Location, Params, Rows};
use crate::model::Value;
use crate::protocol::{LogId, MemoryRelay};
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const URL: &str = "http://127.0.0.1:8787";
const SPACE: &str = "team";
const LOG: LogId = LogId([0xab; 16]);

fn engine(id: u8) -> Engine {
    let now = Rc::new(Cell::new(1_764_000_000_000u64));
    let clock = move || {
        now.set(now.get() + 1);
        now.get()
    };
    let mut db = Engine::builder(Location::Memory, Box::new(clock))
        .device_id(DeviceId([id; 16]))
        .random(Box::new(move |bytes: &mut [u8]| bytes.fill(id)))
        .open()
        .unwrap();
    db.execute(
        "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT)",
        &Params::None,
    )
    .unwrap();
    db.enable_sync("todos", ConflictStrategy::Manual).unwrap();
    db
}

fn exec(db: &mut Engine, sql: &str) {
    db.execute(sql, &Params::None).unwrap();
}

fn rows(db: &mut Engine) -> Vec<Vec<Value>> {
    let Rows { rows, .. } = db
        .query("SELECT id, title FROM todos ORDER BY id", &Params::None)
        .unwrap();
    rows
}

/// One round of `db` against `relay`, and the progress it reported, page by page.
fn round(db: &mut Engine, relay: &mut MemoryRelay) -> Result<(RoundReport, Vec<Progress>)> {
    let (mut round, mut action) = db.begin_round(URL, SPACE)?;
    let mut progress = Vec::new();
    for _ in 0..10_000 {
        match action {
            Action::Send(bytes) => {
                let reply = relay.answer(&bytes).unwrap();
                action = db.continue_round(&mut round, &reply)?;
                if round.progress().is_some() && round.progress() != progress.last().copied() {
                    progress.extend(round.progress());
                }
            }
            Action::Wait => panic!("the relay model answers every message"),
            Action::Done(report) => return Ok((report, progress)),
        }
    }
    panic!("the round did not end")
}

fn conflict_ids(db: &mut Engine) -> Vec<String> {
    db.conflicts()
        .unwrap()
        .iter()
        .map(|c| c.id.to_string())
        .collect()
}

#[test]
fn replicas_converge_through_a_relay_with_the_same_conflict_everywhere() {
    let mut relay = MemoryRelay::new(LOG, 1_000);
    let (mut a, mut b, mut c) = (engine(1), engine(2), engine(3));
    exec(&mut a, "INSERT INTO todos VALUES (1, 'milk')");
    round(&mut a, &mut relay).unwrap();
    round(&mut b, &mut relay).unwrap();
    exec(&mut a, "UPDATE todos SET title = 'oat milk' WHERE id = 1");
    exec(&mut b, "UPDATE todos SET title = 'soy milk' WHERE id = 1");
    exec(&mut c, "INSERT INTO todos VALUES (2, 'bread')");
    for _ in 0..2 {
        for db in [&mut a, &mut b, &mut c] {
            round(db, &mut relay).unwrap();
        }
    }
    let expected = rows(&mut a);
    assert_eq!(expected.len(), 2);
    assert_eq!(rows(&mut b), expected);
    assert_eq!(rows(&mut c), expected);
    let ids = conflict_ids(&mut a);
    assert_eq!(ids.len(), 1);
    assert_eq!(conflict_ids(&mut b), ids);
    assert_eq!(conflict_ids(&mut c), ids);
    // A resolution is a change like any other: it closes the conflict on every replica.
    let id = a.conflicts().unwrap()[0].id;
    a.resolve_conflict(id, crate::engine::Choice::Local)
        .unwrap();
    for db in [&mut a, &mut b, &mut c] {
        round(db, &mut relay).unwrap();
    }
    let resolved = rows(&mut a);
    for db in [&mut a, &mut b, &mut c] {
        assert!(conflict_ids(db).is_empty());
        assert_eq!(rows(db), resolved);
    }
}

#[test]
fn a_catch_up_comes_in_pages_with_progress_and_is_applied_once() {
    let mut relay = MemoryRelay::new(LOG, 1_000);
    let mut a = engine(1);
    for id in 0..2_500 {
        exec(&mut a, &format!("INSERT INTO todos VALUES ({id}, 't{id}')"));
    }
    let (report, _) = round(&mut a, &mut relay).unwrap();
    assert_eq!((report.sent, report.pending), (2_500, 0));
    let mut b = engine(2);
    let (report, progress) = round(&mut b, &mut relay).unwrap();
    assert_eq!(report.received, 2_500);
    let seen: Vec<(u64, u64)> = progress.iter().map(|p| (p.received, p.total)).collect();
    assert_eq!(seen, [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]);
    assert_eq!(rows(&mut b).len(), 2_500);
    // Caught up: the next round pulls nothing.
    let (report, progress) = round(&mut b, &mut relay).unwrap();
    assert_eq!((report.received, progress.len()), (0, 0));
}

#[test]
fn a_round_cut_short_resumes_after_the_last_page_it_applied() {
    let mut relay = MemoryRelay::new(LOG, 100);
    let mut a = engine(1);
    for id in 0..250 {
        exec(&mut a, &format!("INSERT INTO todos VALUES ({id}, 't{id}')"));
    }
    round(&mut a, &mut relay).unwrap();
    let mut b = engine(2);
    let (mut cut, mut action) = b.begin_round(URL, SPACE).unwrap();
    while cut.progress().is_none() {
        let Action::Send(bytes) = action else {
            panic!("the round ended before its first page")
        };
        action = b
            .continue_round(&mut cut, &relay.answer(&bytes).unwrap())
            .unwrap();
    }
    assert_eq!(cut.counts(), (0, 100));
    drop(cut);
    assert_eq!(rows(&mut b).len(), 100);
    let (report, progress) = round(&mut b, &mut relay).unwrap();
    assert_eq!(report.received, 150);
    assert_eq!(progress.last().map(|p| p.total), Some(150));
    assert_eq!(rows(&mut b), rows(&mut a));
}

#[test]
fn a_round_cut_short_counts_the_pushes_the_relay_acknowledged() {
    let mut relay = MemoryRelay::new(LOG, 1_000);
    let mut a = engine(1);
    for id in 0..1_500 {
        exec(&mut a, &format!("INSERT INTO todos VALUES ({id}, 't{id}')"));
    }
    let (mut cut, mut action) = a.begin_round(URL, SPACE).unwrap();
    // Hello, then the first push of 1,000 records: cut once the relay has acknowledged it.
    for _ in 0..2 {
        let Action::Send(bytes) = action else {
            panic!("the round ended early")
        };
        action = a
            .continue_round(&mut cut, &relay.answer(&bytes).unwrap())
            .unwrap();
    }
    assert_eq!(cut.counts(), (1_000, 0));
    drop(cut);
    assert_eq!(
        a.sync_pending(URL, SPACE).unwrap(),
        1_500,
        "acknowledged only at a round's end"
    );
    let (report, _) = round(&mut a, &mut relay).unwrap();
    assert_eq!((report.sent, report.pending), (500, 0));
}

#[test]
fn pending_counts_what_the_relay_has_not_acknowledged() {
    let mut relay = MemoryRelay::new(LOG, 1_000);
    let mut a = engine(1);
    for id in 0..3 {
        exec(&mut a, &format!("INSERT INTO todos VALUES ({id}, 'x')"));
    }
    assert_eq!(a.sync_pending(URL, SPACE).unwrap(), 3);
    round(&mut a, &mut relay).unwrap();
    assert_eq!(a.sync_pending(URL, SPACE).unwrap(), 0);
    exec(&mut a, "INSERT INTO todos VALUES (10, 'y')");
    exec(&mut a, "INSERT INTO todos VALUES (11, 'z')");
    assert_eq!(a.sync_pending(URL, SPACE).unwrap(), 2);
    // Another relay (or space) has acknowledged nothing.
    assert_eq!(a.sync_pending("http://elsewhere", SPACE).unwrap(), 5);
}

#[test]
fn a_relay_whose_log_was_replaced_is_pulled_from_the_start_and_pushed_again() {
    let mut relay = MemoryRelay::new(LOG, 1_000);
    let (mut a, mut b) = (engine(1), engine(2));
    exec(&mut a, "INSERT INTO todos VALUES (1, 'a')");
    exec(&mut b, "INSERT INTO todos VALUES (2, 'b')");
    round(&mut a, &mut relay).unwrap();
    round(&mut b, &mut relay).unwrap();
    round(&mut a, &mut relay).unwrap();
    // The relay lost its storage: a new, empty log.
    let mut fresh = MemoryRelay::new(LogId([0xcd; 16]), 1_000);
    let (report, _) = round(&mut b, &mut fresh).unwrap();
    assert_eq!(report.sent, 2, "B pushes every record it holds again");
    exec(&mut a, "INSERT INTO todos VALUES (3, 'c')");
    let (report, _) = round(&mut a, &mut fresh).unwrap();
    // The new log holds everything again; A pulls it all, but held every record already.
    assert_eq!((report.sent, report.received), (1, 0));
    round(&mut b, &mut fresh).unwrap();
    assert_eq!(rows(&mut a), rows(&mut b));
    assert_eq!(rows(&mut a).len(), 3);
}

#[test]
fn a_page_this_replica_refuses_fails_the_round_and_moves_nothing() {
    let mut relay = MemoryRelay::new(LOG, 1_000);
    let mut a = engine(1);
    exec(
        &mut a,
        "CREATE TABLE secrets (id INTEGER PRIMARY KEY, v TEXT)",
    );
    a.enable_sync("secrets", ConflictStrategy::Manual).unwrap();
    exec(&mut a, "INSERT INTO secrets VALUES (1, 's')");
    round(&mut a, &mut relay).unwrap();
    let mut b = engine(2);
    let error = round(&mut b, &mut relay).unwrap_err();
    assert_eq!(error.code(), crate::ErrorCode::TableNotSynced);
    assert_eq!(b.sync_pending(URL, SPACE).unwrap(), 0);
    assert!(b.vector_clock().unwrap().get(&DeviceId([1; 16])) == 0);
    // Once B syncs the table too, the same page applies.
    exec(
        &mut b,
        "CREATE TABLE secrets (id INTEGER PRIMARY KEY, v TEXT)",
    );
    b.enable_sync("secrets", ConflictStrategy::Manual).unwrap();
    let (report, _) = round(&mut b, &mut relay).unwrap();
    assert_eq!(report.received, 1);
}

#[test]
fn a_round_takes_no_message_after_it_ended_or_failed() {
    let mut relay = MemoryRelay::new(LOG, 1_000);
    let mut a = engine(1);
    let (mut ended, action) = a.begin_round(URL, SPACE).unwrap();
    let Action::Send(hello) = action else {
        panic!("a round begins by sending")
    };
    let garbage = a.continue_round(&mut ended, &[0xc1]).unwrap_err();
    assert_eq!(garbage.code(), crate::ErrorCode::Protocol);
    let again = a.continue_round(&mut ended, &relay.answer(&hello).unwrap());
    assert_eq!(again.unwrap_err().code(), crate::ErrorCode::Internal);
}
