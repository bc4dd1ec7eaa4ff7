//! The per-table buffer of one transaction's row images.
//!
//! For every row the transaction touched, the buffer keeps the row as it was when the transaction
//! first touched it and as it is now. Images are written straight into a byte arena in their final
//! MessagePack form (an array of the row's values), and rows are found again through a hash of
//! their encoded key, so the hook allocates nothing per row in the common case and an insert
//! reaches the log as a byte copy.

use std::collections::HashMap;
use std::hash::BuildHasher;

use rusqlite::types::ValueRef as SqlValueRef;
use rustc_hash::FxBuildHasher;

use crate::codec::write;
use crate::error::{Error, Result};
use crate::model::Value;
use crate::store::schema::syncable::{integral_real_key, invalid_text};
use crate::store::schema::tables::TableShape;
use crate::store::sql::values::borrowed;

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

/// The MessagePack encoding of nil (SQL NULL).
const NIL: u8 = 0xc0;

/// The MessagePack marker of a float64 (how every REAL is written), followed by its 8 bytes.
const F64: u8 = 0xcb;

/// The real an encoded value holds, if it is one.
fn encoded_real(encoded: &[u8]) -> Option<f64> {
    match encoded {
        [F64, bytes @ ..] => bytes.try_into().ok().map(f64::from_be_bytes),
        _ => None,
    }
}

impl Buffer {
    /// Forgets every row.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.rows.clear();
        self.index.clear();
    }

    /// The bytes of a span.
    pub fn bytes(&self, span: Span) -> &[u8] {
        &self.arena[span.start as usize..span.end as usize]
    }

    /// Encodes a row image (a MessagePack array of its values) and then its key (an array of the
    /// key columns' values) into the arena. TEXT that is not valid UTF-8 and NULL keys are refused.
    pub fn image<'a>(
        &mut self,
        shape: &TableShape,
        get: impl Fn(i32) -> rusqlite::Result<SqlValueRef<'a>>,
    ) -> Result<(Span, Span)> {
        let start = self.arena.len();
        write::array_len(&mut self.arena, shape.hook_index.len());
        self.columns.clear();
        for (position, &i) in shape.hook_index.iter().enumerate() {
            let value =
                get(i).map_err(|e| Error::Corrupt(format!("change capture failed: {e}")))?;
            let value = borrowed(value).ok_or_else(|| invalid_text(shape, position))?;
            let from = self.arena.len();
            write::value(&mut self.arena, value);
            self.columns.push((from, self.arena.len()));
        }
        let image = self.span(start)?;
        let key_start = self.arena.len();
        write::array_len(&mut self.arena, shape.primary_key.len());
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

    /// The touched row with this key, if any.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let hash = FxBuildHasher.hash_one(key);
        let mut candidate = self.index.get(&hash).copied();
        while let Some(i) = candidate {
            let row = self.rows[i as usize];
            if self.bytes(row.key) == key {
                return Some(i as usize);
            }
            candidate = row.collision;
        }
        None
    }

    /// Records the latest image of the row with `key`, remembering `first_before` if this is the
    /// transaction's first touch of that row.
    pub fn touch(
        &mut self,
        key: Span,
        first_before: Option<Span>,
        after: Option<Span>,
    ) -> Result<()> {
        if let Some(i) = self.find(self.bytes(key)) {
            self.rows[i].after = after;
            return Ok(());
        }
        let hash = FxBuildHasher.hash_one(self.bytes(key));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::write;
    use crate::model::ValueRef;
    use crate::store::schema::affinity::{Affinity, ColumnType};
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
            move |i: i32| Ok([SqlValueRef::Integer(1), SqlValueRef::Text(v)][i as usize])
        };
        let (image, _) = buffer.image(&shape, row("é\0x".as_bytes())).unwrap();
        let mut expected = Vec::new();
        write::values(
            &mut expected,
            [ValueRef::Integer(1), ValueRef::Text("é\0x")].into_iter(),
        );
        assert_eq!(buffer.bytes(image), expected.as_slice());
        let error = buffer.image(&shape, row(b"\xff\x00\xfe")).unwrap_err();
        assert_eq!(error.code(), crate::ErrorCode::InvalidArgument);
        assert!(
            error.to_string().contains("column \"v\" of table t"),
            "{error}"
        );
    }
}
