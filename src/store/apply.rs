//! Writing changes that came from another replica, without capturing them again.
//!
//! Rows are addressed by their real primary key (every key column, composite keys included) and
//! every identifier passes through [`quote`], so nothing in a change can reach SQL as code. The SQL
//! is produced by the pure `*_sql` functions below, which are golden-tested. Capture is suspended
//! while a change set is applied, so remote writes never come back as local changes; the caller
//! owns the surrounding transaction.

use rusqlite::{params_from_iter, Connection};

use crate::error::{Error, Result};
use crate::model::{ChangeSet, RowChange, TableChanges, Value};
use crate::store::capture::{lock, SharedCapture};
use crate::store::quote::{ident, ident_list};

/// `INSERT … ON CONFLICT (key) DO UPDATE`: writes a whole row whether or not its key exists.
pub fn upsert_sql(table: &str, columns: &[&str], key: &[&str]) -> String {
    let placeholders = (1..=columns.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let updates = columns
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{0} = excluded.{0}", ident(c)))
        .collect::<Vec<_>>();
    let action = if updates.is_empty() {
        "NOTHING".to_owned()
    } else {
        format!("UPDATE SET {}", updates.join(", "))
    };
    format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO {}",
        ident(table),
        ident_list(columns.iter().copied()),
        placeholders,
        ident_list(key.iter().copied()),
        action
    )
}

/// `UPDATE … SET` the given columns of the row with the given key (set values bind first).
pub fn update_sql(table: &str, set: &[&str], key: &[&str]) -> String {
    let assignments = set
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ?{}", ident(c), i + 1))
        .collect::<Vec<_>>();
    format!(
        "UPDATE {} SET {} WHERE {}",
        ident(table),
        assignments.join(", "),
        key_match(key, set.len())
    )
}

/// `DELETE` the row with the given key.
pub fn delete_sql(table: &str, key: &[&str]) -> String {
    format!("DELETE FROM {} WHERE {}", ident(table), key_match(key, 0))
}

/// `SELECT` the given columns of the row with the given key.
pub fn select_sql(table: &str, columns: &[&str], key: &[&str]) -> String {
    format!(
        "SELECT {} FROM {} WHERE {}",
        ident_list(columns.iter().copied()),
        ident(table),
        key_match(key, 0)
    )
}

/// `k1 = ?n AND k2 = ?n+1 …`, numbering after `offset` earlier parameters.
fn key_match(key: &[&str], offset: usize) -> String {
    key.iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ?{}", ident(c), offset + i + 1))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Applies every row change of `set` with capture suspended. Each table's name and columns must
/// already have been checked against the synced tables by the caller.
///
/// A change set is a transaction's net effect, so its rows may only fit together as a whole: a
/// unique value moves from a deleted row to an updated one, a child row arrives before its parent.
/// Rows are therefore written deletes first, then updates, then inserts, and a row that violates a
/// constraint is retried after the others until no further row succeeds.
pub fn apply(conn: &Connection, capture: &SharedCapture, set: &ChangeSet) -> Result<()> {
    lock(capture).suspended = true;
    let outcome = apply_all(conn, set);
    lock(capture).suspended = false;
    outcome
}

fn apply_all(conn: &Connection, set: &ChangeSet) -> Result<()> {
    let tables = set
        .tables
        .iter()
        .map(Prepared::new)
        .collect::<Result<Vec<_>>>()?;
    let pass = |wanted: fn(&RowChange) -> bool| {
        tables.iter().flat_map(move |t| {
            t.table
                .rows
                .iter()
                .filter(move |r| wanted(r))
                .map(move |r| (t, r))
        })
    };
    let ordered = pass(|r| matches!(r, RowChange::Delete { .. }))
        .chain(pass(|r| matches!(r, RowChange::Update { .. })))
        .chain(pass(|r| matches!(r, RowChange::Insert { .. })));
    let mut deferred = Vec::new();
    for (table, row) in ordered {
        match table.write(conn, row) {
            Err(error) if is_constraint(&error) => deferred.push((table, row, error)),
            other => other?,
        }
    }
    while !deferred.is_empty() {
        let before = deferred.len();
        let mut still = Vec::new();
        for (table, row, _) in deferred {
            match table.write(conn, row) {
                Err(error) if is_constraint(&error) => still.push((table, row, error)),
                other => other?,
            }
        }
        if still.len() == before {
            return Err(still.swap_remove(0).2);
        }
        deferred = still;
    }
    Ok(())
}

fn is_constraint(error: &Error) -> bool {
    matches!(error, Error::Sql { sqlite_code: Some(code), .. } if code & 0xff == 19)
}

/// A table's changes with the column and key names resolved once.
struct Prepared<'a> {
    table: &'a TableChanges,
    columns: Vec<&'a str>,
    key: Vec<&'a str>,
}

impl<'a> Prepared<'a> {
    fn new(table: &'a TableChanges) -> Result<Self> {
        let columns: Vec<&str> = table.columns.iter().map(String::as_str).collect();
        let key = table
            .primary_key
            .iter()
            .map(|&i| columns.get(i as usize).copied())
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::InvalidArgument(format!("bad key columns for {}", table.table))
            })?;
        Ok(Prepared {
            table,
            columns,
            key,
        })
    }

    fn write(&self, conn: &Connection, row: &RowChange) -> Result<()> {
        let name = &self.table.table;
        match row {
            RowChange::Insert { values } => {
                conn.prepare_cached(&upsert_sql(name, &self.columns, &self.key))?
                    .execute(params_from_iter(values.iter()))?;
            }
            RowChange::Update {
                key: key_values,
                columns: changed,
                new,
                ..
            } => {
                let set: Vec<&str> = changed
                    .iter()
                    .map(|&i| self.columns.get(i as usize).copied())
                    .collect::<Option<_>>()
                    .ok_or_else(|| Error::InvalidArgument(format!("bad column in {name}")))?;
                conn.prepare_cached(&update_sql(name, &set, &self.key))?
                    .execute(params_from_iter(new.iter().chain(key_values.iter())))?;
            }
            RowChange::Delete { .. } => {
                let key_values: Vec<Value> = self.table.key_of(row)?;
                conn.prepare_cached(&delete_sql(name, &self.key))?
                    .execute(params_from_iter(key_values.iter()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn upsert_sql_is_golden() {
        assert_eq!(
            upsert_sql("todos", &["id", "title", "order"], &["id"]),
            r#"INSERT INTO "todos" ("id", "title", "order") VALUES (?1, ?2, ?3) ON CONFLICT ("id") DO UPDATE SET "title" = excluded."title", "order" = excluded."order""#
        );
        assert_eq!(
            upsert_sql("pairs", &["a", "b"], &["b", "a"]),
            r#"INSERT INTO "pairs" ("a", "b") VALUES (?1, ?2) ON CONFLICT ("b", "a") DO NOTHING"#
        );
    }

    #[test]
    fn update_delete_and_select_sql_are_golden() {
        assert_eq!(
            update_sql("t", &["x y", r#"q"t"#], &["k1", "k2"]),
            r#"UPDATE "t" SET "x y" = ?1, "q""t" = ?2 WHERE "k1" = ?3 AND "k2" = ?4"#
        );
        assert_eq!(
            delete_sql("t", &["id"]),
            r#"DELETE FROM "t" WHERE "id" = ?1"#
        );
        assert_eq!(
            select_sql("t", &["id", "v"], &["id"]),
            r#"SELECT "id", "v" FROM "t" WHERE "id" = ?1"#
        );
    }
}
