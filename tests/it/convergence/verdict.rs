//! What "converged" means, and how a divergence is told: after settling, every replica shows the
//! same rows in every synced table, the same vector clock and the same open conflict ids (none at
//! all under last-writer-wins).

use sqlite_sync_wasm::clock::VectorClock;
use sqlite_sync_wasm::{ConflictStrategy, Engine, Value};

use super::vocabulary::TABLES;
use crate::common::rows;

/// What the API shows of one replica.
#[derive(PartialEq)]
struct Observed {
    /// Rows per table of `TABLES`, in key order.
    tables: Vec<Vec<Vec<Value>>>,
    clock: VectorClock,
    /// Sorted ids of the open conflicts.
    conflicts: Vec<String>,
}

/// Checks that all `replicas` show the same state; the message names the first difference.
pub fn agree<'a>(
    replicas: impl Iterator<Item = &'a mut Engine>,
    strategy: ConflictStrategy,
) -> Result<(), String> {
    let observed = replicas.map(observe).collect::<Result<Vec<_>, _>>()?;
    if strategy == ConflictStrategy::LastWriterWins {
        if let Some(at) = observed.iter().position(|o| !o.conflicts.is_empty()) {
            return Err(format!(
                "replica {at} lists conflicts under lww: {:?}",
                observed[at].conflicts
            ));
        }
    }
    let reference = &observed[0];
    for (at, other) in observed.iter().enumerate().skip(1) {
        for (table, (mine, theirs)) in TABLES
            .iter()
            .zip(reference.tables.iter().zip(&other.tables))
        {
            if mine != theirs {
                return Err(format!(
                    "table {}: replica 0 has {}, replica {at} has {}",
                    table.name,
                    show_rows(mine),
                    show_rows(theirs)
                ));
            }
        }
        if reference.clock != other.clock {
            return Err(format!(
                "vector clocks: replica 0 has {}, replica {at} has {}",
                show_clock(&reference.clock),
                show_clock(&other.clock)
            ));
        }
        if reference.conflicts != other.conflicts {
            return Err(format!(
                "open conflicts: replica 0 has {:?}, replica {at} has {:?}",
                reference.conflicts, other.conflicts
            ));
        }
    }
    Ok(())
}

fn observe(db: &mut Engine) -> Result<Observed, String> {
    let mut conflicts: Vec<String> = db
        .conflicts()
        .map_err(|e| format!("conflicts(): {e}"))?
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    conflicts.sort();
    Ok(Observed {
        tables: TABLES.iter().map(|table| rows(db, table.name)).collect(),
        clock: db
            .vector_clock()
            .map_err(|e| format!("vector_clock(): {e}"))?,
        conflicts,
    })
}

/// Rows as `[(1, 10, 'new'), (2, NULL, NULL)]`.
fn show_rows(rows: &[Vec<Value>]) -> String {
    let row = |row: &Vec<Value>| {
        let cells: Vec<String> = row.iter().map(show_value).collect();
        format!("({})", cells.join(", "))
    };
    format!("[{}]", rows.iter().map(row).collect::<Vec<_>>().join(", "))
}

fn show_value(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Integer(n) => n.to_string(),
        Value::Text(text) => format!("'{text}'"),
        other => format!("{other:?}"),
    }
}

/// A clock as `{1: 3, 2: 5}`, each device by its id byte.
fn show_clock(clock: &VectorClock) -> String {
    let entries: Vec<String> = clock
        .iter()
        .map(|(device, seq)| format!("{}: {seq}", device.0[0]))
        .collect();
    format!("{{{}}}", entries.join(", "))
}
