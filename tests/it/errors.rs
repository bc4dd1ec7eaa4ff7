//! Bad input gets a coded error and changes nothing.

use sqlite_sync_wasm::{ErrorCode, Params, Value};

use crate::common::{engine, exec, int, rows, text};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn invalid_sql_is_err_sql_with_sqlites_message() {
    let mut db = engine();
    let error = exec(&mut db, "SELEC 1").unwrap_err();
    assert_eq!(error.code(), ErrorCode::Sql);
    assert!(error.to_string().contains("syntax error"), "{error}");
    let error = exec(&mut db, "INSERT INTO missing VALUES (1)").unwrap_err();
    assert!(error.to_string().contains("no such table"), "{error}");
}

#[test]
fn enable_sync_rejects_what_cannot_be_synced() {
    let mut db = engine();
    exec(&mut db, "CREATE TABLE nokey (a, b); CREATE TABLE k (id INTEGER PRIMARY KEY); CREATE VIEW v AS SELECT * FROM k").unwrap();
    let code = |db: &mut sqlite_sync_wasm::Engine, name: &str| {
        db.enable_sync(name, Default::default()).unwrap_err().code()
    };
    assert_eq!(code(&mut db, "missing"), ErrorCode::TableNotFound);
    assert_eq!(code(&mut db, "nokey"), ErrorCode::NoPrimaryKey);
    assert_eq!(code(&mut db, "v"), ErrorCode::NotATable);
    assert_eq!(code(&mut db, "_sync_log"), ErrorCode::ReservedTable);
    assert_eq!(
        db.disable_sync("k").unwrap_err().code(),
        ErrorCode::TableNotSynced
    );
    assert!(db.synced_tables().is_empty());
}

#[test]
fn parameters_must_match_the_statements() {
    let mut db = engine();
    let code = |db: &mut sqlite_sync_wasm::Engine, sql: &str, params: Params| {
        db.query(sql, &params).unwrap_err().code()
    };
    assert_eq!(
        code(&mut db, "SELECT ?", Params::None),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(&mut db, "SELECT ?, ?", Params::Positional(vec![int(1)])),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(
            &mut db,
            "SELECT ?",
            Params::Positional(vec![int(1), int(2)])
        ),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(
            &mut db,
            "SELECT :a",
            Params::Named(vec![("b".into(), int(1))])
        ),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(
            &mut db,
            "SELECT ?",
            Params::Named(vec![("a".into(), int(1))])
        ),
        ErrorCode::InvalidArgument
    );
    let named = db
        .query(
            "SELECT :a AS a, @b AS b, $c AS c",
            &Params::Named(vec![
                ("c".into(), int(3)),
                ("a".into(), int(1)),
                ("b".into(), text("two")),
            ]),
        )
        .unwrap();
    assert_eq!(named.columns, ["a", "b", "c"]);
    assert_eq!(named.rows, vec![vec![int(1), text("two"), int(3)]]);
    let spread = db
        .query(
            "SELECT ?; SELECT ? AS second",
            &Params::Positional(vec![int(1), int(2)]),
        )
        .unwrap();
    assert_eq!(spread.rows, vec![vec![int(2)]]);
}

#[test]
fn values_round_trip_exactly() {
    let mut db = engine();
    exec(
        &mut db,
        "CREATE TABLE v (id INTEGER PRIMARY KEY, x ANY) STRICT",
    )
    .unwrap();
    let values = vec![
        Value::Null,
        int(i64::MAX),
        int(i64::MIN),
        Value::Real(0.1 + 0.2),
        text("日本語 🎉 \u{0}"),
        Value::Blob(vec![0, 1, 2, 255]),
        Value::Blob(vec![]),
    ];
    for (i, value) in values.iter().enumerate() {
        db.execute(
            "INSERT INTO v VALUES (?, ?)",
            &Params::Positional(vec![int(i as i64), value.clone()]),
        )
        .unwrap();
    }
    let back: Vec<Value> = rows(&mut db, "v")
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(back, values);
}
