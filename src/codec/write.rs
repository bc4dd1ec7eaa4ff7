//! Writing MessagePack into a `Vec<u8>`: the one place the crate's binary forms are produced.
//!
//! Every function appends the shortest encoding of its value (which makes the output canonical:
//! equal values always give equal bytes). Writing into a `Vec` cannot fail, so these functions
//! return nothing.

use crate::clock::VectorClock;
use crate::ids::DeviceId;
use crate::model::ValueRef;

/// An array header for `len` elements.
pub fn array_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_array_len(out, len as u32);
}

/// A map header for `len` entries.
pub fn map_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_map_len(out, len as u32);
}

/// A byte-string header for `len` bytes (which the caller appends).
pub fn bin_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_bin_len(out, len as u32);
}

/// A non-negative integer.
pub fn uint(out: &mut Vec<u8>, value: u64) {
    let _ = rmp::encode::write_uint(out, value);
}

/// A signed integer.
pub fn int(out: &mut Vec<u8>, value: i64) {
    let _ = rmp::encode::write_sint(out, value);
}

/// A boolean.
pub fn bool(out: &mut Vec<u8>, value: bool) {
    let _ = rmp::encode::write_bool(out, value);
}

/// Nil.
pub fn nil(out: &mut Vec<u8>) {
    let _ = rmp::encode::write_nil(out);
}

/// A UTF-8 string.
pub fn str(out: &mut Vec<u8>, text: &str) {
    let _ = rmp::encode::write_str(out, text);
}

/// A byte string.
pub fn bin(out: &mut Vec<u8>, bytes: &[u8]) {
    let _ = rmp::encode::write_bin(out, bytes);
}

/// A device id, as a 16-byte byte string.
pub fn device(out: &mut Vec<u8>, device: &DeviceId) {
    bin(out, &device.0);
}

/// A vector clock: a map of device id to counter, in device order.
pub fn clock(out: &mut Vec<u8>, clock: &VectorClock) {
    map_len(out, clock.len());
    for (device_id, seq) in clock.iter() {
        device(out, device_id);
        uint(out, *seq);
    }
}

/// One SQL value: nil, an integer, a float64, a string or bytes.
pub fn value(out: &mut Vec<u8>, value: ValueRef<'_>) {
    match value {
        ValueRef::Null => nil(out),
        ValueRef::Integer(v) => int(out, v),
        ValueRef::Real(v) => {
            let _ = rmp::encode::write_f64(out, v);
        }
        ValueRef::Text(v) => str(out, v),
        ValueRef::Blob(v) => bin(out, v),
    }
}

/// An array of values.
pub fn values<'a>(out: &mut Vec<u8>, items: impl ExactSizeIterator<Item = ValueRef<'a>>) {
    array_len(out, items.len());
    for item in items {
        value(out, item);
    }
}
