//! Helpers shared by the integration tests: opening engines with a deterministic clock, reading
//! tables, and replaying a change log onto a fresh replica.

use std::cell::Cell;
use std::rc::Rc;

use sqlite_sync_wasm::store::Location;
use sqlite_sync_wasm::{ChangeRecord, Engine, Params, Result, RowChange, Value};

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

/// Every row of `table`, ordered by its first column, as values.
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

/// A fresh replica with `schema` and `tables` synced, onto which `source`'s whole log is applied.
pub fn replay(source: &Engine, schema: &str, tables: &[&str]) -> Engine {
    let mut replica = engine();
    exec(&mut replica, schema).expect("schema");
    for table in tables {
        replica
            .enable_sync(table, Default::default())
            .expect("enable");
    }
    for record in source.change_log().expect("log") {
        replica.apply_remote(&record.changes).expect("apply");
    }
    replica
}

pub fn int(v: i64) -> Value {
    Value::Integer(v)
}

pub fn text(v: &str) -> Value {
    Value::Text(v.to_owned())
}
