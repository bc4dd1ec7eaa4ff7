//! Ordinary use must converge, with no crafted input: the user's triggers, columns added at
//! different times, a replica that lost writes it had sent (or a peer restored from an older
//! copy), foreign-key actions set off by `DROP TABLE`, sync enabled or disabled inside a
//! transaction that rolls back, rows deleted while sync was off, three concurrent versions of a
//! row, a resolution that a later write already settled, and replicas that held the same rows
//! before syncing. Each test is the regression test of one defect of issue 8.

use sqlite_sync_wasm::Location;
use sqlite_sync_wasm::{Choice, ConflictStrategy, Engine, ErrorCode, Value};

use crate::common::{exec, int, replica_on, rows, send, shared_clock, text, SharedClock};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Exchanges bundles both ways until nothing new travels.
fn settle(a: &mut Engine, b: &mut Engine) {
    for _ in 0..4 {
        send(a, b);
        send(b, a);
    }
}

/// Opens `bytes` (a snapshot) as a replica on `clock`.
fn restore(clock: &SharedClock, bytes: Vec<u8>) -> Engine {
    let tick = clock.clone();
    Engine::open(
        &Location::Snapshot(bytes),
        Box::new(move || {
            tick.set(tick.get() + 1);
            tick.get()
        }),
    )
    .expect("restore")
}

const AUDITED: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
     CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, note TEXT);
     CREATE TABLE t_index (id INTEGER PRIMARY KEY, v TEXT);
     CREATE TRIGGER t_audit AFTER INSERT ON t BEGIN
         INSERT INTO audit (note) VALUES ('added ' || new.id);
         INSERT OR REPLACE INTO t_index VALUES (new.id, new.v);
     END;";

#[test]
fn triggers_do_not_write_synced_rows_again_when_remote_changes_are_applied() {
    let clock = shared_clock();
    let mut a = replica_on(&clock, AUDITED, &["t", "audit"], ConflictStrategy::Manual);
    let mut b = replica_on(&clock, AUDITED, &["t", "audit"], ConflictStrategy::Manual);
    exec(&mut a, "INSERT INTO t VALUES (1, 'one'), (2, 'two')").unwrap();
    settle(&mut a, &mut b);
    exec(&mut b, "INSERT INTO t VALUES (3, 'three')").unwrap();
    settle(&mut a, &mut b);
    assert_eq!(rows(&mut a, "t"), rows(&mut b, "t"));
    assert_eq!(rows(&mut a, "audit"), rows(&mut b, "audit"));
    assert_eq!(
        rows(&mut a, "audit").len(),
        3,
        "one audit row per insert, made where it fired"
    );
    assert!(a.conflicts().unwrap().is_empty() && b.conflicts().unwrap().is_empty());
    // A trigger's effect on a table that is not synced (a local index) stays.
    assert_eq!(rows(&mut a, "t_index"), rows(&mut a, "t"));
    assert_eq!(rows(&mut b, "t_index"), rows(&mut b, "t"));
}

#[test]
fn a_trigger_updating_the_row_it_fired_for_is_set_back_to_the_origins_values() {
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, touched INTEGER DEFAULT 0);
         CREATE TRIGGER t_touch AFTER UPDATE OF v ON t BEGIN
             UPDATE t SET touched = touched + 1 WHERE id = new.id;
         END;";
    let clock = shared_clock();
    let mut a = replica_on(&clock, schema, &["t"], ConflictStrategy::Manual);
    let mut b = replica_on(&clock, schema, &["t"], ConflictStrategy::Manual);
    exec(&mut a, "INSERT INTO t (id, v) VALUES (1, 'x')").unwrap();
    send(&mut a, &mut b);
    exec(&mut a, "UPDATE t SET v = 'y' WHERE id = 1").unwrap();
    settle(&mut a, &mut b);
    assert_eq!(rows(&mut a, "t"), vec![vec![int(1), text("y"), int(1)]]);
    assert_eq!(rows(&mut b, "t"), rows(&mut a, "t"));
}

#[test]
fn a_column_added_at_different_times_keeps_the_value_written_to_it() {
    for strategy in [
        ConflictStrategy::LastWriterWins,
        ConflictStrategy::FieldMerge,
        ConflictStrategy::Manual,
    ] {
        let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)";
        let clock = shared_clock();
        let mut a = replica_on(&clock, schema, &["t"], strategy);
        let mut b = replica_on(&clock, schema, &["t"], strategy);
        exec(&mut a, "INSERT INTO t VALUES (1, 0)").unwrap();
        send(&mut a, &mut b);
        exec(&mut a, "ALTER TABLE t ADD COLUMN z TEXT DEFAULT 'default'").unwrap();
        exec(&mut a, "UPDATE t SET z = 'za' WHERE id = 1").unwrap();
        exec(&mut b, "UPDATE t SET a = 5 WHERE id = 1").unwrap();
        exec(&mut b, "ALTER TABLE t ADD COLUMN z TEXT DEFAULT 'default'").unwrap();
        settle(&mut a, &mut b);
        let expected = vec![vec![int(1), int(5), text("za")]];
        assert_eq!(rows(&mut a, "t"), expected, "{strategy:?} on a");
        assert_eq!(rows(&mut b, "t"), expected, "{strategy:?} on b");
    }
}

const TODOS: &str = "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT)";

#[test]
fn a_replica_that_lost_writes_it_had_sent_gets_them_back_and_never_reuses_their_numbers() {
    let clock = shared_clock();
    let mut a = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    let mut b = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    exec(&mut a, "INSERT INTO todos VALUES (1, 'kept')").unwrap();
    let backup = a.snapshot().unwrap();
    exec(
        &mut a,
        "INSERT INTO todos VALUES (2, 'lost here, sent before')",
    )
    .unwrap();
    send(&mut a, &mut b);
    let mut a = restore(&clock, backup);
    assert_eq!(rows(&mut a, "todos").len(), 1);
    // The restored replica tells b what it has; b sends back what it lacks, its own record too.
    send(&mut a, &mut b);
    send(&mut b, &mut a);
    assert_eq!(rows(&mut a, "todos"), rows(&mut b, "todos"));
    assert_eq!(rows(&mut a, "todos").len(), 2);
    exec(&mut a, "INSERT INTO todos VALUES (3, 'new')").unwrap();
    let seqs: Vec<u64> = a
        .change_log()
        .unwrap()
        .iter()
        .filter(|r| r.origin == a.device_id())
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 3], "the lost record's number is not reused");
    settle(&mut a, &mut b);
    assert_eq!(rows(&mut a, "todos"), rows(&mut b, "todos"));
    assert_eq!(a.vector_clock().unwrap(), b.vector_clock().unwrap());
}

#[test]
fn a_restored_replica_that_reused_a_number_is_refused_with_a_code_not_merged_silently() {
    let clock = shared_clock();
    let mut a = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    let mut b = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    let backup = a.snapshot().unwrap();
    exec(&mut a, "INSERT INTO todos VALUES (1, 'sent')").unwrap();
    send(&mut a, &mut b);
    let mut a = restore(&clock, backup);
    exec(&mut a, "INSERT INTO todos VALUES (1, 'other')").unwrap();
    let bundle = a.generate_bundle(Some(&b.device_id())).unwrap().unwrap();
    let error = b.import_bundle(&bundle).unwrap_err();
    assert_eq!(error.code(), ErrorCode::RecordMismatch);
    assert_eq!(rows(&mut b, "todos"), vec![vec![int(1), text("sent")]]);
}

#[test]
fn a_peer_restored_from_an_older_copy_gets_the_changes_it_lost_again() {
    let clock = shared_clock();
    let mut a = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    let mut b = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    let backup = b.snapshot().unwrap();
    exec(&mut a, "INSERT INTO todos VALUES (1, 'one')").unwrap();
    settle(&mut a, &mut b);
    let mut b = restore(&clock, backup);
    assert!(rows(&mut b, "todos").is_empty());
    settle(&mut b, &mut a);
    assert_eq!(rows(&mut b, "todos"), vec![vec![int(1), text("one")]]);
}

#[test]
fn text_that_is_not_utf8_is_refused_with_a_code_and_changes_nothing() {
    let clock = shared_clock();
    let schema = "CREATE TABLE tags (name TEXT PRIMARY KEY, note TEXT)";
    let mut a = replica_on(&clock, schema, &["tags"], ConflictStrategy::Manual);
    for sql in [
        "INSERT INTO tags VALUES ('ok', CAST(x'ff00fe' AS TEXT))",
        "INSERT INTO tags VALUES (CAST(x'ff00fe' AS TEXT), 'key')",
        "BEGIN; INSERT INTO tags VALUES ('fine', 'x'); INSERT INTO tags VALUES ('bad', CAST(x'c3' AS TEXT)); COMMIT",
    ] {
        let error = exec(&mut a, sql).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidArgument, "{sql}: {error}");
        let _ = exec(&mut a, "ROLLBACK");
    }
    assert!(rows(&mut a, "tags").is_empty());
    assert!(a.change_log().unwrap().is_empty());
}

#[test]
fn rows_that_drop_table_deletes_through_foreign_keys_are_captured() {
    let schema = "PRAGMA foreign_keys = ON;
         CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (id INTEGER PRIMARY KEY,
             parent INTEGER REFERENCES parent (id) ON DELETE CASCADE);
         CREATE TABLE pet (id INTEGER PRIMARY KEY,
             owner INTEGER REFERENCES parent (id) ON DELETE SET NULL);
         INSERT INTO parent VALUES (1), (2);";
    let clock = shared_clock();
    let mut a = replica_on(&clock, schema, &["child", "pet"], ConflictStrategy::Manual);
    let mut b = replica_on(&clock, schema, &["child", "pet"], ConflictStrategy::Manual);
    exec(
        &mut a,
        "INSERT INTO child VALUES (10, 1), (11, 2); INSERT INTO pet VALUES (20, 1)",
    )
    .unwrap();
    send(&mut a, &mut b);
    exec(&mut a, "DROP TABLE parent").unwrap();
    assert!(rows(&mut a, "child").is_empty());
    settle(&mut a, &mut b);
    assert!(
        rows(&mut b, "child").is_empty(),
        "the cascaded deletes reached b"
    );
    assert_eq!(rows(&mut b, "pet"), vec![vec![int(20), Value::Null]]);
    assert_eq!(rows(&mut b, "pet"), rows(&mut a, "pet"));
}

#[test]
fn enabling_or_disabling_sync_in_a_rolled_back_transaction_changes_nothing() {
    let clock = shared_clock();
    let mut a = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    exec(
        &mut a,
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
    )
    .unwrap();
    exec(&mut a, "BEGIN").unwrap();
    a.disable_sync("todos").unwrap();
    a.enable_sync("notes", ConflictStrategy::Manual).unwrap();
    exec(&mut a, "ROLLBACK").unwrap();
    assert_eq!(a.synced_tables(), ["todos"]);
    exec(
        &mut a,
        "INSERT INTO todos VALUES (1, 'synced'); INSERT INTO notes VALUES (1, 'not')",
    )
    .unwrap();
    let tables: Vec<String> = a
        .change_log()
        .unwrap()
        .into_iter()
        .flat_map(|r| r.changes.tables)
        .map(|t| t.table)
        .collect();
    assert_eq!(tables, ["todos"]);
}

#[test]
fn a_row_deleted_while_sync_was_off_stays_deleted_everywhere_once_sync_is_back() {
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT)";
    for strategy in [
        ConflictStrategy::LastWriterWins,
        ConflictStrategy::FieldMerge,
    ] {
        let clock = shared_clock();
        let mut a = replica_on(&clock, schema, &["t"], strategy);
        let mut b = replica_on(&clock, schema, &["t"], strategy);
        exec(
            &mut a,
            "INSERT INTO t VALUES (1, 'a1', 'b1'), (2, 'a2', 'b2')",
        )
        .unwrap();
        send(&mut a, &mut b);
        a.disable_sync("t").unwrap();
        exec(
            &mut a,
            "DELETE FROM t WHERE id = 1; UPDATE t SET a = 'edited off' WHERE id = 2",
        )
        .unwrap();
        a.enable_sync("t", strategy).unwrap();
        exec(&mut b, "UPDATE t SET b = 'b edit' WHERE id = 1").unwrap();
        settle(&mut a, &mut b);
        assert_eq!(rows(&mut a, "t"), rows(&mut b, "t"), "{strategy:?}");
        let all = rows(&mut a, "t");
        assert!(
            all.contains(&vec![int(2), text("edited off"), text("b2")]),
            "{all:?}"
        );
        if let Some(one) = all.iter().find(|r| r[0] == int(1)) {
            assert_eq!(
                one,
                &vec![int(1), text("a1"), text("b edit")],
                "revived with its own values"
            );
        }
    }
}

#[test]
fn three_concurrent_versions_are_one_conflict_that_the_readme_loop_resolves() {
    let clock = shared_clock();
    let mut replicas: Vec<Engine> = (0..3)
        .map(|_| replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual))
        .collect();
    exec(&mut replicas[0], "INSERT INTO todos VALUES (1, 'base')").unwrap();
    let (first, rest) = replicas.split_at_mut(1);
    for other in rest.iter_mut() {
        send(&mut first[0], other);
    }
    for (i, db) in replicas.iter_mut().enumerate() {
        exec(db, &format!("UPDATE todos SET title = 'v{i}' WHERE id = 1")).unwrap();
    }
    for from in 1..3 {
        let (head, tail) = replicas.split_at_mut(from);
        send(&mut tail[0], &mut head[0]);
    }
    let open = replicas[0].conflicts().unwrap();
    assert_eq!(open.len(), 1, "one conflict per row: {open:?}");
    assert_eq!(open[0].versions.len(), 3, "every version is visible");
    for conflict in replicas[0].conflicts().unwrap() {
        replicas[0]
            .resolve_conflict(conflict.id, Choice::Local)
            .unwrap();
    }
    assert!(replicas[0].conflicts().unwrap().is_empty());
    for _ in 0..2 {
        for from in 0..3 {
            for to in 0..3 {
                if from != to {
                    let (f, t) = if from < to {
                        let (x, y) = replicas.split_at_mut(to);
                        (&mut x[from], &mut y[0])
                    } else {
                        let (x, y) = replicas.split_at_mut(from);
                        (&mut y[0], &mut x[to])
                    };
                    send(f, t);
                }
            }
        }
    }
    let reference = rows(&mut replicas[0], "todos");
    assert_eq!(reference, vec![vec![int(1), text("v0")]]);
    for db in replicas.iter_mut() {
        assert_eq!(rows(db, "todos"), reference);
        assert!(db.conflicts().unwrap().is_empty());
    }
}

#[test]
fn resolving_a_conflict_that_a_later_local_write_settled_is_conflict_not_found() {
    let clock = shared_clock();
    let mut a = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    let mut b = replica_on(&clock, TODOS, &["todos"], ConflictStrategy::Manual);
    exec(&mut a, "INSERT INTO todos VALUES (1, 'base')").unwrap();
    send(&mut a, &mut b);
    exec(&mut a, "UPDATE todos SET title = 'a' WHERE id = 1").unwrap();
    exec(&mut b, "UPDATE todos SET title = 'b' WHERE id = 1").unwrap();
    send(&mut b, &mut a);
    let conflict = a.conflicts().unwrap().remove(0);
    exec(&mut a, "UPDATE todos SET title = 'settled' WHERE id = 1").unwrap();
    let error = a.resolve_conflict(conflict.id, Choice::Remote).unwrap_err();
    assert_eq!(error.code(), ErrorCode::ConflictNotFound);
    assert_eq!(rows(&mut a, "todos"), vec![vec![int(1), text("settled")]]);
}

#[test]
fn replicas_that_held_the_same_rows_before_syncing_list_no_conflicts() {
    let clock = shared_clock();
    let seed = "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT);
         INSERT INTO todos VALUES (1, 'same'), (2, 'same too');";
    let mut a = replica_on(&clock, seed, &["todos"], ConflictStrategy::Manual);
    let mut b = replica_on(&clock, seed, &["todos"], ConflictStrategy::Manual);
    settle(&mut a, &mut b);
    assert!(a.conflicts().unwrap().is_empty());
    assert!(b.conflicts().unwrap().is_empty());
    assert_eq!(rows(&mut a, "todos"), rows(&mut b, "todos"));
}
