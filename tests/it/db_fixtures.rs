//! Databases written by older builds keep opening and syncing forever. `tests/fixtures/dbs/` holds
//! SQLite files of format 1, committed once and never regenerated (README there says how they were
//! made): replica A with local and received records, an open conflict and a record waiting for its
//! predecessor; replica B; and A's bundle for B. Opening them with this build must show exactly
//! the rows, clock and conflict they held, and the two must still converge by exchanging bundles.

use sqlite_sync_wasm::Location;
use sqlite_sync_wasm::{DeviceId, Engine, Value};

use crate::common::{int, rows, send, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const V1_A: &[u8] = include_bytes!("../fixtures/dbs/v1-a.db");
const V1_B: &[u8] = include_bytes!("../fixtures/dbs/v1-b.db");
const V1_A_TO_B: &[u8] = include_bytes!("../fixtures/dbs/v1-a-to-b.bin");

fn open(bytes: &[u8]) -> Engine {
    Engine::open(
        &Location::Snapshot(bytes.to_vec()),
        Box::new(|| 1_764_000_100_000),
    )
    .expect("a format-1 database opens")
}

fn device(hex: &str) -> DeviceId {
    DeviceId::from_hex(hex).expect("device id")
}

const A: &str = "019ab697e80071a1a1a1a1a1a1a1a1a1";
const B: &str = "019ab697e80072b2b2b2b2b2b2b2b2b2";

#[test]
fn a_format_1_database_opens_with_its_rows_clock_and_conflict() {
    let mut a = open(V1_A);
    assert_eq!(a.device_id(), device(A));
    assert_eq!(
        rows(&mut a, "todos"),
        vec![
            vec![int(1), text("oat milk"), int(1)],
            vec![int(2), text("eggs"), int(0)],
        ]
    );
    assert_eq!(
        rows(&mut a, "notes"),
        vec![
            vec![text("home"), int(1), Value::Blob(vec![1])],
            vec![text("work"), int(2), Value::Null],
        ]
    );
    let clock = a.vector_clock().unwrap();
    assert_eq!((clock.get(&device(A)), clock.get(&device(B))), (4, 2));
    let conflicts = a.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].table, "todos");
    assert_eq!(a.synced_tables(), ["notes", "todos"]);
}

#[test]
fn format_1_replicas_still_converge() {
    let (mut a, mut b) = (open(V1_A), open(V1_B));
    b.import_bundle(V1_A_TO_B)
        .expect("the stored bundle imports");
    for _ in 0..3 {
        send(&mut a, &mut b);
        send(&mut b, &mut a);
    }
    assert_eq!(rows(&mut a, "todos"), rows(&mut b, "todos"));
    assert_eq!(rows(&mut a, "notes"), rows(&mut b, "notes"));
    assert_eq!(a.vector_clock().unwrap(), b.vector_clock().unwrap());
    assert_eq!(
        rows(&mut a, "todos")[2],
        vec![int(4), text("tea"), int(1)],
        "B's record that waited at A was applied once its predecessor came"
    );
    let ids = |db: &mut Engine| {
        db.conflicts()
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&mut a), ids(&mut b));
    assert_eq!(ids(&mut a).len(), 1);
}
