//! Fuzzing `import_bundle` (native only, proptest): arbitrary bytes, real bundles damaged at the
//! byte level (changed, truncated, inserted bytes, with the digest left or recomputed) or at the
//! record level (dropped, duplicated, reordered records), and real bundles whose decoded body is
//! mutated and re-encoded with a fresh digest, so that the validator and the merge, not the digest,
//! face the damage. Whatever the input: no panic; an error changes nothing (rows, log, clock,
//! conflicts); a success leaves a sound database (`PRAGMA integrity_check`) that treats the same
//! bytes again as already imported.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::select;
use sha2::{Digest, Sha256};
use sqlite_sync_wasm::bundle;
use sqlite_sync_wasm::{ChangeSet, DeviceId, Engine, Params, RowChange, Value};

use crate::common::{exec, replica, rows, send, snapshot, text, Snapshot};
use crate::damage::{apply_damage, damage};

const SCHEMA: &str =
    "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0);
     CREATE TABLE files (owner TEXT, name TEXT, data BLOB, PRIMARY KEY (owner, name)) WITHOUT ROWID;
     CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)";
const SYNCED: [&str; 2] = ["todos", "files"];

/// Two real bundles: one replica's history, and a second replica's relaying it plus its own edits.
fn bases() -> &'static [Vec<u8>] {
    static BASES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BASES.get_or_init(|| {
        let mut a = replica(SCHEMA, &SYNCED);
        for sql in [
            "INSERT INTO todos (id, title) VALUES (1, 'milk'), (2, 'eggs'), (3, 'bread')",
            "UPDATE todos SET done = 1 WHERE id = 2",
            "DELETE FROM todos WHERE id = 3",
            "INSERT INTO files VALUES ('ann', 'a', x'00ff'), ('bob', 'b', NULL)",
            "UPDATE todos SET id = 4 WHERE id = 1",
        ] {
            exec(&mut a, sql).unwrap();
        }
        let mut b = replica(SCHEMA, &SYNCED);
        send(&mut a, &mut b).unwrap();
        exec(
            &mut b,
            "UPDATE files SET data = x'01' WHERE owner = 'bob'; DELETE FROM todos WHERE id = 2",
        )
        .unwrap();
        exec(&mut b, "INSERT INTO todos (id, title) VALUES (1, 'theirs')").unwrap();
        vec![
            a.generate_bundle(None).unwrap().unwrap(),
            b.generate_bundle(None).unwrap().unwrap(),
        ]
    })
}

/// A replica with rows of its own (one shares a key with the bases) and an unsynced table.
fn target() -> Engine {
    let mut db = replica(SCHEMA, &SYNCED);
    exec(&mut db, "INSERT INTO todos (id, title) VALUES (1, 'mine'); INSERT INTO files VALUES ('ann', 'a', x'02')").unwrap();
    exec(&mut db, "INSERT INTO notes VALUES (1, 'private')").unwrap();
    db
}

fn state(db: &mut Engine) -> (Snapshot, Vec<Vec<Value>>, Vec<Vec<Value>>) {
    (snapshot(db, "todos"), rows(db, "files"), rows(db, "notes"))
}

/// The result of `PRAGMA integrity_check` (`"ok"` when the database is sound).
fn integrity(db: &mut Engine) -> Vec<Vec<Value>> {
    db.query("PRAGMA integrity_check", &Params::None)
        .unwrap()
        .rows
}

/// The property every input must satisfy.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut db = target();
    let before = state(&mut db);
    match db.import_bundle(bytes) {
        Err(_) => prop_assert_eq!(state(&mut db), before, "a refused bundle changed something"),
        Ok(_) => {
            prop_assert_eq!(integrity(&mut db), vec![vec![text("ok")]]);
            let after = state(&mut db);
            let again = db
                .import_bundle(bytes)
                .expect("the same bytes import again");
            prop_assert!(again.skipped, "the same bytes are recognised");
            prop_assert_eq!(state(&mut db), after);
        }
    }
    Ok(())
}

fn reseal(mut content: Vec<u8>) -> Vec<u8> {
    let digest = Sha256::digest(&content);
    content.extend_from_slice(&digest);
    content
}

#[derive(Debug, Clone)]
enum Shuffle {
    Drop(usize),
    Duplicate(usize),
    Swap(usize, usize),
}

/// A change to the decoded body of a bundle; indices are taken modulo the lengths they index.
#[derive(Debug, Clone)]
enum Edit {
    Table(usize, &'static str),
    Column(usize, usize, &'static str),
    Key(usize, Vec<u32>),
    Value(usize, usize, usize, Value),
    Kind(usize, usize, u8),
    DropValue(usize, usize),
    Seq(usize, u64),
    Hlc(usize, u64),
    Origin(usize, u8),
    Clock(usize, u8, u64),
    Changes(usize, Vec<u8>),
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Real),
        select(vec!["", "x", "milk", "'; DROP TABLE todos; --", "🍮"]).prop_map(text),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(Value::Blob),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    let i = any::<usize>;
    let tables = select(vec![
        "todos",
        "files",
        "notes",
        "_sync_log",
        "missing",
        "TODOS",
        "",
    ]);
    let columns = select(vec![
        "id",
        "title",
        "done",
        "owner",
        "name",
        "data",
        "rowid",
        "x\"; DROP TABLE todos; --",
    ]);
    let counters = prop_oneof![0..12u64, any::<u64>(), Just(i64::MAX as u64)];
    prop_oneof![
        1 => (i(), tables).prop_map(|(r, t)| Edit::Table(r, t)),
        1 => (i(), i(), columns).prop_map(|(r, c, n)| Edit::Column(r, c, n)),
        1 => (i(), prop::collection::vec(0..4u32, 0..3)).prop_map(|(r, k)| Edit::Key(r, k)),
        4 => (i(), i(), i(), value()).prop_map(|(r, w, p, v)| Edit::Value(r, w, p, v)),
        1 => (i(), i(), 0..3u8).prop_map(|(r, w, k)| Edit::Kind(r, w, k)),
        1 => (i(), i()).prop_map(|(r, w)| Edit::DropValue(r, w)),
        1 => (i(), counters.clone()).prop_map(|(r, s)| Edit::Seq(r, s)),
        1 => (i(), counters.clone()).prop_map(|(r, h)| Edit::Hlc(r, h)),
        1 => (i(), 0..3u8).prop_map(|(r, o)| Edit::Origin(r, o)),
        1 => (i(), 0..3u8, counters).prop_map(|(r, d, s)| Edit::Clock(r, d, s)),
        1 => (i(), prop::collection::vec(any::<u8>(), 0..12)).prop_map(|(r, c)| Edit::Changes(r, c)),
    ]
}

/// The values of a row change, whatever its kind.
fn values_of(row: &mut RowChange) -> &mut Vec<Value> {
    match row {
        RowChange::Insert { values } => values,
        RowChange::Update { new, .. } => new,
        RowChange::Delete { old } => old,
    }
}

fn apply_edit(body: &mut bundle::BundleBody, edit: &Edit) {
    let known = [body.source, body.records[0].origin, DeviceId([3; 16])];
    let records = body.records.len();
    let (r, record) = match edit {
        Edit::Table(r, _)
        | Edit::Column(r, ..)
        | Edit::Key(r, _)
        | Edit::Value(r, ..)
        | Edit::Kind(r, ..)
        | Edit::DropValue(r, _)
        | Edit::Seq(r, _)
        | Edit::Hlc(r, _)
        | Edit::Origin(r, _)
        | Edit::Clock(r, ..)
        | Edit::Changes(r, _) => (*r, &mut body.records[*r % records]),
    };
    match edit {
        Edit::Seq(_, seq) => return record.seq = *seq,
        Edit::Hlc(_, hlc) => return record.hlc = *hlc,
        Edit::Origin(_, o) => return record.origin = known[*o as usize],
        Edit::Clock(_, d, seq) => return record.clock.observe(known[*d as usize], *seq),
        Edit::Changes(_, bytes) => return record.changes = bytes.clone(),
        _ => {}
    }
    let Ok(mut set) = ChangeSet::from_bytes(&record.changes) else {
        return;
    };
    let tables = set.tables.len().max(1);
    let Some(table) = set.tables.get_mut(r % tables) else {
        return;
    };
    let columns = table.columns.len().max(1);
    let rows = table.rows.len().max(1);
    let w = match edit {
        Edit::Value(_, w, ..) | Edit::Kind(_, w, _) | Edit::DropValue(_, w) => *w,
        _ => 0,
    };
    let row = table.rows.get_mut(w % rows);
    match (edit, row) {
        (Edit::Table(_, name), _) => table.table = (*name).to_owned(),
        (Edit::Column(_, c, name), _) => table.columns[c % columns] = (*name).to_owned(),
        (Edit::Key(_, key), _) => table.primary_key = key.clone(),
        (Edit::Value(_, _, p, v), Some(row)) => {
            let values = values_of(row);
            let n = values.len().max(1);
            if let Some(slot) = values.get_mut(p % n) {
                *slot = v.clone();
            }
        }
        (Edit::Kind(_, _, kind), Some(row)) => {
            let values = values_of(row).clone();
            let second = values.get(1).cloned().unwrap_or(Value::Null);
            *row = match kind {
                0 => RowChange::Insert { values },
                1 => RowChange::Update {
                    key: values.iter().take(1).cloned().collect(),
                    columns: vec![1],
                    old: vec![second.clone()],
                    new: vec![second],
                },
                _ => RowChange::Delete { old: values },
            };
        }
        (Edit::DropValue(..), Some(row)) => drop(values_of(row).pop()),
        _ => {}
    }
    record.changes = set.to_bytes().unwrap();
}

/// 160 cases per property (a few seconds), or `PROPTEST_CASES` for a longer hunt.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(160),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_and_change_nothing_when_refused(
        tail in prop::collection::vec(any::<u8>(), 0..200),
        framed in any::<bool>(),
    ) {
        let bytes = if framed { reseal([&b"SQSYNC\0\x01\0\0"[..], &tail].concat()) } else { tail };
        check(&bytes)?;
    }

    #[test]
    fn damaged_real_bundles_never_panic_and_change_nothing_when_refused(
        base in 0..2usize,
        damages in prop::collection::vec(damage(), 1..4),
        resealed in any::<bool>(),
    ) {
        let bytes = &bases()[base];
        let mut content = if resealed { bytes[..bytes.len() - 32].to_vec() } else { bytes.clone() };
        for damage in &damages {
            apply_damage(&mut content, damage);
        }
        check(&if resealed { reseal(content) } else { content })?;
    }

    #[test]
    fn reshuffled_records_import_like_any_other_delivery(
        base in 0..2usize,
        shuffles in prop::collection::vec(
            prop_oneof![
                any::<usize>().prop_map(Shuffle::Drop),
                any::<usize>().prop_map(Shuffle::Duplicate),
                (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Shuffle::Swap(i, j)),
            ],
            1..4,
        ),
    ) {
        let mut body = bundle::decode(&bases()[base]).unwrap();
        for shuffle in &shuffles {
            let n = body.records.len();
            match shuffle {
                Shuffle::Drop(i) if n > 1 => drop(body.records.remove(i % n)),
                Shuffle::Drop(_) => {}
                Shuffle::Duplicate(i) => body.records.insert(i % n, body.records[i % n].clone()),
                Shuffle::Swap(i, j) => body.records.swap(i % n, j % n),
            }
        }
        let bytes = bundle::encode(&body).unwrap();
        let mut db = target();
        prop_assert!(db.import_bundle(&bytes).is_ok(), "records of a real bundle always import");
        check(&bytes)?;
    }

    #[test]
    fn re_encoded_bundles_with_a_mutated_body_face_the_validator(
        base in 0..2usize,
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let mut body = bundle::decode(&bases()[base]).unwrap();
        for edit in &edits {
            apply_edit(&mut body, edit);
        }
        match bundle::encode(&body) {
            Ok(bytes) => check(&bytes)?,
            Err(error) => prop_assert!(false, "encoding a body cannot fail: {error}"),
        }
    }
}
