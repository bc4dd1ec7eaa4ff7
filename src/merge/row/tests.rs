//! Unit tests of the row merge rules: every order of the same changes gives the same state.

use super::*;
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn dev(n: u8) -> DeviceId {
    DeviceId([n; 16])
}

fn col(name: &str, v: i64) -> (String, Value) {
    (name.to_owned(), Value::Integer(v))
}

/// Owned form of an [`Event`], for building test histories.
#[derive(Clone)]
enum Ev {
    Insert(Vec<(String, Value)>),
    Update(Vec<(String, Value)>),
    Delete,
}

struct Op {
    origin: u8,
    seq: u64,
    hlc: u64,
    context: VectorClock,
    event: Ev,
}

/// Device `origin`'s change number `seq`, stamped `hlc`, made having seen `seen`.
fn op(origin: u8, seq: u64, hlc: u64, seen: &[(u8, u64)], event: Ev) -> Op {
    let context = seen.iter().map(|&(d, s)| (dev(d), s)).collect();
    Op {
        origin,
        seq,
        hlc,
        context,
        event,
    }
}

/// Device 1's first change: it inserts row 1 with `a` and `b` at 0.
fn base() -> Op {
    op(
        1,
        1,
        10,
        &[],
        Ev::Insert(vec![col("id", 1), col("a", 0), col("b", 0)]),
    )
}

fn run(ops: &[&Op]) -> (RowMeta, Option<RowValues>) {
    fn change(op: &Op) -> Change<'_> {
        fn borrow(cells: &[(String, Value)]) -> Vec<(&str, ValueRef<'_>)> {
            cells
                .iter()
                .map(|(c, v)| (c.as_str(), v.as_ref()))
                .collect()
        }
        let event = match &op.event {
            Ev::Insert(cells) => Event::Insert(borrow(cells)),
            Ev::Update(cells) => Event::Update(borrow(cells)),
            Ev::Delete => Event::Delete,
        };
        Change {
            dot: Dot::new(dev(op.origin), op.seq),
            hlc: op.hlc,
            context: &op.context,
            event,
        }
    }
    let mut meta = RowMeta::unseen();
    let mut values = Vec::new();
    for op in ops {
        meta.absorb(&change(op), &mut values);
    }
    values.sort_by(|a, b| a.0.cmp(&b.0));
    (meta.clone(), (!meta.deleted).then_some(values))
}

fn permutations<'a>(ops: &[&'a Op]) -> Vec<Vec<&'a Op>> {
    if ops.len() <= 1 {
        return vec![ops.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..ops.len() {
        let mut rest = ops.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

#[test]
fn concurrent_edits_of_different_columns_both_survive_in_any_order() {
    let base = base();
    let edit_a = op(2, 1, 20, &[(1, 1)], Ev::Update(vec![col("a", 5)]));
    let edit_b = op(1, 2, 15, &[], Ev::Update(vec![col("b", 7)]));
    let outcomes: Vec<_> = permutations(&[&edit_a, &edit_b])
        .into_iter()
        .map(|order| run(&[&[&base][..], &order].concat()))
        .collect();
    assert!(outcomes.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(
        outcomes[0].1,
        Some(vec![col("a", 5), col("b", 7), col("id", 1)])
    );
    assert_eq!(outcomes[0].0.heads.len(), 2, "the two edits are concurrent");
    assert!(!outcomes[0].0.heads[0].overlaps(&outcomes[0].0.heads[1]));
}

#[test]
fn a_later_delete_wins_and_a_later_update_revives_with_merged_values() {
    let base = base();
    let delete = op(2, 1, 30, &[(1, 1)], Ev::Delete);
    let update = op(3, 1, 20, &[(1, 1)], Ev::Update(vec![col("a", 9)]));
    for order in permutations(&[&delete, &update]) {
        let (meta, values) = run(&[&[&base][..], &order].concat());
        assert_eq!(values, None, "the delete is later");
        assert_eq!(meta.heads.len(), 2);
    }
    let revive = op(3, 1, 40, &[(1, 1)], Ev::Update(vec![col("a", 9)]));
    for order in permutations(&[&delete, &revive]) {
        let (_, values) = run(&[&[&base][..], &order].concat());
        assert_eq!(values, Some(vec![col("a", 9), col("b", 0), col("id", 1)]));
    }
}

#[test]
fn a_change_that_saw_every_head_closes_the_conflict() {
    let a = op(1, 1, 10, &[], Ev::Insert(vec![col("id", 1), col("v", 1)]));
    let b = op(2, 1, 11, &[], Ev::Insert(vec![col("id", 1), col("v", 2)]));
    let resolve = op(
        1,
        2,
        12,
        &[(2, 1)],
        Ev::Insert(vec![col("id", 1), col("v", 3)]),
    );
    let (meta, _) = run(&[&a, &b]);
    assert!(meta.in_conflict());
    let (meta, values) = run(&[&a, &b, &resolve]);
    assert!(!meta.in_conflict());
    assert_eq!(values, Some(vec![col("id", 1), col("v", 3)]));
}

#[test]
fn three_concurrent_versions_are_all_heads_in_any_order() {
    let base = base();
    let edits = [
        op(2, 1, 20, &[(1, 1)], Ev::Update(vec![col("a", 2)])),
        op(3, 1, 21, &[(1, 1)], Ev::Update(vec![col("a", 3)])),
        op(4, 1, 19, &[(1, 1)], Ev::Delete),
    ];
    let refs: Vec<&Op> = edits.iter().collect();
    let outcomes: Vec<_> = permutations(&refs)
        .into_iter()
        .map(|order| run(&[&[&base][..], &order].concat()))
        .collect();
    assert!(outcomes.windows(2).all(|w| w[0] == w[1]));
    let (meta, values) = &outcomes[0];
    assert_eq!(meta.heads.len(), 3);
    assert_eq!(meta.heads[0].dot.origin, dev(3), "greatest stamp first");
    assert_eq!(values.as_ref().map(|v| v[0].clone()), Some(col("a", 3)));
}

#[test]
fn a_column_no_change_wrote_takes_any_write_not_the_rows_newest_stamp() {
    // The row was inserted without column z (the inserting replica had no such column yet), then
    // updated later; an older write of z made where the column already existed still wins z.
    let insert = op(1, 1, 10, &[], Ev::Insert(vec![col("id", 1), col("a", 0)]));
    let set_z = op(2, 1, 15, &[(1, 1)], Ev::Update(vec![col("z", 7)]));
    let set_a = op(1, 2, 30, &[], Ev::Update(vec![col("a", 1)]));
    for order in permutations(&[&set_z, &set_a]) {
        let (meta, values) = run(&[&[&insert][..], &order].concat());
        assert_eq!(values, Some(vec![col("a", 1), col("id", 1), col("z", 7)]));
        assert_eq!(meta.stamp_of("z").map(|s| s.hlc), Some(15));
    }
}

#[test]
fn only_an_untouched_insert_of_exactly_the_given_columns_has_the_short_form() {
    let columns: Vec<String> = ["id", "a", "b"].iter().map(|c| (*c).to_owned()).collect();
    let (meta, _) = run(&[&base()]);
    assert!(meta.only_insert(&columns).is_some());
    assert!(meta.only_insert(&columns[..2]).is_none());
    let edit = op(2, 1, 20, &[(1, 1)], Ev::Update(vec![col("a", 5)]));
    let (meta, _) = run(&[&base(), &edit]);
    assert!(meta.only_insert(&columns).is_none());
}
