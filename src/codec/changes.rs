//! The change-set form: how one record's row changes are written, and a cursor that reads them
//! one row at a time.
//!
//! A change set is `[tables]` (a one-element array holding the array of tables); a table is
//! `[name, [column names], [key positions], [row changes]]`; a row change is an array led by its
//! kind: `[0, values]` (insert: every column), `[1, key, [positions], old, new]` (update of the
//! listed columns) or `[2, old]` (delete: every column before). This form is part of the change-log
//! and bundle formats, so it never changes within a format version.
//!
//! [`ChangeSetCursor`] reads the form from untrusted bytes without materialising it: rows come out
//! one at a time, borrowing their text and blobs from the input, and every array is checked against
//! its table's shape before anything is allocated for it. So reading costs memory in proportion to
//! one row, whatever the size of the change set.

use super::read::{DecodeError, Reader};
use super::write;
use crate::error::{Error, Result};
use crate::model::{ChangeSet, RowChange, TableChanges, Value, ValueRef};

/// The kind number that leads a row change.
pub mod kind {
    pub const INSERT: u8 = 0;
    pub const UPDATE: u8 = 1;
    pub const DELETE: u8 = 2;
}

/// Most columns a table entry may name: SQLite's own hard upper bound on a table's columns.
pub const MAX_COLUMNS: usize = 32_767;

/// The header of one table entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TableHeader<'a> {
    pub name: &'a str,
    pub columns: Vec<&'a str>,
    /// Positions into `columns` of the primary-key columns, in key order.
    pub primary_key: Vec<u32>,
    /// How many row changes follow.
    pub rows: usize,
}

/// One row change, borrowing its values from the change set's bytes. Positions refer to the
/// table header's columns.
#[derive(Debug, Clone, PartialEq)]
pub enum RowRef<'a> {
    Insert {
        values: Vec<ValueRef<'a>>,
    },
    Update {
        key: Vec<ValueRef<'a>>,
        columns: Vec<u32>,
        old: Vec<ValueRef<'a>>,
        new: Vec<ValueRef<'a>>,
    },
    Delete {
        old: Vec<ValueRef<'a>>,
    },
}

impl<'a> RowRef<'a> {
    /// The row's kind number.
    pub fn kind(&self) -> u8 {
        match self {
            RowRef::Insert { .. } => kind::INSERT,
            RowRef::Update { .. } => kind::UPDATE,
            RowRef::Delete { .. } => kind::DELETE,
        }
    }

    /// The primary-key values, in key order.
    pub fn key(&self, primary_key: &[u32]) -> Vec<ValueRef<'a>> {
        fn pick<'v>(values: &[ValueRef<'v>], primary_key: &[u32]) -> Vec<ValueRef<'v>> {
            primary_key
                .iter()
                .filter_map(|&i| values.get(i as usize).copied())
                .collect()
        }
        match self {
            RowRef::Insert { values } => pick(values, primary_key),
            RowRef::Delete { old } => pick(old, primary_key),
            RowRef::Update { key, .. } => key.clone(),
        }
    }

    /// An owned copy.
    pub fn to_change(&self) -> RowChange {
        let own = |values: &[ValueRef<'_>]| values.iter().map(|v| v.to_value()).collect();
        match self {
            RowRef::Insert { values } => RowChange::Insert {
                values: own(values),
            },
            RowRef::Update {
                key,
                columns,
                old,
                new,
            } => RowChange::Update {
                key: own(key),
                columns: columns.clone(),
                old: own(old),
                new: own(new),
            },
            RowRef::Delete { old } => RowChange::Delete { old: own(old) },
        }
    }
}

/// Reads a change set table by table and row by row.
#[derive(Debug, Clone)]
pub struct ChangeSetCursor<'a> {
    reader: Reader<'a>,
    tables_left: usize,
    /// The current table's column count and key length, and its rows not read yet.
    width: usize,
    key_len: usize,
    rows_left: usize,
}

impl<'a> ChangeSetCursor<'a> {
    /// A cursor at the start of the change set in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.fields(1, "a change set")?;
        let tables_left = reader.array_len(4)?;
        Ok(ChangeSetCursor {
            reader,
            tables_left,
            width: 0,
            key_len: 0,
            rows_left: 0,
        })
    }

    /// The next table's header (skipping the rows of the current one that were not read), or
    /// `None` after the last table, once the bytes are known to end there.
    pub fn next_table(&mut self) -> Result<Option<TableHeader<'a>>, DecodeError> {
        while self.rows_left > 0 {
            self.rows_left -= 1;
            self.reader.skip()?;
        }
        if self.tables_left == 0 {
            self.reader.finish("change set")?;
            return Ok(None);
        }
        self.tables_left -= 1;
        let reader = &mut self.reader;
        reader.fields(4, "a table entry")?;
        let name = reader.str()?;
        let width = reader.array_len(1)?;
        if width > MAX_COLUMNS {
            return Err(format!("a table entry names {width} columns"));
        }
        let columns = (0..width).map(|_| reader.str()).collect::<Result<_, _>>()?;
        let key_len = reader.array_len(1)?;
        if key_len == 0 || key_len > width {
            return Err(format!("a key of {key_len} of {width} columns"));
        }
        let primary_key = (0..key_len)
            .map(|_| position(reader, width))
            .collect::<Result<_, _>>()?;
        let rows = reader.array_len(3)?;
        self.width = width;
        self.key_len = key_len;
        self.rows_left = rows;
        Ok(Some(TableHeader {
            name,
            columns,
            primary_key,
            rows,
        }))
    }

    /// Skips the current table's next row change without decoding it; returns its kind, or `None`
    /// after the table's last row.
    pub fn skip_row(&mut self) -> Result<Option<u8>, DecodeError> {
        if self.rows_left == 0 {
            return Ok(None);
        }
        self.rows_left -= 1;
        let mut peek = self.reader.clone();
        peek.array_len(1)?;
        let kind = peek.int()?;
        self.reader.skip()?;
        match u8::try_from(kind) {
            Ok(k @ (kind::INSERT | kind::UPDATE | kind::DELETE)) => Ok(Some(k)),
            _ => Err(format!("unknown row change kind {kind}")),
        }
    }

    /// The current table's next row change of kind `wanted`, skipping (without decoding) the rows
    /// of other kinds before it; `None` after the last.
    pub fn next_row_of(&mut self, wanted: u8) -> Result<Option<RowRef<'a>>, DecodeError> {
        while self.rows_left > 0 {
            let mut peek = self.reader.clone();
            peek.array_len(1)?;
            if peek.int()? == i64::from(wanted) {
                return self.next_row();
            }
            self.rows_left -= 1;
            self.reader.skip()?;
        }
        Ok(None)
    }

    /// The current table's next row change, or `None` after its last. (Never inlined: a long
    /// change set is read in one call of its caller, and only a function called many times is
    /// optimised by WebAssembly engines without on-stack replacement.)
    #[inline(never)]
    pub fn next_row(&mut self) -> Result<Option<RowRef<'a>>, DecodeError> {
        if self.rows_left == 0 {
            return Ok(None);
        }
        self.rows_left -= 1;
        let (width, key_len) = (self.width, self.key_len);
        let reader = &mut self.reader;
        let fields = reader.array_len(1)?;
        let kind = reader.int()?;
        let expected = match kind {
            0 | 2 => 2,
            1 => 5,
            other => return Err(format!("unknown row change kind {other}")),
        };
        if fields != expected {
            return Err(format!("row change of kind {kind} has {fields} fields"));
        }
        Ok(Some(match kind as u8 {
            kind::INSERT => RowRef::Insert {
                values: reader.values(width, "an insert")?,
            },
            kind::UPDATE => {
                let key = reader.values(key_len, "an update's key")?;
                let changed = reader.array_len(1)?;
                if changed == 0 || changed > width {
                    return Err(format!("an update of {changed} of {width} columns"));
                }
                let columns = (0..changed)
                    .map(|_| position(reader, width))
                    .collect::<Result<Vec<_>, _>>()?;
                if columns.windows(2).any(|w| w[0] >= w[1]) {
                    return Err("an update's columns are not in increasing order".into());
                }
                RowRef::Update {
                    key,
                    columns,
                    old: reader.values(changed, "an update's old values")?,
                    new: reader.values(changed, "an update's new values")?,
                }
            }
            _ => RowRef::Delete {
                old: reader.values(width, "a delete")?,
            },
        }))
    }
}

/// A column position below `width`.
fn position(reader: &mut Reader<'_>, width: usize) -> Result<u32, DecodeError> {
    let n = reader.uint()?;
    match u32::try_from(n) {
        Ok(p) if (p as usize) < width => Ok(p),
        _ => Err(format!("column position {n} out of range")),
    }
}

/// Every row change of a change set, in order, with its table header (for tests and inspection).
pub fn decode(bytes: &[u8]) -> Result<ChangeSet, DecodeError> {
    let mut cursor = ChangeSetCursor::new(bytes)?;
    let mut tables = Vec::new();
    while let Some(header) = cursor.next_table()? {
        let mut rows = Vec::with_capacity(header.rows.min(4096));
        while let Some(row) = cursor.next_row()? {
            rows.push(row.to_change());
        }
        tables.push(TableChanges {
            table: header.name.to_owned(),
            columns: header.columns.iter().map(|c| (*c).to_owned()).collect(),
            primary_key: header.primary_key,
            rows,
        });
    }
    Ok(ChangeSet { tables })
}

/// Writes a table entry's header: name, columns, key positions and the row count.
pub fn write_table_header<'a>(
    out: &mut Vec<u8>,
    name: &str,
    columns: impl ExactSizeIterator<Item = &'a str>,
    primary_key: &[u32],
    rows: usize,
) {
    write::array_len(out, 4);
    write::str(out, name);
    write::array_len(out, columns.len());
    for column in columns {
        write::str(out, column);
    }
    write::array_len(out, primary_key.len());
    for &position in primary_key {
        write::uint(out, u64::from(position));
    }
    write::array_len(out, rows);
}

/// Writes one row change.
pub fn write_row(out: &mut Vec<u8>, row: &RowChange) {
    fn refs(values: &[Value]) -> impl ExactSizeIterator<Item = ValueRef<'_>> {
        values.iter().map(Value::as_ref)
    }
    match row {
        RowChange::Insert { values } => {
            write::array_len(out, 2);
            write::uint(out, u64::from(kind::INSERT));
            write::values(out, refs(values));
        }
        RowChange::Update {
            key,
            columns,
            old,
            new,
        } => {
            write::array_len(out, 5);
            write::uint(out, u64::from(kind::UPDATE));
            write::values(out, refs(key));
            write::array_len(out, columns.len());
            for &c in columns {
                write::uint(out, u64::from(c));
            }
            write::values(out, refs(old));
            write::values(out, refs(new));
        }
        RowChange::Delete { old } => {
            write::array_len(out, 2);
            write::uint(out, u64::from(kind::DELETE));
            write::values(out, refs(old));
        }
    }
}

/// The change-set form of `set`.
pub fn encode(set: &ChangeSet) -> Vec<u8> {
    let mut out = Vec::new();
    write::array_len(&mut out, 1);
    write::array_len(&mut out, set.tables.len());
    for table in &set.tables {
        write_table_header(
            &mut out,
            &table.table,
            table.columns.iter().map(String::as_str),
            &table.primary_key,
            table.rows.len(),
        );
        for row in &table.rows {
            write_row(&mut out, row);
        }
    }
    out
}

impl ChangeSet {
    /// The compact MessagePack form stored in the change log.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(encode(self))
    }

    /// Decodes a change set stored in the change log (a failure means the log is damaged).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        decode(bytes).map_err(|e| Error::Corrupt(format!("undecodable changes: {e}")))
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
        assert_eq!(decode(&encode(&set)), Ok(set));
    }

    #[test]
    fn refuses_every_truncation_and_trailing_bytes() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "prefix of {len} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0xc0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn refuses_lengths_larger_than_the_input() {
        // [[ "t", ["a"], [0], array32 of 2^32-1 rows ]] in a few bytes.
        let bytes = [
            0x91, 0x91, 0x94, 0xa1, b't', 0x91, 0xa1, b'a', 0x91, 0x00, 0xdd, 0xff, 0xff, 0xff,
            0xff,
        ];
        let error = decode(&bytes).expect_err("huge length");
        assert!(error.contains("exceeds the input"), "{error}");
    }

    #[test]
    fn refuses_rows_that_do_not_fit_their_table() {
        // One column "a" keyed by itself; an insert with two values.
        let bytes = [
            0x91, 0x91, 0x94, 0xa1, b't', 0x91, 0xa1, b'a', 0x91, 0x00, 0x91, 0x92, 0x00, 0x92,
            0x01, 0x02,
        ];
        assert!(decode(&bytes).unwrap_err().contains("2 values, not 1"));
        // A key position past the columns.
        let bytes = [
            0x91, 0x91, 0x94, 0xa1, b't', 0x91, 0xa1, b'a', 0x91, 0x05, 0x90,
        ];
        assert!(decode(&bytes).unwrap_err().contains("out of range"));
    }

    #[test]
    fn refuses_maps_bad_kinds_and_invalid_text() {
        assert!(decode(&[0x81, 0xa1, b't', 0x90]).is_err());
        let bad_kind = [
            0x91, 0x91, 0x94, 0xa1, b't', 0x91, 0xa1, b'a', 0x91, 0x00, 0x91, 0x92, 0x07, 0x90,
        ];
        assert!(decode(&bad_kind).unwrap_err().contains("kind 7"));
        let bad_text = [0x91, 0x91, 0x94, 0xa1, 0xff, 0x90, 0x90, 0x90];
        assert!(decode(&bad_text).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn an_insert_costs_few_bytes_beyond_its_values() {
        let row = RowChange::Insert {
            values: vec![
                Value::Integer(12345),
                Value::Text("todo 12345".into()),
                Value::Integer(0),
                Value::Integer(1_764_000_000_000),
            ],
        };
        let mut out = Vec::new();
        write_row(&mut out, &row);
        assert!(out.len() <= 28, "an insert row costs {} bytes", out.len());
    }
}
