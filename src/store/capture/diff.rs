//! The diff: turning a transaction's buffered row images into its change-log record.
//!
//! For every touched row the net change is the difference between its first and last image:
//! nothing when they are equal, an insert or a delete when the row only exists at one end, and an
//! update of just the differing columns otherwise. Inserts and deletes are copied from the capture
//! arena byte for byte, already in their final form; only updates are decoded to compare columns.
//! The output is exactly the MessagePack that [`ChangeSet`](crate::model::ChangeSet) deserialises
//! from (and serialises to), which a test checks.

use crate::codec::changes::{kind, write_table_header};
use crate::codec::{write, Reader};
use crate::error::{Error, Result};
use crate::model::{Value, ValueRef};
use crate::store::capture::TakenTable;
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
            write_table_header(
                &mut table,
                &shape.name,
                shape.columns.iter().map(String::as_str),
                &shape.primary_key,
                count,
            );
            table.extend_from_slice(&rows);
            tables.push(table);
        }
    }
    if tables.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(tables.iter().map(Vec::len).sum::<usize>() + 8);
    write::array_len(&mut out, 1);
    write::array_len(&mut out, tables.len());
    for table in tables {
        out.extend_from_slice(&table);
    }
    Ok(Some((out, total)))
}

/// Writes the row change between two encoded images; returns whether anything changed.
#[inline(never)]
fn write_net(
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
fn cells(image: &[u8]) -> Result<Vec<&[u8]>> {
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

fn decode(bytes: &[u8]) -> Result<Vec<Value>> {
    let broken = |e: String| Error::Internal(format!("unreadable captured key: {e}"));
    let mut reader = Reader::new(bytes);
    let count = reader.array_len(1).map_err(broken)?;
    (0..count)
        .map(|_| reader.value().map(ValueRef::to_value))
        .collect::<std::result::Result<_, _>>()
        .map_err(broken)
}

fn encode_values(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    write::values(&mut out, values.iter().map(Value::as_ref));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChangeSet, RowChange, TableChanges};
    use crate::store::affinity::{Affinity, ColumnType};
    use crate::store::capture::Buffer;
    use crate::store::values::to_sql_ref;
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
                .image(&shape, |i| Ok(to_sql_ref(&row[i as usize])))
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
