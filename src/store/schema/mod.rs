//! The engine's internal tables, their reserved name prefix, and per-database metadata.
//!
//! Every internal object is named with [`RESERVED_PREFIX`]; user tables with that prefix, and
//! SQLite's own `sqlite_` tables, can never be synced. All internal tables are `WITHOUT ROWID`, so
//! writing them never disturbs the user's `last_insert_rowid()`, and every statement names them
//! in schema `main`, so a TEMP table of the same name never shadows one. The layout is versioned by
//! [`DATABASE_FORMAT`] in `_sync_meta`; a database written by a newer format is refused rather
//! than misread, and one written by an older format is migrated when opened
//! ([`migrate`]).
//!
//! | table | holds |
//! |---|---|
//! | `_sync_meta` | key/value settings: format version, device id, how far local changes are indexed |
//! | `_sync_tables` | synced tables, their conflict strategies and their column generations |
//! | `_sync_log` | every applied change record, local and received, with its effective stamp and digest |
//! | `_sync_pending` | received records waiting for a change they depend on, indexed by it |
//! | `_sync_clock` | per other device, the highest counter applied (records apply without gaps) |
//! | `_sync_rows` | per synced row, its merge state (column stamps, causal heads, tombstone) |
//! | `_sync_conflicts` | conflicts: one per row and set of concurrent heads |
//! | `_sync_peers` | per peer, the clock its last bundle claimed, the clock we last reported to it, and what our bundles to it carried |
//! | `_sync_imports` | every imported bundle by digest, with its counts |
//! | `_sync_rpc` | the replies of the package's OPFS worker to calls another tab may repeat ([`replies`]) |
//! | `_sync_relays` | per relay and space: the log pulled and how far, and how much of this replica's own log the relay acknowledged |

pub mod affinity;
pub mod migrate;
pub mod replies;
pub mod syncable;
pub mod tables;
pub mod typecheck;

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::ids::DeviceId;

/// Prefix of every internal table.
pub const RESERVED_PREFIX: &str = "_sync_";

/// Version of the internal table layout.
pub const DATABASE_FORMAT: i64 = 3;

/// Creates the internal tables when missing. Idempotent.
pub const DDL: &str = "
CREATE TABLE IF NOT EXISTS main._sync_meta (
    key   TEXT PRIMARY KEY,
    value ANY
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS main._sync_tables (
    name        TEXT PRIMARY KEY,
    strategy    TEXT NOT NULL,
    generations BLOB NOT NULL DEFAULT x'90'
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS main._sync_log (
    origin  BLOB NOT NULL,
    seq     INTEGER NOT NULL,
    hlc     INTEGER NOT NULL,
    stamp   INTEGER NOT NULL,
    clock   BLOB NOT NULL,
    changes BLOB NOT NULL,
    rows    INTEGER NOT NULL,
    digest  BLOB NOT NULL,
    PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS main._sync_pending (
    origin       BLOB NOT NULL,
    seq          INTEGER NOT NULL,
    hlc          INTEGER NOT NULL,
    clock        BLOB NOT NULL,
    changes      BLOB NOT NULL,
    rows         INTEGER NOT NULL,
    digest       BLOB NOT NULL,
    waits_origin BLOB NOT NULL,
    waits_seq    INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS main._sync_pending_waits ON _sync_pending (waits_origin, waits_seq);
CREATE TABLE IF NOT EXISTS main._sync_clock (
    origin BLOB PRIMARY KEY,
    seq    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS main._sync_rows (
    tbl  TEXT NOT NULL,
    pk   BLOB NOT NULL,
    meta BLOB NOT NULL,
    PRIMARY KEY (tbl, pk)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS main._sync_conflicts (
    id          BLOB PRIMARY KEY,
    tbl         TEXT NOT NULL,
    pk          BLOB NOT NULL,
    heads       BLOB NOT NULL,
    visible     INTEGER NOT NULL,
    detected_at INTEGER NOT NULL,
    resolved_at INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS main._sync_conflicts_row ON _sync_conflicts (tbl, pk);
CREATE TABLE IF NOT EXISTS main._sync_peers (
    peer    BLOB PRIMARY KEY,
    clock   BLOB NOT NULL,
    sent    BLOB,
    carried BLOB
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS main._sync_imports (
    digest      BLOB PRIMARY KEY,
    bundle_id   BLOB NOT NULL,
    source      BLOB NOT NULL,
    imported_at INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    applied     INTEGER NOT NULL,
    conflicts   INTEGER NOT NULL,
    duplicates  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS main._sync_rpc (
    key   TEXT PRIMARY KEY,
    reply TEXT NOT NULL,
    at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS main._sync_relays (
    relay     TEXT NOT NULL,
    space     TEXT NOT NULL,
    log       BLOB NOT NULL,
    position  INTEGER NOT NULL,
    acked     INTEGER NOT NULL,
    synced_at INTEGER,
    PRIMARY KEY (relay, space)
) STRICT, WITHOUT ROWID;
";

/// True for names the engine or SQLite reserve (compared case-insensitively, as SQLite does).
pub fn is_reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with(RESERVED_PREFIX) || lower.starts_with("sqlite_")
}

/// Reads a numeric setting from `_sync_meta`.
pub fn setting(conn: &Connection, key: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT value FROM main._sync_meta WHERE key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?)
}

/// Writes a numeric setting to `_sync_meta`.
pub fn set_setting(conn: &Connection, key: &str, value: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// 10 random bytes from SQLite's random source.
pub fn sqlite_random(conn: &Connection) -> Result<[u8; 10]> {
    let random: Vec<u8> = conn.query_row("SELECT randomblob(10)", [], |r| r.get(0))?;
    random
        .try_into()
        .map_err(|_| Error::Corrupt("randomblob returned the wrong length".into()))
}

/// Creates or checks the internal tables and returns this database's device id. A new database
/// stores `new_device()` as its id; an existing one keeps its own, and `expected` (when given)
/// must match it.
pub fn initialise(
    conn: &Connection,
    expected: Option<DeviceId>,
    now_ms: u64,
    new_device: impl FnOnce() -> Result<DeviceId>,
) -> Result<DeviceId> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS main._sync_meta (key TEXT PRIMARY KEY, value ANY) STRICT, WITHOUT ROWID",
    )?;
    let format: Option<i64> = conn
        .query_row(
            "SELECT value FROM main._sync_meta WHERE key = 'format'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match format {
        Some(version) if version > DATABASE_FORMAT => {
            return Err(Error::Corrupt(format!(
                "database uses sync format {version}; this build reads up to {DATABASE_FORMAT}"
            )))
        }
        Some(version) if version < DATABASE_FORMAT => migrate::from(conn, version, now_ms)?,
        Some(_) => conn.execute_batch(DDL)?,
        None => {
            conn.execute_batch(DDL)?;
            set_setting(conn, "format", DATABASE_FORMAT)?;
        }
    }
    let stored: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM main._sync_meta WHERE key = 'device_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(bytes) = stored {
        let device = DeviceId::from_slice(&bytes)?;
        return match expected {
            Some(wanted) if wanted != device => Err(Error::InvalidArgument(format!(
                "the database belongs to device {device}, not {wanted}"
            ))),
            _ => Ok(device),
        };
    }
    let device = match expected {
        Some(device) => device,
        None => new_device()?,
    };
    conn.execute(
        "INSERT INTO main._sync_meta (key, value) VALUES ('device_id', ?1)",
        params![device.0.as_slice()],
    )?;
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reserved_names_are_case_insensitive() {
        assert!(is_reserved("_sync_log"));
        assert!(is_reserved("_SYNC_Anything"));
        assert!(is_reserved("sqlite_sequence"));
        assert!(!is_reserved("sync_log"));
        assert!(!is_reserved("todos"));
    }

    fn v7_at(now_ms: u64) -> impl FnOnce() -> Result<DeviceId> {
        move || Ok(DeviceId::new_v7(now_ms, [0; 10]))
    }

    #[test]
    fn device_id_is_made_once_and_kept() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let first = initialise(&conn, None, 0, v7_at(1_700_000_000_000))?;
        let second = initialise(&conn, None, 0, v7_at(1_800_000_000_000))?;
        assert_eq!(first, second);
        assert!(first.to_string().starts_with("018bcfe56800"));
        Ok(())
    }

    #[test]
    fn an_injected_device_id_is_used_once_and_then_checked() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        let chosen = DeviceId([5; 16]);
        assert_eq!(initialise(&conn, Some(chosen), 0, v7_at(0))?, chosen);
        assert_eq!(initialise(&conn, None, 0, v7_at(0))?, chosen);
        assert_eq!(
            initialise(&conn, Some(DeviceId([6; 16])), 0, v7_at(0)).map_err(|e| e.code()),
            Err(crate::ErrorCode::InvalidArgument)
        );
        Ok(())
    }

    #[test]
    fn a_newer_format_is_refused() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        initialise(&conn, None, 0, v7_at(0))?;
        conn.execute(
            "UPDATE main._sync_meta SET value = 99 WHERE key = 'format'",
            [],
        )?;
        assert_eq!(
            initialise(&conn, None, 0, v7_at(0)).map_err(|e| e.code()),
            Err(crate::ErrorCode::Corrupt)
        );
        Ok(())
    }
}
