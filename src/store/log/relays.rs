//! The relay table (`_sync_relays`): per relay and space, how far this replica pulled the relay's
//! log (the log's identity and a position in it) and how much of this replica's own log the relay
//! acknowledged holding. What a round does with them is the engine's business
//! ([`engine::sync`](crate::engine)); this module only keeps them.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::store::log::{from_sql_int, to_sql_int};

/// What is kept of one (relay, space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayState {
    /// The identity of the relay's log that `position` belongs to.
    pub log: [u8; 16],
    /// The position of the last record pulled from that log.
    pub position: u64,
    /// This replica's own records `1..=acked` are held by the relay.
    pub acked: u64,
}

/// What is kept of (`relay`, `space`), if this replica ever synced with it.
pub fn read(conn: &Connection, relay: &str, space: &str) -> Result<Option<RelayState>> {
    let row: Option<(Vec<u8>, i64, i64)> = conn
        .prepare_cached(
            "SELECT log, position, acked FROM main._sync_relays WHERE relay = ?1 AND space = ?2",
        )?
        .query_row(params![relay, space], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((log, position, acked)) = row else {
        return Ok(None);
    };
    Ok(Some(RelayState {
        log: log
            .try_into()
            .map_err(|_| Error::Corrupt("a relay's log id is not 16 bytes".into()))?,
        position: from_sql_int(position)?,
        acked: from_sql_int(acked)?,
    }))
}

/// Keeps where the pull of (`relay`, `space`) stands; what was acknowledged is kept as it was
/// (nothing, for a relay new to this replica).
pub fn save_cursor(
    conn: &Connection,
    relay: &str,
    space: &str,
    log: &[u8; 16],
    position: u64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_relays (relay, space, log, position, acked) VALUES (?1, ?2, ?3, ?4, 0)
         ON CONFLICT (relay, space) DO UPDATE SET log = excluded.log, position = excluded.position",
    )?
    .execute(params![relay, space, log.as_slice(), to_sql_int(position)?])?;
    Ok(())
}

/// Keeps the state at the end of a round with (`relay`, `space`), completed at `now_ms`.
pub fn save(
    conn: &Connection,
    relay: &str,
    space: &str,
    state: &RelayState,
    now_ms: u64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_relays (relay, space, log, position, acked, synced_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (relay, space) DO UPDATE SET log = excluded.log,
             position = excluded.position, acked = excluded.acked, synced_at = excluded.synced_at",
    )?
    .execute(params![
        relay,
        space,
        state.log.as_slice(),
        to_sql_int(state.position)?,
        to_sql_int(state.acked)?,
        to_sql_int(now_ms)?
    ])?;
    Ok(())
}
