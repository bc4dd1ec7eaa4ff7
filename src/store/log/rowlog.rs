//! Rows as the change log's records wrote them: the row changes some records made to some rows,
//! each record read once, and the record behind a column's stamp.
//!
//! Conflicts need each concurrent head's own edit of a row, and a row that vanished while its table
//! was not synced needs the values its last writes gave it; both come from the records themselves.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;

use crate::codec::changes::ChangeSetCursor;
use crate::error::{Error, Result};
use crate::ids::{DeviceId, Dot};
use crate::model::RowChange;
use crate::store::log;
use crate::store::rowstate::encode_key;

/// A row of a table, by its encoded key.
type RowKey = (String, Vec<u8>);

/// The row changes some records made to some rows.
#[derive(Default)]
pub struct Records {
    wanted: HashMap<Dot, HashSet<RowKey>>,
    /// Per record and row: the record's column names for that table, and the change.
    found: HashMap<(Dot, RowKey), (Vec<String>, RowChange)>,
}

impl Records {
    /// Asks for the change record `dot` made to the row with encoded key `pk` of `table`.
    pub fn want(&mut self, dot: Dot, table: &str, pk: &[u8]) {
        self.wanted
            .entry(dot)
            .or_default()
            .insert((table.to_owned(), pk.to_vec()));
    }

    /// Reads every wanted record once, keeping only the wanted rows.
    pub fn load(&mut self, conn: &Connection) -> Result<()> {
        for (dot, rows) in std::mem::take(&mut self.wanted) {
            let (changes, _) = log::changes_of(conn, dot)?
                .ok_or_else(|| Error::Corrupt(format!("record {dot} is missing from the log")))?;
            let broken = |e: String| Error::Corrupt(format!("record {dot}: {e}"));
            let mut cursor = ChangeSetCursor::new(&changes).map_err(broken)?;
            while let Some(header) = cursor.next_table().map_err(broken)? {
                if !rows.iter().any(|(t, _)| t == header.name) {
                    continue;
                }
                let columns: Vec<String> = header.columns.iter().map(|c| (*c).to_owned()).collect();
                while let Some(row) = cursor.next_row().map_err(broken)? {
                    let wanted = (
                        header.name.to_owned(),
                        encode_key(row.key(&header.primary_key).into_iter()),
                    );
                    if rows.contains(&wanted) {
                        self.found
                            .insert((dot, wanted), (columns.clone(), row.to_change()));
                    }
                }
            }
        }
        Ok(())
    }

    /// The change record `dot` made to a row (with its record's columns), once loaded.
    pub fn row(&self, dot: Dot, table: &str, pk: &[u8]) -> Option<(&[String], &RowChange)> {
        self.found
            .get(&(dot, (table.to_owned(), pk.to_vec())))
            .map(|(columns, row)| (columns.as_slice(), row))
    }
}

/// The record of `origin` whose effective stamp is `stamp`. An origin's records are applied in
/// order and effective stamps grow along them, so a binary search over its sequence numbers finds
/// it.
pub fn find_by_stamp(conn: &Connection, origin: DeviceId, stamp: u64) -> Result<Option<Dot>> {
    let (mut low, mut high) = (1, log::latest_seq(conn, &origin)?);
    while low <= high {
        let middle = low + (high - low) / 2;
        let dot = Dot::new(origin, middle);
        match log::stamp_of(conn, dot)? {
            Some(found) if found == stamp => return Ok(Some(dot)),
            Some(found) if found < stamp => low = middle + 1,
            Some(_) => high = middle - 1,
            None => return Ok(None),
        }
    }
    Ok(None)
}
