//! Resolutions as an app makes them: one listed conflict picked by position, the README's loop
//! over every listed conflict, and custom resolvers (what `setConflictResolver` does in JS after
//! each import), each turned into a `Choice` deterministically.

use std::cmp::Ordering;

use sqlite_sync_wasm::{Choice, Conflict, ConflictId, Engine, ErrorCode, Value};

use super::replicas::ResolverRule;
use super::vocabulary::{Pick, TABLES};

/// Resolves conflict number `index` (modulo their count) of those `db` lists; false when none is
/// open.
pub fn resolve_one(db: &mut Engine, index: usize, pick: Pick) -> Result<bool, String> {
    let open = listed(db)?;
    let Some(conflict) = open.get(index % open.len().max(1)) else {
        return Ok(false);
    };
    resolve_listed(db, conflict, choice_for(pick, conflict))?;
    Ok(true)
}

/// `for (c of conflicts()) resolveConflict(c.id, …)`, as the README shows it.
pub fn resolve_all(db: &mut Engine, pick: Pick) -> Result<(), String> {
    for conflict in listed(db)? {
        resolve_listed(db, &conflict, choice_for(pick, &conflict))?;
    }
    Ok(())
}

/// What the JS wrapper does after an import when a resolver is set: lists the open conflicts
/// once, and resolves, in that order, those among `new_conflicts` by `rule`. Returns how many it
/// resolved.
pub fn run_resolver(
    db: &mut Engine,
    rule: ResolverRule,
    new_conflicts: &[ConflictId],
) -> Result<usize, String> {
    if new_conflicts.is_empty() {
        return Ok(0);
    }
    let mut resolved = 0;
    for conflict in listed(db)? {
        if new_conflicts.contains(&conflict.id) {
            resolve_listed(db, &conflict, rule_choice(rule, &conflict))?;
            resolved += 1;
        }
    }
    Ok(resolved)
}

fn listed(db: &mut Engine) -> Result<Vec<Conflict>, String> {
    db.conflicts()
        .map_err(|e| format!("conflicts() failed: {e}"))
}

/// Resolves a conflict that `conflicts()` has just listed. Any error fails the property, and so
/// does ERR_CONFLICT_NOT_FOUND in particular: an id listed a moment ago must still be resolvable,
/// or the README's own loop (and every custom resolver, which works from the same listing) breaks
/// as soon as resolving one conflict silently closes another. The harness never resolves an id it
/// did not just see listed, so this never blames a conflict that another replica's resolution
/// closed in between.
fn resolve_listed(db: &mut Engine, conflict: &Conflict, choice: Choice) -> Result<(), String> {
    let r = db.resolve_conflict(conflict.id, choice.clone());
    r.map_err(|e| match e.code() {
        ErrorCode::ConflictNotFound => format!(
            "resolveConflict({}, {choice:?}) of a conflict listed just before: {e}",
            conflict.id
        ),
        code => format!(
            "resolveConflict({}, {choice:?}) failed: {code:?}: {e}",
            conflict.id
        ),
    })
}

/// The `Choice` that `pick` makes for `conflict`.
fn choice_for(pick: Pick, conflict: &Conflict) -> Choice {
    match pick {
        Pick::Local => Choice::Local,
        Pick::Remote => Choice::Remote,
        Pick::Values { columns, value } => {
            let free = value_columns(conflict);
            let mut chosen: Vec<(String, Value)> = free
                .iter()
                .enumerate()
                .filter(|(bit, _)| columns & (1 << bit) != 0)
                .map(|(_, column)| (column.to_string(), resolution_value(column, value)))
                .collect();
            if chosen.is_empty() {
                chosen.push((free[0].to_string(), resolution_value(free[0], value)));
            }
            Choice::Values(chosen)
        }
    }
}

/// A value written by a `{ values }` resolution: TEXT `r<n>` for `b`, INTEGER otherwise.
fn resolution_value(column: &str, value: i64) -> Value {
    match column {
        "b" => Value::Text(format!("r{value}")),
        _ => Value::Integer(value),
    }
}

fn rule_choice(rule: ResolverRule, conflict: &Conflict) -> Choice {
    let columns = value_columns(conflict);
    match rule {
        ResolverRule::KeepGreater | ResolverRule::KeepLesser => {
            let version = |side: &Option<Vec<(String, Value)>>| {
                side.as_ref()
                    .map(|row| columns.iter().map(|c| cell(row, c)).collect::<Vec<_>>())
            };
            let wanted = match rule {
                ResolverRule::KeepGreater => Ordering::Greater,
                _ => Ordering::Less,
            };
            if compare_versions(&version(&conflict.remote), &version(&conflict.local)) == wanted {
                Choice::Remote
            } else {
                Choice::Local
            }
        }
        ResolverRule::MergeGreatest => Choice::Values(
            columns
                .iter()
                .map(|column| {
                    let side = |row: &Option<Vec<(String, Value)>>| {
                        row.as_ref().map(|row| cell(row, column))
                    };
                    let greatest = match (side(&conflict.local), side(&conflict.remote)) {
                        (Some(local), Some(remote)) => match compare_values(&remote, &local) {
                            Ordering::Greater => remote,
                            _ => local,
                        },
                        (Some(only), None) | (None, Some(only)) => only,
                        (None, None) => Value::Null,
                    };
                    (column.to_string(), greatest)
                })
                .collect(),
        ),
    }
}

fn value_columns(conflict: &Conflict) -> &'static [&'static str] {
    TABLES
        .iter()
        .find(|table| table.name == conflict.table)
        .map(|table| table.values)
        .expect("a conflict on a synced table")
}

fn cell(row: &[(String, Value)], column: &str) -> Value {
    row.iter()
        .find(|(name, _)| name == column)
        .map_or(Value::Null, |(_, value)| value.clone())
}

/// A deleted version (`None`) is least; otherwise column by column.
fn compare_versions(x: &Option<Vec<Value>>, y: &Option<Vec<Value>>) -> Ordering {
    match (x, y) {
        (Some(x), Some(y)) => x
            .iter()
            .zip(y)
            .map(|(x, y)| compare_values(x, y))
            .find(|order| order.is_ne())
            .unwrap_or(Ordering::Equal),
        _ => x.is_some().cmp(&y.is_some()),
    }
}

/// SQLite's order: NULL, numbers, TEXT, BLOB.
fn compare_values(x: &Value, y: &Value) -> Ordering {
    let rank = |value: &Value| match value {
        Value::Null => 0,
        Value::Integer(_) | Value::Real(_) => 1,
        Value::Text(_) => 2,
        Value::Blob(_) => 3,
    };
    match (x, y) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Real(x), Value::Real(y)) => x.total_cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
        _ => rank(x).cmp(&rank(y)),
    }
}
