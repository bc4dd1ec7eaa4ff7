//! Property (native only, proptest): `ColumnType::keeps` predicts exactly what SQLite does. Random
//! values of every kind (integers, reals including integral ones, -0.0, ±inf and NaN, texts that
//! look like numbers in every way SQLite reads them or almost, blobs) are written to columns of
//! every kind (ordinary tables with many declared types, every STRICT type, the rowid alias) and
//! read back: the value comes back unchanged exactly when the prediction says it is kept. And
//! `ColumnType::tells_apart`: a real key in a column that keeps reals collides with the integer
//! key of the same value exactly when the prediction says SQLite does not tell them apart. And the
//! other side of exactness: whatever values are written and updated locally in synced tables of
//! every kind, a replica with the same schema imports everything capture recorded.

use proptest::prelude::*;
use sqlite_sync_wasm::store::schema::affinity::ColumnType;
use sqlite_sync_wasm::{Engine, Params, Value};

use crate::common::{engine, exec};

/// Declared types of columns in ordinary tables, covering every affinity and rule.
const LOOSE: [&str; 17] = [
    "TEXT",
    "VARCHAR(10)",
    "CLOB",
    "NUMERIC",
    "DECIMAL(10,2)",
    "BOOLEAN",
    "DATE",
    "ANY",
    "INTEGER",
    "INT",
    "BIGINT",
    "FLOATING POINT",
    "REAL",
    "DOUBLE",
    "FLOAT",
    "BLOB",
    "",
];

/// The types a STRICT table accepts.
const STRICT: [&str; 6] = ["INT", "INTEGER", "REAL", "TEXT", "BLOB", "ANY"];

/// One table per column kind, each with the column `x`, and the type the prediction uses.
fn columns(db: &mut Engine) -> Vec<(String, ColumnType)> {
    let mut kinds = Vec::new();
    for (i, declared) in LOOSE.iter().enumerate() {
        exec(db, &format!("CREATE TABLE loose{i} (x {declared})")).expect("create");
        kinds.push((
            format!("loose{i}"),
            ColumnType::of_declared(declared, false),
        ));
    }
    for (i, declared) in STRICT.iter().enumerate() {
        exec(db, &format!("CREATE TABLE strict{i} (x {declared}) STRICT")).expect("create");
        kinds.push((
            format!("strict{i}"),
            ColumnType::of_declared(declared, true),
        ));
    }
    exec(db, "CREATE TABLE rowid (x INTEGER PRIMARY KEY)").expect("create");
    kinds.push(("rowid".into(), ColumnType::RowidAlias));
    kinds
}

/// What SQLite stores for `value` in `table`'s column: `None` when it refuses it.
fn stored(db: &mut Engine, table: &str, value: &Value) -> Option<Value> {
    exec(db, &format!("DELETE FROM {table}")).expect("delete");
    let insert = format!("INSERT INTO {table} (x) VALUES (?)");
    db.execute(&insert, &Params::Positional(vec![value.clone()]))
        .ok()?;
    let mut rows = db
        .query(&format!("SELECT x FROM {table}"), &Params::None)
        .expect("select")
        .rows;
    rows.pop().and_then(|mut row| row.pop())
}

fn real() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
        any::<i64>().prop_map(|i| i as f64),
        (-1000i32..1000).prop_map(|i| f64::from(i) / 8.0),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            9_223_372_036_854_775_808.0,
            -9_223_372_036_854_775_808.0,
            9_223_372_036_854_774_784.0,
            -9_223_372_036_854_774_784.0,
            1e300,
            f64::MIN_POSITIVE,
        ]),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        // Decimal numbers and near-misses: whitespace, signs, points, exponents.
        "[ \t\n\x0b\x0c\r]{0,2}[+-]{0,2}[0-9]{0,3}[.]?[0-9]{0,3}([eE][+-]?[0-9]{0,3})?[ \t\n]{0,2}",
        "[+-]?0[xX][0-9a-fA-F]{1,4}",
        "[0-9]{15,25}",
        "[0-9]{1,3}\\x00[0-9a-z ]{0,3}",
        "[ ]?[0-9]{1,3}[ _a-z,.][0-9]{0,3}",
        prop::sample::select(vec![
            "inf", "-inf", "Infinity", "NaN", "nan", "1_000", "\u{a0}5", "٣", "", " ",
        ])
        .prop_map(str::to_owned),
        ".{0,12}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Integer),
        (-1000i64..1000).prop_map(Value::Integer),
        real().prop_map(Value::Real),
        text().prop_map(Value::Text),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Blob),
        "[0-9. e+-]{1,6}".prop_map(|t| Value::Blob(t.into_bytes())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn keeps_predicts_what_sqlite_stores(values in prop::collection::vec(value(), 1..12)) {
        let mut db = engine();
        let kinds = columns(&mut db);
        for value in &values {
            for (table, kind) in &kinds {
                let stored = stored(&mut db, table, value);
                prop_assert_eq!(
                    kind.keeps(value),
                    stored.as_ref() == Some(value),
                    "{} ({}): {:?} stored as {:?}", table, kind, value, stored
                );
            }
        }
    }

    #[test]
    fn tells_apart_predicts_which_real_keys_collide_with_integer_keys(r in real()) {
        let mut db = engine();
        exec(&mut db, "CREATE TABLE loose (x PRIMARY KEY); CREATE TABLE any (x ANY PRIMARY KEY) STRICT").expect("create");
        let kinds = [("loose", ColumnType::of_declared("", false)), ("any", ColumnType::StrictAny)];
        for (table, kind) in kinds {
            let both = format!("INSERT INTO {table} VALUES (?1), (CAST(?1 AS INTEGER))");
            let collided = db.execute(&both, &Params::Positional(vec![Value::Real(r)])).is_err();
            let value = Value::Real(r);
            if kind.keeps(&value) {
                prop_assert_eq!(kind.tells_apart(&value), !collided, "{} key {:?}", table, r);
            }
            exec(&mut db, &format!("DELETE FROM {table}")).expect("delete");
        }
    }
}

/// The schema of [`captured_values_always_import_into_the_same_schema`]: a synced table per
/// declared type, keyed by an integer, and one keyed by the value itself.
fn synced_schema() -> (String, Vec<String>) {
    let mut schema = String::new();
    let mut tables = Vec::new();
    for (i, declared) in LOOSE.iter().enumerate() {
        schema += &format!("CREATE TABLE l{i} (id INTEGER PRIMARY KEY, x {declared});");
        schema += &format!("CREATE TABLE lk{i} (x {declared} PRIMARY KEY, n INTEGER);");
        tables.extend([format!("l{i}"), format!("lk{i}")]);
    }
    for (i, declared) in STRICT.iter().enumerate() {
        schema += &format!("CREATE TABLE s{i} (id INTEGER PRIMARY KEY, x {declared}) STRICT;");
        tables.push(format!("s{i}"));
    }
    (schema, tables)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    /// What capture records is what SQLite stored, so a replica with the same schema never refuses
    /// it (the type checks of an import are not stricter than SQLite itself).
    #[test]
    fn captured_values_always_import_into_the_same_schema(values in prop::collection::vec(value(), 1..6)) {
        let (schema, tables) = synced_schema();
        let names: Vec<&str> = tables.iter().map(String::as_str).collect();
        let mut source = crate::common::replica(&schema, &names);
        let mut target = crate::common::replica(&schema, &names);
        for (n, value) in values.iter().enumerate() {
            for table in &tables {
                let one = Params::Positional(vec![value.clone()]);
                let sql = if table.contains('k') {
                    format!("INSERT INTO {table} (x, n) VALUES (?, {n})")
                } else {
                    format!("INSERT INTO {table} (id, x) VALUES ({n}, ?)")
                };
                // STRICT columns and the rules of capture refuse some values: that is fine here.
                let _ = source.execute(&sql, &one);
                let update = format!("UPDATE {table} SET x = ? WHERE rowid = (SELECT max(rowid) FROM {table})");
                let _ = source.execute(&update, &one);
            }
        }
        let outcome = crate::common::send(&mut source, &mut target);
        prop_assert!(outcome.is_some() || source.change_log().expect("log").is_empty());
        for table in &tables {
            prop_assert_eq!(crate::common::rows(&mut target, table), crate::common::rows(&mut source, table), "{}", table);
        }
    }
}
