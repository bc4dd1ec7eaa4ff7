//! A database saved as a snapshot and reopened from it is the same replica: same rows, device id,
//! change log and clock, and capture goes on where it stopped.

use sqlite_sync_wasm::Location;
use sqlite_sync_wasm::{Engine, ErrorCode, Params};

use crate::common::{engine, exec, rows};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn reopen(bytes: Vec<u8>) -> Engine {
    Engine::open(&Location::Snapshot(bytes), Box::new(|| 1_764_000_100_000)).expect("reopen")
}

#[test]
fn a_reopened_snapshot_is_the_same_replica() {
    let mut db = engine();
    exec(&mut db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)").unwrap();
    db.enable_sync("t", Default::default()).unwrap();
    exec(&mut db, "INSERT INTO t VALUES (1, x'00ff'), (2, NULL)").unwrap();
    let bytes = db.snapshot().unwrap();
    let mut again = reopen(bytes);
    assert_eq!(again.device_id(), db.device_id());
    assert_eq!(rows(&mut again, "t"), rows(&mut db, "t"));
    assert_eq!(again.change_log().unwrap(), db.change_log().unwrap());
    assert_eq!(again.vector_clock().unwrap(), db.vector_clock().unwrap());
    exec(&mut again, "DELETE FROM t WHERE id = 2").unwrap();
    assert_eq!(again.change_log().unwrap().last().map(|r| r.seq), Some(2));
}

#[test]
fn an_empty_snapshot_is_a_new_database_and_a_snapshot_needs_no_open_transaction() {
    let mut fresh = reopen(Vec::new());
    assert!(fresh.synced_tables().is_empty());
    fresh.execute("BEGIN", &Params::None).unwrap();
    assert_eq!(
        fresh.snapshot().unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn bytes_that_are_not_a_database_are_refused() {
    let result = Engine::open(&Location::Snapshot(vec![7; 4096]), Box::new(|| 0));
    assert!(result.is_err());
}
