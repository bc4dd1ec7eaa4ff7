//! Turning a transaction's buffered row images into its change-log record.
//!
//! For every touched row the net change is the difference between its first and last image:
//! nothing when they are equal, an insert or a delete when the row only exists at one end, and an
//! update of just the differing columns otherwise. Inserts and deletes are copied from the capture
//! arena byte for byte, already in their final form; only updates are decoded to compare columns.
//! The output is exactly the MessagePack that [`ChangeSet`](crate::model::ChangeSet) deserialises
//! from (and serialises to), which a test checks.

use rmp::encode::write_uint;

use crate::error::{Error, Result};
use crate::model::Value;
use crate::store::capture::{borrowed, write_array_len, write_value, TakenTable};
use crate::store::tables::TableShape;

/// Encodes the net changes of `taken` as a change set, with its number of row changes, or `None`
/// when nothing changed. When `verify` is set, each row's last image comes from `reread` instead
/// of the buffer.
pub fn encode(
    taken: Vec<TakenTable>,
    verify: bool,
    mut reread: impl FnMut(&TableShape, &[Value]) -> Result<Option<Vec<Value>>>,
) -> Result<Option<(Vec<u8>, u64)>> {
    let mut tables = Vec::new();
    let mut total = 0u64;
    for TakenTable { shape, buffer } in taken {
        let mut rows = Vec::with_capacity(buffer.arena.len());
        let mut count = 0usize;
        for touched in &buffer.rows {
            let key = buffer.bytes(touched.key);
            let before = touched.before.map(|span| buffer.bytes(span));
            let reread_image;
            let after = if verify {
                reread_image = reread(&shape, &decode(key)?)?.map(|values| encode_values(&values));
                reread_image.as_deref()
            } else {
                touched.after.map(|span| buffer.bytes(span))
            };
            if write_net(&mut rows, key, before, after)? {
                count += 1;
            }
        }
        total += count as u64;
        if count > 0 {
            let mut table = Vec::with_capacity(rows.len() + 64);
            write_array_len(&mut table, 4);
            write_str(&mut table, &shape.name);
            write_array_len(&mut table, shape.columns.len());
            for column in &shape.columns {
                write_str(&mut table, column);
            }
            write_array_len(&mut table, shape.primary_key.len());
            for &position in &shape.primary_key {
                let _ = write_uint(&mut table, u64::from(position));
            }
            write_array_len(&mut table, count);
            table.extend_from_slice(&rows);
            tables.push(table);
        }
    }
    if tables.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(tables.iter().map(Vec::len).sum::<usize>() + 8);
    write_array_len(&mut out, 1);
    write_array_len(&mut out, tables.len());
    for table in tables {
        out.extend_from_slice(&table);
    }
    Ok(Some((out, total)))
}

/// Writes the row change between two encoded images; returns whether anything changed.
fn write_net(
    out: &mut Vec<u8>,
    key: &[u8],
    before: Option<&[u8]>,
    after: Option<&[u8]>,
) -> Result<bool> {
    match (before, after) {
        (None, None) => Ok(false),
        (None, Some(image)) => {
            write_array_len(out, 2);
            let _ = write_uint(out, 0);
            out.extend_from_slice(image);
            Ok(true)
        }
        (Some(image), None) => {
            write_array_len(out, 2);
            let _ = write_uint(out, 2);
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
            write_array_len(out, 5);
            let _ = write_uint(out, 1);
            out.extend_from_slice(key);
            write_array_len(out, changed.len());
            for &i in &changed {
                let _ = write_uint(out, i as u64);
            }
            for image in [&before, &after] {
                write_array_len(out, changed.len());
                for &i in &changed {
                    out.extend_from_slice(image[i]);
                }
            }
            Ok(true)
        }
    }
}

/// Splits an encoded row image (a MessagePack array of values) into each value's bytes, without
/// decoding: the arena holds only the value forms [`write_value`] produces.
fn cells(image: &[u8]) -> Result<Vec<&[u8]>> {
    let broken = || Error::Corrupt("unreadable captured row".into());
    let (count, mut at) = match *image.first().ok_or_else(broken)? {
        m @ 0x90..=0x9f => (usize::from(m & 0x0f), 1),
        0xdc => (usize::from(u16::from_be_bytes(read(image, 1)?)), 3),
        0xdd => (u32::from_be_bytes(read(image, 1)?) as usize, 5),
        _ => return Err(broken()),
    };
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = value_len(image.get(at..).ok_or_else(broken)?)?;
        out.push(image.get(at..at + len).ok_or_else(broken)?);
        at += len;
    }
    Ok(out)
}

/// The encoded length of the MessagePack value at the start of `bytes`.
fn value_len(bytes: &[u8]) -> Result<usize> {
    let broken = || Error::Corrupt("unreadable captured value".into());
    let marker = *bytes.first().ok_or_else(broken)?;
    Ok(match marker {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 1,
        0xcc | 0xd0 => 2,
        0xcd | 0xd1 => 3,
        0xca | 0xce | 0xd2 => 5,
        0xcb | 0xcf | 0xd3 => 9,
        0xa0..=0xbf => 1 + usize::from(marker & 0x1f),
        0xc4 | 0xd9 => 2 + usize::from(*bytes.get(1).ok_or_else(broken)?),
        0xc5 | 0xda => 3 + usize::from(u16::from_be_bytes(read(bytes, 1)?)),
        0xc6 | 0xdb => 5 + u32::from_be_bytes(read(bytes, 1)?) as usize,
        _ => return Err(broken()),
    })
}

/// `N` bytes of `bytes` from `at`.
fn read<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N]> {
    bytes
        .get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::Corrupt("truncated captured value".into()))
}

fn decode(bytes: &[u8]) -> Result<Vec<Value>> {
    rmp_serde::from_slice(bytes)
        .map_err(|e| Error::Corrupt(format!("unreadable captured row: {e}")))
}

fn encode_values(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    write_array_len(&mut out, values.len());
    for value in values {
        write_value(&mut out, borrowed(value));
    }
    out
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    let _ = rmp::encode::write_str(out, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChangeSet, RowChange, TableChanges};
    use crate::store::affinity::{Affinity, ColumnType};
    use crate::store::capture::Buffer;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn int(v: i64) -> Value {
        Value::Integer(v)
    }

    fn shape() -> TableShape {
        TableShape::new(
            "t".into(),
            vec!["id".into(), "v".into(), "b".into()],
            vec![0, 1, 2],
            vec![0],
            vec![ColumnType::Loose(Affinity::Blob); 3],
        )
    }

    /// Records one hook call: `before` and `after` are full rows.
    fn hook(buffer: &mut Buffer, before: Option<&[Value]>, after: Option<&[Value]>) {
        let shape = shape();
        let image = |buffer: &mut Buffer, row: &[Value]| {
            buffer
                .image(&shape, |i| Ok(borrowed(&row[i as usize])))
                .expect("image")
        };
        match (before, after) {
            (None, Some(a)) => {
                let (after, key) = image(buffer, a);
                buffer.touch(key, None, Some(after)).expect("touch");
            }
            (Some(b), None) => {
                let (before, key) = image(buffer, b);
                buffer.touch(key, Some(before), None).expect("touch");
            }
            (Some(b), Some(a)) => {
                let (before, old_key) = image(buffer, b);
                let (after, new_key) = image(buffer, a);
                if buffer.bytes(old_key) == buffer.bytes(new_key) {
                    buffer
                        .touch(new_key, Some(before), Some(after))
                        .expect("touch");
                } else {
                    buffer.touch(old_key, Some(before), None).expect("touch");
                    buffer.touch(new_key, None, Some(after)).expect("touch");
                }
            }
            (None, None) => {}
        }
    }

    #[test]
    fn the_arena_encoding_is_exactly_the_change_set_encoding() {
        let mut buffer = Buffer::default();
        let text = |s: &str| Value::Text(s.into());
        let blob = Value::Blob(vec![1, 2, 3]);
        hook(
            &mut buffer,
            Some(&[int(1), text("a"), Value::Null]),
            Some(&[int(1), text("b"), Value::Null]),
        );
        hook(
            &mut buffer,
            Some(&[int(1), text("b"), Value::Null]),
            Some(&[int(1), text("c"), blob.clone()]),
        );
        hook(
            &mut buffer,
            None,
            Some(&[int(2), Value::Real(0.5), Value::Null]),
        );
        hook(
            &mut buffer,
            None,
            Some(&[int(3), text("gone"), Value::Null]),
        );
        hook(
            &mut buffer,
            Some(&[int(3), text("gone"), Value::Null]),
            None,
        );
        hook(
            &mut buffer,
            Some(&[int(4), text("x"), Value::Null]),
            Some(&[int(5), text("x"), Value::Null]),
        );
        hook(
            &mut buffer,
            Some(&[int(6), text("same"), Value::Null]),
            Some(&[int(6), text("same"), Value::Null]),
        );
        let taken = vec![TakenTable {
            shape: shape().into(),
            buffer,
        }];
        let (bytes, rows) = encode(taken, false, |_, _| Ok(None))
            .expect("encode")
            .expect("changes");
        assert_eq!(rows, 4);
        let expected = ChangeSet {
            tables: vec![TableChanges {
                table: "t".into(),
                columns: vec!["id".into(), "v".into(), "b".into()],
                primary_key: vec![0],
                rows: vec![
                    RowChange::Update {
                        key: vec![int(1)],
                        columns: vec![1, 2],
                        old: vec![text("a"), Value::Null],
                        new: vec![text("c"), blob],
                    },
                    RowChange::Insert {
                        values: vec![int(2), Value::Real(0.5), Value::Null],
                    },
                    RowChange::Delete {
                        old: vec![int(4), text("x"), Value::Null],
                    },
                    RowChange::Insert {
                        values: vec![int(5), text("x"), Value::Null],
                    },
                ],
            }],
        };
        assert_eq!(ChangeSet::from_bytes(&bytes).expect("decode"), expected);
        assert_eq!(bytes, expected.to_bytes().expect("encode"));
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

    #[test]
    fn nothing_changed_encodes_to_none() {
        let mut buffer = Buffer::default();
        hook(&mut buffer, None, Some(&[int(1), Value::Null, Value::Null]));
        hook(&mut buffer, Some(&[int(1), Value::Null, Value::Null]), None);
        let taken = vec![TakenTable {
            shape: shape().into(),
            buffer,
        }];
        assert_eq!(encode(taken, false, |_, _| Ok(None)).expect("encode"), None);
    }

    #[test]
    fn verification_takes_the_last_image_from_the_table() {
        let mut buffer = Buffer::default();
        hook(&mut buffer, None, Some(&[int(1), Value::Null, Value::Null]));
        let taken = vec![TakenTable {
            shape: shape().into(),
            buffer,
        }];
        assert_eq!(encode(taken, true, |_, _| Ok(None)).expect("encode"), None);
    }
}
