//! Helpers shared by the integration tests: opening engines with a deterministic clock, reading
//! tables, moving bundles between replicas, and crafting bundles by hand.

use std::cell::Cell;
use std::rc::Rc;

use sqlite_sync_wasm::bundle::{self, BundleBody, WireRecord};
use sqlite_sync_wasm::clock::VectorClock;
use sqlite_sync_wasm::Location;
use sqlite_sync_wasm::{
    BundleId, ChangeRecord, ChangeSet, Conflict, ConflictStrategy, DeviceId, Engine, ImportOutcome,
    Params, Result, RowChange, Value,
};

/// An in-memory engine whose wall clock advances one millisecond per reading.
pub fn engine() -> Engine {
    let tick = Rc::new(Cell::new(1_764_000_000_000u64));
    Engine::open(
        &Location::Memory,
        Box::new(move || {
            tick.set(tick.get() + 1);
            tick.get()
        }),
    )
    .expect("open in-memory engine")
}

/// Runs SQL without parameters.
pub fn exec(db: &mut Engine, sql: &str) -> Result<u64> {
    db.execute(sql, &Params::None).map(|o| o.changes)
}

/// Every row of `table`, ordered by its first two columns, as values.
pub fn rows(db: &mut Engine, table: &str) -> Vec<Vec<Value>> {
    db.query(
        &format!("SELECT * FROM {table} ORDER BY 1, 2"),
        &Params::None,
    )
    .expect("select")
    .rows
}

/// All row changes in the log, flattened, with their table names.
pub fn changes(db: &Engine) -> Vec<(String, RowChange)> {
    let log: Vec<ChangeRecord> = db.change_log().expect("change log");
    log.into_iter()
        .flat_map(|record| record.changes.tables)
        .flat_map(|t| t.rows.into_iter().map(move |r| (t.table.clone(), r)))
        .collect()
}

/// A fresh replica with `schema` and `tables` synced.
pub fn replica(schema: &str, tables: &[&str]) -> Engine {
    let mut replica = engine();
    exec(&mut replica, schema).expect("schema");
    for table in tables {
        replica
            .enable_sync(table, Default::default())
            .expect("enable");
    }
    replica
}

/// A fresh replica that has imported a bundle of everything `source` has.
pub fn replay(source: &mut Engine, schema: &str, tables: &[&str]) -> Engine {
    let mut replica = replica(schema, tables);
    if let Some(bundle) = source.generate_bundle(None).expect("generate") {
        replica.import_bundle(&bundle).expect("import");
    }
    assert!(
        replica
            .change_log()
            .expect("log")
            .iter()
            .all(|r| r.origin != replica.device_id()),
        "received changes must not be captured again as local ones"
    );
    replica
}

/// A bundle from `source` carrying one record per change set, numbered from 1.
pub fn bundle_of(source: DeviceId, sets: &[ChangeSet]) -> Vec<u8> {
    let records = sets
        .iter()
        .enumerate()
        .map(|(i, set)| WireRecord {
            origin: source,
            seq: i as u64 + 1,
            hlc: 1_000 + i as u64,
            clock: VectorClock::new(),
            changes: set.to_bytes().expect("encode"),
        })
        .collect();
    bundle::encode(&BundleBody {
        id: BundleId([9; 16]),
        source,
        created_at: 0,
        schema_version: 0,
        sender_clock: VectorClock::new(),
        records,
    })
    .expect("encode bundle")
}

pub fn int(v: i64) -> Value {
    Value::Integer(v)
}

pub fn text(v: &str) -> Value {
    Value::Text(v.to_owned())
}

/// A wall clock shared by several replicas, so that "later" in a test is later on every replica.
pub type SharedClock = Rc<Cell<u64>>;

/// A fresh shared clock.
pub fn shared_clock() -> SharedClock {
    Rc::new(Cell::new(1_764_000_000_000))
}

/// A replica with `schema` and `tables` synced under `strategy`, reading the shared `clock`
/// (which advances one millisecond per reading).
pub fn replica_on(
    clock: &SharedClock,
    schema: &str,
    tables: &[&str],
    strategy: ConflictStrategy,
) -> Engine {
    let tick = clock.clone();
    let mut replica = Engine::open(
        &Location::Memory,
        Box::new(move || {
            tick.set(tick.get() + 1);
            tick.get()
        }),
    )
    .expect("open in-memory engine");
    exec(&mut replica, schema).expect("schema");
    for table in tables {
        replica.enable_sync(table, strategy).expect("enable");
    }
    replica
}

/// Generates `from`'s bundle for `to` and imports it there; `None` when there was nothing to send.
pub fn send(from: &mut Engine, to: &mut Engine) -> Option<ImportOutcome> {
    let peer = to.device_id();
    from.generate_bundle(Some(&peer))
        .expect("generate")
        .map(|bundle| to.import_bundle(&bundle).expect("import"))
}

/// Everything an import could change that the API shows: rows of `table`, the change log, the
/// vector clock and the open conflicts.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub rows: Vec<Vec<Value>>,
    pub log: Vec<ChangeRecord>,
    pub clock: VectorClock,
    pub conflicts: Vec<Conflict>,
}

/// The [`Snapshot`] of `db` for `table`.
pub fn snapshot(db: &mut Engine, table: &str) -> Snapshot {
    Snapshot {
        rows: rows(db, table),
        log: db.change_log().expect("change log"),
        clock: db.vector_clock().expect("vector clock"),
        conflicts: db.conflicts().expect("conflicts"),
    }
}

/// The counts of an import as one line naming only the non-zero ones, in a fixed order (for
/// example `"total 2, applied 1, duplicates 1"`), so one assertion checks all of them exactly.
pub fn tally(outcome: &ImportOutcome) -> String {
    let mut parts: Vec<String> = [
        ("total", outcome.total),
        ("applied", outcome.applied),
        ("duplicates", outcome.duplicates),
        ("pending", outcome.pending),
        ("released", outcome.released),
        ("conflicts", outcome.conflicts),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| format!("{name} {n}"))
    .collect();
    if outcome.skipped {
        parts.push("skipped".into());
    }
    parts.join(", ")
}

/// A row as `conflicts()` reports it: column names with values.
pub fn named(columns: &[&str], values: Vec<Value>) -> Vec<(String, Value)> {
    columns
        .iter()
        .map(|c| (*c).to_owned())
        .zip(values)
        .collect()
}
