//! Sync between two or three replicas through bundles: both-way exchange with exact import counts,
//! idempotent and overlapping imports, lost bundles and acknowledgements, out-of-order delivery,
//! relaying through a third replica, refusal inside an open transaction, and exact transfer of
//! composite keys, BLOBs and primary-key changes. Conflicts are in `sync_conflicts.rs`, table
//! constraints in `sync_constraints.rs`.

use sqlite_sync_wasm::bundle::{self, BundleBody};
use sqlite_sync_wasm::{ConflictStrategy, Engine, ErrorCode, Params, Value};

use crate::common::{
    exec, int, replica, replica_on, rows, send, shared_clock, snapshot, tally, text,
};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const TODOS: &str =
    "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done INTEGER DEFAULT 0)";

fn todos() -> Engine {
    replica(TODOS, &["todos"])
}

fn todo(id: i64, title: &str, done: i64) -> Vec<Value> {
    vec![int(id), text(title), int(done)]
}

/// The records of a bundle as (origin, seq).
fn records(bytes: &[u8]) -> Vec<(sqlite_sync_wasm::DeviceId, u64)> {
    let body = bundle::decode(bytes).expect("decode");
    body.records.iter().map(|r| (r.origin, r.seq)).collect()
}

#[test]
fn two_replicas_exchange_both_ways_and_converge_with_exact_counts() {
    let (mut a, mut b) = (todos(), todos());
    let (on_a, on_b) = ("(1, 'milk', 0), (2, 'eggs', 0)", "(3, 'bread', 1)");
    exec(&mut a, &format!("INSERT INTO todos VALUES {on_a}")).unwrap();
    exec(&mut b, &format!("INSERT INTO todos VALUES {on_b}")).unwrap();

    let into_b = send(&mut a, &mut b).expect("a has changes for b");
    assert_eq!((into_b.source, into_b.skipped), (a.device_id(), false));
    assert_eq!(tally(&into_b), "total 2, applied 2");

    let into_a = send(&mut b, &mut a).expect("b has its own change for a");
    assert_eq!(into_a.source, b.device_id());
    assert_eq!(
        tally(&into_a),
        "total 1, applied 1",
        "a's own changes are not sent back: a's bundle told b what a has"
    );

    let ack = send(&mut a, &mut b).expect("a acknowledges b's change");
    assert_eq!(tally(&ack), "", "an acknowledgement carries no change");
    assert_eq!(send(&mut a, &mut b), None, "b has everything a has");
    assert_eq!(
        send(&mut b, &mut a),
        None,
        "and knows a has everything b has"
    );
    let expected = vec![todo(1, "milk", 0), todo(2, "eggs", 0), todo(3, "bread", 1)];
    assert_eq!(rows(&mut a, "todos"), expected);
    assert_eq!(rows(&mut b, "todos"), expected);
    assert_eq!(a.vector_clock().unwrap(), b.vector_clock().unwrap());
    assert_eq!(a.vector_clock().unwrap().get(&a.device_id()), 1);
    assert_eq!(b.vector_clock().unwrap().get(&a.device_id()), 1);
}

#[test]
fn importing_the_same_bundle_again_is_skipped_and_changes_nothing() {
    let (mut a, mut b) = (todos(), todos());
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (1, 'milk')").unwrap();
    exec(&mut a, "UPDATE todos SET done = 1 WHERE id = 1").unwrap();
    let bytes = a.generate_bundle(None).unwrap().unwrap();
    let first = b.import_bundle(&bytes).unwrap();
    assert_eq!(tally(&first), "total 2, applied 2");
    let before = snapshot(&mut b, "todos");
    let again = b.import_bundle(&bytes).unwrap();
    assert_eq!(tally(&again), "total 2, duplicates 2, skipped");
    assert_eq!(again.bundle_id, first.bundle_id);
    assert_eq!(snapshot(&mut b, "todos"), before);
}

#[test]
fn an_overlapping_bundle_reports_duplicates_and_applies_only_what_is_new() {
    let (mut a, mut b, mut c) = (todos(), todos(), todos());
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (1, 'milk')").unwrap();
    let older = a.generate_bundle(None).unwrap().unwrap();
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (2, 'eggs')").unwrap();
    let newer = a.generate_bundle(None).unwrap().unwrap();

    b.import_bundle(&newer).unwrap();
    let before = snapshot(&mut b, "todos");
    let covered = b.import_bundle(&older).unwrap();
    assert_eq!(tally(&covered), "total 1, duplicates 1");
    assert_eq!(snapshot(&mut b, "todos"), before, "nothing changes");

    c.import_bundle(&older).unwrap();
    let partly = c.import_bundle(&newer).unwrap();
    assert_eq!(tally(&partly), "total 2, applied 1, duplicates 1");
    assert_eq!(rows(&mut c, "todos"), rows(&mut b, "todos"));
}

#[test]
fn importing_a_replicas_own_bundle_changes_nothing() {
    let mut a = todos();
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (1, 'milk')").unwrap();
    let bytes = a.generate_bundle(None).unwrap().unwrap();
    let before = snapshot(&mut a, "todos");
    let outcome = a.import_bundle(&bytes).unwrap();
    assert_eq!(tally(&outcome), "total 1, duplicates 1");
    assert_eq!(snapshot(&mut a, "todos"), before);
}

#[test]
fn a_lost_bundle_is_included_again_in_the_next_bundle_for_that_peer() {
    let (mut a, mut b) = (todos(), todos());
    let peer = b.device_id();
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (1, 'milk')").unwrap();
    let lost = a.generate_bundle(Some(&peer)).unwrap().unwrap();
    assert_eq!(records(&lost), [(a.device_id(), 1)]);
    exec(&mut a, "UPDATE todos SET done = 1 WHERE id = 1").unwrap();
    let next = a.generate_bundle(Some(&peer)).unwrap().unwrap();
    assert_eq!(records(&next), [(a.device_id(), 1), (a.device_id(), 2)]);
    let outcome = b.import_bundle(&next).unwrap();
    assert_eq!(tally(&outcome), "total 2, applied 2");
    assert_eq!(rows(&mut b, "todos"), rows(&mut a, "todos"));
    assert_eq!(rows(&mut b, "todos"), vec![todo(1, "milk", 1)]);
}

#[test]
fn a_bundle_from_the_peer_acknowledges_what_it_has() {
    let (mut a, mut b) = (todos(), todos());
    let peer = b.device_id();
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (1, 'milk')").unwrap();
    send(&mut a, &mut b).unwrap();
    exec(&mut b, "INSERT INTO todos (id, title) VALUES (2, 'eggs')").unwrap();
    send(&mut b, &mut a).unwrap();
    let ack = a
        .generate_bundle(Some(&peer))
        .unwrap()
        .expect("an acknowledgement of b's change");
    assert!(records(&ack).is_empty(), "b has all of a's changes");
    b.import_bundle(&ack).unwrap();
    assert_eq!(
        b.generate_bundle(Some(&a.device_id())).unwrap(),
        None,
        "b knows a has its change and stops sending it"
    );
    assert_eq!(
        a.generate_bundle(Some(&peer)).unwrap(),
        None,
        "nothing new either way"
    );

    exec(&mut a, "UPDATE todos SET done = 1 WHERE id = 1").unwrap();
    let next = a.generate_bundle(Some(&peer)).unwrap().unwrap();
    assert_eq!(records(&next), [(a.device_id(), 2)], "only what b lacks");
    let outcome = b.import_bundle(&next).unwrap();
    assert_eq!(tally(&outcome), "total 1, applied 1");
    assert_eq!(rows(&mut b, "todos"), rows(&mut a, "todos"));

    let everything = a.generate_bundle(None).unwrap().unwrap();
    assert_eq!(
        records(&everything).len(),
        3,
        "without a peer, every change is sent"
    );
    let stranger = todos().device_id();
    let unknown = a.generate_bundle(Some(&stranger)).unwrap().unwrap();
    assert_eq!(records(&unknown), records(&everything));
}

#[test]
fn bundles_imported_newest_first_wait_and_then_apply_in_causal_order() {
    const UNIQUE: &str =
        "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT UNIQUE, done INTEGER DEFAULT 0)";
    let mut a = replica(UNIQUE, &["todos"]);
    let mut b = replica(UNIQUE, &["todos"]);
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (1, 'milk')").unwrap();
    exec(&mut a, "UPDATE todos SET title = 'oat milk' WHERE id = 1").unwrap();
    // Valid only after the rename above: in any other order the unique index would refuse it.
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (2, 'milk')").unwrap();
    exec(&mut a, "UPDATE todos SET done = 1 WHERE id = 2").unwrap();
    let body = bundle::decode(&a.generate_bundle(None).unwrap().unwrap()).unwrap();
    let (first, rest) = body.records.split_at(1);
    let part = |records: &[bundle::WireRecord]| {
        bundle::encode(&BundleBody {
            records: records.to_vec(),
            ..body.clone()
        })
        .unwrap()
    };

    let newest = b.import_bundle(&part(rest)).unwrap();
    assert_eq!(tally(&newest), "total 3, pending 3");
    assert!(
        rows(&mut b, "todos").is_empty(),
        "nothing applies before its predecessor"
    );
    assert_eq!(b.vector_clock().unwrap().get(&a.device_id()), 0);
    assert!(
        b.change_log().unwrap().is_empty(),
        "waiting records are not in the log yet"
    );

    let oldest = b.import_bundle(&part(first)).unwrap();
    assert_eq!(tally(&oldest), "total 1, applied 1, released 3");
    assert_eq!(
        rows(&mut b, "todos"),
        vec![todo(1, "oat milk", 0), todo(2, "milk", 1)]
    );
    assert_eq!(rows(&mut b, "todos"), rows(&mut a, "todos"));
    assert_eq!(b.vector_clock().unwrap().get(&a.device_id()), 4);
}

#[test]
fn changes_relay_through_a_third_replica_in_both_directions() {
    let (mut a, mut b, mut c) = (todos(), todos(), todos());
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (1, 'from a')").unwrap();
    send(&mut a, &mut b).unwrap();
    let relayed = send(&mut b, &mut c).expect("b relays a's change");
    assert_eq!(tally(&relayed), "total 1, applied 1");
    assert_eq!(rows(&mut c, "todos"), vec![todo(1, "from a", 0)]);
    assert_eq!(c.change_log().unwrap()[0].origin, a.device_id());

    exec(&mut c, "INSERT INTO todos (id, title) VALUES (2, 'from c')").unwrap();
    send(&mut c, &mut b).unwrap();
    let back = send(&mut b, &mut a).expect("b relays c's change");
    assert_eq!(tally(&back), "total 1, applied 1");
    let expected = vec![todo(1, "from a", 0), todo(2, "from c", 0)];
    for db in [&mut a, &mut b, &mut c] {
        assert_eq!(rows(db, "todos"), expected);
    }
    assert_eq!(a.vector_clock().unwrap(), c.vector_clock().unwrap());
}

#[test]
fn bundles_are_refused_inside_an_open_transaction_which_stays_intact() {
    let (mut a, mut b) = (todos(), todos());
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (1, 'milk')").unwrap();
    let bytes = a.generate_bundle(None).unwrap().unwrap();
    exec(
        &mut b,
        "BEGIN; INSERT INTO todos (id, title) VALUES (5, 'mine')",
    )
    .unwrap();
    let code = |e: sqlite_sync_wasm::Error| e.code();
    assert_eq!(
        b.import_bundle(&bytes).map_err(code).unwrap_err(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        b.generate_bundle(None).map_err(code).unwrap_err(),
        ErrorCode::InvalidArgument
    );
    assert!(b.in_transaction(), "the caller's transaction is still open");
    assert_eq!(rows(&mut b, "todos"), vec![todo(5, "mine", 0)]);
    exec(&mut b, "COMMIT").unwrap();
    assert_eq!(
        b.change_log().unwrap().len(),
        1,
        "the transaction's write was captured"
    );
    let outcome = b.import_bundle(&bytes).unwrap();
    assert!(!outcome.skipped, "the refused attempt left no trace");
    assert_eq!(
        rows(&mut b, "todos"),
        vec![todo(1, "milk", 0), todo(5, "mine", 0)]
    );
}

#[test]
fn composite_keys_and_blob_values_sync_exactly() {
    const FILES: &str = "CREATE TABLE files (owner TEXT, name TEXT, data BLOB, size REAL, PRIMARY KEY (name, owner)) WITHOUT ROWID;
                         CREATE TABLE chunks (hash BLOB PRIMARY KEY, body BLOB)";
    let (mut a, mut b) = (
        replica(FILES, &["files", "chunks"]),
        replica(FILES, &["files", "chunks"]),
    );
    let big: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
    let insert = "INSERT INTO files VALUES (?, ?, ?, ?)";
    for (owner, name, data, size) in [
        ("ann", "a.txt", vec![0u8, 1, 255, 0], 4.0),
        ("bob", "a.txt", vec![], 0.0),
        ("ann", "b.bin", big.clone(), 5000.5),
    ] {
        let params = vec![
            text(owner),
            text(name),
            Value::Blob(data),
            Value::Real(size),
        ];
        a.execute(insert, &Params::Positional(params)).unwrap();
    }
    let chunk =
        |hash: &[u8], body: Value| Params::Positional(vec![Value::Blob(hash.to_vec()), body]);
    a.execute(
        "INSERT INTO chunks VALUES (?, ?)",
        &chunk(&[0, 0, 1], Value::Blob(vec![9; 3])),
    )
    .unwrap();
    a.execute(
        "INSERT INTO chunks VALUES (?, ?)",
        &chunk(&[0xff], Value::Null),
    )
    .unwrap();
    send(&mut a, &mut b).unwrap();

    exec(
        &mut a,
        "UPDATE files SET data = x'00ff00' WHERE owner = 'bob' AND name = 'a.txt'",
    )
    .unwrap();
    exec(
        &mut a,
        "DELETE FROM files WHERE owner = 'ann' AND name = 'a.txt'",
    )
    .unwrap();
    exec(&mut a, "UPDATE chunks SET body = x'' WHERE hash = x'ff'").unwrap();
    exec(&mut a, "DELETE FROM chunks WHERE hash = x'000001'").unwrap();
    send(&mut a, &mut b).unwrap();

    assert_eq!(
        rows(&mut b, "files"),
        vec![
            vec![
                text("ann"),
                text("b.bin"),
                Value::Blob(big),
                Value::Real(5000.5)
            ],
            vec![
                text("bob"),
                text("a.txt"),
                Value::Blob(vec![0, 255, 0]),
                Value::Real(0.0)
            ],
        ]
    );
    assert_eq!(
        rows(&mut b, "chunks"),
        vec![vec![Value::Blob(vec![0xff]), Value::Blob(vec![])]]
    );
    assert_eq!(rows(&mut b, "files"), rows(&mut a, "files"));
}

#[test]
fn a_primary_key_change_syncs_in_both_directions() {
    let clock = shared_clock();
    let mut a = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    let mut b = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    exec(
        &mut a,
        "INSERT INTO todos (id, title) VALUES (1, 'milk'), (2, 'eggs')",
    )
    .unwrap();
    send(&mut a, &mut b).unwrap();
    exec(&mut a, "UPDATE todos SET id = 10 WHERE id = 1").unwrap();
    send(&mut a, &mut b).unwrap();
    assert_eq!(
        rows(&mut b, "todos"),
        vec![todo(2, "eggs", 0), todo(10, "milk", 0)]
    );
    exec(&mut b, "UPDATE todos SET id = id + 100").unwrap();
    send(&mut b, &mut a).unwrap();
    assert_eq!(
        rows(&mut a, "todos"),
        vec![todo(102, "eggs", 0), todo(110, "milk", 0)]
    );
    assert_eq!(rows(&mut a, "todos"), rows(&mut b, "todos"));
    assert!(a.conflicts().unwrap().is_empty() && b.conflicts().unwrap().is_empty());
}
