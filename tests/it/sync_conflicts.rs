//! Conflicts between replicas, per strategy: concurrent updates, inserts of the same key and an
//! update against a delete are listed under `manual` with the same id and the same provisional
//! winner on every replica (a third one included), each side's version of the row, and close
//! everywhere once resolved (remote, local, explicit values, or a later local write); values naming
//! an unknown column or another key are refused. `lww` lets the later write win silently;
//! `field-merge` merges edits of different columns and lists only edits of the same column.
//! Companion of `sync.rs`.

use sqlite_sync_wasm::{Choice, ConflictId, ConflictStrategy, Engine, ErrorCode, Value};

use crate::common::{
    exec, int, named, replica_on, rows, send, shared_clock, snapshot, tally, text,
};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const TODOS: &str =
    "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done INTEGER DEFAULT 0)";
const COLUMNS: [&str; 3] = ["id", "title", "done"];

fn todo(id: i64, title: &str, done: i64) -> Vec<Value> {
    vec![int(id), text(title), int(done)]
}

fn version(id: i64, title: &str, done: i64) -> Option<Vec<(String, Value)>> {
    Some(named(&COLUMNS, todo(id, title, done)))
}

/// Two replicas on one clock (so a write made later in the test is later on both), sharing the
/// rows inserted by `seed` on the first.
fn pair(strategy: ConflictStrategy, seed: &str) -> (Engine, Engine) {
    let clock = shared_clock();
    let mut a = replica_on(&clock, TODOS, &["todos"], strategy);
    let mut b = replica_on(&clock, TODOS, &["todos"], strategy);
    if !seed.is_empty() {
        exec(&mut a, seed).unwrap();
        send(&mut a, &mut b).unwrap();
    }
    (a, b)
}

/// Runs `on_a` on a, then (later) `on_b` on b, then exchanges a → b and b → a; returns the number
/// of new conflicts each import reported, as (into b, into a).
fn concurrently(a: &mut Engine, on_a: &str, b: &mut Engine, on_b: &str) -> (u64, u64) {
    exec(a, on_a).unwrap();
    exec(b, on_b).unwrap();
    let into_b = send(a, b).unwrap();
    let into_a = send(b, a).unwrap();
    (into_b.conflicts, into_a.conflicts)
}

/// The single open conflict of each replica, checked to be the same conflict.
fn one_conflict_each(
    a: &mut Engine,
    b: &mut Engine,
) -> (sqlite_sync_wasm::Conflict, sqlite_sync_wasm::Conflict) {
    let (mut on_a, mut on_b) = (a.conflicts().unwrap(), b.conflicts().unwrap());
    assert_eq!((on_a.len(), on_b.len()), (1, 1), "{on_a:?} {on_b:?}");
    let (on_a, on_b) = (on_a.remove(0), on_b.remove(0));
    assert_eq!(on_a.id, on_b.id, "the same id on every replica");
    assert_eq!(on_a.id.to_string().len(), 32);
    assert_eq!(
        (on_a.table.as_str(), &on_a.primary_key),
        ("todos", &on_b.primary_key)
    );
    (on_a, on_b)
}

fn settled(a: &mut Engine, b: &mut Engine) -> Vec<Vec<Value>> {
    assert!(a.conflicts().unwrap().is_empty(), "closed on a");
    assert!(b.conflicts().unwrap().is_empty(), "closed on b");
    let on_a = rows(a, "todos");
    assert_eq!(rows(b, "todos"), on_a);
    on_a
}

#[test]
fn concurrent_updates_are_one_conflict_with_the_same_id_and_winner_on_both_replicas() {
    let (mut a, mut b) = pair(
        ConflictStrategy::Manual,
        "INSERT INTO todos (id, title) VALUES (1, 'milk')",
    );
    exec(&mut a, "UPDATE todos SET title = 'oat milk' WHERE id = 1").unwrap();
    exec(&mut b, "UPDATE todos SET title = 'soy milk' WHERE id = 1").unwrap();
    let into_b = send(&mut a, &mut b).unwrap();
    let into_a = send(&mut b, &mut a).unwrap();
    assert_eq!(
        tally(&into_b),
        "total 2, applied 1, duplicates 1, conflicts 1",
        "b never acknowledged a's insert, so it comes again"
    );
    assert_eq!(tally(&into_a), "total 1, applied 1, conflicts 1");
    let (on_a, on_b) = one_conflict_each(&mut a, &mut b);
    assert_eq!(into_a.new_conflicts, vec![on_a.id.clone()]);
    assert_eq!(into_b.new_conflicts, vec![on_b.id.clone()]);
    assert_eq!(on_a.primary_key, named(&["id"], vec![int(1)]));
    assert_eq!(
        (on_a.local, on_a.remote),
        (version(1, "oat milk", 0), version(1, "soy milk", 0))
    );
    assert_eq!(
        (on_b.local, on_b.remote),
        (version(1, "soy milk", 0), version(1, "oat milk", 0))
    );
    let provisional = vec![todo(1, "soy milk", 0)];
    assert_eq!(
        rows(&mut a, "todos"),
        provisional,
        "the later write shows while open"
    );
    assert_eq!(rows(&mut b, "todos"), provisional);
}

#[test]
fn resolving_with_each_choice_closes_the_conflict_on_both_replicas() {
    let cases: [(Choice, bool, Vec<Value>); 4] = [
        (Choice::Remote, true, todo(1, "soy milk", 0)),
        (Choice::Local, true, todo(1, "oat milk", 0)),
        (Choice::Local, false, todo(1, "soy milk", 0)),
        (
            Choice::Values(vec![
                ("title".into(), text("rice milk")),
                ("done".into(), int(1)),
            ]),
            false,
            todo(1, "rice milk", 1),
        ),
    ];
    for (choice, on_a, expected) in cases {
        let (mut a, mut b) = pair(
            ConflictStrategy::Manual,
            "INSERT INTO todos (id, title) VALUES (1, 'milk')",
        );
        concurrently(
            &mut a,
            "UPDATE todos SET title = 'oat milk'",
            &mut b,
            "UPDATE todos SET title = 'soy milk'",
        );
        let (conflict, _) = one_conflict_each(&mut a, &mut b);
        let label = format!("{choice:?} on {}", if on_a { "a" } else { "b" });
        let (resolver, other) = if on_a {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        resolver.resolve_conflict(conflict.id, choice).unwrap();
        assert!(
            resolver.conflicts().unwrap().is_empty(),
            "{label}: closed where resolved"
        );
        let delivered = send(resolver, other).unwrap();
        assert_eq!(delivered.conflicts, 0, "{label}");
        assert_eq!(settled(&mut a, &mut b), vec![expected], "{label}");
        let again = a.resolve_conflict(conflict.id, Choice::Local).unwrap_err();
        assert_eq!(again.code(), ErrorCode::ConflictNotFound, "{label}");
    }
}

#[test]
fn a_later_local_write_that_saw_both_sides_closes_the_conflict() {
    let (mut a, mut b) = pair(
        ConflictStrategy::Manual,
        "INSERT INTO todos (id, title) VALUES (1, 'milk')",
    );
    concurrently(
        &mut a,
        "UPDATE todos SET title = 'oat milk'",
        &mut b,
        "UPDATE todos SET title = 'soy milk'",
    );
    one_conflict_each(&mut a, &mut b);
    exec(&mut b, "UPDATE todos SET done = 1 WHERE id = 1").unwrap();
    assert!(b.conflicts().unwrap().is_empty());
    send(&mut b, &mut a).unwrap();
    assert_eq!(settled(&mut a, &mut b), vec![todo(1, "soy milk", 1)]);
}

#[test]
fn a_third_replica_lists_the_same_conflict_and_its_resolution_closes_it_everywhere() {
    let (mut a, mut b) = pair(ConflictStrategy::Manual, "");
    let mut c = replica_on(&shared_clock(), TODOS, &["todos"], ConflictStrategy::Manual);
    exec(&mut a, "INSERT INTO todos (id, title) VALUES (1, 'from a')").unwrap();
    exec(&mut b, "INSERT INTO todos (id, title) VALUES (1, 'from b')").unwrap();
    let (only_a, only_b) = (a.generate_bundle(None), b.generate_bundle(None));
    c.import_bundle(&only_a.unwrap().unwrap()).unwrap();
    let into_c = c.import_bundle(&only_b.unwrap().unwrap()).unwrap();
    send(&mut a, &mut b).unwrap();
    send(&mut b, &mut a).unwrap();
    let (on_a, _) = one_conflict_each(&mut a, &mut b);
    let on_c = c.conflicts().unwrap();
    assert_eq!(on_c.len(), 1);
    assert_eq!(
        (&into_c.new_conflicts[0], &on_c[0].id),
        (&on_a.id, &on_a.id)
    );
    // Neither side is c's own: local is the provisional winner, remote the other version.
    assert_eq!(on_c[0].local, version(1, "from b", 0));
    assert_eq!(on_c[0].remote, version(1, "from a", 0));
    c.resolve_conflict(on_a.id, Choice::Remote).unwrap();
    send(&mut c, &mut a).unwrap();
    send(&mut c, &mut b).unwrap();
    assert_eq!(settled(&mut a, &mut b), vec![todo(1, "from a", 0)]);
    assert_eq!(settled(&mut c, &mut a), vec![todo(1, "from a", 0)]);
}

#[test]
fn concurrent_inserts_of_the_same_key_are_a_conflict() {
    let (mut a, mut b) = pair(ConflictStrategy::Manual, "");
    let created = concurrently(
        &mut a,
        "INSERT INTO todos (id, title) VALUES (7, 'from a')",
        &mut b,
        "INSERT INTO todos (id, title, done) VALUES (7, 'from b', 1)",
    );
    assert_eq!(created, (1, 1));
    let (on_a, on_b) = one_conflict_each(&mut a, &mut b);
    assert_eq!(
        (&on_a.local, &on_a.remote),
        (&version(7, "from a", 0), &version(7, "from b", 1))
    );
    assert_eq!((on_b.local, on_b.remote), (on_a.remote, on_a.local));
    assert_eq!(rows(&mut a, "todos"), vec![todo(7, "from b", 1)]);
    assert_eq!(rows(&mut b, "todos"), vec![todo(7, "from b", 1)]);
    a.resolve_conflict(on_a.id, Choice::Local).unwrap();
    send(&mut a, &mut b).unwrap();
    assert_eq!(settled(&mut a, &mut b), vec![todo(7, "from a", 0)]);
}

#[test]
fn an_update_concurrent_with_a_delete_is_a_conflict() {
    let (mut a, mut b) = pair(
        ConflictStrategy::Manual,
        "INSERT INTO todos (id, title) VALUES (1, 'milk')",
    );
    let created = concurrently(
        &mut a,
        "UPDATE todos SET done = 1",
        &mut b,
        "DELETE FROM todos",
    );
    assert_eq!(created, (1, 1));
    let (on_a, on_b) = one_conflict_each(&mut a, &mut b);
    assert_eq!((&on_a.local, &on_a.remote), (&version(1, "milk", 1), &None));
    assert_eq!((&on_b.local, &on_b.remote), (&None, &version(1, "milk", 1)));
    assert!(
        rows(&mut a, "todos").is_empty(),
        "the later delete is the provisional winner"
    );
    assert!(rows(&mut b, "todos").is_empty());
    a.resolve_conflict(on_a.id, Choice::Local).unwrap();
    send(&mut a, &mut b).unwrap();
    assert_eq!(settled(&mut a, &mut b), vec![todo(1, "milk", 1)]);
}

#[test]
fn lww_lets_the_later_write_win_on_both_without_listing_a_conflict() {
    let (mut a, mut b) = pair(
        ConflictStrategy::LastWriterWins,
        "INSERT INTO todos (id, title) VALUES (1, 'one'), (2, 'two')",
    );
    exec(&mut a, "UPDATE todos SET title = 'a early' WHERE id = 1").unwrap();
    exec(&mut b, "UPDATE todos SET title = 'b early' WHERE id = 2").unwrap();
    exec(&mut b, "UPDATE todos SET title = 'b later' WHERE id = 1").unwrap();
    exec(&mut a, "UPDATE todos SET title = 'a later' WHERE id = 2").unwrap();
    let into_b = send(&mut a, &mut b).unwrap();
    let into_a = send(&mut b, &mut a).unwrap();
    for outcome in [&into_a, &into_b] {
        assert_eq!(outcome.conflicts, 2, "recorded, resolved automatically");
        assert!(outcome.new_conflicts.is_empty(), "and not listed");
    }
    assert_eq!(
        settled(&mut a, &mut b),
        vec![todo(1, "b later", 0), todo(2, "a later", 0)]
    );
}

#[test]
fn field_merge_merges_different_columns_and_lists_only_same_column_edits() {
    let (mut a, mut b) = pair(
        ConflictStrategy::FieldMerge,
        "INSERT INTO todos (id, title) VALUES (1, 'one'), (2, 'two')",
    );
    concurrently(
        &mut a,
        "UPDATE todos SET title = 'one by a' WHERE id = 1; UPDATE todos SET title = 'two by a' WHERE id = 2",
        &mut b,
        "UPDATE todos SET done = 1 WHERE id = 1; UPDATE todos SET title = 'two by b' WHERE id = 2",
    );
    let (on_a, _) = one_conflict_each(&mut a, &mut b);
    assert_eq!(on_a.primary_key, named(&["id"], vec![int(2)]));
    assert_eq!(
        (on_a.local, on_a.remote),
        (version(2, "two by a", 0), version(2, "two by b", 0))
    );
    let merged = vec![todo(1, "one by a", 1), todo(2, "two by b", 0)];
    assert_eq!(rows(&mut a, "todos"), merged);
    assert_eq!(rows(&mut b, "todos"), merged);
}

#[test]
fn resolving_an_unknown_conflict_is_conflict_not_found_and_changes_nothing() {
    let (mut a, _b) = pair(
        ConflictStrategy::Manual,
        "INSERT INTO todos (id, title) VALUES (1, 'milk')",
    );
    let before = snapshot(&mut a, "todos");
    let unknown = ConflictId::from_hex("0123456789abcdef0123456789abcdef").unwrap();
    let error = a.resolve_conflict(unknown, Choice::Remote).unwrap_err();
    assert_eq!(error.code(), ErrorCode::ConflictNotFound);
    assert!(ConflictId::from_hex("not hex").is_none());
    assert_eq!(snapshot(&mut a, "todos"), before);
}

#[test]
fn resolving_with_values_for_an_unknown_column_or_another_key_is_refused() {
    let (mut a, mut b) = pair(
        ConflictStrategy::Manual,
        "INSERT INTO todos (id, title) VALUES (1, 'milk')",
    );
    concurrently(
        &mut a,
        "UPDATE todos SET title = 'oat milk'",
        &mut b,
        "UPDATE todos SET title = 'soy milk'",
    );
    let (conflict, _) = one_conflict_each(&mut a, &mut b);
    let before = snapshot(&mut a, "todos");
    let refusals = [
        (("colour", text("red")), ErrorCode::SchemaMismatch),
        (("id", int(99)), ErrorCode::InvalidArgument),
    ];
    for ((column, value), code) in refusals {
        let values = vec![
            (column.to_owned(), value),
            ("title".into(), text("rice milk")),
        ];
        let error = a
            .resolve_conflict(conflict.id, Choice::Values(values))
            .unwrap_err();
        assert_eq!(error.code(), code, "{column}");
        assert_eq!(snapshot(&mut a, "todos"), before, "{column}");
    }
    let same_key = vec![("id".into(), int(1)), ("title".into(), text("rice milk"))];
    a.resolve_conflict(conflict.id, Choice::Values(same_key))
        .unwrap();
    send(&mut a, &mut b).unwrap();
    assert_eq!(settled(&mut a, &mut b), vec![todo(1, "rice milk", 0)]);
}

#[test]
fn a_conflict_between_edits_of_different_columns_shows_each_sides_row() {
    let (mut a, mut b) = pair(
        ConflictStrategy::Manual,
        "INSERT INTO todos (id, title) VALUES (1, 'milk')",
    );
    concurrently(
        &mut a,
        "UPDATE todos SET title = 'oat milk'",
        &mut b,
        "UPDATE todos SET done = 1",
    );
    let (on_a, on_b) = one_conflict_each(&mut a, &mut b);
    assert_eq!(
        on_a.local,
        version(1, "oat milk", 0),
        "the row as a wrote it"
    );
    assert_eq!(on_a.remote, version(1, "milk", 1), "the row as b wrote it");
    assert_eq!((on_b.local, on_b.remote), (on_a.remote, on_a.local));
    assert_eq!(
        rows(&mut a, "todos"),
        vec![todo(1, "oat milk", 1)],
        "merged while open"
    );
    a.resolve_conflict(on_a.id, Choice::Local).unwrap();
    send(&mut a, &mut b).unwrap();
    assert_eq!(
        settled(&mut a, &mut b),
        vec![todo(1, "oat milk", 0)],
        "b's edit is undone"
    );
}
