//! Fuzzing the change-set decoder (native only, proptest), the part of an import that reads row
//! data: arbitrary bytes, and encodings of random change sets (every value type, all three row
//! change kinds) with bytes changed, truncated, inserted or removed. Whatever the input: no panic,
//! and anything accepted is a change set that survives its own round trip unchanged.

use proptest::prelude::*;

use crate::damage::{apply_damage, damage};
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

/// A row change that fits a table of `width` columns keyed by `key_len` of them.
fn row(width: usize, key_len: usize) -> impl Strategy<Value = RowChange> {
    let values = move |n: usize| prop::collection::vec(value(), n);
    let changed = prop::collection::btree_set(0..width as u32, 1..=width)
        .prop_map(|set| set.into_iter().collect::<Vec<u32>>());
    prop_oneof![
        values(width).prop_map(|values| RowChange::Insert { values }),
        values(width).prop_map(|old| RowChange::Delete { old }),
        (values(key_len), changed).prop_flat_map(move |(key, columns)| {
            let n = columns.len();
            (Just(key), Just(columns), values(n), values(n)).prop_map(|(key, columns, old, new)| {
                RowChange::Update {
                    key,
                    columns,
                    old,
                    new,
                }
            })
        }),
    ]
}

/// A well-formed change set: every row fits its table entry.
fn change_set() -> impl Strategy<Value = ChangeSet> {
    let table = (
        "[a-z ]{0,12}",
        prop::collection::btree_set("[a-z_]{1,8}", 1..5),
    )
        .prop_flat_map(|(table, columns)| {
            let columns: Vec<String> = columns.into_iter().collect();
            let width = columns.len();
            let key = Just((0..width as u32).collect::<Vec<u32>>())
                .prop_shuffle()
                .prop_flat_map(move |all| (1..=width).prop_map(move |n| all[..n].to_vec()));
            (Just(table), Just(columns), key)
        })
        .prop_flat_map(|(table, columns, primary_key)| {
            let rows = prop::collection::vec(row(columns.len(), primary_key.len()), 0..6);
            (Just(table), Just(columns), Just(primary_key), rows)
        })
        .prop_map(|(table, columns, primary_key, rows)| TableChanges {
            table,
            columns,
            primary_key,
            rows,
        });
    prop::collection::vec(table, 0..3).prop_map(|tables| ChangeSet { tables })
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
            apply_damage(&mut bytes, damage);
        }
        check(&bytes)?;
    }
}
