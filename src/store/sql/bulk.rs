//! The SQL that reads and writes single rows of synced tables by primary key.
//!
//! Rows are addressed by their real primary key (every key column, composite keys included) and
//! every identifier passes through [`quote`](crate::store::sql::quote), so nothing in a change can reach
//! SQL as code. Tables are named with their schema (`"main".`), so a TEMP table of the same name
//! never receives them. The statements are produced by pure functions and golden-tested.

use std::collections::HashMap;

use crate::store::sql::quote::{ident, ident_list, main_table};

/// The bulk statements of one import or indexing pass, built once per table and row count and
/// reused (a statement's text is also its key in the connection's cache of compiled statements).
#[derive(Debug, Default)]
pub struct BulkSql {
    claims: HashMap<usize, String>,
    claimed: HashMap<usize, String>,
    upserts: HashMap<(String, usize), String>,
}

impl BulkSql {
    /// [`claim_many_sql`] for `rows` rows.
    pub fn claim(&mut self, rows: usize) -> &str {
        self.claims
            .entry(rows)
            .or_insert_with(|| claim_many_sql(rows))
    }

    /// [`claimed_sql`] for `rows` rows.
    pub fn claimed(&mut self, rows: usize) -> &str {
        self.claimed
            .entry(rows)
            .or_insert_with(|| claimed_sql(rows))
    }

    /// [`upsert_many_sql`] for `rows` rows of `table`.
    pub fn upsert(&mut self, table: &str, columns: &[&str], key: &[&str], rows: usize) -> &str {
        self.upserts
            .entry((table.to_owned(), rows))
            .or_insert_with(|| upsert_many_sql(table, columns, key, rows))
    }
}

/// `INSERT … ON CONFLICT (key) DO UPDATE`: writes a whole row whether or not its key exists.
pub fn upsert_sql(table: &str, columns: &[&str], key: &[&str]) -> String {
    let placeholders = (1..=columns.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {} ({}) VALUES ({placeholders}) ON CONFLICT ({}) DO {}",
        main_table(table),
        ident_list(columns.iter().copied()),
        ident_list(key.iter().copied()),
        conflict_action(columns, key)
    )
}

/// [`upsert_sql`] for `rows` rows at once (values bind row after row).
pub fn upsert_many_sql(table: &str, columns: &[&str], key: &[&str], rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO {}",
        main_table(table),
        ident_list(columns.iter().copied()),
        vec![row; rows].join(", "),
        ident_list(key.iter().copied()),
        conflict_action(columns, key)
    )
}

/// What an upsert does to an existing row: overwrite every non-key column.
fn conflict_action(columns: &[&str], key: &[&str]) -> String {
    let updates = columns
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{0} = excluded.{0}", ident(c)))
        .collect::<Vec<_>>();
    if updates.is_empty() {
        "NOTHING".to_owned()
    } else {
        format!("UPDATE SET {}", updates.join(", "))
    }
}

/// Stores one merge state (`?2`) for each of `rows` rows of one table (`?1`) that has none; the
/// rows' keys bind from `?3` on.
pub fn claim_many_sql(rows: usize) -> String {
    let tuples: Vec<String> = (3..rows + 3).map(|i| format!("(?1, ?{i}, ?2)")).collect();
    format!(
        "INSERT INTO main._sync_rows (tbl, pk, meta) VALUES {} ON CONFLICT DO NOTHING",
        tuples.join(", ")
    )
}

/// The keys, among `rows` keys of one table (`?1`, keys from `?3` on), whose merge state is `?2`.
pub fn claimed_sql(rows: usize) -> String {
    let keys: Vec<String> = (3..rows + 3).map(|i| format!("?{i}")).collect();
    format!(
        "SELECT pk FROM main._sync_rows WHERE tbl = ?1 AND meta = ?2 AND pk IN ({})",
        keys.join(", ")
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
        main_table(table),
        assignments.join(", "),
        key_match(key, set.len())
    )
}

/// `DELETE` the row with the given key.
pub fn delete_sql(table: &str, key: &[&str]) -> String {
    format!(
        "DELETE FROM {} WHERE {}",
        main_table(table),
        key_match(key, 0)
    )
}

/// `SELECT` the given columns of the row with the given key.
pub fn select_sql(table: &str, columns: &[&str], key: &[&str]) -> String {
    format!(
        "SELECT {} FROM {} WHERE {}",
        ident_list(columns.iter().copied()),
        main_table(table),
        key_match(key, 0)
    )
}

/// `k1 = ?n COLLATE BINARY AND k2 = ?n+1 COLLATE BINARY …`, numbering after `offset` earlier
/// parameters. Keys are compared by their bytes, as the primary key index of a synced table does
/// (enableSync refuses any other), even where a key column's own collation differs from its index's
/// (`id TEXT COLLATE NOCASE, PRIMARY KEY (id COLLATE BINARY)`): the row of 'abc' is never 'Abc'.
fn key_match(key: &[&str], offset: usize) -> String {
    key.iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ?{} COLLATE BINARY", ident(c), offset + i + 1))
        .collect::<Vec<_>>()
        .join(" AND ")
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
            r#"INSERT INTO "main"."todos" ("id", "title", "order") VALUES (?1, ?2, ?3) ON CONFLICT ("id") DO UPDATE SET "title" = excluded."title", "order" = excluded."order""#
        );
        assert_eq!(
            upsert_sql("pairs", &["a", "b"], &["b", "a"]),
            r#"INSERT INTO "main"."pairs" ("a", "b") VALUES (?1, ?2) ON CONFLICT ("b", "a") DO NOTHING"#
        );
    }

    #[test]
    fn many_row_statements_are_golden() {
        assert_eq!(
            upsert_many_sql("t", &["id", "v"], &["id"], 2),
            r#"INSERT INTO "main"."t" ("id", "v") VALUES (?, ?), (?, ?) ON CONFLICT ("id") DO UPDATE SET "v" = excluded."v""#
        );
        assert_eq!(
            claim_many_sql(2),
            "INSERT INTO main._sync_rows (tbl, pk, meta) VALUES (?1, ?3, ?2), (?1, ?4, ?2) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            claimed_sql(2),
            "SELECT pk FROM main._sync_rows WHERE tbl = ?1 AND meta = ?2 AND pk IN (?3, ?4)"
        );
    }

    #[test]
    fn update_delete_and_select_sql_are_golden() {
        assert_eq!(
            update_sql("t", &["x y", r#"q"t"#], &["k1", "k2"]),
            r#"UPDATE "main"."t" SET "x y" = ?1, "q""t" = ?2 WHERE "k1" = ?3 COLLATE BINARY AND "k2" = ?4 COLLATE BINARY"#
        );
        assert_eq!(
            delete_sql("t", &["id"]),
            r#"DELETE FROM "main"."t" WHERE "id" = ?1 COLLATE BINARY"#
        );
        assert_eq!(
            select_sql("t", &["id", "v"], &["id"]),
            r#"SELECT "id", "v" FROM "main"."t" WHERE "id" = ?1 COLLATE BINARY"#
        );
    }
}
