//! Databases written by older builds keep opening and syncing forever. `tests/fixtures/dbs/` holds
//! SQLite files of every internal format, committed once and never regenerated (README there says
//! how they were made): replica A with local and received records, an open conflict and a record
//! waiting for its predecessor; replica B; and A's bundle for B. Opening them with this build must
//! show exactly the rows, clock and conflict they held, the two must still converge by exchanging
//! bundles, and the internal tables of every one of them, once opened, must have exactly the
//! layout of a new database (`format-3.layout`, the golden file of the current format).

use sqlite_sync_wasm::Location;
use sqlite_sync_wasm::{DeviceId, Engine, Params, Value};

use crate::common::{engine, int, rows, send, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// One committed pair of replicas of one internal format.
struct Fixture {
    format: u32,
    a: &'static [u8],
    b: &'static [u8],
    a_to_b: &'static [u8],
    device_a: &'static str,
    device_b: &'static str,
}

const FIXTURES: [Fixture; 3] = [
    Fixture {
        format: 1,
        a: include_bytes!("../fixtures/dbs/v1-a.db"),
        b: include_bytes!("../fixtures/dbs/v1-b.db"),
        a_to_b: include_bytes!("../fixtures/dbs/v1-a-to-b.bin"),
        device_a: "019ab697e80071a1a1a1a1a1a1a1a1a1",
        device_b: "019ab697e80072b2b2b2b2b2b2b2b2b2",
    },
    Fixture {
        format: 2,
        a: include_bytes!("../fixtures/dbs/v2-a.db"),
        b: include_bytes!("../fixtures/dbs/v2-b.db"),
        a_to_b: include_bytes!("../fixtures/dbs/v2-a-to-b.bin"),
        device_a: "019ab697e80074a4a4a4a4a4a4a4a4a4",
        device_b: "019ab697e80075b5b5b5b5b5b5b5b5b5",
    },
    Fixture {
        format: 3,
        a: include_bytes!("../fixtures/dbs/v3-a.db"),
        b: include_bytes!("../fixtures/dbs/v3-b.db"),
        a_to_b: include_bytes!("../fixtures/dbs/v3-a-to-b.bin"),
        device_a: "019ab697e80076c6c6c6c6c6c6c6c6c6",
        device_b: "019ab697e80077d7d7d7d7d7d7d7d7d7",
    },
];

/// The relay the format-3 replica A synced with, once, at the end of its story.
const RELAY: (&str, &str) = ("http://127.0.0.1:8787", "team-42");

/// The layout of the internal tables of the current format, one line per table, column and index.
const LAYOUT: &str = include_str!("../fixtures/dbs/format-3.layout");

fn open(fixture: &Fixture, bytes: &[u8]) -> Engine {
    Engine::open(
        &Location::Snapshot(bytes.to_vec()),
        Box::new(|| 1_764_000_100_000),
    )
    .unwrap_or_else(|e| panic!("a format-{} database opens: {e}", fixture.format))
}

fn device(hex: &str) -> DeviceId {
    DeviceId::from_hex(hex).expect("device id")
}

fn open_conflict_ids(db: &mut Engine) -> Vec<String> {
    let conflicts = db.conflicts().expect("conflicts");
    conflicts.into_iter().map(|c| c.id.to_string()).collect()
}

#[test]
fn every_format_opens_with_its_rows_clock_and_conflict() {
    for fixture in &FIXTURES {
        let mut a = open(fixture, fixture.a);
        let format = fixture.format;
        assert_eq!(a.device_id(), device(fixture.device_a), "format {format}");
        assert_eq!(
            rows(&mut a, "todos"),
            vec![
                vec![int(1), text("oat milk"), int(1)],
                vec![int(2), text("eggs"), int(0)],
            ],
            "format {format}"
        );
        assert_eq!(
            rows(&mut a, "notes"),
            vec![
                vec![text("home"), int(1), Value::Blob(vec![1])],
                vec![text("work"), int(2), Value::Null],
            ],
            "format {format}"
        );
        let clock = a.vector_clock().unwrap();
        let (da, db) = (device(fixture.device_a), device(fixture.device_b));
        assert_eq!((clock.get(&da), clock.get(&db)), (4, 2), "format {format}");
        let conflicts = a.conflicts().unwrap();
        assert_eq!(conflicts.len(), 1, "format {format}: {conflicts:?}");
        assert_eq!(conflicts[0].table, "todos");
        assert_eq!(a.synced_tables(), ["notes", "todos"], "format {format}");
        let pending = a.pending_records().unwrap();
        assert_eq!(
            pending.len(),
            1,
            "format {format}: B's second todo-4 record waits"
        );
        // What A kept of its relay: everything of its own acknowledged (nothing, before format 3).
        let unacknowledged = if format >= 3 { 0 } else { 4 };
        assert_eq!(
            a.sync_pending(RELAY.0, RELAY.1).unwrap(),
            unacknowledged,
            "format {format}"
        );
    }
}

#[test]
fn replicas_of_every_format_still_converge() {
    for fixture in &FIXTURES {
        let format = fixture.format;
        let (mut a, mut b) = (open(fixture, fixture.a), open(fixture, fixture.b));
        b.import_bundle(fixture.a_to_b)
            .unwrap_or_else(|e| panic!("format {format}: the stored bundle imports: {e}"));
        for _ in 0..3 {
            send(&mut a, &mut b);
            send(&mut b, &mut a);
        }
        assert_eq!(
            rows(&mut a, "todos"),
            rows(&mut b, "todos"),
            "format {format}"
        );
        assert_eq!(
            rows(&mut a, "notes"),
            rows(&mut b, "notes"),
            "format {format}"
        );
        assert_eq!(a.vector_clock().unwrap(), b.vector_clock().unwrap());
        assert_eq!(
            rows(&mut a, "todos")[2],
            vec![int(4), text("tea"), int(1)],
            "format {format}: B's record that waited at A was applied once its predecessor came"
        );
        assert!(a.pending_records().unwrap().is_empty(), "format {format}");
        assert_eq!(open_conflict_ids(&mut a), open_conflict_ids(&mut b));
        assert_eq!(open_conflict_ids(&mut a).len(), 1, "format {format}");
    }
}

/// The internal tables as SQLite describes them: kind, strictness, rowid, then every column
/// (name, declared type, NOT NULL, default, position in the primary key) and every index
/// (uniqueness, origin, partial, key columns with their collation and order).
fn layout(db: &mut Engine) -> String {
    let select = |db: &mut Engine, sql: &str, params: Vec<Value>| {
        db.query(sql, &Params::Positional(params))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows
    };
    let cell = |v: &Value| match v {
        Value::Null => "NULL".to_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Text(s) => s.clone(),
        other => format!("{other:?}"),
    };
    let line = |row: &[Value]| row.iter().map(cell).collect::<Vec<_>>().join(" | ");
    let mut out = String::new();
    let tables = select(
        db,
        "SELECT name, type, wr, strict FROM pragma_table_list \
         WHERE schema = 'main' AND name LIKE '\\_sync\\_%' ESCAPE '\\' ORDER BY name",
        vec![],
    );
    for table in tables {
        out += &format!("table {}\n", line(&table));
        let name = table[0].clone();
        let columns = select(
            db,
            "SELECT name, type, \"notnull\", dflt_value, pk, hidden \
             FROM pragma_table_xinfo(?1) ORDER BY cid",
            vec![name.clone()],
        );
        for column in columns {
            out += &format!("  column {}\n", line(&column));
        }
        let indexes = select(
            db,
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1) ORDER BY name",
            vec![name],
        );
        for index in indexes {
            let keys = select(
                db,
                "SELECT group_concat(coalesce(name, '<expr>') || ' ' || coll || \
                 CASE desc WHEN 1 THEN ' DESC' ELSE '' END, ', ') \
                 FROM (SELECT * FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno)",
                vec![index[0].clone()],
            );
            let name = cell(&index[0]);
            // SQLite names automatic indexes after their table and position: keep only the kind.
            let name = if name.starts_with("sqlite_autoindex_") {
                "(auto)".to_owned()
            } else {
                name
            };
            out += &format!(
                "  index {name} | {} | {}\n",
                line(&index[1..]),
                line(&keys[0])
            );
        }
    }
    out
}

#[test]
fn new_and_migrated_databases_have_the_golden_layout() {
    let fresh = layout(&mut engine());
    assert_eq!(
        fresh, LAYOUT,
        "a new database's internal tables changed layout:\n{fresh}"
    );
    for fixture in &FIXTURES {
        for (replica, bytes) in [("a", fixture.a), ("b", fixture.b)] {
            let opened = layout(&mut open(fixture, bytes));
            assert_eq!(
                opened, LAYOUT,
                "the format-{} fixture {replica}, opened, differs from the golden layout:\n{opened}",
                fixture.format
            );
        }
    }
}
