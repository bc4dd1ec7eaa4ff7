//! Transactions the store opens for itself, as guards: committed explicitly, rolled back when
//! dropped (on every early return and error path), like rusqlite's `Transaction`.
//!
//! An engine operation that must be atomic on its own (an import, a resolution, indexing local
//! records) opens an [`OwnTransaction`], which it may only do outside the caller's transactions:
//! otherwise its commit would commit the caller's work, and the caller's rollback would undo the
//! operation. Operations that read a consistent picture outside any transaction (a snapshot, a
//! bundle) check the same with [`refuse_open`]. Steps that must nest inside the caller's
//! transaction (enabling sync on a table) use a [`Savepoint`].

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Refuses `what` (an operation's JS name) while the caller has a transaction open.
pub fn refuse_open(conn: &Connection, what: &str) -> Result<()> {
    if conn.is_autocommit() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} cannot run inside an open transaction"
        )))
    }
}

/// A write transaction of the store's own; rolled back when dropped uncommitted.
pub struct OwnTransaction<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> OwnTransaction<'c> {
    /// Begins a write transaction for `what`, refused while the caller has one open.
    pub fn begin(conn: &'c Connection, what: &str) -> Result<Self> {
        refuse_open(conn, what)?;
        conn.prepare_cached("BEGIN IMMEDIATE")?.raw_execute()?;
        Ok(OwnTransaction { conn, open: true })
    }

    /// Commits. On failure SQLite may keep the transaction open; dropping the guard then rolls
    /// it back.
    pub fn commit(mut self) -> Result<()> {
        self.conn.prepare_cached("COMMIT")?.raw_execute()?;
        self.open = false;
        Ok(())
    }
}

impl Drop for OwnTransaction<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            // Nothing can be reported from here; a failed rollback leaves the transaction to
            // SQLite, which rolls it back when the connection closes.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A savepoint inside whatever transaction is open (or one of its own); its writes are undone
/// when it is dropped unreleased.
pub struct Savepoint<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Savepoint<'c> {
    /// Opens the savepoint.
    pub fn open(conn: &'c Connection) -> Result<Self> {
        conn.execute_batch("SAVEPOINT _sync_internal")?;
        Ok(Savepoint { conn, open: true })
    }

    /// Keeps its writes (they commit with the enclosing transaction).
    pub fn release(mut self) -> Result<()> {
        self.conn.execute_batch("RELEASE _sync_internal")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self
                .conn
                .execute_batch("ROLLBACK TO _sync_internal; RELEASE _sync_internal");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (x)").expect("table");
        conn
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn a_dropped_transaction_rolls_back_and_a_committed_one_stays() -> Result<()> {
        let conn = conn();
        {
            let _tx = OwnTransaction::begin(&conn, "test")?;
            conn.execute_batch("INSERT INTO t VALUES (1)")?;
        }
        assert_eq!(count(&conn), 0);
        assert!(conn.is_autocommit());
        let tx = OwnTransaction::begin(&conn, "test")?;
        conn.execute_batch("INSERT INTO t VALUES (1)")?;
        tx.commit()?;
        assert_eq!(count(&conn), 1);
        Ok(())
    }

    #[test]
    fn an_own_transaction_is_refused_inside_the_callers() -> Result<()> {
        let conn = conn();
        conn.execute_batch("BEGIN; INSERT INTO t VALUES (1)")?;
        let refused = OwnTransaction::begin(&conn, "importBundle").map(drop);
        assert_eq!(
            refused.map_err(|e| e.to_string()),
            Err("invalid argument: importBundle cannot run inside an open transaction".into())
        );
        conn.execute_batch("COMMIT")?;
        assert_eq!(count(&conn), 1);
        Ok(())
    }

    #[test]
    fn a_dropped_savepoint_undoes_only_its_own_writes() -> Result<()> {
        let conn = conn();
        conn.execute_batch("BEGIN; INSERT INTO t VALUES (1)")?;
        {
            let _savepoint = Savepoint::open(&conn)?;
            conn.execute_batch("INSERT INTO t VALUES (2)")?;
        }
        let savepoint = Savepoint::open(&conn)?;
        conn.execute_batch("INSERT INTO t VALUES (3)")?;
        savepoint.release()?;
        conn.execute_batch("COMMIT")?;
        let kept: Vec<i64> = conn
            .prepare("SELECT x FROM t ORDER BY x")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(kept, vec![1, 3]);
        Ok(())
    }
}
