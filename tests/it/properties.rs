//! Property: whatever mix of statements, transactions, savepoints, rollbacks and failing
//! statements a user runs, replaying the change log onto an empty replica reproduces the table
//! exactly. This is what makes capture trustworthy as the source of sync.

use proptest::prelude::*;
use sqlite_sync_wasm::{Engine, Params, Value};

use crate::common::{engine, replay, rows};

const SCHEMA: &str =
    "CREATE TABLE t (a INTEGER, b TEXT, v INTEGER, w BLOB, PRIMARY KEY (a, b)) WITHOUT ROWID;
                      CREATE UNIQUE INDEX t_w ON t (w)";

#[derive(Debug, Clone)]
enum Step {
    Insert(i64, i64, i64),
    Replace(i64, i64, i64),
    Upsert(i64, i64, i64),
    Update(i64, i64),
    MoveKey(i64, i64),
    Delete(i64),
    Begin,
    Commit,
    Rollback,
    Savepoint,
    RollbackTo,
    Release,
}

fn step() -> impl Strategy<Value = Step> {
    let k = 0..6i64;
    prop_oneof![
        4 => (k.clone(), k.clone(), 0..4i64).prop_map(|(a, b, v)| Step::Insert(a, b, v)),
        2 => (k.clone(), k.clone(), 0..4i64).prop_map(|(a, b, v)| Step::Replace(a, b, v)),
        2 => (k.clone(), k.clone(), 0..4i64).prop_map(|(a, b, v)| Step::Upsert(a, b, v)),
        3 => (k.clone(), 0..4i64).prop_map(|(a, v)| Step::Update(a, v)),
        1 => (k.clone(), k.clone()).prop_map(|(a, to)| Step::MoveKey(a, to)),
        2 => k.prop_map(Step::Delete),
        1 => Just(Step::Begin),
        1 => Just(Step::Commit),
        1 => Just(Step::Rollback),
        1 => Just(Step::Savepoint),
        1 => Just(Step::RollbackTo),
        1 => Just(Step::Release),
    ]
}

fn run(db: &mut Engine, step: &Step) {
    let ints = |xs: &[i64]| Params::Positional(xs.iter().map(|&x| Value::Integer(x)).collect());
    // Failures (constraint violations, COMMIT without BEGIN, …) are part of the exercise.
    let _ = match step {
        Step::Insert(a, b, v) => db.execute("INSERT INTO t VALUES (?1, 'k' || ?2, ?3, randomblob(?3 % 2))", &ints(&[*a, *b, *v])),
        Step::Replace(a, b, v) => db.execute("INSERT OR REPLACE INTO t VALUES (?1, 'k' || ?2, ?3, NULL)", &ints(&[*a, *b, *v])),
        Step::Upsert(a, b, v) => db.execute(
            "INSERT INTO t VALUES (?1, 'k' || ?2, ?3, NULL) ON CONFLICT (a, b) DO UPDATE SET v = v + excluded.v",
            &ints(&[*a, *b, *v]),
        ),
        Step::Update(a, v) => db.execute("UPDATE t SET v = ?2, w = zeroblob(?2 % 3) WHERE a >= ?1", &ints(&[*a, *v])),
        Step::MoveKey(a, to) => db.execute("UPDATE t SET a = ?2 WHERE a = ?1", &ints(&[*a, *to])),
        Step::Delete(a) => db.execute("DELETE FROM t WHERE a = ?1", &ints(&[*a])),
        Step::Begin => db.execute("BEGIN", &Params::None),
        Step::Commit => db.execute("COMMIT", &Params::None),
        Step::Rollback => db.execute("ROLLBACK", &Params::None),
        Step::Savepoint => db.execute("SAVEPOINT sp", &Params::None),
        Step::RollbackTo => db.execute("ROLLBACK TO sp", &Params::None),
        Step::Release => db.execute("RELEASE sp", &Params::None),
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn replaying_the_log_reproduces_the_table(steps in prop::collection::vec(step(), 1..40)) {
        let mut db = engine();
        db.execute(SCHEMA, &Params::None).unwrap();
        db.enable_sync("t", Default::default()).unwrap();
        for step in &steps {
            run(&mut db, step);
        }
        while db.in_transaction() {
            db.execute("COMMIT", &Params::None).unwrap();
        }
        let mut replica = replay(&mut db, SCHEMA, &["t"]);
        prop_assert_eq!(rows(&mut replica, "t"), rows(&mut db, "t"));
        let seqs: Vec<u64> = db.change_log().unwrap().iter().map(|r| r.seq).collect();
        prop_assert_eq!(seqs, (1..).take(db.change_log().unwrap().len()).collect::<Vec<u64>>());
    }
}
