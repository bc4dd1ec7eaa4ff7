//! The diff: turning a transaction's buffered row images into its change-log record.
//!
//! For every touched row the net change is the difference between its first and last image
//! ([`write_net`], in the codec). The output is exactly the MessagePack that [`ChangeSet`](crate::model::ChangeSet) deserialises
//! from (and serialises to), which a test checks.

use crate::codec::changes::write_table_header;
use crate::codec::diff::write_net;
use crate::codec::{write, Reader};
use crate::error::{Error, Result};
use crate::model::{Value, ValueRef};
use crate::store::capture::TakenTable;
use crate::store::schema::tables::TableShape;

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
    use crate::store::capture::Buffer;
    use crate::store::schema::affinity::{Affinity, ColumnType};
    use crate::store::sql::values::to_sql_ref;
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
