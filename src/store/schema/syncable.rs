//! What a row of a synced table may hold, so that every replica stores it exactly as its origin
//! does: TEXT that is valid UTF-8 (other bytes would arrive with U+FFFD replacements), and keys
//! that SQLite tells apart by their bytes (a REAL key with an integral value, in a column that keeps
//! reals as they are, is the integer's row to SQLite). Capture refuses rows that break a rule with
//! `ERR_INVALID_ARGUMENT`, both in the pre-update hook and when `enableSync` records the rows a
//! table already holds.

use crate::error::{Error, Result};
use crate::model::Value;
use crate::store::schema::tables::TableShape;

/// The error for TEXT that is not valid UTF-8 in a row of a synced table (at `position` among its
/// columns). Such TEXT cannot travel exactly (it would arrive with U+FFFD replacements and the
/// replicas would differ byte for byte), so the write is refused.
pub fn invalid_text(shape: &TableShape, position: usize) -> Error {
    let column = shape.columns.get(position).map_or("?", String::as_str);
    Error::InvalidArgument(format!(
        "TEXT must be valid UTF-8 to sync: column {column:?} of table {} was given TEXT that is \
         not (store such bytes as a BLOB)",
        shape.name
    ))
}

/// The error for a real key with an integral value in a column that keeps reals as they are (no
/// type, BLOB, STRICT ANY): SQLite finds the row of the integer of that value by it, so two replicas
/// could write one row for two keys.
pub fn integral_real_key(shape: &TableShape, position: usize, real: f64) -> Error {
    let column = shape.columns.get(position).map_or("?", String::as_str);
    Error::InvalidArgument(format!(
        "column {column:?} of synced table {} was given the REAL key {real:?}, which SQLite does \
         not tell apart from the integer {}; store integral keys as integers",
        shape.name, real as i64
    ))
}

/// Refuses a row (every column, in shape order) whose key holds a real [`integral_real_key`]
/// describes.
pub fn check_keys(shape: &TableShape, row: &[Value]) -> Result<()> {
    for &position in &shape.primary_key {
        let position = position as usize;
        if let (Some(key @ Value::Real(real)), Some(column_type)) =
            (row.get(position), shape.types.get(position))
        {
            if !column_type.tells_apart(key) {
                return Err(integral_real_key(shape, position, *real));
            }
        }
    }
    Ok(())
}
