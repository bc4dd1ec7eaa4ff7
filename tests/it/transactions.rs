//! Capture is atomic with the user's transaction, whatever form it takes: a committed write always
//! has its record, a rolled-back one never does.

use sqlite_sync_wasm::{ErrorCode, Params, RowChange};

use crate::common::{changes, engine, exec, int, replay, rows, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const T: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)";

fn synced() -> sqlite_sync_wasm::Engine {
    let mut db = engine();
    exec(&mut db, T).unwrap();
    db.enable_sync("t", Default::default()).unwrap();
    db
}

#[test]
fn an_sql_transaction_becomes_one_record_at_commit() {
    let mut db = synced();
    exec(&mut db, "BEGIN").unwrap();
    exec(&mut db, "INSERT INTO t VALUES (1, 'a')").unwrap();
    exec(&mut db, "INSERT INTO t VALUES (2, 'b')").unwrap();
    exec(&mut db, "UPDATE t SET v = 'a2' WHERE id = 1").unwrap();
    assert!(db.in_transaction());
    assert!(
        db.change_log().unwrap().is_empty(),
        "nothing is recorded before commit"
    );
    exec(&mut db, "COMMIT").unwrap();
    let log = db.change_log().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0].changes.tables[0].rows,
        vec![
            RowChange::Insert {
                values: vec![int(1), text("a2")]
            },
            RowChange::Insert {
                values: vec![int(2), text("b")]
            },
        ]
    );
}

#[test]
fn a_rolled_back_transaction_leaves_no_record() {
    let mut db = synced();
    exec(&mut db, "BEGIN; INSERT INTO t VALUES (1, 'a'); ROLLBACK").unwrap();
    assert!(db.change_log().unwrap().is_empty());
    exec(&mut db, "INSERT INTO t VALUES (2, 'b')").unwrap();
    assert_eq!(
        db.change_log().unwrap()[0].seq,
        1,
        "sequence numbers have no gaps"
    );
}

#[test]
fn savepoints_roll_back_data_and_records_together() {
    let mut db = synced();
    exec(
        &mut db,
        "BEGIN;
         INSERT INTO t VALUES (1, 'kept');
         SAVEPOINT s1;
         INSERT INTO t VALUES (2, 'undone');
         SAVEPOINT s2;
         INSERT INTO t VALUES (3, 'undone too');
         ROLLBACK TO s1;
         INSERT INTO t VALUES (4, 'after');
         RELEASE s1;
         COMMIT;",
    )
    .unwrap();
    let ids: Vec<_> = changes(&db)
        .into_iter()
        .map(|(_, c)| match c {
            RowChange::Insert { values } => values[0].clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(ids, vec![int(1), int(4)]);
    let mut replica = replay(&mut db, T, &["t"]);
    assert_eq!(rows(&mut replica, "t"), rows(&mut db, "t"));
}

#[test]
fn a_savepoint_outside_begin_commits_on_release() {
    let mut db = synced();
    exec(
        &mut db,
        "SAVEPOINT outer_sp; INSERT INTO t VALUES (1, 'a'); RELEASE outer_sp",
    )
    .unwrap();
    assert!(!db.in_transaction());
    assert_eq!(db.change_log().unwrap().len(), 1);
}

#[test]
fn a_failed_statement_inside_a_transaction_keeps_only_what_survived() {
    let mut db = synced();
    exec(&mut db, "BEGIN; INSERT INTO t VALUES (1, 'a')").unwrap();
    let failure = exec(&mut db, "INSERT INTO t VALUES (2, 'b'), (3, 'a')").unwrap_err();
    assert_eq!(failure.code(), ErrorCode::Sql);
    exec(&mut db, "INSERT OR FAIL INTO t VALUES (4, 'd'), (5, 'a')").unwrap_err();
    exec(&mut db, "COMMIT").unwrap();
    assert_eq!(
        rows(&mut db, "t"),
        vec![vec![int(1), text("a")], vec![int(4), text("d")]]
    );
    let mut replica = replay(&mut db, T, &["t"]);
    assert_eq!(rows(&mut replica, "t"), rows(&mut db, "t"));
}

#[test]
fn a_failed_autocommit_statement_changes_nothing() {
    let mut db = synced();
    exec(&mut db, "INSERT INTO t VALUES (1, 'a')").unwrap();
    let error = exec(&mut db, "INSERT INTO t VALUES (2, 'b'), (3, 'a')").unwrap_err();
    assert_eq!(error.code(), ErrorCode::Sql);
    assert!(
        error.to_string().contains("UNIQUE"),
        "SQLite's message is kept: {error}"
    );
    assert_eq!(rows(&mut db, "t").len(), 1);
    assert_eq!(db.change_log().unwrap().len(), 1);
    assert!(!db.in_transaction());
}

#[test]
fn a_conflict_clause_that_rolls_back_discards_the_buffer() {
    let mut db = synced();
    exec(&mut db, "BEGIN; INSERT INTO t VALUES (1, 'a')").unwrap();
    exec(&mut db, "INSERT OR ROLLBACK INTO t VALUES (2, 'a')").unwrap_err();
    assert!(!db.in_transaction());
    exec(&mut db, "INSERT INTO t VALUES (3, 'c')").unwrap();
    assert_eq!(changes(&db).len(), 1);
}

#[test]
fn last_insert_rowid_and_changes_are_the_users() {
    let mut db = synced();
    let outcome = db
        .execute(
            "INSERT INTO t (v) VALUES (?), (?)",
            &Params::Positional(vec![text("x"), text("y")]),
        )
        .unwrap();
    assert_eq!(outcome.changes, 2);
    assert_eq!(outcome.last_insert_rowid, 2);
    let rowid = db
        .query("SELECT last_insert_rowid() AS r", &Params::None)
        .unwrap();
    assert_eq!(rowid.rows, vec![vec![int(2)]]);
}

#[test]
fn a_failing_batch_changes_nothing() {
    let mut db = synced();
    let error = exec(
        &mut db,
        "INSERT INTO t VALUES (1, 'a'); CREATE TABLE x (y); INSERT INTO missing VALUES (2)",
    )
    .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Sql);
    assert!(rows(&mut db, "t").is_empty());
    assert!(db
        .query(
            "SELECT name FROM sqlite_schema WHERE name = 'x'",
            &Params::None
        )
        .unwrap()
        .rows
        .is_empty());
    assert!(db.change_log().unwrap().is_empty());
    assert!(!db.in_transaction());
    exec(
        &mut db,
        "INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b')",
    )
    .unwrap();
    assert_eq!(
        db.change_log().unwrap().len(),
        1,
        "a batch is one transaction"
    );
}

#[test]
fn a_batch_with_its_own_transaction_statements_still_runs() {
    let mut db = synced();
    exec(&mut db, "INSERT INTO t VALUES (1, 'a'); BEGIN; INSERT INTO t VALUES (2, 'b'); COMMIT; PRAGMA user_version = 3").unwrap();
    assert_eq!(rows(&mut db, "t").len(), 2);
    assert_eq!(db.change_log().unwrap().len(), 2);
}
