//! Old bundles stay importable forever. `tests/fixtures/bundles/v1-todos.bin` is a format-1 bundle,
//! committed once and never regenerated, carrying inserts, updates, deletes, a primary-key change,
//! a multi-statement transaction, REAL, Unicode and NULL values, a composite-key table and BLOBs.
//! It is read with `include_bytes!` (so the test also runs on wasm) and imported into a fresh
//! replica, which must end with exactly the rows below.
//!
//! The generator replays the same history and checks it still yields those rows. Run it with
//! `WRITE_FIXTURES=1 cargo test --test it fixtures::` to write the fixture of the *current* format
//! version (`v{BUNDLE_VERSION}-todos.bin`), only when that version has none yet; never overwrite
//! an existing fixture.

use sqlite_sync_wasm::bundle::{self, BUNDLE_VERSION};
use sqlite_sync_wasm::{Engine, Value};

use crate::common::{exec, int, replica, rows, tally, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const V1_TODOS: &[u8] = include_bytes!("../fixtures/bundles/v1-todos.bin");

const SCHEMA: &str =
    "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0, score REAL);
     CREATE TABLE files (owner TEXT NOT NULL, name TEXT NOT NULL, data BLOB, PRIMARY KEY (owner, name)) WITHOUT ROWID";
const TABLES: [&str; 2] = ["todos", "files"];

/// The history the fixture was made from, one record per entry.
const HISTORY: [&str; 8] = [
    "INSERT INTO todos (id, title, score) VALUES (1, 'milk', 1.5), (2, 'eggs', NULL), (3, 'bread', -2.25)",
    "UPDATE todos SET done = 1 WHERE id = 1",
    "DELETE FROM todos WHERE id = 2",
    "UPDATE todos SET id = 30, title = 'rye bread' WHERE id = 3",
    "INSERT INTO files VALUES ('ann', 'a.bin', x'00ff10'), ('bob', 'b.txt', NULL), ('ann', 'empty', x'')",
    "UPDATE files SET data = x'deadbeef' WHERE owner = 'bob'",
    "DELETE FROM files WHERE owner = 'ann' AND name = 'a.bin'",
    "BEGIN; INSERT INTO todos (id, title) VALUES (4, 'crème brûlée 🍮'); UPDATE todos SET score = 0.1 WHERE id = 1; COMMIT",
];

fn expected_todos() -> Vec<Vec<Value>> {
    vec![
        vec![int(1), text("milk"), int(1), Value::Real(0.1)],
        vec![int(4), text("crème brûlée 🍮"), int(0), Value::Null],
        vec![int(30), text("rye bread"), int(0), Value::Real(-2.25)],
    ]
}

fn expected_files() -> Vec<Vec<Value>> {
    vec![
        vec![text("ann"), text("empty"), Value::Blob(vec![])],
        vec![
            text("bob"),
            text("b.txt"),
            Value::Blob(vec![0xde, 0xad, 0xbe, 0xef]),
        ],
    ]
}

fn assert_expected(db: &mut Engine) {
    assert_eq!(rows(db, "todos"), expected_todos());
    assert_eq!(rows(db, "files"), expected_files());
}

#[test]
fn the_v1_fixture_imports_into_a_fresh_replica_with_the_exact_rows() {
    assert_eq!(
        &V1_TODOS[..8],
        b"SQSYNC\0\x01",
        "the fixture is format version 1"
    );
    let body = bundle::decode(V1_TODOS).expect("the fixture still decodes");
    assert_eq!(body.records.len(), HISTORY.len());
    assert!(body.records.iter().all(|r| r.origin == body.source));
    assert_eq!(
        body.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );

    let mut db = replica(SCHEMA, &TABLES);
    let outcome = db
        .import_bundle(V1_TODOS)
        .expect("the fixture still imports");
    assert_eq!((outcome.source, outcome.bundle_id), (body.source, body.id));
    assert_eq!(tally(&outcome), "total 14, applied 14");
    assert_expected(&mut db);
    assert_eq!(db.change_log().unwrap().len(), HISTORY.len());
    assert_eq!(db.vector_clock().unwrap().get(&body.source), 8);
    assert!(db.conflicts().unwrap().is_empty());
    assert!(db.import_bundle(V1_TODOS).unwrap().skipped);
}

#[test]
fn the_fixture_history_still_produces_the_expected_rows() {
    let mut source = replica(SCHEMA, &TABLES);
    for sql in HISTORY {
        exec(&mut source, sql).unwrap();
    }
    assert_expected(&mut source);
    let bytes = source.generate_bundle(None).unwrap().expect("a bundle");
    let mut db = replica(SCHEMA, &TABLES);
    let outcome = db.import_bundle(&bytes).unwrap();
    assert_eq!(tally(&outcome), "total 14, applied 14");
    assert_expected(&mut db);
    write_fixture(&bytes);
}

/// Writes the current version's fixture when `WRITE_FIXTURES=1` and it does not exist yet.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn write_fixture(bytes: &[u8]) {
    if std::env::var("WRITE_FIXTURES").as_deref() != Ok("1") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundles");
    let path = dir.join(format!("v{BUNDLE_VERSION}-todos.bin"));
    let existing = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        existing,
        0,
        "{} exists: fixtures are never regenerated",
        path.display()
    );
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&path, bytes).unwrap();
}

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
fn write_fixture(_: &[u8]) {
    let _ = BUNDLE_VERSION;
}
