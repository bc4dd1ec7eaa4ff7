//! What a convergence schedule is made of: the synced schema, the row writes an app makes, the
//! operations of a schedule (writes, transactions, three-way concurrent edits, deliveries,
//! resolutions) and the proptest strategies that generate them. Replica plans (identities, clocks,
//! resolvers) live in `replicas`.

use std::fmt;

use proptest::prelude::*;
use sqlite_sync_wasm::Value;

use super::replicas::{replica_plans, ReplicaPlan};

/// The synced tables: a rowid table, and a composite-key `WITHOUT ROWID` table.
pub const SCHEMA: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, a INTEGER, b TEXT);
    CREATE TABLE pairs (k1 INTEGER NOT NULL, k2 TEXT NOT NULL, v INTEGER,
                        PRIMARY KEY (k1, k2)) WITHOUT ROWID";

/// A synced table of `SCHEMA`.
pub struct Table {
    pub name: &'static str,
    /// The non-key columns, in table order.
    pub values: &'static [&'static str],
}

/// The synced tables, in the order the checks read them.
pub const TABLES: [Table; 2] = [
    Table {
        name: "items",
        values: &["a", "b"],
    },
    Table {
        name: "pairs",
        values: &["v"],
    },
];

/// The keys of `pairs.k2`.
const PAIR_KEYS: [&str; 2] = ["x", "y"];

/// A whole case: the replicas and what happens to them, in order.
#[derive(Clone)]
pub struct Schedule {
    pub replicas: Vec<ReplicaPlan>,
    pub ops: Vec<Op>,
}

/// One replica or op per line, each in its one-line `Debug` form, so a minimal failing case reads
/// (and pastes into a regression test) as a list.
impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Schedule {{\n    replicas: vec![")?;
        for replica in &self.replicas {
            writeln!(f, "        {replica:?},")?;
        }
        writeln!(f, "    ],\n    ops: vec![")?;
        for op in &self.ops {
            writeln!(f, "        {op:?},")?;
        }
        write!(f, "    ],\n}}")
    }
}

/// One row write, as an app would make it.
#[derive(Debug, Clone)]
pub enum Write {
    /// `INSERT … ON CONFLICT (id) DO UPDATE SET a`: a new row has `b = 'new'`.
    Upsert {
        id: i64,
        a: i64,
    },
    /// `INSERT OR REPLACE` leaving `b` NULL: an existing row is deleted and inserted again.
    Replace {
        id: i64,
        a: i64,
    },
    /// `UPDATE … SET b = 'b<b>'`.
    SetB {
        id: i64,
        b: u8,
    },
    /// `UPDATE … SET id`: a key change, refused when `to` is taken.
    MoveKey {
        from: i64,
        to: i64,
    },
    Delete {
        id: i64,
    },
    /// Upsert of a `pairs` row (key `k1`, `PAIR_KEYS[k2]`).
    PutPair {
        k1: i64,
        k2: u8,
        v: i64,
    },
    DeletePair {
        k1: i64,
        k2: u8,
    },
}

/// One step of a schedule; `at`, `from` and `to` are replica indexes.
#[derive(Debug, Clone)]
pub enum Op {
    Write {
        at: usize,
        write: Write,
    },
    /// The writes inside one `BEGIN`, then `COMMIT` (or `ROLLBACK` when `commit` is false).
    Transaction {
        at: usize,
        writes: Vec<Write>,
        commit: bool,
    },
    /// Three replicas edit the same row, one after the other, before any exchange.
    ThreeWay {
        at: [usize; 3],
        edits: [Write; 3],
    },
    /// `from` makes its bundle for `to`; nothing happens when they are the same replica.
    Send {
        from: usize,
        to: usize,
        delivery: Delivery,
    },
    /// Resolves conflict number `pick` (modulo their count) of `conflicts()`.
    Resolve {
        at: usize,
        pick: usize,
        choice: Pick,
    },
    /// The README's loop: every conflict `conflicts()` lists, resolved in turn.
    ResolveAll {
        at: usize,
        choice: Pick,
    },
    /// `at` runs a sync round with relay `relay` (of [`RELAYS`]); with `messages`, the connection
    /// drops after that many messages were answered, cutting the round short.
    Round {
        at: usize,
        relay: usize,
        messages: Option<u8>,
    },
    /// Relay `relay` loses its storage: it starts a new, empty log.
    RelayLost {
        relay: usize,
    },
}

/// How many relays a schedule's replicas may sync through.
pub const RELAYS: usize = 2;

/// What happens to a bundle on its way.
#[derive(Debug, Clone, Copy)]
pub enum Delivery {
    /// Imported at once.
    Now,
    /// Lost in transit.
    Drop,
    /// Imported twice.
    Twice,
    /// Held, and delivered after the next `Now` or `Twice` delivery (oldest held first).
    Later,
    /// Split into two bundles delivered in reverse order.
    Split,
}

/// The version a resolution keeps.
#[derive(Debug, Clone, Copy)]
pub enum Pick {
    Local,
    Remote,
    /// `Choice::Values` for the non-key columns whose bit is set in `columns` (the first one when
    /// none is), each set from `value`.
    Values {
        columns: u8,
        value: i64,
    },
}

impl Write {
    /// The statement and its positional parameters.
    pub fn statement(&self) -> (&'static str, Vec<Value>) {
        let int = Value::Integer;
        let pair_key = |k2: u8| Value::Text(PAIR_KEYS[usize::from(k2) % PAIR_KEYS.len()].into());
        match *self {
            Write::Upsert { id, a } => (
                "INSERT INTO items (id, a, b) VALUES (?1, ?2, 'new') \
                 ON CONFLICT (id) DO UPDATE SET a = excluded.a",
                vec![int(id), int(a)],
            ),
            Write::Replace { id, a } => (
                "INSERT OR REPLACE INTO items (id, a) VALUES (?1, ?2)",
                vec![int(id), int(a)],
            ),
            Write::SetB { id, b } => (
                "UPDATE items SET b = ?2 WHERE id = ?1",
                vec![int(id), Value::Text(format!("b{b}"))],
            ),
            Write::MoveKey { from, to } => (
                "UPDATE items SET id = ?2 WHERE id = ?1",
                vec![int(from), int(to)],
            ),
            Write::Delete { id } => ("DELETE FROM items WHERE id = ?1", vec![int(id)]),
            Write::PutPair { k1, k2, v } => (
                "INSERT INTO pairs (k1, k2, v) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (k1, k2) DO UPDATE SET v = excluded.v",
                vec![int(k1), pair_key(k2), int(v)],
            ),
            Write::DeletePair { k1, k2 } => (
                "DELETE FROM pairs WHERE k1 = ?1 AND k2 = ?2",
                vec![int(k1), pair_key(k2)],
            ),
        }
    }
}

/// The most replicas a schedule has.
const MAX_REPLICAS: usize = 5;

/// Schedules of 3 to 5 replicas and 1 to 59 operations. Operations are generated for the most
/// replicas and then confined to the schedule's count (rather than generated for it), so that
/// shrinking the count keeps the operations instead of drawing new ones.
pub fn schedule() -> impl Strategy<Value = Schedule> {
    (
        3..=MAX_REPLICAS,
        replica_plans(MAX_REPLICAS),
        prop::collection::vec(op(), 1..60),
    )
        .prop_map(|(count, mut replicas, ops)| {
            replicas.truncate(count);
            let ops = ops.into_iter().map(|op| op.confined(count)).collect();
            Schedule { replicas, ops }
        })
}

impl Op {
    /// The same operation with every replica index taken modulo `count` (three-way edits keep
    /// three distinct replicas).
    fn confined(self, count: usize) -> Op {
        match self {
            Op::Write { at, write } => Op::Write {
                at: at % count,
                write,
            },
            Op::Transaction { at, writes, commit } => Op::Transaction {
                at: at % count,
                writes,
                commit,
            },
            Op::ThreeWay { at, edits } => {
                let mut free: Vec<usize> = (0..count).collect();
                Op::ThreeWay {
                    at: at.map(|raw| free.remove(raw % free.len())),
                    edits,
                }
            }
            Op::Send { from, to, delivery } => Op::Send {
                from: from % count,
                to: to % count,
                delivery,
            },
            Op::Resolve { at, pick, choice } => Op::Resolve {
                at: at % count,
                pick,
                choice,
            },
            Op::ResolveAll { at, choice } => Op::ResolveAll {
                at: at % count,
                choice,
            },
            Op::Round {
                at,
                relay,
                messages,
            } => Op::Round {
                at: at % count,
                relay,
                messages,
            },
            Op::RelayLost { relay } => Op::RelayLost { relay },
        }
    }
}

fn op() -> impl Strategy<Value = Op> {
    let at = 0..MAX_REPLICAS;
    let resolve = (at.clone(), 0..3usize, pick());
    prop_oneof![
        20 => (at.clone(), write()).prop_map(|(at, write)| Op::Write { at, write }),
        1 => (at.clone(), prop::collection::vec(write(), 2..5), prop::bool::weighted(0.75))
            .prop_map(|(at, writes, commit)| Op::Transaction { at, writes, commit }),
        1 => three_way(),
        12 => (at.clone(), at.clone(), delivery())
            .prop_map(|(from, to, delivery)| Op::Send { from, to, delivery }),
        3 => resolve.prop_map(|(at, pick, choice)| Op::Resolve { at, pick, choice }),
        1 => (at.clone(), pick()).prop_map(|(at, choice)| Op::ResolveAll { at, choice }),
        6 => (at, 0..RELAYS, prop::option::weighted(0.25, 1..6u8))
            .prop_map(|(at, relay, messages)| Op::Round { at, relay, messages }),
        1 => (0..RELAYS).prop_map(|relay| Op::RelayLost { relay }),
    ]
}

fn write() -> impl Strategy<Value = Write> {
    let id = 0..4i64;
    let pair = (0..2i64, 0..2u8);
    prop_oneof![
        4 => (id.clone(), 0..100i64).prop_map(|(id, a)| Write::Upsert { id, a }),
        1 => (id.clone(), 0..100i64).prop_map(|(id, a)| Write::Replace { id, a }),
        3 => (id.clone(), 0..4u8).prop_map(|(id, b)| Write::SetB { id, b }),
        1 => (id.clone(), id.clone()).prop_map(|(from, to)| Write::MoveKey { from, to }),
        2 => id.prop_map(|id| Write::Delete { id }),
        1 => (pair.clone(), 0..100i64).prop_map(|((k1, k2), v)| Write::PutPair { k1, k2, v }),
        1 => pair.prop_map(|(k1, k2)| Write::DeletePair { k1, k2 }),
    ]
}

/// Three replicas (made distinct by `Op::confined`), each editing the same `items` row.
fn three_way() -> impl Strategy<Value = Op> {
    let at = prop::array::uniform3(0..MAX_REPLICAS);
    let edits = (0..4i64).prop_flat_map(|id| prop::array::uniform3(row_edit(id)));
    (at, edits).prop_map(|(at, edits)| Op::ThreeWay { at, edits })
}

/// A write of row `id` of `items` that keeps its key.
fn row_edit(id: i64) -> impl Strategy<Value = Write> {
    prop_oneof![
        3 => (0..100i64).prop_map(move |a| Write::Upsert { id, a }),
        1 => (0..100i64).prop_map(move |a| Write::Replace { id, a }),
        3 => (0..4u8).prop_map(move |b| Write::SetB { id, b }),
        1 => Just(Write::Delete { id }),
    ]
}

fn delivery() -> impl Strategy<Value = Delivery> {
    prop_oneof![
        3 => Just(Delivery::Now),
        1 => Just(Delivery::Drop),
        1 => Just(Delivery::Twice),
        2 => Just(Delivery::Later),
        1 => Just(Delivery::Split),
    ]
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        2 => Just(Pick::Local),
        2 => Just(Pick::Remote),
        1 => (1..4u8, 0..100i64).prop_map(|(columns, value)| Pick::Values { columns, value }),
    ]
}
