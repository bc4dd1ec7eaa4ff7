//! TEXT that is not valid UTF-8 (`CAST(x'ff00fe' AS TEXT)`) cannot travel exactly: it used to be
//! captured with U+FFFD replacements, so replicas differed byte for byte (and with such a key the
//! origin ended up with two rows). A write of such TEXT to a synced table is refused with
//! `ERR_INVALID_ARGUMENT` and leaves nothing, in any form of transaction; the same bytes as a BLOB
//! sync, and tables that are not synced are not concerned.

use sqlite_sync_wasm::{Engine, ErrorCode, Params, Value};

use crate::common::{exec, replay, replica, rows, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const SCHEMA: &str = "CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT);
                      CREATE TABLE plain (id INTEGER PRIMARY KEY, v TEXT)";
const BAD_VALUE: &str = "INSERT INTO t VALUES ('k', CAST(x'ff00fe' AS TEXT))";
const BAD_KEY: &str = "INSERT INTO t VALUES (CAST(x'ff00fe' AS TEXT), 'v')";

/// Asserts that `sql` fails with the code and message of invalid TEXT.
fn refused(db: &mut Engine, sql: &str) {
    let error = exec(db, sql).expect_err(sql);
    assert_eq!(error.code(), ErrorCode::InvalidArgument, "{sql}: {error}");
    assert!(error.to_string().contains("valid UTF-8"), "{error}");
}

/// Asserts that `db` holds no row of `t` and no change record.
fn untouched(db: &mut Engine) {
    assert_eq!(rows(db, "t"), Vec::<Vec<Value>>::new());
    assert!(db.change_log().unwrap().is_empty(), "no record");
}

#[test]
fn an_autocommit_write_of_invalid_text_is_refused_and_leaves_nothing() {
    let mut db = replica(SCHEMA, &["t"]);
    for sql in [BAD_VALUE, BAD_KEY] {
        refused(&mut db, sql);
        untouched(&mut db);
    }
    exec(&mut db, "INSERT INTO t VALUES ('k', 'fine')").unwrap();
    refused(&mut db, "UPDATE t SET v = CAST(x'c3' AS TEXT)");
    assert_eq!(rows(&mut db, "t"), [[text("k"), text("fine")]]);
    assert_eq!(db.change_log().unwrap().len(), 1, "only the valid insert");
}

#[test]
fn a_transaction_that_wrote_invalid_text_cannot_commit() {
    let mut db = replica(SCHEMA, &["t"]);
    let batch = format!("INSERT INTO t VALUES ('a', 'fine'); {BAD_VALUE}");
    refused(&mut db, &batch);
    assert!(
        !db.in_transaction(),
        "the batch's own transaction rolled back"
    );
    untouched(&mut db);

    exec(&mut db, "BEGIN; INSERT INTO t VALUES ('a', 'fine')").unwrap();
    refused(&mut db, BAD_VALUE);
    refused(&mut db, "COMMIT");
    assert!(
        db.in_transaction(),
        "the failed commit left the transaction open"
    );
    exec(&mut db, "ROLLBACK").unwrap();
    untouched(&mut db);
    exec(&mut db, "INSERT INTO t VALUES ('b', 'fine')").unwrap();
    assert_eq!(db.change_log().unwrap()[0].seq, 1);
}

#[test]
fn the_same_bytes_sync_as_a_blob_and_unsynced_tables_keep_any_text() {
    let mut db = replica(SCHEMA, &["t"]);
    exec(
        &mut db,
        "INSERT INTO t VALUES ('k', CAST(x'ff00fe' AS BLOB))",
    )
    .unwrap();
    exec(
        &mut db,
        "INSERT INTO plain VALUES (1, CAST(x'ff00fe' AS TEXT))",
    )
    .unwrap();
    let mut copy = replay(&mut db, SCHEMA, &["t"]);
    assert_eq!(
        rows(&mut copy, "t"),
        [[text("k"), Value::Blob(vec![0xff, 0x00, 0xfe])]]
    );
    let stored = db
        .query("SELECT hex(CAST(v AS BLOB)) FROM plain", &Params::None)
        .unwrap()
        .rows;
    assert_eq!(stored, [[text("FF00FE")]]);
}

#[test]
fn enable_sync_refuses_a_table_that_already_holds_invalid_text() {
    let mut db = replica(SCHEMA, &[]);
    exec(&mut db, "INSERT INTO plain VALUES (1, CAST(x'ff' AS TEXT))").unwrap();
    let error = db.enable_sync("plain", Default::default()).unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument, "{error}");
    assert!(db.synced_tables().is_empty());
    assert!(db.change_log().unwrap().is_empty());
}
