//! Received values are checked against the receiving columns' types. Before, `'1'` or `1.0` for
//! row 1 of an INTEGER PRIMARY KEY got a merge state of its own (and an outcome that depended on
//! the order of delivery), a NaN key bound as NULL (a new rowid on each replica), an update listing
//! a key column cloned the row, and `'007'` silently became 7. Each is now refused with its code
//! and the bundle changes nothing; a replica whose columns are declared alike still imports
//! everything, a resolution included. In a key column that keeps reals as they are (no type, ANY)
//! a real with an integral value is refused at the source too, as SQLite takes it for an integer.

use sqlite_sync_wasm::{
    ChangeSet, Choice, DeviceId, Engine, ErrorCode, RowChange, TableChanges, Value,
};

use crate::common::{bundle_of, exec, int, replica, rows, send, snapshot, text, Snapshot};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const SCHEMA: &str = "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done INTEGER)";
const COLUMNS: [&str; 3] = ["id", "title", "done"];
const SOURCE: DeviceId = DeviceId([5; 16]);

/// A replica holding row 1, received from [`SOURCE`] as its first record.
fn target() -> Engine {
    let mut db = replica(SCHEMA, &["todos"]);
    let first = entry(vec![RowChange::Insert {
        values: vec![int(1), text("milk"), int(0)],
    }]);
    db.import_bundle(&bundle_of(SOURCE, &[first])).unwrap();
    db
}

fn entry(rows: Vec<RowChange>) -> ChangeSet {
    ChangeSet {
        tables: vec![TableChanges {
            table: "todos".into(),
            columns: COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
            primary_key: vec![0],
            rows,
        }],
    }
}

/// Asserts that a bundle of [`SOURCE`]'s first record and then `row` is refused with `code` and
/// changes nothing.
fn refused(row: RowChange, code: ErrorCode, what: &str) {
    let mut db = target();
    let first = entry(vec![RowChange::Insert {
        values: vec![int(1), text("milk"), int(0)],
    }]);
    let bytes = bundle_of(SOURCE, &[first, entry(vec![row])]);
    let before: Snapshot = snapshot(&mut db, "todos");
    let error = db.import_bundle(&bytes).expect_err(what);
    assert_eq!(error.code(), code, "{what}: {error}");
    assert_eq!(
        snapshot(&mut db, "todos"),
        before,
        "{what} changed something"
    );
}

fn update(key: Value, columns: Vec<u32>, new: Vec<Value>) -> RowChange {
    RowChange::Update {
        key: vec![key],
        old: new.clone(),
        columns,
        new,
    }
}

#[test]
fn keys_of_another_type_than_the_rowid_are_refused() {
    let insert = |id: Value| RowChange::Insert {
        values: vec![id, text("again"), int(0)],
    };
    refused(insert(text("1")), ErrorCode::SchemaMismatch, "text '1'");
    refused(
        insert(Value::Real(1.0)),
        ErrorCode::SchemaMismatch,
        "real 1.0",
    );
    let done = |id: Value| update(id, vec![2], vec![int(1)]);
    refused(done(text("1")), ErrorCode::SchemaMismatch, "update of '1'");
    refused(
        done(Value::Real(1.0)),
        ErrorCode::SchemaMismatch,
        "update of 1.0",
    );
    let delete = RowChange::Delete {
        old: vec![text("1"), text("milk"), int(0)],
    };
    refused(delete, ErrorCode::SchemaMismatch, "delete of '1'");
}

#[test]
fn nan_keys_and_updates_listing_a_key_column_are_malformed() {
    let nan = RowChange::Insert {
        values: vec![Value::Real(f64::NAN), text("nan"), int(0)],
    };
    refused(nan, ErrorCode::BundleMalformed, "NaN key");
    let nan_update = update(Value::Real(f64::NAN), vec![2], vec![int(1)]);
    refused(
        nan_update,
        ErrorCode::BundleMalformed,
        "update of a NaN key",
    );
    let moved = update(int(1), vec![0, 1], vec![int(2), text("clone")]);
    refused(moved, ErrorCode::BundleMalformed, "update listing the key");
}

#[test]
fn values_the_receiving_column_would_convert_are_schema_mismatches() {
    let cases = [
        (vec![int(2), text("t"), text("007")], "'007' into INTEGER"),
        (vec![int(2), int(7), int(0)], "7 into TEXT"),
        (
            vec![int(2), text("t"), Value::Real(1.0)],
            "1.0 into INTEGER",
        ),
    ];
    for (values, what) in cases {
        let row = RowChange::Insert { values };
        refused(row, ErrorCode::SchemaMismatch, what);
    }
    refused(
        update(int(1), vec![2], vec![text("007")]),
        ErrorCode::SchemaMismatch,
        "update to '007'",
    );
}

#[test]
fn replicas_that_declare_columns_differently_refuse_each_others_values() {
    let mut sender = replica(
        "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done TEXT)",
        &["todos"],
    );
    let mut receiver = replica(SCHEMA, &["todos"]);
    exec(&mut sender, "INSERT INTO todos VALUES (1, 'milk', '007')").unwrap();
    let bundle = sender.generate_bundle(None).unwrap().unwrap();
    let error = receiver.import_bundle(&bundle).unwrap_err();
    assert_eq!(error.code(), ErrorCode::SchemaMismatch);
    assert!(
        error
            .to_string()
            .contains(r#"column "done" of table todos"#),
        "{error}"
    );
    assert!(rows(&mut receiver, "todos").is_empty());
}

#[test]
fn a_resolution_with_loosely_typed_values_is_recorded_as_stored() {
    let schema = "CREATE TABLE items (id INTEGER PRIMARY KEY, price REAL, note TEXT)";
    let mut a = replica(schema, &["items"]);
    let mut b = replica(schema, &["items"]);
    exec(&mut a, "INSERT INTO items VALUES (1, 1.5, 'a')").unwrap();
    exec(&mut b, "INSERT INTO items VALUES (1, 2.5, 'b')").unwrap();
    send(&mut a, &mut b).unwrap();
    let conflict = b.conflicts().unwrap().pop().expect("a conflict");
    let values = vec![("price".to_owned(), int(5)), ("note".to_owned(), int(7))];
    b.resolve_conflict(conflict.id, Choice::Values(values))
        .unwrap();
    let recorded = b.change_log().unwrap().pop().unwrap().changes.tables[0]
        .rows
        .clone();
    let as_stored = vec![int(1), Value::Real(5.0), text("7")];
    assert_eq!(recorded, [RowChange::Insert { values: as_stored }]);
    send(&mut b, &mut a).expect("the resolution imports");
    let stored = vec![vec![int(1), Value::Real(5.0), text("7")]];
    assert_eq!(rows(&mut b, "items"), stored);
    assert_eq!(rows(&mut a, "items"), stored);
}

#[test]
fn integral_real_keys_in_columns_that_keep_reals_are_refused_everywhere() {
    // With no declared type (BLOB affinity) the column keeps 1 and 1.0 apart, but SQLite finds the
    // row of 1 by 1.0: one row, two keys to sync.
    let schema =
        "CREATE TABLE t (id PRIMARY KEY, v); CREATE TABLE s (id ANY PRIMARY KEY, v TEXT) STRICT";
    let mut db = replica(schema, &["t", "s"]);
    for sql in [
        "INSERT INTO t VALUES (1.0, 'real')",
        "INSERT INTO s VALUES (-0.0, 'real')",
        "INSERT INTO t VALUES (1, 'a'), (2.0, 'b')",
    ] {
        let error = exec(&mut db, sql).expect_err(sql);
        assert_eq!(error.code(), ErrorCode::InvalidArgument, "{sql}: {error}");
    }
    assert!(db.change_log().unwrap().is_empty());
    exec(
        &mut db,
        "INSERT INTO t VALUES (1, 'int'), (1.5, 'real'), ('1', 'text')",
    )
    .unwrap();
    assert_eq!(db.change_log().unwrap().len(), 1);

    let mut fresh = replica("CREATE TABLE t (id PRIMARY KEY, v)", &[]);
    exec(&mut fresh, "INSERT INTO t VALUES (3.0, 'before sync')").unwrap();
    let error = fresh.enable_sync("t", Default::default()).unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument, "{error}");

    let mut receiver = replica("CREATE TABLE t (id PRIMARY KEY, v)", &["t"]);
    let crafted = ChangeSet {
        tables: vec![TableChanges {
            table: "t".into(),
            columns: vec!["id".into(), "v".into()],
            primary_key: vec![0],
            rows: vec![RowChange::Insert {
                values: vec![Value::Real(1.0), text("real")],
            }],
        }],
    };
    let before = snapshot(&mut receiver, "t");
    let error = receiver
        .import_bundle(&bundle_of(SOURCE, &[crafted]))
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::BundleMalformed, "{error}");
    assert_eq!(snapshot(&mut receiver, "t"), before);
}
