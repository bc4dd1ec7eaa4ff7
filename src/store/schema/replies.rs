//! The replies of the package's OPFS worker to calls that another tab may repeat (`_sync_rpc`).
//!
//! When the tab holding an OPFS database goes away, another takes it over and may receive again a
//! write the first had already committed. The worker therefore keeps each such call's reply,
//! written in the same transaction as the call's effect, and answers a repeated call with it
//! instead of running it twice. Replies are needed only while a takeover can repeat a call, so
//! those older than [`KEPT_FOR_MS`] are forgotten every [`PRUNE_EVERY`] replies.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;
use crate::store::log::to_sql_int;

/// How long a reply is kept (ten minutes).
pub const KEPT_FOR_MS: u64 = 10 * 60 * 1000;

/// Replies kept between two prunings.
pub const PRUNE_EVERY: u64 = 256;

/// Keeps `reply` as the answer of the call `key`, inside the current transaction; `written` is
/// how many replies this connection kept before, which decides when old ones are forgotten.
pub fn remember(
    conn: &Connection,
    key: &str,
    reply: &str,
    now_ms: u64,
    written: u64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_rpc (key, reply, at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET reply = excluded.reply, at = excluded.at",
    )?
    .execute(params![key, reply, to_sql_int(now_ms)?])?;
    if (written + 1).is_multiple_of(PRUNE_EVERY) {
        conn.prepare_cached("DELETE FROM main._sync_rpc WHERE at < ?1")?
            .execute(params![to_sql_int(now_ms.saturating_sub(KEPT_FOR_MS))?])?;
    }
    Ok(())
}

/// The reply kept for the call `key`, if it committed before.
pub fn recall(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT reply FROM main._sync_rpc WHERE key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(schema::DDL).expect("schema");
        conn
    }

    #[test]
    fn a_reply_is_recalled_only_once_its_transaction_committed() -> Result<()> {
        let conn = conn();
        conn.execute_batch("BEGIN")?;
        remember(&conn, "a", "1", 0, 0)?;
        conn.execute_batch("ROLLBACK; BEGIN")?;
        assert_eq!(recall(&conn, "a")?, None);
        remember(&conn, "b", "{\"changes\":1}", 0, 0)?;
        conn.execute_batch("COMMIT")?;
        assert_eq!(recall(&conn, "b")?.as_deref(), Some("{\"changes\":1}"));
        Ok(())
    }

    #[test]
    fn old_replies_are_forgotten_when_pruning_comes_round() -> Result<()> {
        let conn = conn();
        remember(&conn, "old", "1", 0, 0)?;
        let later = KEPT_FOR_MS + 1;
        for written in 1..PRUNE_EVERY - 1 {
            remember(&conn, &format!("k{written}"), "1", later, written)?;
        }
        assert!(
            recall(&conn, "old")?.is_some(),
            "kept until the pruning turn"
        );
        remember(&conn, "last", "1", later, PRUNE_EVERY - 1)?;
        assert_eq!(recall(&conn, "old")?, None);
        assert!(recall(&conn, "last")?.is_some());
        Ok(())
    }
}
