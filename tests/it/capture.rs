//! What capture records for each statement form, and that replaying the log reproduces the table.

use sqlite_sync_wasm::{Params, RowChange, Value};

use crate::common::{changes, engine, exec, int, replay, rows, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const TODOS: &str = "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0, updated_at INTEGER)";

#[test]
fn insert_update_delete_are_recorded_with_changed_columns_only() {
    let mut db = engine();
    exec(&mut db, TODOS).unwrap();
    db.enable_sync("todos", Default::default()).unwrap();
    exec(&mut db, "INSERT INTO todos (id, title) VALUES (1, 'milk')").unwrap();
    exec(&mut db, "UPDATE todos SET done = 1 WHERE id = 1").unwrap();
    exec(&mut db, "DELETE FROM todos WHERE id = 1").unwrap();
    let log = db.change_log().unwrap();
    assert_eq!(log.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(log.iter().all(|r| r.origin == db.device_id()));
    assert!(log.windows(2).all(|w| w[0].hlc < w[1].hlc));
    let table = &log[1].changes.tables[0];
    assert_eq!(table.columns, ["id", "title", "done", "updated_at"]);
    assert_eq!(table.primary_key, [0]);
    assert_eq!(
        changes(&db).into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
        vec![
            RowChange::Insert {
                values: vec![int(1), text("milk"), int(0), Value::Null]
            },
            RowChange::Update {
                key: vec![int(1)],
                columns: vec![2],
                old: vec![int(0)],
                new: vec![int(1)]
            },
            RowChange::Delete {
                old: vec![int(1), text("milk"), int(1), Value::Null]
            },
        ]
    );
}

#[test]
fn every_statement_form_is_captured_and_replays_to_the_same_rows() {
    let mut db = engine();
    exec(&mut db, TODOS).unwrap();
    db.enable_sync("todos", Default::default()).unwrap();
    let statements = [
        "INSERT INTO todos (id, title) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "INSERT OR REPLACE INTO todos (id, title, done) VALUES (2, 'b2', 1)",
        "REPLACE INTO todos (id, title) VALUES (9, 'new')",
        "INSERT INTO todos (id, title) VALUES (3, 'c') ON CONFLICT (id) DO UPDATE SET title = title || '!'",
        "UPDATE todos SET id = 30 WHERE id = 3",
        "UPDATE todos SET updated_at = 5",
        "INSERT INTO todos (id, title) SELECT id + 100, title FROM todos",
        "DELETE FROM todos WHERE id > 100",
    ];
    for sql in statements {
        exec(&mut db, sql).unwrap();
    }
    assert_eq!(db.change_log().unwrap().len(), statements.len());
    let mut replica = replay(&mut db, TODOS, &["todos"]);
    assert_eq!(rows(&mut replica, "todos"), rows(&mut db, "todos"));
}

#[test]
fn a_primary_key_change_is_a_delete_and_an_insert() {
    let mut db = engine();
    exec(&mut db, TODOS).unwrap();
    db.enable_sync("todos", Default::default()).unwrap();
    exec(&mut db, "INSERT INTO todos (id, title) VALUES (1, 'x')").unwrap();
    exec(&mut db, "UPDATE todos SET id = 2 WHERE id = 1").unwrap();
    let last = changes(&db)
        .into_iter()
        .skip(1)
        .map(|(_, c)| c)
        .collect::<Vec<_>>();
    assert_eq!(
        last,
        vec![
            RowChange::Delete {
                old: vec![int(1), text("x"), int(0), Value::Null]
            },
            RowChange::Insert {
                values: vec![int(2), text("x"), int(0), Value::Null]
            },
        ]
    );
}

#[test]
fn composite_keys_blobs_and_awkward_names_are_captured() {
    let schema = r#"CREATE TABLE "odd table" ("order" TEXT, "a""quote" INTEGER, "with space" BLOB, PRIMARY KEY ("a""quote", "order")) WITHOUT ROWID"#;
    let mut db = engine();
    exec(&mut db, schema).unwrap();
    db.enable_sync("odd table", Default::default()).unwrap();
    db.execute(
        r#"INSERT INTO "odd table" VALUES (?, ?, ?), (?, ?, ?)"#,
        &Params::Positional(vec![
            text("select"),
            int(1),
            Value::Blob(vec![0, 1, 2, 255]),
            text("drop"),
            int(1),
            Value::Blob(vec![]),
        ]),
    )
    .unwrap();
    exec(
        &mut db,
        r#"UPDATE "odd table" SET "with space" = x'00ff' WHERE "order" = 'drop'"#,
    )
    .unwrap();
    let log = db.change_log().unwrap();
    let table = &log[0].changes.tables[0];
    assert_eq!(
        table.primary_key,
        [1, 0],
        "key order follows the PRIMARY KEY clause"
    );
    assert_eq!(
        table.key_of(&table.rows[0]).unwrap(),
        vec![int(1), text("select")]
    );
    let mut replica = replay(&mut db, schema, &["odd table"]);
    assert_eq!(
        rows(&mut replica, r#""odd table""#),
        rows(&mut db, r#""odd table""#)
    );
}

#[test]
fn rows_present_when_sync_is_enabled_are_recorded_as_inserts() {
    let mut db = engine();
    exec(&mut db, TODOS).unwrap();
    exec(
        &mut db,
        "INSERT INTO todos (id, title) VALUES (1, 'before'), (2, 'also')",
    )
    .unwrap();
    db.enable_sync("todos", Default::default()).unwrap();
    db.enable_sync("todos", Default::default()).unwrap();
    assert_eq!(
        changes(&db).len(),
        2,
        "enabling twice records the rows once"
    );
    let mut replica = replay(&mut db, TODOS, &["todos"]);
    assert_eq!(rows(&mut replica, "todos"), rows(&mut db, "todos"));
}

#[test]
fn added_columns_are_captured_from_then_on() {
    let mut db = engine();
    exec(&mut db, TODOS).unwrap();
    db.enable_sync("todos", Default::default()).unwrap();
    exec(&mut db, "INSERT INTO todos (id, title) VALUES (1, 'a')").unwrap();
    exec(
        &mut db,
        "ALTER TABLE todos ADD COLUMN priority INTEGER DEFAULT 3",
    )
    .unwrap();
    exec(&mut db, "UPDATE todos SET priority = 7 WHERE id = 1").unwrap();
    exec(
        &mut db,
        "INSERT INTO todos (id, title, priority) VALUES (2, 'b', 1)",
    )
    .unwrap();
    let log = db.change_log().unwrap();
    let last = &log[2].changes.tables[0];
    assert_eq!(last.columns.last().map(String::as_str), Some("priority"));
    assert_eq!(
        log[1].changes.tables[0].rows[0],
        RowChange::Update {
            key: vec![int(1)],
            columns: vec![4],
            old: vec![int(3)],
            new: vec![int(7)]
        }
    );
    let schema = format!("{TODOS}; ALTER TABLE todos ADD COLUMN priority INTEGER DEFAULT 3");
    let mut replica = replay(&mut db, &schema, &["todos"]);
    assert_eq!(rows(&mut replica, "todos"), rows(&mut db, "todos"));
}

#[test]
fn writes_made_by_user_triggers_are_captured() {
    let mut db = engine();
    exec(
        &mut db,
        "CREATE TABLE src (id INTEGER PRIMARY KEY, v TEXT);
         CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);
         CREATE TRIGGER copy AFTER INSERT ON src BEGIN INSERT INTO audit (note) VALUES (NEW.v); END;",
    )
    .unwrap();
    db.enable_sync("audit", Default::default()).unwrap();
    exec(&mut db, "INSERT INTO src (v) VALUES ('hello')").unwrap();
    let captured = changes(&db);
    assert_eq!(captured.len(), 1);
    assert_eq!(captured[0].0, "audit");
}

#[test]
fn unsynced_tables_and_no_op_updates_leave_no_record() {
    let mut db = engine();
    exec(
        &mut db,
        &format!("{TODOS}; CREATE TABLE other (id INTEGER PRIMARY KEY)"),
    )
    .unwrap();
    db.enable_sync("todos", Default::default()).unwrap();
    exec(&mut db, "INSERT INTO other VALUES (1)").unwrap();
    exec(&mut db, "INSERT INTO todos (id, title) VALUES (1, 'same')").unwrap();
    exec(&mut db, "UPDATE todos SET title = 'same'").unwrap();
    assert_eq!(db.change_log().unwrap().len(), 1);
}

#[test]
fn disabled_tables_stop_being_captured() {
    let mut db = engine();
    exec(&mut db, TODOS).unwrap();
    db.enable_sync("todos", Default::default()).unwrap();
    assert_eq!(db.synced_tables(), ["todos"]);
    db.disable_sync("TODOS").unwrap();
    assert!(db.synced_tables().is_empty());
    exec(&mut db, "INSERT INTO todos (id, title) VALUES (1, 'x')").unwrap();
    assert!(db.change_log().unwrap().is_empty());
}

#[test]
fn a_dropped_synced_table_is_no_longer_synced() {
    let mut db = engine();
    exec(&mut db, TODOS).unwrap();
    db.enable_sync("todos", Default::default()).unwrap();
    exec(&mut db, "DROP TABLE todos").unwrap();
    assert!(db.synced_tables().is_empty());
}

#[test]
fn vector_clock_counts_local_records() {
    let mut db = engine();
    exec(&mut db, TODOS).unwrap();
    assert_eq!(db.vector_clock().unwrap().iter().count(), 0);
    db.enable_sync("todos", Default::default()).unwrap();
    exec(&mut db, "INSERT INTO todos (title) VALUES ('a')").unwrap();
    exec(&mut db, "INSERT INTO todos (title) VALUES ('b')").unwrap();
    assert_eq!(db.vector_clock().unwrap().get(&db.device_id()), 2);
}
