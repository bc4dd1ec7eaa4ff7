//! A TEMP table with a synced table's name (SQLite finds it first for an unqualified name) is never
//! touched by sync: received rows land in the main table and survive a reopen, `enableSync` reads
//! the main table's columns and rows, and the TEMP table keeps exactly its own rows.

use sqlite_sync_wasm::Location;
use sqlite_sync_wasm::{Engine, RowChange};

use crate::common::{changes, exec, int, replica, rows, send, tally, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const SCHEMA: &str = "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done INTEGER)";
const TEMP: &str = "CREATE TEMP TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done INTEGER);
                    INSERT INTO temp.todos VALUES (9, 'scratch', 0)";

#[test]
fn received_rows_land_in_main_and_not_in_a_temp_table_of_the_same_name() {
    let mut source = replica(SCHEMA, &["todos"]);
    let mut db = replica(SCHEMA, &["todos"]);
    exec(&mut db, TEMP).unwrap();
    exec(
        &mut source,
        "INSERT INTO todos VALUES (1, 'milk', 0), (2, 'eggs', 0)",
    )
    .unwrap();
    let outcome = send(&mut source, &mut db).unwrap();
    assert_eq!(tally(&outcome), "total 2, applied 2");
    exec(
        &mut source,
        "UPDATE todos SET done = 1 WHERE id = 1; DELETE FROM todos WHERE id = 2",
    )
    .unwrap();
    send(&mut source, &mut db).unwrap();
    let expected = vec![vec![int(1), text("milk"), int(1)]];
    assert_eq!(rows(&mut db, "main.todos"), expected);
    let scratch = vec![vec![int(9), text("scratch"), int(0)]];
    assert_eq!(
        rows(&mut db, "temp.todos"),
        scratch,
        "the TEMP table is untouched"
    );

    let mut reopened = Engine::open(
        &Location::Snapshot(db.snapshot().unwrap()),
        Box::new(|| 1_764_000_100_000),
    )
    .unwrap();
    assert_eq!(
        rows(&mut reopened, "todos"),
        expected,
        "the rows were in main"
    );
}

#[test]
fn enable_sync_reads_the_main_table_not_a_temp_table_of_the_same_name() {
    let mut db = replica(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'main')",
        &[],
    );
    exec(
        &mut db,
        "CREATE TEMP TABLE t (id INTEGER PRIMARY KEY, other BLOB); INSERT INTO temp.t VALUES (2, x'00')",
    )
    .unwrap();
    db.enable_sync("t", Default::default()).unwrap();
    let log = db.change_log().unwrap();
    assert_eq!(log[0].changes.tables[0].columns, ["id", "v"]);
    let recorded = vec![(
        "t".to_owned(),
        RowChange::Insert {
            values: vec![int(1), text("main")],
        },
    )];
    assert_eq!(changes(&db), recorded);
    exec(&mut db, "INSERT INTO temp.t VALUES (3, x'01')").unwrap();
    assert_eq!(
        changes(&db),
        recorded,
        "writes to the TEMP table are not captured"
    );
}
