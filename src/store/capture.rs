//! Change capture: the pre-update hook that records row images, buffered per transaction.
//!
//! SQLite calls the hook before every row insert, update and delete. For rows of synced tables the
//! buffer keeps, per primary key, the row as it was when the transaction first touched it and the
//! row as it is now; [`net`](super::net) later diffs the two into the change-log record. Images are
//! written straight into a per-table byte arena in their final MessagePack form, and rows are found
//! again through a hash of their encoded key, so the hook allocates nothing per row in the common
//! case and an insert reaches the log as a byte copy. The hook never touches the database, and the
//! buffer lock is never held while the store writes, so the hook cannot re-enter it.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::hooks::{Action, PreUpdateCase};
use rusqlite::types::ValueRef;
use rustc_hash::FxBuildHasher;

use crate::error::{Error, Result};
use crate::model::Value;
use crate::store::syncable::{integral_real_key, invalid_text};
use crate::store::tables::TableShape;

/// Shared between the store and the hook closure.
pub type SharedCapture = Arc<Mutex<Capture>>;

/// Locks the capture state; a poisoned lock (a panic elsewhere) still yields the data.
pub fn lock(shared: &SharedCapture) -> MutexGuard<'_, Capture> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The capture state of one connection.
#[derive(Debug, Default)]
pub struct Capture {
    /// While true (remote changes or schema statements are being applied), nothing is recorded.
    pub suspended: bool,
    /// Set when a statement failed inside the transaction: "now" images must be re-read.
    pub needs_verify: bool,
    /// A failure inside the hook. Every flush reports it until the transaction rolls back, so a
    /// write whose change could not be recorded can never commit.
    failure: Option<Error>,
    tables: BTreeMap<String, Pending>,
}

/// A byte range of an arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end: u32,
}

/// A row the transaction touched: its encoded key, its image before the first touch and its
/// latest image (`None` where the row did not exist), all as spans of the table's arena.
#[derive(Debug, Clone, Copy)]
pub struct Touched {
    pub key: Span,
    pub before: Option<Span>,
    pub after: Option<Span>,
    /// The previously touched row whose key has the same hash.
    collision: Option<u32>,
}

/// Buffered images of one synced table.
#[derive(Debug, Default)]
pub struct Buffer {
    pub arena: Vec<u8>,
    pub rows: Vec<Touched>,
    index: HashMap<u64, u32, FxBuildHasher>,
    /// Where each column's value starts and ends in the image being encoded.
    columns: Vec<(usize, usize)>,
}

#[derive(Debug)]
struct Pending {
    shape: Arc<TableShape>,
    buffer: Buffer,
}

/// A table's buffered rows, handed out by [`Capture::take`] for diffing.
#[derive(Debug)]
pub struct TakenTable {
    pub shape: Arc<TableShape>,
    pub buffer: Buffer,
}

impl Capture {
    /// Starts (or refreshes the shape of) capture for a table.
    pub fn track(&mut self, shape: TableShape) {
        let shape = Arc::new(shape);
        match self.tables.get_mut(&shape.name) {
            Some(pending) => pending.shape = shape,
            None => {
                let name = shape.name.clone();
                self.tables.insert(
                    name,
                    Pending {
                        shape,
                        buffer: Buffer::default(),
                    },
                );
            }
        }
    }

    /// Stops capture for a table.
    pub fn untrack(&mut self, name: &str) {
        self.tables.remove(name);
    }

    /// The tables being captured.
    pub fn tracked(&self) -> impl Iterator<Item = &Arc<TableShape>> {
        self.tables.values().map(|p| &p.shape)
    }

    /// Drops everything buffered (the transaction rolled back).
    pub fn discard(&mut self) {
        for pending in self.tables.values_mut() {
            pending.buffer.clear();
        }
        self.needs_verify = false;
        self.failure = None;
    }

    /// Reports a failure the hook has seen in this transaction.
    pub fn check(&self) -> Result<()> {
        match &self.failure {
            Some(failure) => Err(failure.clone()),
            None => Ok(()),
        }
    }

    /// Hands out the buffered rows and resets the buffer. Reports a failure seen by the hook.
    pub fn take(&mut self) -> Result<(Vec<TakenTable>, bool)> {
        self.check()?;
        let verify = std::mem::take(&mut self.needs_verify);
        let taken = self
            .tables
            .values_mut()
            .filter(|p| !p.buffer.rows.is_empty())
            .map(|p| TakenTable {
                shape: p.shape.clone(),
                buffer: std::mem::take(&mut p.buffer),
            })
            .collect();
        Ok((taken, verify))
    }

    /// The pre-update hook body.
    pub fn on_change(&mut self, database: &str, table: &str, case: &PreUpdateCase) {
        if self.suspended || database != "main" {
            return;
        }
        let Some(Pending { shape, buffer }) = self.tables.get_mut(table) else {
            return;
        };
        let outcome = match case {
            PreUpdateCase::Insert(new) => buffer
                .image(shape, |i| new.get_new_column_value(i))
                .and_then(|(after, key)| buffer.touch(key, None, Some(after))),
            PreUpdateCase::Delete(old) => buffer
                .image(shape, |i| old.get_old_column_value(i))
                .and_then(|(before, key)| buffer.touch(key, Some(before), None)),
            PreUpdateCase::Update {
                old_value_accessor: old,
                new_value_accessor: new,
            } => buffer
                .image(shape, |i| old.get_old_column_value(i))
                .and_then(|(before, old_key)| {
                    let (after, new_key) = buffer.image(shape, |i| new.get_new_column_value(i))?;
                    if buffer.bytes(old_key) == buffer.bytes(new_key) {
                        buffer.touch(new_key, Some(before), Some(after))
                    } else {
                        buffer.touch(old_key, Some(before), None)?;
                        buffer.touch(new_key, None, Some(after))
                    }
                }),
            PreUpdateCase::Unknown => Err(Error::Corrupt("unknown pre-update case".into())),
        };
        if let Err(error) = outcome {
            self.failure.get_or_insert(error);
        }
    }
}

/// The hook closure installed on the connection.
pub fn hook(
    shared: SharedCapture,
) -> impl FnMut(Action, &str, &str, &PreUpdateCase) + Send + 'static {
    move |_action, database, table, case| lock(&shared).on_change(database, table, case)
}

impl Buffer {
    fn clear(&mut self) {
        self.arena.clear();
        self.rows.clear();
        self.index.clear();
    }

    /// The bytes of a span.
    pub fn bytes(&self, span: Span) -> &[u8] {
        &self.arena[span.start as usize..span.end as usize]
    }

    /// Encodes a row image (a MessagePack array of its values) and then its key (an array of the
    /// key columns' values) into the arena.
    pub fn image<'a>(
        &mut self,
        shape: &TableShape,
        get: impl Fn(i32) -> rusqlite::Result<ValueRef<'a>>,
    ) -> Result<(Span, Span)> {
        let start = self.arena.len();
        write_array_len(&mut self.arena, shape.hook_index.len());
        self.columns.clear();
        for (position, &i) in shape.hook_index.iter().enumerate() {
            let value =
                get(i).map_err(|e| Error::Corrupt(format!("change capture failed: {e}")))?;
            if let ValueRef::Text(bytes) = value {
                if std::str::from_utf8(bytes).is_err() {
                    return Err(invalid_text(shape, position));
                }
            }
            let from = self.arena.len();
            write_value(&mut self.arena, value);
            self.columns.push((from, self.arena.len()));
        }
        let image = self.span(start)?;
        let key_start = self.arena.len();
        write_array_len(&mut self.arena, shape.primary_key.len());
        for &position in &shape.primary_key {
            let (from, to) = self.columns[position as usize];
            if self.arena[from] == NIL {
                return Err(Error::InvalidArgument(format!(
                    "a row of synced table {} has a NULL primary key; synced rows need a key value",
                    shape.name
                )));
            }
            if let Some(real) = encoded_real(&self.arena[from..to]) {
                let column_type = shape.types.get(position as usize);
                if column_type.is_some_and(|t| !t.tells_apart(&Value::Real(real))) {
                    return Err(integral_real_key(shape, position as usize, real));
                }
            }
            self.arena.extend_from_within(from..to);
        }
        Ok((image, self.span(key_start)?))
    }

    fn span(&self, start: usize) -> Result<Span> {
        let to_u32 = |n: usize| {
            u32::try_from(n)
                .map_err(|_| Error::InvalidArgument("transaction too large to capture".into()))
        };
        Ok(Span {
            start: to_u32(start)?,
            end: to_u32(self.arena.len())?,
        })
    }

    /// Records the latest image of the row with `key`, remembering `first_before` if this is the
    /// transaction's first touch of that row.
    pub fn touch(
        &mut self,
        key: Span,
        first_before: Option<Span>,
        after: Option<Span>,
    ) -> Result<()> {
        let hash = FxBuildHasher.hash_one(self.bytes(key));
        let mut candidate = self.index.get(&hash).copied();
        while let Some(i) = candidate {
            let row = self.rows[i as usize];
            if self.bytes(row.key) == self.bytes(key) {
                self.rows[i as usize].after = after;
                return Ok(());
            }
            candidate = row.collision;
        }
        let position = u32::try_from(self.rows.len())
            .map_err(|_| Error::InvalidArgument("too many rows to capture".into()))?;
        let collision = self.index.insert(hash, position);
        self.rows.push(Touched {
            key,
            before: first_before,
            after,
            collision,
        });
        Ok(())
    }
}

/// The MessagePack encoding of nil (SQL NULL).
const NIL: u8 = 0xc0;

/// The MessagePack marker of a float64 (how every REAL is written), followed by its 8 bytes.
const F64: u8 = 0xcb;

/// Writes a MessagePack array header. Writing to a `Vec` cannot fail.
pub fn write_array_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_array_len(out, len as u32);
}

/// Writes one SQLite value in the MessagePack form [`Value`] serialises to. TEXT is written byte
/// for byte, so it must be valid UTF-8: the hook refuses any other ([`invalid_text`]) before it gets
/// here, and the text of a [`Value`] always is.
pub fn write_value(out: &mut Vec<u8>, value: ValueRef<'_>) {
    // Writing to a `Vec` cannot fail, so the results carry no information.
    let _ = match value {
        ValueRef::Null => rmp::encode::write_nil(out).map_err(drop),
        ValueRef::Integer(v) => rmp::encode::write_sint(out, v).map(drop).map_err(drop),
        ValueRef::Real(v) => rmp::encode::write_f64(out, v).map_err(drop),
        ValueRef::Text(bytes) => u32::try_from(bytes.len())
            .map_err(drop)
            .and_then(|len| rmp::encode::write_str_len(out, len).map(drop).map_err(drop))
            .map(|()| out.extend_from_slice(bytes)),
        ValueRef::Blob(bytes) => rmp::encode::write_bin(out, bytes).map_err(drop),
    };
}

/// The real an encoded value holds, if it is one.
fn encoded_real(encoded: &[u8]) -> Option<f64> {
    match encoded {
        [F64, bytes @ ..] => bytes.try_into().ok().map(f64::from_be_bytes),
        _ => None,
    }
}

/// Copies a borrowed SQLite value.
pub fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Integer(v),
        ValueRef::Real(v) => Value::Real(v),
        ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
    }
}

/// Borrows an owned value.
pub fn borrowed(value: &Value) -> ValueRef<'_> {
    match value {
        Value::Null => ValueRef::Null,
        Value::Integer(v) => ValueRef::Integer(*v),
        Value::Real(v) => ValueRef::Real(*v),
        Value::Text(v) => ValueRef::Text(v.as_bytes()),
        Value::Blob(v) => ValueRef::Blob(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::affinity::{Affinity, ColumnType};
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn text_is_encoded_byte_for_byte_and_invalid_utf8_is_refused() {
        let shape = TableShape::new(
            "t".into(),
            vec!["id".into(), "v".into()],
            vec![0, 1],
            vec![0],
            vec![ColumnType::Loose(Affinity::Blob); 2],
        );
        let mut buffer = Buffer::default();
        let row = |v: &'static [u8]| {
            move |i: i32| Ok([ValueRef::Integer(1), ValueRef::Text(v)][i as usize])
        };
        let (image, _) = buffer.image(&shape, row("é\0x".as_bytes())).unwrap();
        let mut expected = Vec::new();
        write_array_len(&mut expected, 2);
        rmp::encode::write_sint(&mut expected, 1).unwrap();
        rmp::encode::write_str(&mut expected, "é\0x").unwrap();
        assert_eq!(buffer.bytes(image), expected.as_slice());
        let error = buffer.image(&shape, row(b"\xff\x00\xfe")).unwrap_err();
        assert_eq!(error.code(), crate::ErrorCode::InvalidArgument);
        assert!(
            error.to_string().contains("column \"v\" of table t"),
            "{error}"
        );
    }
}
