//! Keys are told apart by their bytes. A primary key whose index compares with another collation
//! (NOCASE, RTRIM: 'Abc' and 'abc' would be one row on each replica but two keys to sync) is
//! refused by `enableSync` with `ERR_UNSUPPORTED_KEY`, wherever the collation is declared; a table
//! synced before that check keeps opening; and a key column whose own collation differs from its
//! BINARY key index is still matched by bytes when a change is applied.

use sqlite_sync_wasm::Location;
use sqlite_sync_wasm::{Engine, ErrorCode};

use crate::common::{engine, exec, int, replica, rows, send, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn enable_sync_refuses_keys_compared_with_another_collation() {
    let mut db = engine();
    exec(
        &mut db,
        "CREATE TABLE on_column (id TEXT COLLATE NOCASE PRIMARY KEY, v);
         CREATE TABLE in_clause (a, b, v, PRIMARY KEY (a COLLATE RTRIM, b));
         CREATE TABLE no_rowid (id TEXT COLLATE NOCASE PRIMARY KEY, v) WITHOUT ROWID;
         CREATE TABLE rowid_alias (id INTEGER PRIMARY KEY COLLATE NOCASE, v);
         CREATE TABLE other_column (id TEXT PRIMARY KEY, v TEXT COLLATE NOCASE);
         INSERT INTO on_column VALUES ('Abc', 1)",
    )
    .unwrap();
    for table in ["on_column", "in_clause", "no_rowid"] {
        let error = db.enable_sync(table, Default::default()).unwrap_err();
        assert_eq!(error.code(), ErrorCode::UnsupportedKey, "{table}: {error}");
    }
    assert!(db.synced_tables().is_empty());
    assert!(db.change_log().unwrap().is_empty(), "nothing was recorded");
    for table in ["rowid_alias", "other_column"] {
        db.enable_sync(table, Default::default()).unwrap();
    }
    assert_eq!(db.synced_tables(), ["other_column", "rowid_alias"]);
}

#[test]
fn a_table_synced_before_the_check_keeps_opening_and_capturing() {
    // Written by a build of format 1, before enableSync refused such keys (tests/fixtures/dbs).
    let fixture = include_bytes!("../fixtures/dbs/v1-nocase-key.db");
    let mut reopened = Engine::open(
        &Location::Snapshot(fixture.to_vec()),
        Box::new(|| 1_764_000_100_000),
    )
    .unwrap();
    assert_eq!(reopened.synced_tables(), ["t"]);
    exec(&mut reopened, "INSERT INTO t VALUES ('b', 1)").unwrap();
    assert_eq!(reopened.change_log().unwrap().len(), 2);
}

#[test]
fn a_key_column_collation_overridden_by_a_binary_key_is_matched_by_bytes() {
    const SCHEMA: &str =
        "CREATE TABLE t (id TEXT COLLATE NOCASE, v, PRIMARY KEY (id COLLATE BINARY))";
    let mut a = replica(SCHEMA, &["t"]);
    let mut b = replica(SCHEMA, &["t"]);
    exec(&mut a, "INSERT INTO t VALUES ('Abc', 1), ('abc', 2)").unwrap();
    send(&mut a, &mut b).unwrap();
    exec(
        &mut a,
        "UPDATE t SET v = 10 WHERE id = 'Abc' COLLATE BINARY",
    )
    .unwrap();
    send(&mut a, &mut b).unwrap();
    let both = vec![vec![text("abc"), int(2)], vec![text("Abc"), int(10)]];
    assert_eq!(rows(&mut b, "t"), both);
    exec(&mut a, "DELETE FROM t WHERE id = 'abc' COLLATE BINARY").unwrap();
    send(&mut a, &mut b).unwrap();
    let expected = vec![vec![text("Abc"), int(10)]];
    assert_eq!(rows(&mut a, "t"), expected);
    assert_eq!(rows(&mut b, "t"), expected);
}
