//! What kind of statement a piece of SQL is, as far as change capture cares.
//!
//! Capture must act around transaction boundaries that the user writes as SQL (`BEGIN`, `COMMIT`,
//! `SAVEPOINT`, `ROLLBACK TO`, …) and around schema changes. [`classify`] reads the first keyword or
//! two of a single statement, skipping whitespace and comments, and never looks further; SQLite
//! itself has already parsed the statement by the time this is asked, so only valid SQL reaches it.

/// The categories capture distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// `BEGIN [DEFERRED|IMMEDIATE|EXCLUSIVE] [TRANSACTION]`
    Begin,
    /// `COMMIT` or `END`
    Commit,
    /// `ROLLBACK` of the whole transaction
    Rollback,
    /// `ROLLBACK [TRANSACTION] TO [SAVEPOINT] name`
    RollbackTo,
    /// `SAVEPOINT name`
    Savepoint,
    /// `RELEASE [SAVEPOINT] name`
    Release,
    /// `CREATE`, `ALTER` or `DROP`: the schema may change
    Schema,
    /// `INSERT`, `UPDATE`, `DELETE`, `REPLACE` or a `WITH` prefix: may change rows
    Write,
    /// Statements that must not be wrapped in a transaction: `VACUUM`, `PRAGMA`, `ATTACH`, `DETACH`
    Unwrappable,
    /// Anything else (`SELECT`, `VALUES`, `EXPLAIN`, `ANALYZE`, …)
    Other,
}

impl StatementKind {
    /// Statements that begin or end transactions or savepoints, or that cannot run inside a
    /// transaction at all.
    pub fn controls_transactions(self) -> bool {
        !matches!(
            self,
            StatementKind::Schema | StatementKind::Write | StatementKind::Other
        )
    }
}

/// Classifies one statement by its leading keywords.
pub fn classify(sql: &str) -> StatementKind {
    let mut words = Keywords { rest: sql };
    let Some(first) = words.next() else {
        return StatementKind::Other;
    };
    match first.to_ascii_uppercase().as_str() {
        "BEGIN" => StatementKind::Begin,
        "COMMIT" | "END" => StatementKind::Commit,
        "ROLLBACK" => {
            let mut next = words.next().map(|w| w.to_ascii_uppercase());
            if next.as_deref() == Some("TRANSACTION") {
                next = words.next().map(|w| w.to_ascii_uppercase());
            }
            if next.as_deref() == Some("TO") {
                StatementKind::RollbackTo
            } else {
                StatementKind::Rollback
            }
        }
        "SAVEPOINT" => StatementKind::Savepoint,
        "RELEASE" => StatementKind::Release,
        "CREATE" | "ALTER" | "DROP" => StatementKind::Schema,
        "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "WITH" => StatementKind::Write,
        "VACUUM" | "PRAGMA" | "ATTACH" | "DETACH" => StatementKind::Unwrappable,
        _ => StatementKind::Other,
    }
}

/// Iterator over leading bare words, skipping whitespace and `--` / `/* */` comments.
struct Keywords<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Keywords<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            let trimmed = self.rest.trim_start();
            if let Some(after) = trimmed.strip_prefix("--") {
                self.rest = after.split_once('\n').map_or("", |(_, tail)| tail);
            } else if let Some(after) = trimmed.strip_prefix("/*") {
                self.rest = after.split_once("*/").map_or("", |(_, tail)| tail);
            } else {
                self.rest = trimmed;
                break;
            }
        }
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (word, tail) = self.rest.split_at(end);
        self.rest = tail;
        Some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn transaction_control_is_recognised_in_every_spelling() {
        assert_eq!(classify("BEGIN"), StatementKind::Begin);
        assert_eq!(
            classify("  begin immediate transaction"),
            StatementKind::Begin
        );
        assert_eq!(classify("commit"), StatementKind::Commit);
        assert_eq!(classify("END TRANSACTION"), StatementKind::Commit);
        assert_eq!(classify("ROLLBACK"), StatementKind::Rollback);
        assert_eq!(classify("rollback transaction"), StatementKind::Rollback);
        assert_eq!(classify("ROLLBACK TO sp1"), StatementKind::RollbackTo);
        assert_eq!(
            classify("rollback transaction to savepoint sp1"),
            StatementKind::RollbackTo
        );
        assert_eq!(classify("SAVEPOINT a"), StatementKind::Savepoint);
        assert_eq!(classify("release savepoint a"), StatementKind::Release);
    }

    #[test]
    fn comments_and_whitespace_before_the_keyword_are_skipped() {
        assert_eq!(
            classify("-- note\n  /* block */ COMMIT"),
            StatementKind::Commit
        );
        assert_eq!(classify("/* unterminated"), StatementKind::Other);
        assert_eq!(classify("-- only a comment"), StatementKind::Other);
    }

    #[test]
    fn writes_schema_and_unwrappable_statements() {
        assert_eq!(classify("insert into t values (1)"), StatementKind::Write);
        assert_eq!(
            classify("WITH x AS (SELECT 1) DELETE FROM t"),
            StatementKind::Write
        );
        assert_eq!(classify("REPLACE INTO t VALUES (1)"), StatementKind::Write);
        assert_eq!(
            classify("ALTER TABLE t ADD COLUMN c"),
            StatementKind::Schema
        );
        assert_eq!(
            classify("PRAGMA journal_mode = wal"),
            StatementKind::Unwrappable
        );
        assert_eq!(classify("VACUUM"), StatementKind::Unwrappable);
        assert_eq!(classify("SELECT 1"), StatementKind::Other);
        assert_eq!(classify(""), StatementKind::Other);
    }
}
