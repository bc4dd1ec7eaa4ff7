//! Fuzzing the change-set decoder (native only, proptest), the part of an import that reads row
//! data: arbitrary bytes, and encodings of random change sets (every value type, all three row
//! change kinds) with bytes changed, truncated, inserted or removed. Whatever the input: no panic,
//! and anything accepted is a change set that survives its own round trip unchanged.

use proptest::prelude::*;
use sqlite_sync_wasm::{ChangeSet, RowChange, TableChanges, Value};

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Real),
        ".{0,40}".prop_map(Value::Text),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Blob),
    ]
}

fn row() -> impl Strategy<Value = RowChange> {
    let values = || prop::collection::vec(value(), 0..5);
    prop_oneof![
        values().prop_map(|values| RowChange::Insert { values }),
        values().prop_map(|old| RowChange::Delete { old }),
        (
            values(),
            prop::collection::vec(0u32..8, 0..4),
            values(),
            values()
        )
            .prop_map(|(key, columns, old, new)| RowChange::Update {
                key,
                columns,
                old,
                new
            }),
    ]
}

fn change_set() -> impl Strategy<Value = ChangeSet> {
    let table = (
        "[a-z ]{0,12}",
        prop::collection::vec("[a-z_]{1,8}", 0..5),
        prop::collection::vec(0u32..5, 0..3),
        prop::collection::vec(row(), 0..6),
    )
        .prop_map(|(table, columns, primary_key, rows)| TableChanges {
            table,
            columns,
            primary_key,
            rows,
        });
    prop::collection::vec(table, 0..3).prop_map(|tables| ChangeSet { tables })
}

/// A byte-level change to an encoding.
#[derive(Debug, Clone)]
enum Damage {
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Damage::Set(at, b)),
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Damage::Insert(at, b)),
        any::<usize>().prop_map(Damage::Remove),
    ]
}

fn apply(bytes: &mut Vec<u8>, damage: &Damage) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *damage {
        Damage::Set(i, b) if !bytes.is_empty() => {
            let i = at(i, bytes.len());
            bytes[i] = b;
        }
        Damage::Truncate(i) => bytes.truncate(at(i, bytes.len())),
        Damage::Insert(i, b) => bytes.insert(at(i, bytes.len() + 1), b),
        Damage::Remove(i) if !bytes.is_empty() => {
            bytes.remove(at(i, bytes.len()));
        }
        _ => {}
    }
}

/// Decodes; anything accepted must encode and decode back to itself.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(set) = ChangeSet::from_bytes(bytes) {
        let again = ChangeSet::from_bytes(&set.to_bytes().expect("encode"));
        prop_assert_eq!(again.as_ref(), Ok(&set));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_change_sets_round_trip(set in change_set()) {
        let bytes = set.to_bytes().expect("encode");
        prop_assert_eq!(ChangeSet::from_bytes(&bytes).expect("decode"), set);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&bytes)?;
    }

    #[test]
    fn damaged_encodings_never_panic(set in change_set(), damages in prop::collection::vec(damage(), 1..4)) {
        let mut bytes = set.to_bytes().expect("encode");
        for damage in &damages {
            apply(&mut bytes, damage);
        }
        check(&bytes)?;
    }
}
