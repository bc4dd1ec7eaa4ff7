//! The net change of one row between two encoded images (MessagePack arrays of its values, as
//! capture buffers them), written in the change-set form ([`changes`](super::changes)): nothing
//! when they are equal, an insert or a delete when the row only exists at one end, and an update
//! of just the differing columns otherwise. Inserts and deletes copy the image byte for byte,
//! already in their final form; updates compare the images value by value without decoding them.

use crate::codec::changes::kind;
use crate::codec::{write, Reader};
use crate::error::{Error, Result};

/// Writes the row change between two encoded images; returns whether anything changed.
#[inline(never)]
pub fn write_net(
    out: &mut Vec<u8>,
    key: &[u8],
    before: Option<&[u8]>,
    after: Option<&[u8]>,
) -> Result<bool> {
    match (before, after) {
        (None, None) => Ok(false),
        (None, Some(image)) => {
            write::array_len(out, 2);
            write::uint(out, u64::from(kind::INSERT));
            out.extend_from_slice(image);
            Ok(true)
        }
        (Some(image), None) => {
            write::array_len(out, 2);
            write::uint(out, u64::from(kind::DELETE));
            out.extend_from_slice(image);
            Ok(true)
        }
        (Some(before), Some(after)) if before == after => Ok(false),
        (Some(before), Some(after)) => {
            let (before, after) = (cells(before)?, cells(after)?);
            let changed: Vec<usize> = (0..before.len().min(after.len()))
                .filter(|&i| before[i] != after[i])
                .collect();
            if changed.is_empty() {
                return Ok(false);
            }
            write::array_len(out, 5);
            write::uint(out, u64::from(kind::UPDATE));
            out.extend_from_slice(key);
            write::array_len(out, changed.len());
            for &i in &changed {
                write::uint(out, i as u64);
            }
            for image in [&before, &after] {
                write::array_len(out, changed.len());
                for &i in &changed {
                    out.extend_from_slice(image[i]);
                }
            }
            Ok(true)
        }
    }
}

/// Splits an encoded row image (a MessagePack array of values) into each value's bytes, without
/// decoding them.
pub fn cells(image: &[u8]) -> Result<Vec<&[u8]>> {
    let broken = |e: String| Error::Internal(format!("unreadable captured row: {e}"));
    let mut reader = Reader::new(image);
    let count = reader.array_len(1).map_err(broken)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let start = reader.position();
        reader.skip().map_err(broken)?;
        out.push(reader.since(start));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Value, ValueRef};
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn int(v: i64) -> Value {
        Value::Integer(v)
    }

    fn encode_values(values: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        write::values(&mut out, values.iter().map(Value::as_ref));
        out
    }

    /// The row change `write_net` writes, read back as MessagePack values.
    fn net(before: Option<&[Value]>, after: Option<&[Value]>) -> Option<Vec<u8>> {
        let key = encode_values(&[int(1)]);
        let (before, after) = (before.map(encode_values), after.map(encode_values));
        let mut out = Vec::new();
        let changed = write_net(&mut out, &key, before.as_deref(), after.as_deref()).expect("net");
        assert_eq!(changed, !out.is_empty());
        changed.then_some(out)
    }

    #[test]
    fn equal_images_or_none_at_all_are_no_change() {
        let row = [int(1), Value::Text("a".into())];
        assert_eq!(net(None, None), None);
        assert_eq!(net(Some(&row), Some(&row)), None);
    }

    #[test]
    fn a_row_at_one_end_only_is_an_insert_or_a_delete_with_the_image_as_is() {
        let row = [int(1), Value::Text("a".into())];
        let image = encode_values(&row);
        let insert = net(None, Some(&row)).expect("insert");
        assert_eq!(insert[..2], [0x92, kind::INSERT]);
        assert_eq!(insert[2..], image[..]);
        let delete = net(Some(&row), None).expect("delete");
        assert_eq!(delete[..2], [0x92, kind::DELETE]);
        assert_eq!(delete[2..], image[..]);
    }

    #[test]
    fn an_update_names_only_the_columns_that_differ() {
        let before = [
            int(1),
            Value::Text("a".into()),
            Value::Real(0.5),
            Value::Null,
        ];
        let after = [int(1), Value::Text("b".into()), Value::Real(0.5), int(7)];
        let bytes = net(Some(&before), Some(&after)).expect("update");
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.array_len(1), Ok(5));
        assert_eq!(
            reader.value().map(ValueRef::to_value),
            Ok(int(i64::from(kind::UPDATE)))
        );
        assert_eq!(reader.array_len(1), Ok(1));
        assert_eq!(reader.value().map(ValueRef::to_value), Ok(int(1)));
        let list = |reader: &mut Reader<'_>| -> Vec<Value> {
            let len = reader.array_len(1).expect("list");
            (0..len)
                .map(|_| reader.value().expect("value").to_value())
                .collect()
        };
        assert_eq!(list(&mut reader), vec![int(1), int(3)]);
        assert_eq!(
            list(&mut reader),
            vec![Value::Text("a".into()), Value::Null]
        );
        assert_eq!(list(&mut reader), vec![Value::Text("b".into()), int(7)]);
        assert!(reader.rest().is_empty());
    }

    #[test]
    fn an_image_splits_into_exactly_its_values_encodings() {
        let mut values = vec![Value::Null, Value::Real(1.5), Value::Real(-0.0)];
        for v in [
            0,
            1,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u32::MAX as i64,
            i64::MAX,
            -1,
            -32,
            -33,
            -129,
            -32_769,
            i64::MIN,
        ] {
            values.push(int(v));
        }
        for len in [0, 1, 31, 32, 255, 256, 65_535, 65_536] {
            values.push(Value::Text("x".repeat(len)));
            values.push(Value::Blob(vec![7; len]));
        }
        let image = encode_values(&values);
        let cells = cells(&image).expect("cells");
        assert_eq!(cells.len(), values.len());
        for (cell, value) in cells.iter().zip(&values) {
            assert_eq!(
                *cell,
                encode_values(std::slice::from_ref(value))[1..]
                    .to_vec()
                    .as_slice(),
                "{value:?}"
            );
        }
    }
}
