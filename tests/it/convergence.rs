//! Property: replicas that exchange bundles over an unreliable, reordering, duplicating channel,
//! with relays through third replicas, end with identical rows and identical open conflicts once
//! everything has been delivered, for every conflict strategy. This is the central promise of the
//! product ("converge always", "lose nothing"), checked over random histories.

use proptest::prelude::*;
use sqlite_sync_wasm::bundle::{self, BundleBody};
use sqlite_sync_wasm::{Choice, ConflictStrategy, Engine, Params, Value};

use crate::common::{engine, rows};

const SCHEMA: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)";

#[derive(Debug, Clone)]
enum Op {
    Upsert {
        at: usize,
        id: i64,
        a: i64,
    },
    SetB {
        at: usize,
        id: i64,
        b: u8,
    },
    MoveKey {
        at: usize,
        from: i64,
        to: i64,
    },
    Delete {
        at: usize,
        id: i64,
    },
    Send {
        from: usize,
        to: usize,
        delivery: Delivery,
    },
    Resolve {
        at: usize,
        pick: usize,
        keep_local: bool,
    },
}

#[derive(Debug, Clone, Copy)]
enum Delivery {
    /// Imported at once.
    Now,
    /// Lost in transit.
    Drop,
    /// Imported twice.
    Twice,
    /// Held and delivered later, out of order.
    Later,
    /// Split into two bundles delivered in reverse order.
    Split,
}

fn op(replicas: usize) -> impl Strategy<Value = Op> {
    let at = 0..replicas;
    let id = 0..4i64;
    let delivery = prop_oneof![
        3 => Just(Delivery::Now),
        1 => Just(Delivery::Drop),
        1 => Just(Delivery::Twice),
        2 => Just(Delivery::Later),
        1 => Just(Delivery::Split),
    ];
    prop_oneof![
        4 => (at.clone(), id.clone(), 0..100i64).prop_map(|(at, id, a)| Op::Upsert { at, id, a }),
        3 => (at.clone(), id.clone(), 0..4u8).prop_map(|(at, id, b)| Op::SetB { at, id, b }),
        1 => (at.clone(), id.clone(), id.clone()).prop_map(|(at, from, to)| Op::MoveKey { at, from, to }),
        2 => (at.clone(), id).prop_map(|(at, id)| Op::Delete { at, id }),
        5 => (at.clone(), at.clone(), delivery).prop_map(|(from, to, delivery)| Op::Send { from, to, delivery }),
        1 => (at, 0..3usize, any::<bool>()).prop_map(|(at, pick, keep_local)| Op::Resolve { at, pick, keep_local }),
    ]
}

struct World {
    replicas: Vec<Engine>,
    in_flight: Vec<(usize, Vec<u8>)>,
}

impl World {
    fn new(count: usize, strategy: ConflictStrategy) -> World {
        let replicas = (0..count)
            .map(|_| {
                let mut db = engine();
                db.execute(SCHEMA, &Params::None).unwrap();
                db.enable_sync("items", strategy).unwrap();
                db
            })
            .collect();
        World {
            replicas,
            in_flight: Vec::new(),
        }
    }

    fn write(&mut self, at: usize, sql: &str, params: Vec<Value>) {
        // Constraint failures (moving onto an existing key) are part of the exercise.
        let _ = self.replicas[at].execute(sql, &Params::Positional(params));
    }

    fn deliver(&mut self, to: usize, bundle: &[u8]) {
        self.replicas[to]
            .import_bundle(bundle)
            .expect("a valid bundle always imports");
    }

    fn run(&mut self, op: &Op) {
        let int = Value::Integer;
        match op {
            Op::Upsert { at, id, a } => self.write(
                *at,
                "INSERT INTO items (id, a, b) VALUES (?1, ?2, 'new') ON CONFLICT (id) DO UPDATE SET a = excluded.a",
                vec![int(*id), int(*a)],
            ),
            Op::SetB { at, id, b } => {
                self.write(*at, "UPDATE items SET b = ?2 WHERE id = ?1", vec![int(*id), Value::Text(format!("b{b}"))])
            }
            Op::MoveKey { at, from, to } => self.write(*at, "UPDATE items SET id = ?2 WHERE id = ?1", vec![int(*from), int(*to)]),
            Op::Delete { at, id } => self.write(*at, "DELETE FROM items WHERE id = ?1", vec![int(*id)]),
            Op::Send { from, to, delivery } => {
                if from == to {
                    return;
                }
                let peer = self.replicas[*to].device_id();
                let Some(bundle) = self.replicas[*from].generate_bundle(Some(&peer)).unwrap() else {
                    return;
                };
                match delivery {
                    Delivery::Now => self.deliver(*to, &bundle),
                    Delivery::Drop => {}
                    Delivery::Twice => {
                        self.deliver(*to, &bundle);
                        self.deliver(*to, &bundle);
                    }
                    Delivery::Later => self.in_flight.push((*to, bundle)),
                    Delivery::Split => {
                        let body = bundle::decode(&bundle).unwrap();
                        let half = body.records.len() / 2;
                        let (first, second) = body.records.split_at(half);
                        for part in [second, first] {
                            let piece = BundleBody { records: part.to_vec(), ..body.clone() };
                            self.deliver(*to, &bundle::encode(&piece).unwrap());
                        }
                    }
                }
                if !self.in_flight.is_empty() && matches!(delivery, Delivery::Now | Delivery::Twice) {
                    let (to, late) = self.in_flight.remove(0);
                    self.deliver(to, &late);
                }
            }
            Op::Resolve { at, pick, keep_local } => {
                let open = self.replicas[*at].conflicts().unwrap();
                if let Some(conflict) = open.get(*pick) {
                    let choice = if *keep_local { Choice::Local } else { Choice::Remote };
                    self.replicas[*at].resolve_conflict(conflict.id, choice).unwrap();
                }
            }
        }
    }

    /// Delivers everything in flight, then lets every replica send to every other until quiet.
    fn settle(&mut self) {
        for (to, bundle) in std::mem::take(&mut self.in_flight) {
            self.deliver(to, &bundle);
        }
        let n = self.replicas.len();
        for _round in 0..3 {
            for from in 0..n {
                for to in 0..n {
                    if from != to {
                        let peer = self.replicas[to].device_id();
                        if let Some(bundle) =
                            self.replicas[from].generate_bundle(Some(&peer)).unwrap()
                        {
                            self.deliver(to, &bundle);
                        }
                    }
                }
            }
        }
    }
}

fn strategy() -> impl Strategy<Value = ConflictStrategy> {
    prop_oneof![
        Just(ConflictStrategy::Manual),
        Just(ConflictStrategy::LastWriterWins),
        Just(ConflictStrategy::FieldMerge)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_after_full_exchange(
        (count, ops) in (3usize..=5).prop_flat_map(|n| (Just(n), prop::collection::vec(op(n), 1..60))),
        strategy in strategy(),
    ) {
        let mut world = World::new(count, strategy);
        for op in &ops {
            world.run(op);
        }
        world.settle();
        let reference_rows = rows(&mut world.replicas[0], "items");
        let reference_clock = world.replicas[0].vector_clock().unwrap();
        let ids = |db: &mut Engine| {
            let mut ids: Vec<String> = db.conflicts().unwrap().into_iter().map(|c| c.id.to_string()).collect();
            ids.sort();
            ids
        };
        let reference_conflicts = ids(&mut world.replicas[0]);
        if strategy == ConflictStrategy::LastWriterWins {
            prop_assert!(reference_conflicts.is_empty(), "lww lists no conflicts");
        }
        for db in world.replicas.iter_mut().skip(1) {
            prop_assert_eq!(&rows(db, "items"), &reference_rows);
            prop_assert_eq!(&db.vector_clock().unwrap(), &reference_clock);
            prop_assert_eq!(&ids(db), &reference_conflicts);
        }
    }
}
