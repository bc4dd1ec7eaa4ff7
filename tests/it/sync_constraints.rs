//! Table constraints meet sync: a received transaction must apply whenever it was valid where it
//! was made (UNIQUE values moved or swapped between rows), a constraint clash that exists only
//! part-way through a history must not stop sync, a cascade triggered by a received delete must
//! not wedge the pair, and rows SQLite lets have a NULL primary key are refused, locally and on the
//! wire. Companion of `sync.rs`.

use sqlite_sync_wasm::model::TableChanges;
use sqlite_sync_wasm::{ChangeSet, DeviceId, ErrorCode, RowChange, Value};

use crate::common::{bundle_of, exec, int, replica, rows, send, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const SLOTS: &str = "CREATE TABLE slots (id INTEGER PRIMARY KEY, pos INTEGER UNIQUE, label TEXT)";

fn slot(id: i64, pos: i64, label: &str) -> Vec<Value> {
    vec![int(id), int(pos), text(label)]
}

#[test]
fn a_transaction_that_moves_a_unique_value_to_another_row_syncs() {
    let (mut a, mut b) = (replica(SLOTS, &["slots"]), replica(SLOTS, &["slots"]));
    exec(
        &mut a,
        "INSERT INTO slots VALUES (1, 1, 'one'), (2, 2, 'two')",
    )
    .unwrap();
    send(&mut a, &mut b).unwrap();
    exec(
        &mut a,
        "BEGIN; UPDATE slots SET pos = 3 WHERE id = 1; INSERT INTO slots VALUES (4, 1, 'four');
         DELETE FROM slots WHERE id = 2; INSERT INTO slots VALUES (5, 2, 'five'); COMMIT",
    )
    .unwrap();
    let outcome = send(&mut a, &mut b).expect("a has a change for b");
    assert_eq!(outcome.applied, 4);
    let expected = vec![slot(1, 3, "one"), slot(4, 1, "four"), slot(5, 2, "five")];
    assert_eq!(rows(&mut a, "slots"), expected);
    assert_eq!(rows(&mut b, "slots"), expected);
}

#[test]
fn a_transaction_that_swaps_unique_values_between_rows_syncs() {
    let (mut a, mut b) = (replica(SLOTS, &["slots"]), replica(SLOTS, &["slots"]));
    exec(
        &mut a,
        "INSERT INTO slots VALUES (1, 1, 'one'), (2, 2, 'two')",
    )
    .unwrap();
    send(&mut a, &mut b).unwrap();
    exec(
        &mut a,
        "BEGIN; UPDATE slots SET pos = -1 WHERE id = 1; UPDATE slots SET pos = 1 WHERE id = 2;
         UPDATE slots SET pos = 2 WHERE id = 1; COMMIT",
    )
    .unwrap();
    let bytes = a.generate_bundle(Some(&b.device_id())).unwrap().unwrap();
    b.import_bundle(&bytes)
        .expect("a transaction valid on a applies on b");
    assert_eq!(
        rows(&mut b, "slots"),
        vec![slot(1, 2, "one"), slot(2, 1, "two")]
    );
}

#[test]
fn a_uniqueness_clash_only_part_way_through_history_does_not_stop_sync() {
    let (mut a, mut b) = (replica(SLOTS, &["slots"]), replica(SLOTS, &["slots"]));
    exec(&mut a, "INSERT INTO slots VALUES (1, 1, 'a')").unwrap();
    exec(&mut a, "UPDATE slots SET pos = 10 WHERE id = 1").unwrap();
    exec(&mut b, "INSERT INTO slots VALUES (2, 1, 'b')").unwrap();
    send(&mut b, &mut a).expect("a accepts b's row: position 1 is free on a");
    let bytes = a.generate_bundle(Some(&b.device_id())).unwrap().unwrap();
    // a's first record alone clashes with b's row; a's second record removes the clash.
    let imported = b.import_bundle(&bytes);
    assert!(
        imported.is_ok(),
        "the complete history is valid on b too: {imported:?}"
    );
    assert_eq!(
        rows(&mut a, "slots"),
        vec![slot(1, 10, "a"), slot(2, 1, "b")]
    );
    assert_eq!(rows(&mut b, "slots"), rows(&mut a, "slots"));
}

#[test]
fn a_parent_deleted_while_a_child_is_added_elsewhere_does_not_wedge_sync() {
    const LISTS: &str = "PRAGMA foreign_keys = ON;
        CREATE TABLE lists (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE items (id INTEGER PRIMARY KEY, list INTEGER REFERENCES lists (id) ON DELETE CASCADE, title TEXT)";
    let tables = ["lists", "items"];
    let (mut a, mut b) = (replica(LISTS, &tables), replica(LISTS, &tables));
    exec(&mut a, "INSERT INTO lists VALUES (1, 'groceries')").unwrap();
    send(&mut a, &mut b).unwrap();
    exec(&mut a, "DELETE FROM lists WHERE id = 1").unwrap();
    exec(&mut b, "INSERT INTO items VALUES (1, 1, 'milk')").unwrap();
    let from_a = a.generate_bundle(None).unwrap().unwrap();
    let from_b = b.generate_bundle(None).unwrap().unwrap();
    b.import_bundle(&from_a).unwrap();
    let imported = a.import_bundle(&from_b);
    assert!(
        imported.is_ok(),
        "b's changes must still reach a: {imported:?}"
    );
    for table in tables {
        assert_eq!(rows(&mut a, table), rows(&mut b, table), "{table}");
    }
}

#[test]
fn rows_with_a_null_primary_key_are_refused_locally_and_on_the_wire() {
    // SQLite allows NULL in a non-INTEGER primary key of a rowid table; sync cannot address it.
    const TAGS: &str = "CREATE TABLE tags (name TEXT PRIMARY KEY, color TEXT)";
    let mut a = replica(TAGS, &["tags"]);
    let error = exec(&mut a, "INSERT INTO tags VALUES (NULL, 'red')").unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument);
    assert!(
        rows(&mut a, "tags").is_empty(),
        "the refused write left nothing"
    );
    assert!(a.change_log().unwrap().is_empty());
    exec(&mut a, "INSERT INTO tags VALUES ('x', 'red')").unwrap();
    let null_key = ChangeSet {
        tables: vec![TableChanges {
            table: "tags".into(),
            columns: vec!["name".into(), "color".into()],
            primary_key: vec![0],
            rows: vec![RowChange::Insert {
                values: vec![Value::Null, text("red")],
            }],
        }],
    };
    let error = a
        .import_bundle(&bundle_of(DeviceId([5; 16]), &[null_key]))
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::BundleMalformed);
    assert_eq!(rows(&mut a, "tags"), vec![vec![text("x"), text("red")]]);
}
