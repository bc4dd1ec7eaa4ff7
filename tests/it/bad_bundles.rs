//! Bundles from the wire are not trusted: truncated, bit-flipped, wrongly versioned, padded or
//! tampered bytes, and well-formed bundles naming tables, columns or keys the replica does not sync,
//! or carrying malformed row changes, are each refused with their specific error code and change
//! nothing (rows, change log, vector clock, conflicts, what the replica would send the source).
//! A bundle with one bad part is refused whole.

use sqlite_sync_wasm::bundle::{self, BundleBody};
use sqlite_sync_wasm::ErrorCode::{
    self, BundleMalformed as Malformed, BundleTampered as Tampered, BundleVersion, SchemaMismatch,
    TableNotSynced,
};
use sqlite_sync_wasm::{ChangeSet, DeviceId, Engine, RowChange, Value};

use crate::common::{bundle_of, exec, int, replica, rows, send, snapshot, text, Snapshot};

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

const SCHEMA: &str =
    "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0);
     CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)";
const SOURCE: DeviceId = DeviceId([5; 16]);

/// A replica with history: a row of its own, a row received from a peer, an unsynced table.
/// Returns it with a valid bundle from that peer carrying two more records.
fn target() -> (Engine, Vec<u8>) {
    let mut peer = replica(SCHEMA, &["todos"]);
    let mut db = replica(SCHEMA, &["todos"]);
    exec(
        &mut db,
        "INSERT INTO todos VALUES (1, 'mine', 0); INSERT INTO notes VALUES (1, 'n')",
    )
    .unwrap();
    exec(&mut peer, "INSERT INTO todos VALUES (2, 'milk', 0)").unwrap();
    send(&mut peer, &mut db).unwrap();
    exec(&mut peer, "INSERT INTO todos VALUES (3, 'eggs', 0)").unwrap();
    exec(&mut peer, "UPDATE todos SET done = 1 WHERE id = 2").unwrap();
    let bundle = peer.generate_bundle(None).unwrap().unwrap();
    (db, bundle)
}

/// What an import could change: rows, log, clock and conflicts, the unsynced table's rows, and
/// which records `db` would send `source`.
type State = (Snapshot, Vec<Vec<Value>>, Option<Vec<(DeviceId, u64)>>);

fn state(db: &mut Engine, source: DeviceId) -> State {
    let outgoing = db.generate_bundle(Some(&source)).unwrap().map(|bytes| {
        bundle::decode(&bytes)
            .unwrap()
            .records
            .iter()
            .map(|r| (r.origin, r.seq))
            .collect()
    });
    (snapshot(db, "todos"), rows(db, "notes"), outgoing)
}

/// Asserts that importing `bytes` fails with `code` and changes nothing.
fn refused(db: &mut Engine, bytes: &[u8], code: ErrorCode, what: &str) {
    refused_as(db, bytes, &[code], what);
}

/// Asserts that importing `bytes` fails with one of `codes` and changes nothing.
fn refused_as(db: &mut Engine, bytes: &[u8], codes: &[ErrorCode], what: &str) {
    let source = bundle::decode(bytes).map(|b| b.source).unwrap_or(SOURCE);
    let before = state(db, source);
    let error = db.import_bundle(bytes).expect_err(what);
    assert!(codes.contains(&error.code()), "{what}: {error}");
    assert_eq!(state(db, source), before, "{what} changed something");
}

/// A change set of one table.
fn set(table: &str, columns: &[&str], primary_key: &[u32], rows: Vec<RowChange>) -> ChangeSet {
    ChangeSet {
        tables: vec![sqlite_sync_wasm::model::TableChanges {
            table: table.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            primary_key: primary_key.to_vec(),
            rows,
        }],
    }
}

/// A bundle from [`SOURCE`] of one record changing one table.
fn one(table: &str, columns: &[&str], primary_key: &[u32], row: RowChange) -> Vec<u8> {
    bundle_of(SOURCE, &[set(table, columns, primary_key, vec![row])])
}

fn insert(values: Vec<Value>) -> RowChange {
    RowChange::Insert { values }
}

const TODO: [&str; 3] = ["id", "title", "done"];

fn good() -> ChangeSet {
    let row = insert(vec![int(10), text("good"), int(0)]);
    set("todos", &TODO, &[0], vec![row])
}

/// `bytes` with its content changed by `edit` and the digest recomputed to match.
fn resealed(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut content = bytes[..bytes.len() - 32].to_vec();
    edit(&mut content);
    bundle::seal(&content).expect("seal")
}

#[test]
fn a_truncated_bundle_is_refused_and_changes_nothing() {
    let (mut db, bytes) = target();
    let len = bytes.len();
    for cut in [0, 1, 5, 6, 9, 10, 41] {
        refused(&mut db, &bytes[..cut], Malformed, &format!("{cut} bytes"));
    }
    for cut in [42, 43, len / 2, len - 32, len - 1] {
        let what = format!("{cut} of {len} bytes");
        refused_as(&mut db, &bytes[..cut], &[Malformed, Tampered], &what);
    }
    assert!(
        !db.import_bundle(&bytes).unwrap().skipped,
        "the whole bundle still imports"
    );
}

#[test]
fn a_flipped_bit_anywhere_is_refused_with_the_code_of_where_it_is() {
    let (mut db, bytes) = target();
    let len = bytes.len();
    // The header's magic and version are checked first; anything else damaged is either a body
    // that no longer parses or content that no longer matches its digest (the digest itself
    // included).
    let expected = |at: usize| match at {
        0..=5 => &[Malformed][..],
        6..=9 => &[BundleVersion][..],
        _ if at >= len - 32 => &[Tampered][..],
        _ => &[Malformed, Tampered][..],
    };
    let middle = [len / 2, len - 33, len - 32, len - 1];
    for at in [0, 3, 5, 6, 7, 8, 9, 10, 11, 30].into_iter().chain(middle) {
        for bit in [0, 3, 7] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << bit;
            let what = format!("byte {at} bit {bit}");
            refused_as(&mut db, &flipped, expected(at), &what);
        }
    }
}

#[test]
fn empty_input_wrong_magic_version_two_and_flags_are_refused() {
    let (mut db, bytes) = target();
    refused(&mut db, &[], Malformed, "empty");
    let mut magic = bytes.clone();
    magic[..6].copy_from_slice(b"SQLITE");
    refused(&mut db, &magic, Malformed, "magic");
    let mut v3 = bytes.clone();
    v3[6..8].copy_from_slice(&3u16.to_be_bytes());
    refused(&mut db, &v3, BundleVersion, "version 3");
    let v3 = resealed(&bytes, |c| c[7] = 3);
    refused(&mut db, &v3, BundleVersion, "resealed v3");
    for flags in [1u16, 2, 0x8000] {
        let flagged = resealed(&bytes, |c| c[8..10].copy_from_slice(&flags.to_be_bytes()));
        refused(&mut db, &flagged, BundleVersion, &format!("{flags:#x}"));
    }
}

#[test]
fn trailing_garbage_is_refused() {
    let (mut db, bytes) = target();
    for garbage in [&[0u8][..], &[0xff; 100][..]] {
        let mut padded = bytes.clone();
        padded.extend_from_slice(garbage);
        refused_as(&mut db, &padded, &[Malformed, Tampered], "after the digest");
        let inside = resealed(&bytes, |c| c.extend_from_slice(garbage));
        refused(&mut db, &inside, Malformed, "after the body, resealed");
    }
}

#[test]
fn an_altered_value_with_the_old_digest_is_tampered() {
    let (mut db, bytes) = target();
    let at = bytes
        .windows(4)
        .position(|w| w == b"eggs")
        .expect("the value is in the bundle");
    let mut altered = bytes.clone();
    altered[at..at + 4].copy_from_slice(b"legs");
    refused(&mut db, &altered, Tampered, "altered value");
    let outcome = db.import_bundle(&bytes).unwrap();
    assert!(!outcome.skipped, "the refused copy left no trace");
    assert_eq!(rows(&mut db, "todos")[2], [int(3), text("eggs"), int(0)]);
}

#[test]
fn bundles_naming_tables_that_are_not_synced_are_refused() {
    let (mut db, _) = target();
    for table in [
        "notes",
        "_sync_log",
        "_sync_meta",
        "sqlite_schema",
        "missing",
    ] {
        let bytes = one(
            table,
            &["id", "body"],
            &[0],
            insert(vec![int(9), text("x")]),
        );
        refused(&mut db, &bytes, TableNotSynced, table);
    }
    assert_eq!(rows(&mut db, "notes"), vec![vec![int(1), text("n")]]);
}

#[test]
fn bundles_naming_unknown_columns_or_another_key_are_schema_mismatches() {
    let (mut db, _) = target();
    let cases: [(&[&str], &[u32], &str); 3] = [
        (&["id", "title", "colour"], &[0], "unknown column"),
        (&["id", "title", "x\"; DROP TABLE todos; --"], &[0], "SQL"),
        (&["id", "title", "done"], &[1], "key on another column"),
    ];
    for (columns, key, what) in cases {
        let bytes = one(
            "todos",
            columns,
            key,
            insert(vec![int(9), text("t"), int(1)]),
        );
        refused(&mut db, &bytes, SchemaMismatch, what);
    }
    let keyless = one(
        "todos",
        &["id", "title", "done"],
        &[],
        insert(vec![int(9), text("t"), int(1)]),
    );
    refused(&mut db, &keyless, Malformed, "a table entry without a key");
    assert_eq!(rows(&mut db, "todos").len(), 2, "the table is intact");
}

#[test]
fn malformed_row_changes_are_refused() {
    let (mut db, _) = target();
    let update = |key: Vec<Value>, columns: Vec<u32>, new: Vec<Value>| RowChange::Update {
        key,
        old: new.clone(),
        columns,
        new,
    };
    let three = || insert(vec![int(9), text("a"), int(0)]);
    let cases = [
        (
            TODO,
            [0],
            insert(vec![int(9), text("short")]),
            "too few values",
        ),
        (
            TODO,
            [0],
            insert(vec![int(9), text("t"), int(0), int(1)]),
            "too many values",
        ),
        (
            TODO,
            [0],
            RowChange::Delete { old: vec![int(1)] },
            "short delete",
        ),
        (
            TODO,
            [0],
            update(vec![int(1), int(2)], vec![1], vec![text("t")]),
            "longer key",
        ),
        (
            TODO,
            [0],
            update(vec![int(1)], vec![7], vec![text("t")]),
            "column out of range",
        ),
        (
            TODO,
            [0],
            update(vec![int(1)], vec![2, 1], vec![int(1), text("t")]),
            "unsorted",
        ),
        (
            TODO,
            [0],
            update(vec![int(1)], vec![], vec![]),
            "update of no column",
        ),
        (["id", "title", "title"], [0], three(), "a column twice"),
        (TODO, [5], three(), "key position out of range"),
    ];
    for (columns, key, row, what) in cases {
        refused(&mut db, &one("todos", &columns, &key, row), Malformed, what);
    }
}

#[test]
fn records_whose_changes_are_not_a_change_set_or_whose_seq_is_zero_are_malformed() {
    let (mut db, bytes) = target();
    let body = bundle::decode(&bytes).unwrap();
    let not_sets: [&[u8]; 4] = [&[], &[0xc1], b"\xa3abc", &[0x91, 0x91, 0x94, 0, 0, 0, 0]];
    for changes in not_sets {
        let mut broken = body.clone();
        broken.records[1].changes = changes.to_vec();
        let encoded = bundle::encode(&broken).unwrap();
        refused(&mut db, &encoded, Malformed, &format!("{changes:x?}"));
    }
    let mut zero = body.clone();
    zero.records[0].seq = 0;
    refused(&mut db, &bundle::encode(&zero).unwrap(), Malformed, "seq 0");
}

#[test]
fn a_bundle_with_one_bad_part_is_refused_whole() {
    let (mut db, _) = target();
    let bad = set(
        "notes",
        &["id", "body"],
        &[0],
        vec![insert(vec![int(9), text("x")])],
    );
    let mut mixed = good();
    mixed.tables.extend(bad.tables.clone());
    refused(
        &mut db,
        &bundle_of(SOURCE, &[mixed]),
        TableNotSynced,
        "tables",
    );
    refused(
        &mut db,
        &bundle_of(SOURCE, &[good(), bad]),
        TableNotSynced,
        "records",
    );
    // Valid as data, but the NOT NULL column refuses it while applying: the import rolls back.
    let unfit = set(
        "todos",
        &TODO,
        &[0],
        vec![insert(vec![int(11), Value::Null, int(0)])],
    );
    refused(
        &mut db,
        &bundle_of(SOURCE, &[good(), unfit]),
        ErrorCode::Sql,
        "NOT NULL",
    );
    let written = rows(&mut db, "todos");
    assert!(
        written.iter().all(|r| r[0] != int(10)),
        "the good row is not written"
    );
    let outcome = db.import_bundle(&bundle_of(SOURCE, &[good()])).unwrap();
    assert_eq!((outcome.applied, outcome.skipped), (1, false));
    let last = rows(&mut db, "todos").pop().unwrap();
    assert_eq!(last, [int(10), text("good"), int(0)]);
}

#[test]
fn counters_and_clocks_beyond_their_limits_are_malformed() {
    let (mut db, bytes) = target();
    let body = bundle::decode(&bytes).unwrap();
    let (seq, hlc) = (bundle::MAX_SEQ + 1, bundle::MAX_HLC + 1);
    type Edit = fn(&mut BundleBody, u64, u64);
    let edits: [(&str, Edit); 6] = [
        ("seq", |b, seq, _| b.records[0].seq = seq),
        ("seq u64::MAX", |b, _, _| b.records[0].seq = u64::MAX),
        ("hlc", |b, _, hlc| b.records[0].hlc = hlc),
        ("hlc u64::MAX", |b, _, _| b.records[0].hlc = u64::MAX),
        ("context", |b, seq, _| {
            b.records[0].clock.observe(SOURCE, seq)
        }),
        ("sender clock", |b, seq, _| {
            b.sender_clock.observe(SOURCE, seq)
        }),
    ];
    for (what, edit) in edits {
        let mut huge = body.clone();
        edit(&mut huge, seq, hlc);
        refused(&mut db, &bundle::encode(&huge).unwrap(), Malformed, what);
    }
}

#[test]
fn a_record_stamped_far_ahead_is_refused_and_one_slightly_ahead_is_absorbed() {
    const NOW: u64 = 1_764_000_000_000 << 16;
    const DAY: u64 = (24 * 3600 * 1000) << 16;
    let (mut db, bytes) = target();
    let body: BundleBody = bundle::decode(&bytes).unwrap();
    let last = body.records.len() - 1;
    let stamped = |hlc: u64| {
        let mut ahead = body.clone();
        ahead.records[last].hlc = hlc;
        bundle::encode(&ahead).unwrap()
    };
    for (hlc, what) in [(NOW + 800 * DAY, "2 years"), (bundle::MAX_HLC, "MAX_HLC")] {
        refused(&mut db, &stamped(hlc), Malformed, what);
    }
    // A day ahead is a skewed clock, not an attack.
    db.import_bundle(&stamped(NOW + DAY)).unwrap();
    let write = "INSERT INTO todos (id, title) VALUES (50, 'still writable')";
    exec(&mut db, write).expect("a local write");
    let mine = db.change_log().unwrap().pop().unwrap();
    assert_eq!(mine.origin, db.device_id());
    assert!(mine.hlc > NOW + DAY, "the local clock moved past it");
    let onward = db.generate_bundle(None).unwrap().unwrap();
    let outcome = replica(SCHEMA, &["todos"]).import_bundle(&onward);
    assert!(outcome.is_ok(), "its bundles are accepted: {outcome:?}");
}
