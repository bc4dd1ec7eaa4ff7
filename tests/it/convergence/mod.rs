//! Property: replicas that exchange bundles over an unreliable, reordering, duplicating channel,
//! with relays through third replicas, end with identical rows, vector clocks and open conflicts
//! once everything has been delivered, for every conflict strategy. This is the central promise
//! of the product ("converge always", "lose nothing"), checked over random schedules of writes
//! (upserts, `INSERT OR REPLACE`, key moves, deletes, multi-row transactions, three-way concurrent
//! edits, on a rowid and a composite-key table), deliveries and resolutions (local, remote,
//! `{ values }`, the README's resolve-everything loop, custom resolvers). Every replica's device
//! id, clock and randomness come from the generated case, so a failure replays exactly from its
//! seed in `tests/proptest-regressions/convergence.txt`.
//!
//! Cases per strategy: `CONVERGENCE_CASES` (default `DEFAULT_CASES_PER_STRATEGY`); `npm test`
//! runs the default (in the debug build), `npm run hunt` runs 10,000 per strategy in release.

mod regressions;
mod replicas;
mod resolution;
mod verdict;
mod vocabulary;
mod world;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use sqlite_sync_wasm::ConflictStrategy;

use crate::common::rows;

use vocabulary::{schedule, Schedule};
use world::World;

/// Cases per strategy when `CONVERGENCE_CASES` is not set (three strategies: 2,100 in all).
const DEFAULT_CASES_PER_STRATEGY: u32 = 700;

/// Runs `schedule` under `strategy`, settles, and checks that every replica agrees.
fn converges(strategy: ConflictStrategy, schedule: &Schedule) -> Result<(), String> {
    let mut world = World::new(&schedule.replicas, strategy);
    for (step, op) in schedule.ops.iter().enumerate() {
        world
            .run(op)
            .map_err(|e| format!("op {step} ({op:?}): {e}"))?;
    }
    world.settle()?;
    verdict::agree(world.databases(), strategy)
}

fn config() -> ProptestConfig {
    let cases = std::env::var("CONVERGENCE_CASES").map_or(DEFAULT_CASES_PER_STRATEGY, |v| {
        v.parse().expect("CONVERGENCE_CASES is a number of cases")
    });
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/proptest-regressions/convergence.txt"
        )))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn manual_replicas_converge(schedule in schedule()) {
        converges(ConflictStrategy::Manual, &schedule).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn lww_replicas_converge(schedule in schedule()) {
        converges(ConflictStrategy::LastWriterWins, &schedule).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn field_merge_replicas_converge(schedule in schedule()) {
        converges(ConflictStrategy::FieldMerge, &schedule).map_err(TestCaseError::fail)?;
    }
}

/// Nothing from outside the case leaks into a run: the same schedule, run twice, leaves every
/// replica with the same rows, change log (stamps included), vector clock and conflicts (with
/// their detection times), so a failure found from a seed replays exactly.
#[test]
fn a_schedule_replays_exactly() {
    let mut runner = TestRunner::deterministic();
    for _ in 0..16 {
        let schedule = schedule()
            .new_tree(&mut runner)
            .expect("schedule")
            .current();
        let run = || {
            let mut world = World::new(&schedule.replicas, ConflictStrategy::Manual);
            // A failing case must replay too, so failures are ignored here.
            let _ = schedule.ops.iter().try_for_each(|op| world.run(op));
            let _ = world.settle();
            world
                .databases()
                .map(|db| {
                    let tables: Vec<_> = vocabulary::TABLES
                        .iter()
                        .map(|t| rows(db, t.name))
                        .collect();
                    let log = db.change_log().expect("change log");
                    let clock = db.vector_clock().expect("vector clock");
                    (tables, log, clock, db.conflicts().expect("conflicts"))
                })
                .collect::<Vec<_>>()
        };
        assert!(run() == run(), "a replay differs:\n{schedule:?}");
    }
}
