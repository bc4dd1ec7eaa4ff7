//! Reading a [`ChangeSet`] straight from its MessagePack form, the hot path of every import.
//!
//! The form is the one `wire.rs` writes: a change set is `[tables]`, a table is
//! `[name, [column names], [key positions], [row changes]]`, and a row change is an array led by
//! its kind number. The reader walks the bytes once with a cursor instead of going through serde,
//! which roughly halves the cost of decoding a large bundle. It accepts exactly that form (arrays,
//! never maps; UTF-8 strings; nothing after the end) and treats every length as untrusted: a
//! length is checked against the bytes that remain before anything is allocated for it.

use rmp::Marker;

use super::{ChangeSet, RowChange, TableChanges, Value};

/// Why some bytes are not a change set.
pub type DecodeError = String;

/// Decodes a whole change set; bytes left over after it are an error.
pub fn change_set(bytes: &[u8]) -> Result<ChangeSet, DecodeError> {
    let mut reader = Reader { bytes, pos: 0 };
    let count = reader.array_len(1)?;
    if count != 1 {
        return Err(format!("a change set is a 1-element array, not {count}"));
    }
    let tables = reader.list(4, Reader::table)?;
    if reader.pos != bytes.len() {
        return Err(format!(
            "{} bytes after the change set",
            bytes.len() - reader.pos
        ));
    }
    Ok(ChangeSet { tables })
}

/// A cursor over untrusted MessagePack.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian unsigned number of `N` bytes.
    fn be<const N: usize>(&mut self) -> Result<u64, DecodeError> {
        let slice = self.take(N)?;
        Ok(slice.iter().fold(0u64, |n, &b| n << 8 | u64::from(b)))
    }

    fn marker(&mut self) -> Result<Marker, DecodeError> {
        self.byte().map(Marker::from_u8)
    }

    /// A length that promises at least `min_each` bytes per element: refused when the bytes left
    /// cannot hold that many, so no allocation is ever larger than the input.
    fn checked_len(&self, len: u64, min_each: usize) -> Result<usize, DecodeError> {
        let left = (self.bytes.len() - self.pos) as u64;
        if len.saturating_mul(min_each as u64) > left {
            return Err(format!(
                "length {len} at byte {} exceeds the input",
                self.pos
            ));
        }
        Ok(len as usize)
    }

    fn array_len(&mut self, min_each: usize) -> Result<usize, DecodeError> {
        let len = match self.marker()? {
            Marker::FixArray(n) => u64::from(n),
            Marker::Array16 => self.be::<2>()?,
            Marker::Array32 => self.be::<4>()?,
            other => return Err(format!("expected an array, found {other:?}")),
        };
        self.checked_len(len, min_each)
    }

    /// An array whose elements `item` reads; each takes at least `min_each` bytes.
    fn list<T>(
        &mut self,
        min_each: usize,
        item: impl Fn(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let len = self.array_len(min_each)?;
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn text(&mut self) -> Result<String, DecodeError> {
        match self.marker()? {
            Marker::FixStr(n) => self.text_of(u64::from(n)),
            Marker::Str8 => self.text_with::<1>(),
            Marker::Str16 => self.text_with::<2>(),
            Marker::Str32 => self.text_with::<4>(),
            other => Err(format!("expected a string, found {other:?}")),
        }
    }

    fn text_with<const N: usize>(&mut self) -> Result<String, DecodeError> {
        let len = self.be::<N>()?;
        self.text_of(len)
    }

    fn text_of(&mut self, len: u64) -> Result<String, DecodeError> {
        let len = self.checked_len(len, 1)?;
        let at = self.pos;
        std::str::from_utf8(self.take(len)?)
            .map(str::to_owned)
            .map_err(|_| format!("string at byte {at} is not UTF-8"))
    }

    /// Bytes whose length is the next `N`-byte big-endian number.
    fn blob_with<const N: usize>(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = self.be::<N>()?;
        let len = self.checked_len(len, 1)?;
        Ok(self.take(len)?.to_vec())
    }

    /// An integer of any MessagePack width that fits SQLite's 64-bit signed range.
    fn integer_after(&mut self, marker: Marker) -> Result<i64, DecodeError> {
        let wide: i128 = match marker {
            Marker::FixPos(n) => i128::from(n),
            Marker::FixNeg(n) => i128::from(n),
            Marker::U8 => i128::from(self.be::<1>()?),
            Marker::U16 => i128::from(self.be::<2>()?),
            Marker::U32 => i128::from(self.be::<4>()?),
            Marker::U64 => i128::from(self.be::<8>()?),
            Marker::I8 => i128::from(self.be::<1>()? as u8 as i8),
            Marker::I16 => i128::from(self.be::<2>()? as u16 as i16),
            Marker::I32 => i128::from(self.be::<4>()? as u32 as i32),
            Marker::I64 => i128::from(self.be::<8>()? as i64),
            other => return Err(format!("expected an integer, found {other:?}")),
        };
        i64::try_from(wide).map_err(|_| "integer out of SQLite's 64-bit range".to_owned())
    }

    fn integer(&mut self) -> Result<i64, DecodeError> {
        let marker = self.marker()?;
        self.integer_after(marker)
    }

    fn position(&mut self) -> Result<u32, DecodeError> {
        let n = self.integer()?;
        u32::try_from(n).map_err(|_| format!("column position {n} out of range"))
    }

    fn value(&mut self) -> Result<Value, DecodeError> {
        Ok(match self.marker()? {
            Marker::Null => Value::Null,
            Marker::F64 => Value::Real(f64::from_bits(self.be::<8>()?)),
            Marker::F32 => Value::Real(f64::from(f32::from_bits(self.be::<4>()? as u32))),
            Marker::FixStr(n) => Value::Text(self.text_of(u64::from(n))?),
            Marker::Str8 => Value::Text(self.text_with::<1>()?),
            Marker::Str16 => Value::Text(self.text_with::<2>()?),
            Marker::Str32 => Value::Text(self.text_with::<4>()?),
            Marker::Bin8 => Value::Blob(self.blob_with::<1>()?),
            Marker::Bin16 => Value::Blob(self.blob_with::<2>()?),
            Marker::Bin32 => Value::Blob(self.blob_with::<4>()?),
            other => Value::Integer(self.integer_after(other)?),
        })
    }

    fn values(&mut self) -> Result<Vec<Value>, DecodeError> {
        self.list(1, Reader::value)
    }

    fn table(&mut self) -> Result<TableChanges, DecodeError> {
        let fields = self.array_len(1)?;
        if fields != 4 {
            return Err(format!("a table entry has 4 fields, not {fields}"));
        }
        Ok(TableChanges {
            table: self.text()?,
            columns: self.list(1, Reader::text)?,
            primary_key: self.list(1, Reader::position)?,
            rows: self.list(2, Reader::row)?,
        })
    }

    fn row(&mut self) -> Result<RowChange, DecodeError> {
        let fields = self.array_len(1)?;
        let kind = self.integer()?;
        let expected = match kind {
            0 | 2 => 2,
            1 => 5,
            other => return Err(format!("unknown row change kind {other}")),
        };
        if fields != expected {
            return Err(format!("row change of kind {kind} has {fields} fields"));
        }
        Ok(match kind {
            0 => RowChange::Insert {
                values: self.values()?,
            },
            1 => RowChange::Update {
                key: self.values()?,
                columns: self.list(1, Reader::position)?,
                old: self.values()?,
                new: self.values()?,
            },
            _ => RowChange::Delete {
                old: self.values()?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn sample() -> ChangeSet {
        ChangeSet {
            tables: vec![TableChanges {
                table: "t ✓".into(),
                columns: vec!["id".into(), "v".into()],
                primary_key: vec![0],
                rows: vec![
                    RowChange::Insert {
                        values: vec![Value::Integer(i64::MIN), Value::Text("x".repeat(300))],
                    },
                    RowChange::Update {
                        key: vec![Value::Integer(u32::MAX as i64 + 1)],
                        columns: vec![1],
                        old: vec![Value::Real(-0.5)],
                        new: vec![Value::Blob(vec![0; 70_000])],
                    },
                    RowChange::Delete {
                        old: vec![Value::Integer(-3), Value::Null],
                    },
                ],
            }],
        }
    }

    #[test]
    fn reads_what_the_encoder_writes() {
        let set = sample();
        assert_eq!(change_set(&set.to_bytes().expect("encode")), Ok(set));
    }

    #[test]
    fn refuses_every_truncation_and_trailing_bytes() {
        let bytes = sample().to_bytes().expect("encode");
        for len in 0..bytes.len() {
            assert!(change_set(&bytes[..len]).is_err(), "prefix of {len} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0xc0);
        assert!(change_set(&longer).is_err());
    }

    #[test]
    fn refuses_lengths_larger_than_the_input() {
        // [[ "t", [], [], array32 of 2^32-1 rows ]] in a few bytes.
        let bytes = [
            0x91, 0x91, 0x94, 0xa1, b't', 0x90, 0x90, 0xdd, 0xff, 0xff, 0xff, 0xff,
        ];
        let error = change_set(&bytes).expect_err("huge length");
        assert!(error.contains("exceeds the input"), "{error}");
    }

    #[test]
    fn refuses_maps_bad_kinds_and_invalid_text() {
        assert!(change_set(&[0x81, 0xa1, b't', 0x90]).is_err());
        let bad_kind = [
            0x91, 0x91, 0x94, 0xa1, b't', 0x90, 0x90, 0x91, 0x92, 0x07, 0x90,
        ];
        assert!(change_set(&bad_kind).unwrap_err().contains("kind 7"));
        let bad_text = [0x91, 0x91, 0x94, 0xa1, 0xff, 0x90, 0x90, 0x90];
        assert!(change_set(&bad_text).unwrap_err().contains("UTF-8"));
        let too_big = [
            0x91, 0x91, 0x94, 0xa1, b't', 0x90, 0x90, 0x91, 0x92, 0x00, 0x91, 0xcf, 0xff, 0, 0, 0,
            0, 0, 0, 0,
        ];
        assert!(change_set(&too_big).unwrap_err().contains("64-bit range"));
    }
}
