//! A cursor over untrusted MessagePack.
//!
//! Every length is checked against the bytes that remain before anything is allocated for it, so
//! no allocation is ever larger than the input, whatever a length field claims. Strings and byte
//! strings are returned borrowed from the input. Only the forms this crate writes are accepted
//! (arrays and maps with explicit lengths, UTF-8 strings, integers of any width, float64 and
//! float32, nil, booleans, bin); extension types and anything else are refused.

use rmp::Marker;

use crate::clock::VectorClock;
use crate::ids::DeviceId;
use crate::model::ValueRef;

/// Why some bytes are not what was expected.
pub type DecodeError = String;

/// Reads MessagePack values one after another from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// How many bytes have been read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    /// The bytes read between `start` (an earlier [`position`](Self::position)) and now.
    pub fn since(&self, start: usize) -> &'a [u8] {
        &self.bytes[start.min(self.pos)..self.pos]
    }

    /// An error unless every byte has been read.
    pub fn finish(&self, what: &str) -> Result<(), DecodeError> {
        match self.bytes.len() - self.pos {
            0 => Ok(()),
            left => Err(format!("{left} bytes after the {what}")),
        }
    }

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

    /// A big-endian unsigned number of `N` bytes.
    fn be<const N: usize>(&mut self) -> Result<u64, DecodeError> {
        let slice = self.take(N)?;
        Ok(slice.iter().fold(0u64, |n, &b| n << 8 | u64::from(b)))
    }

    fn marker(&mut self) -> Result<Marker, DecodeError> {
        Ok(Marker::from_u8(self.take(1)?[0]))
    }

    /// The next marker, without consuming it.
    fn peek(&self) -> Result<Marker, DecodeError> {
        self.bytes
            .get(self.pos)
            .map(|&b| Marker::from_u8(b))
            .ok_or_else(|| format!("truncated at byte {}", self.pos))
    }

    /// A length that promises at least `min_each` bytes per element: refused when the bytes left
    /// cannot hold that many.
    fn checked_len(&self, len: u64, min_each: usize) -> Result<usize, DecodeError> {
        let left = (self.bytes.len() - self.pos) as u64;
        if len.saturating_mul(min_each.max(1) as u64) > left {
            return Err(format!(
                "length {len} at byte {} exceeds the input",
                self.pos
            ));
        }
        usize::try_from(len).map_err(|_| format!("length {len} out of range"))
    }

    /// An array header; each element takes at least `min_each` bytes.
    pub fn array_len(&mut self, min_each: usize) -> Result<usize, DecodeError> {
        let len = match self.marker()? {
            Marker::FixArray(n) => u64::from(n),
            Marker::Array16 => self.be::<2>()?,
            Marker::Array32 => self.be::<4>()?,
            other => return Err(format!("expected an array, found {other:?}")),
        };
        self.checked_len(len, min_each)
    }

    /// An array header that must announce exactly `fields` elements.
    pub fn fields(&mut self, fields: usize, what: &str) -> Result<(), DecodeError> {
        match self.array_len(1)? {
            n if n == fields => Ok(()),
            n => Err(format!("{what} has {n} fields, not {fields}")),
        }
    }

    /// A map header; each entry takes at least `min_each` bytes.
    pub fn map_len(&mut self, min_each: usize) -> Result<usize, DecodeError> {
        let len = match self.marker()? {
            Marker::FixMap(n) => u64::from(n),
            Marker::Map16 => self.be::<2>()?,
            Marker::Map32 => self.be::<4>()?,
            other => return Err(format!("expected a map, found {other:?}")),
        };
        self.checked_len(len, min_each)
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

    /// A signed integer.
    pub fn int(&mut self) -> Result<i64, DecodeError> {
        let marker = self.marker()?;
        self.integer_after(marker)
    }

    /// A non-negative integer (at most `i64::MAX`).
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        let n = self.int()?;
        u64::try_from(n).map_err(|_| format!("expected a non-negative integer, found {n}"))
    }

    /// A boolean.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.marker()? {
            Marker::True => Ok(true),
            Marker::False => Ok(false),
            other => Err(format!("expected a boolean, found {other:?}")),
        }
    }

    /// Consumes a nil if one comes next; says whether it did.
    pub fn nil(&mut self) -> Result<bool, DecodeError> {
        if self.peek()? == Marker::Null {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// A UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = match self.marker()? {
            Marker::FixStr(n) => u64::from(n),
            Marker::Str8 => self.be::<1>()?,
            Marker::Str16 => self.be::<2>()?,
            Marker::Str32 => self.be::<4>()?,
            other => return Err(format!("expected a string, found {other:?}")),
        };
        self.text_of(len)
    }

    fn text_of(&mut self, len: u64) -> Result<&'a str, DecodeError> {
        let len = self.checked_len(len, 1)?;
        let at = self.pos;
        std::str::from_utf8(self.take(len)?)
            .map_err(|_| format!("string at byte {at} is not UTF-8"))
    }

    /// A byte string.
    pub fn bin(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = match self.marker()? {
            Marker::Bin8 => self.be::<1>()?,
            Marker::Bin16 => self.be::<2>()?,
            Marker::Bin32 => self.be::<4>()?,
            other => return Err(format!("expected bytes, found {other:?}")),
        };
        self.blob_of(len)
    }

    fn blob_of(&mut self, len: u64) -> Result<&'a [u8], DecodeError> {
        let len = self.checked_len(len, 1)?;
        self.take(len)
    }

    /// A 16-byte id.
    pub fn id(&mut self) -> Result<[u8; 16], DecodeError> {
        let bytes = self.bin()?;
        bytes
            .try_into()
            .map_err(|_| format!("an id of {} bytes, not 16", bytes.len()))
    }

    /// A device id.
    pub fn device(&mut self) -> Result<DeviceId, DecodeError> {
        self.id().map(DeviceId)
    }

    /// A vector clock: a map of device id to counter, devices in strictly increasing order.
    /// Counters of 0 are dropped (they mean the same as an absent entry).
    pub fn clock(&mut self) -> Result<VectorClock, DecodeError> {
        let entries = self.map_len(19)?;
        let mut clock = VectorClock::new();
        let mut last: Option<DeviceId> = None;
        for _ in 0..entries {
            let device = self.device()?;
            if last.is_some_and(|previous| previous >= device) {
                return Err("clock entries are not in increasing device order".into());
            }
            last = Some(device);
            clock.set(device, self.uint()?);
        }
        Ok(clock)
    }

    /// One SQL value.
    pub fn value(&mut self) -> Result<ValueRef<'a>, DecodeError> {
        Ok(match self.marker()? {
            Marker::Null => ValueRef::Null,
            Marker::F64 => ValueRef::Real(f64::from_bits(self.be::<8>()?)),
            Marker::F32 => ValueRef::Real(f64::from(f32::from_bits(self.be::<4>()? as u32))),
            Marker::FixStr(n) => ValueRef::Text(self.text_of(u64::from(n))?),
            Marker::Str8 => ValueRef::Text(self.text_with::<1>()?),
            Marker::Str16 => ValueRef::Text(self.text_with::<2>()?),
            Marker::Str32 => ValueRef::Text(self.text_with::<4>()?),
            Marker::Bin8 => ValueRef::Blob(self.blob_with::<1>()?),
            Marker::Bin16 => ValueRef::Blob(self.blob_with::<2>()?),
            Marker::Bin32 => ValueRef::Blob(self.blob_with::<4>()?),
            other => ValueRef::Integer(self.integer_after(other)?),
        })
    }

    fn text_with<const N: usize>(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.be::<N>()?;
        self.text_of(len)
    }

    fn blob_with<const N: usize>(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.be::<N>()?;
        self.blob_of(len)
    }

    /// An array of exactly `len` values (when the array says otherwise, an error naming `what`).
    pub fn values(&mut self, len: usize, what: &str) -> Result<Vec<ValueRef<'a>>, DecodeError> {
        let found = self.array_len(1)?;
        if found != len {
            return Err(format!("{what} has {found} values, not {len}"));
        }
        (0..len).map(|_| self.value()).collect()
    }

    /// Skips one value of any of the accepted forms (arrays and maps with everything inside).
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            let children = match self.marker()? {
                Marker::FixArray(n) => u64::from(n),
                Marker::Array16 => self.be::<2>()?,
                Marker::Array32 => self.be::<4>()?,
                Marker::FixMap(n) => 2 * u64::from(n),
                Marker::Map16 => 2 * self.be::<2>()?,
                Marker::Map32 => 2 * self.be::<4>()?,
                Marker::Null | Marker::True | Marker::False => 0,
                Marker::FixPos(_) | Marker::FixNeg(_) => 0,
                Marker::U8 | Marker::I8 => self.take(1).map(|_| 0)?,
                Marker::U16 | Marker::I16 => self.take(2).map(|_| 0)?,
                Marker::U32 | Marker::I32 | Marker::F32 => self.take(4).map(|_| 0)?,
                Marker::U64 | Marker::I64 | Marker::F64 => self.take(8).map(|_| 0)?,
                Marker::FixStr(n) => self.skip_bytes(u64::from(n))?,
                Marker::Str8 | Marker::Bin8 => self.skip_with::<1>()?,
                Marker::Str16 | Marker::Bin16 => self.skip_with::<2>()?,
                Marker::Str32 | Marker::Bin32 => self.skip_with::<4>()?,
                other => return Err(format!("unexpected {other:?} at byte {}", self.pos)),
            };
            // Every element takes at least one byte, so a count larger than the input is refused
            // here rather than looped over.
            pending = pending
                .checked_add(children)
                .filter(|&p| p <= (self.bytes.len() - self.pos) as u64)
                .ok_or_else(|| format!("length at byte {} exceeds the input", self.pos))?;
        }
        Ok(())
    }

    fn skip_bytes(&mut self, len: u64) -> Result<u64, DecodeError> {
        let len = self.checked_len(len, 1)?;
        self.take(len).map(|_| 0)
    }

    fn skip_with<const N: usize>(&mut self) -> Result<u64, DecodeError> {
        let len = self.be::<N>()?;
        self.skip_bytes(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::write;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn skip_passes_exactly_one_value_of_every_form() {
        let mut out = Vec::new();
        write::array_len(&mut out, 3);
        write::value(&mut out, ValueRef::Text("x".repeat(300).as_str()));
        write::map_len(&mut out, 1);
        write::uint(&mut out, 7);
        write::value(&mut out, ValueRef::Blob(&[1, 2, 3]));
        write::value(&mut out, ValueRef::Real(0.5));
        write::uint(&mut out, 42);
        let mut reader = Reader::new(&out);
        reader.skip().expect("skip the array");
        assert_eq!(reader.uint(), Ok(42));
        assert!(reader.finish("test").is_ok());
    }

    #[test]
    fn lengths_larger_than_the_input_are_refused_before_allocating() {
        for bytes in [
            &[0xdd, 0xff, 0xff, 0xff, 0xff][..],
            &[0xdf, 0xff, 0xff, 0xff, 0xff],
            &[0xc6, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(Reader::new(bytes).skip().is_err());
        }
        assert!(Reader::new(&[0xdd, 0xff, 0xff, 0xff, 0xff])
            .array_len(1)
            .unwrap_err()
            .contains("exceeds the input"));
    }

    #[test]
    fn clocks_must_list_devices_in_increasing_order() {
        let mut out = Vec::new();
        write::map_len(&mut out, 2);
        for device in [[2u8; 16], [1u8; 16]] {
            write::bin(&mut out, &device);
            write::uint(&mut out, 1);
        }
        assert!(Reader::new(&out).clock().is_err());
    }
}
