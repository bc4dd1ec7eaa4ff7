//! Fixed schedules that diverged once, in the property's own vocabulary, each run over
//! `PLANS_PER_SCHEDULE` replica plans (device-id orders, clocks, randomness) drawn from the
//! property's own generator with a fixed seed, since whether a schedule diverges can depend on
//! which replica's stamps win ties. Custom resolvers are as found (none, mostly).

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use sqlite_sync_wasm::ConflictStrategy::{self, FieldMerge, Manual};

use super::converges;
use super::replicas::{replica_plans, ResolverRule};
use super::vocabulary::Delivery::{Later, Now, Split, Twice};
use super::vocabulary::Write::{Delete, MoveKey, Replace, SetB, Upsert};
use super::vocabulary::{Delivery, Op, Pick, Schedule, Write};

/// How many replica plans each fixed schedule is run with.
const PLANS_PER_SCHEDULE: usize = 64;

fn at(at: usize, write: Write) -> Op {
    Op::Write { at, write }
}

fn send(from: usize, to: usize, delivery: Delivery) -> Op {
    Op::Send { from, to, delivery }
}

fn resolve(at: usize, pick: usize, choice: Pick) -> Op {
    Op::Resolve { at, pick, choice }
}

/// Runs `ops` on `count` replicas without custom resolvers; see `converges_with_resolvers`.
fn converges_whatever_the_plans(strategy: ConflictStrategy, count: usize, ops: Vec<Op>) {
    converges_with_resolvers(strategy, &vec![None; count], ops);
}

/// Runs `ops` under `strategy` with every plan, on as many replicas as `resolvers` has, replica
/// `i` resolving with `resolvers[i]`; fails listing how many plans diverged, with the first
/// failing schedule and what diverged.
fn converges_with_resolvers(
    strategy: ConflictStrategy,
    resolvers: &[Option<ResolverRule>],
    ops: Vec<Op>,
) {
    let mut runner = TestRunner::deterministic();
    let plans = replica_plans(resolvers.len());
    let failures: Vec<(Schedule, String)> = (0..PLANS_PER_SCHEDULE)
        .filter_map(|_| {
            let mut replicas = plans.new_tree(&mut runner).expect("plans").current();
            for (replica, resolver) in replicas.iter_mut().zip(resolvers) {
                replica.resolver = *resolver;
            }
            let schedule = Schedule {
                replicas,
                ops: ops.clone(),
            };
            converges(strategy, &schedule)
                .err()
                .map(|failure| (schedule, failure))
        })
        .collect();
    if let Some((schedule, failure)) = failures.first() {
        panic!(
            "{} of {PLANS_PER_SCHEDULE} replica plans fail; the first:\n{schedule:?}\n{failure}",
            failures.len()
        );
    }
}

/// Issue 8, first input: one replica ended with `b = NULL`, the others with `'new'`.
#[test]
fn field_merge_resolution_after_delete_and_reinsert() {
    converges_whatever_the_plans(
        FieldMerge,
        3,
        vec![
            at(1, Upsert { id: 1, a: 0 }),
            send(1, 2, Split),
            at(1, Delete { id: 1 }),
            at(0, Upsert { id: 1, a: 0 }),
            send(0, 1, Now),
            send(0, 2, Now),
            at(2, Upsert { id: 1, a: 1 }),
            resolve(1, 0, Pick::Local),
        ],
    );
}

/// Issue 8, second input: column `a` of row 1 NULL on one replica and 10 on the others, for
/// about half of the device-id and clock choices.
#[test]
fn manual_twenty_seven_ops_over_four_replicas() {
    converges_whatever_the_plans(
        Manual,
        4,
        vec![
            at(2, Upsert { id: 1, a: 10 }),
            at(0, Upsert { id: 2, a: 54 }),
            send(0, 1, Later),
            at(3, Upsert { id: 1, a: 6 }),
            at(3, Delete { id: 1 }),
            at(1, Upsert { id: 2, a: 59 }),
            send(2, 3, Now),
            at(3, SetB { id: 3, b: 3 }),
            send(1, 0, Now),
            send(3, 0, Later),
            at(3, MoveKey { from: 0, to: 2 }),
            send(2, 0, Later),
            at(1, Delete { id: 3 }),
            at(3, Delete { id: 2 }),
            at(1, MoveKey { from: 0, to: 0 }),
            at(0, Upsert { id: 2, a: 19 }),
            at(2, SetB { id: 2, b: 0 }),
            at(3, Upsert { id: 3, a: 74 }),
            at(3, SetB { id: 2, b: 1 }),
            resolve(3, 0, Pick::Local),
            at(2, Delete { id: 3 }),
            send(0, 0, Now),
            send(1, 2, Now),
            at(2, Upsert { id: 0, a: 58 }),
            at(3, SetB { id: 1, b: 0 }),
            at(2, SetB { id: 1, b: 1 }),
            at(1, SetB { id: 1, b: 1 }),
        ],
    );
}

/// An earlier failure of the property: two upserts of one row on one replica.
#[test]
fn manual_repeated_upsert() {
    converges_whatever_the_plans(
        Manual,
        3,
        vec![at(0, Upsert { id: 0, a: 0 }), at(0, Upsert { id: 0, a: 0 })],
    );
}

/// An earlier failure of the property: a key moved onto a row another replica created.
#[test]
fn field_merge_key_moved_onto_a_received_row() {
    converges_whatever_the_plans(
        FieldMerge,
        3,
        vec![
            at(2, Upsert { id: 2, a: 0 }),
            at(2, MoveKey { from: 2, to: 0 }),
            at(0, Upsert { id: 0, a: 0 }),
            send(2, 0, Now),
            at(0, SetB { id: 0, b: 0 }),
            at(0, SetB { id: 0, b: 0 }),
        ],
    );
}

/// Found by the property: three concurrent inserts of one row give two listed conflicts, and the
/// README's loop resolves the first, which closes the second, so resolving the second (listed a
/// moment before) fails with ERR_CONFLICT_NOT_FOUND.
#[test]
fn manual_readme_loop_over_a_three_way_conflict() {
    converges_whatever_the_plans(
        Manual,
        3,
        vec![
            Op::ThreeWay {
                at: [0, 1, 2],
                edits: [
                    Upsert { id: 0, a: 1 },
                    Upsert { id: 0, a: 2 },
                    Upsert { id: 0, a: 3 },
                ],
            },
            send(1, 0, Now),
            send(2, 0, Now),
            Op::ResolveAll {
                at: 0,
                choice: Pick::Local,
            },
        ],
    );
}

/// Found by the property (manual and field-merge): three concurrent inserts of row 3 reach
/// replica 2, whose custom resolver (as `setConflictResolver` runs it) resolves the first of the
/// two new conflicts, which closes the second, so resolving the second fails with
/// ERR_CONFLICT_NOT_FOUND.
#[test]
fn custom_resolver_over_a_three_way_conflict() {
    let ops = vec![
        at(0, Upsert { id: 0, a: 0 }),
        at(1, Upsert { id: 3, a: 0 }),
        send(1, 0, Later),
        at(2, Upsert { id: 3, a: 0 }),
        at(0, Upsert { id: 3, a: 0 }),
    ];
    for strategy in [Manual, FieldMerge] {
        let resolvers = [None, None, Some(ResolverRule::KeepGreater)];
        converges_with_resolvers(strategy, &resolvers, ops.clone());
    }
}

/// Found by the property (manual and field-merge): replica 1 resolves its insert against replica
/// 2's delete by keeping the delete, while replica 0's update (made after seeing the insert)
/// revives the row; replica 1 ends with `b = NULL`, the others with `'new'`.
#[test]
fn resolution_keeping_a_delete_against_a_concurrent_update() {
    let ops = vec![
        at(2, Upsert { id: 2, a: 33 }),
        send(2, 0, Twice),
        at(2, Delete { id: 2 }),
        at(1, Upsert { id: 2, a: 10 }),
        at(0, Upsert { id: 2, a: 28 }),
        send(2, 1, Split),
        resolve(1, 0, Pick::Remote),
    ];
    for strategy in [Manual, FieldMerge] {
        converges_whatever_the_plans(strategy, 3, ops.clone());
    }
}

/// Found by the property (manual and field-merge): three rounds of three-way edits of one row, a
/// key move away from it, and the README's loop keeping the local versions; replica 0 ends with
/// `b = NULL` in row 2, the others with `'b0'`.
#[test]
fn readme_loop_after_three_way_edits_and_a_key_move() {
    let ops = vec![
        Op::ThreeWay {
            at: [0, 1, 2],
            edits: [
                Delete { id: 2 },
                Replace { id: 2, a: 43 },
                SetB { id: 2, b: 2 },
            ],
        },
        Op::ThreeWay {
            at: [2, 0, 1],
            edits: [
                SetB { id: 2, b: 1 },
                SetB { id: 2, b: 3 },
                SetB { id: 2, b: 0 },
            ],
        },
        send(1, 0, Later),
        Op::ThreeWay {
            at: [2, 1, 0],
            edits: [
                Upsert { id: 2, a: 10 },
                Upsert { id: 2, a: 75 },
                Upsert { id: 2, a: 81 },
            ],
        },
        send(2, 1, Now),
        send(2, 0, Later),
        at(0, MoveKey { from: 2, to: 1 }),
        send(2, 1, Now),
        Op::ResolveAll {
            at: 0,
            choice: Pick::Local,
        },
    ];
    for strategy in [Manual, FieldMerge] {
        converges_whatever_the_plans(strategy, 3, ops.clone());
    }
}

/// Found by the property (field-merge): replica 1 keeps its delete of row 1 against replica 0's
/// `INSERT OR REPLACE`, then a three-way edit, where replica 2's clock runs ahead, revives the
/// row; replica 1 ends with `a = NULL`, the others with 82.
#[test]
fn field_merge_kept_delete_against_a_replace_and_a_three_way_edit() {
    converges_whatever_the_plans(
        FieldMerge,
        3,
        vec![
            Op::Transaction {
                at: 1,
                writes: vec![Upsert { id: 1, a: 15 }],
                commit: true,
            },
            at(1, Delete { id: 1 }),
            at(0, Replace { id: 1, a: 82 }),
            send(0, 2, Split),
            send(2, 1, Split),
            resolve(1, 0, Pick::Local),
            Op::ThreeWay {
                at: [1, 2, 0],
                edits: [SetB { id: 1, b: 1 }, SetB { id: 1, b: 2 }, Delete { id: 1 }],
            },
        ],
    );
}

/// Found by the property (manual): replica 1 moves row 0 to key 1 (a delete of row 0) and keeps
/// that delete in the README's loop, while replica 2, whose clock runs ahead, sets `b` of row 0;
/// replica 1 ends with `a = NULL` in row 0, the others with 11.
#[test]
fn manual_kept_key_move_against_an_update_from_a_clock_ahead() {
    converges_whatever_the_plans(
        Manual,
        3,
        vec![
            at(1, Upsert { id: 0, a: 11 }),
            at(0, Upsert { id: 0, a: 36 }),
            send(1, 2, Now),
            at(1, MoveKey { from: 0, to: 1 }),
            at(2, SetB { id: 0, b: 1 }),
            send(0, 1, Split),
            Op::ResolveAll {
                at: 1,
                choice: Pick::Local,
            },
        ],
    );
}
