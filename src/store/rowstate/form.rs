//! The stored forms of a row's key and merge state (`_sync_rows.pk` and `.meta`).
//!
//! A key is a MessagePack array of the key columns' values (the bytes capture produces). A merge
//! state has three forms, told apart by the first element of its array:
//!
//! - **short** (`[origin, seq, hlc]` or `[origin, seq, hlc, generation]`, first element a byte
//!   string): a row one insert created and nothing touched since, which is most rows after a first
//!   sync. The insert wrote the columns of the table's column generation `generation` (0 when
//!   absent). 30 bytes.
//! - **full** (`[2, stamps, live, deleted, columns, heads, tombstone]`): the distinct stamps
//!   `[[hlc, origin], …]` once, then indexes into them: the existence stamp, each written
//!   column's `[name, stamp]` (sorted by name), each head's `[seq, stamp, delete, columns or nil]`,
//!   and the tombstone (`nil` or `[[name, value], …]`).
//! - **format 1** (`[live, deleted, {column: stamp}, heads, tombstone]`, first element an array),
//!   written by older builds and read as if every column of generation 0 carried `live` unless
//!   listed: that is what it meant.

use crate::codec::{write, DecodeError, Reader};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, Dot};
use crate::merge::{Head, RowMeta, Stamp};
use crate::model::{Value, ValueRef};

/// The leading element of a full-form merge state.
const FULL: u64 = 2;

/// The encoded form of a primary key.
pub fn encode_key<'a>(key: impl ExactSizeIterator<Item = ValueRef<'a>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    write::values(&mut out, key);
    out
}

/// Decodes an encoded primary key.
pub fn decode_key(bytes: &[u8]) -> Result<Vec<Value>> {
    let broken = |e: DecodeError| Error::Corrupt(format!("unreadable row key: {e}"));
    let mut reader = Reader::new(bytes);
    let len = reader.array_len(1).map_err(broken)?;
    let key = (0..len)
        .map(|_| reader.value().map(ValueRef::to_value))
        .collect::<std::result::Result<_, _>>()
        .map_err(broken)?;
    reader.finish("key").map_err(broken)?;
    Ok(key)
}

/// Encodes a merge state; `generations` are the table's column generations (the short form is
/// used when the state is an untouched insert of exactly one generation's columns).
pub fn encode_meta(meta: &RowMeta, generations: &[Vec<String>]) -> Vec<u8> {
    let short = generations
        .iter()
        .enumerate()
        .rev()
        .find_map(|(g, columns)| meta.only_insert(columns).map(|head| (g, head)));
    if let Some((generation, head)) = short {
        return encode_short(head, generation as u32);
    }
    let mut stamps: Vec<Stamp> = Vec::with_capacity(2);
    let mut index = |stamp: Stamp| -> u64 {
        match stamps.iter().position(|s| *s == stamp) {
            Some(i) => i as u64,
            None => {
                stamps.push(stamp);
                (stamps.len() - 1) as u64
            }
        }
    };
    let live = index(meta.live);
    let columns: Vec<(&str, u64)> = meta
        .columns
        .iter()
        .map(|(c, s)| (c.as_str(), index(*s)))
        .collect();
    let heads: Vec<(&Head, u64)> = meta.heads.iter().map(|h| (h, index(h.stamp()))).collect();
    let mut out = Vec::with_capacity(64);
    write::array_len(&mut out, 7);
    write::uint(&mut out, FULL);
    write::array_len(&mut out, stamps.len());
    for stamp in &stamps {
        write::array_len(&mut out, 2);
        write::uint(&mut out, stamp.hlc);
        write::device(&mut out, &stamp.origin);
    }
    write::uint(&mut out, live);
    write::bool(&mut out, meta.deleted);
    write::array_len(&mut out, columns.len());
    for (column, stamp) in columns {
        write::array_len(&mut out, 2);
        write::str(&mut out, column);
        write::uint(&mut out, stamp);
    }
    write::array_len(&mut out, heads.len());
    for (head, stamp) in heads {
        write::array_len(&mut out, 4);
        write::uint(&mut out, head.dot.seq);
        write::uint(&mut out, stamp);
        write::bool(&mut out, head.delete);
        match &head.columns {
            Some(columns) => {
                write::array_len(&mut out, columns.len());
                for column in columns {
                    write::str(&mut out, column);
                }
            }
            None => write::nil(&mut out),
        }
    }
    write_tombstone(&mut out, meta.tombstone.as_deref());
    out
}

/// The short form of a row state that the insert `head` created.
pub fn encode_short(head: &Head, generation: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    write::array_len(&mut out, if generation == 0 { 3 } else { 4 });
    write::device(&mut out, &head.dot.origin);
    write::uint(&mut out, head.dot.seq);
    write::uint(&mut out, head.hlc);
    if generation != 0 {
        write::uint(&mut out, u64::from(generation));
    }
    out
}

fn write_tombstone(out: &mut Vec<u8>, tombstone: Option<&[(String, Value)]>) {
    match tombstone {
        Some(values) => {
            write::array_len(out, values.len());
            for (column, value) in values {
                write::array_len(out, 2);
                write::str(out, column);
                write::value(out, value.as_ref());
            }
        }
        None => write::nil(out),
    }
}

/// Decodes a merge state of any form; `generations` are the table's column generations.
pub fn decode_meta(bytes: &[u8], generations: &[Vec<String>]) -> Result<RowMeta> {
    let mut reader = Reader::new(bytes);
    let meta = read_meta(&mut reader, generations).and_then(|meta| {
        reader.finish("row state")?;
        Ok(meta)
    });
    meta.map_err(|e| Error::Corrupt(format!("unreadable row state: {e}")))
}

fn read_meta(
    reader: &mut Reader<'_>,
    generations: &[Vec<String>],
) -> std::result::Result<RowMeta, DecodeError> {
    let fields = reader.array_len(1)?;
    let first = *reader.rest().first().ok_or("an empty row state")?;
    match first {
        // bin8: the short form's origin.
        0xc4 => read_short(reader, fields, generations),
        // An array: a format-1 state's existence stamp.
        0x90..=0x9f | 0xdc | 0xdd => read_format_1(reader, fields, generations),
        _ => read_full(reader, fields),
    }
}

fn generation_columns(
    generations: &[Vec<String>],
    generation: u64,
) -> std::result::Result<&[String], DecodeError> {
    usize::try_from(generation)
        .ok()
        .and_then(|g| generations.get(g))
        .map(Vec::as_slice)
        .ok_or_else(|| format!("column generation {generation} is unknown"))
}

fn read_short(
    reader: &mut Reader<'_>,
    fields: usize,
    generations: &[Vec<String>],
) -> std::result::Result<RowMeta, DecodeError> {
    if !(3..=4).contains(&fields) {
        return Err(format!("a short row state of {fields} fields"));
    }
    let origin = reader.device()?;
    let seq = reader.uint()?;
    let hlc = reader.uint()?;
    let generation = if fields == 4 { reader.uint()? } else { 0 };
    let head = Head {
        dot: Dot::new(origin, seq),
        hlc,
        delete: false,
        columns: None,
    };
    let columns = generation_columns(generations, generation)?;
    Ok(RowMeta::inserted(head, columns.iter().map(String::as_str)))
}

fn read_full(reader: &mut Reader<'_>, fields: usize) -> std::result::Result<RowMeta, DecodeError> {
    if fields != 7 || reader.uint()? != FULL {
        return Err("an unknown row state form".into());
    }
    let count = reader.array_len(3)?;
    let mut stamps = Vec::with_capacity(count);
    for _ in 0..count {
        reader.fields(2, "a stamp")?;
        let hlc = reader.uint()?;
        stamps.push(Stamp {
            hlc,
            origin: reader.device()?,
        });
    }
    let stamp = |reader: &mut Reader<'_>| -> std::result::Result<Stamp, DecodeError> {
        let i = reader.uint()?;
        usize::try_from(i)
            .ok()
            .and_then(|i| stamps.get(i).copied())
            .ok_or_else(|| format!("stamp index {i} out of range"))
    };
    let live = stamp(reader)?;
    let deleted = reader.bool()?;
    let count = reader.array_len(3)?;
    let mut columns = Vec::with_capacity(count);
    for _ in 0..count {
        reader.fields(2, "a column stamp")?;
        let name = reader.str()?.to_owned();
        columns.push((name, stamp(reader)?));
    }
    let count = reader.array_len(5)?;
    let mut heads = Vec::with_capacity(count);
    for _ in 0..count {
        reader.fields(4, "a head")?;
        let seq = reader.uint()?;
        let head_stamp = stamp(reader)?;
        let delete = reader.bool()?;
        heads.push(Head {
            dot: Dot::new(head_stamp.origin, seq),
            hlc: head_stamp.hlc,
            delete,
            columns: read_names(reader)?,
        });
    }
    Ok(RowMeta {
        live,
        deleted,
        columns,
        heads,
        tombstone: read_tombstone(reader)?,
    })
}

/// `nil`, or an array of column names.
fn read_names(reader: &mut Reader<'_>) -> std::result::Result<Option<Vec<String>>, DecodeError> {
    if reader.nil()? {
        return Ok(None);
    }
    let count = reader.array_len(1)?;
    (0..count)
        .map(|_| reader.str().map(str::to_owned))
        .collect::<std::result::Result<_, _>>()
        .map(Some)
}

fn read_tombstone(
    reader: &mut Reader<'_>,
) -> std::result::Result<Option<Vec<(String, Value)>>, DecodeError> {
    if reader.nil()? {
        return Ok(None);
    }
    let count = reader.array_len(2)?;
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        reader.fields(2, "a tombstone value")?;
        let column = reader.str()?.to_owned();
        values.push((column, reader.value()?.to_value()));
    }
    Ok(Some(values))
}

/// A format-1 stamp: `[hlc, origin]`.
fn read_stamp_1(reader: &mut Reader<'_>) -> std::result::Result<Stamp, DecodeError> {
    reader.fields(2, "a stamp")?;
    let hlc = reader.uint()?;
    Ok(Stamp {
        hlc,
        origin: reader.device()?,
    })
}

fn read_format_1(
    reader: &mut Reader<'_>,
    fields: usize,
    generations: &[Vec<String>],
) -> std::result::Result<RowMeta, DecodeError> {
    if fields != 5 {
        return Err(format!("a format-1 row state of {fields} fields"));
    }
    let live = read_stamp_1(reader)?;
    let deleted = reader.bool()?;
    let listed = reader.map_len(3)?;
    let mut exceptions: Vec<(String, Stamp)> = Vec::with_capacity(listed);
    for _ in 0..listed {
        let column = reader.str()?.to_owned();
        exceptions.push((column, read_stamp_1(reader)?));
    }
    let count = reader.array_len(5)?;
    let mut heads = Vec::with_capacity(count);
    for _ in 0..count {
        reader.fields(5, "a format-1 head")?;
        let origin: DeviceId = reader.device()?;
        let seq = reader.uint()?;
        let hlc = reader.uint()?;
        let delete = reader.bool()?;
        heads.push(Head {
            dot: Dot::new(origin, seq),
            hlc,
            delete,
            columns: read_names(reader)?,
        });
    }
    let tombstone = read_tombstone(reader)?;
    let mut columns: Vec<(String, Stamp)> = generation_columns(generations, 0)?
        .iter()
        .filter(|c| !exceptions.iter().any(|(e, _)| e == *c))
        .map(|c| (c.clone(), live))
        .collect();
    columns.extend(exceptions);
    columns.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(RowMeta {
        live,
        deleted,
        columns,
        heads,
        tombstone,
    })
}
