//! Plain data shared by every layer: SQL values, device ids, statement parameters and the shape of a
//! captured change.
//!
//! A committed local transaction becomes one [`ChangeRecord`]: its causal position (origin device,
//! per-device sequence number, hybrid logical clock, and the vector clock it was made against) plus a
//! [`ChangeSet`] of row changes grouped by table. Row changes name their columns through the table
//! entry, so a record stays meaningful on a replica whose columns are in another order. Values
//! serialise to MessagePack's own types (nil, int, float64, str, bin), so the encoding is compact
//! and self-describing.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::Serialize;

mod decode;
mod wire;

use crate::clock::VectorClock;
use crate::error::{Error, Result};

/// One SQLite value.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl PartialEq for Value {
    /// Exact equality: REALs compare by bit pattern, and `1`, `1.0` and `'1'` are all different, as
    /// they are different values to SQLite.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Real(a), Value::Real(b)) => a.to_bits() == b.to_bits(),
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::Blob(a), Value::Blob(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Null => {}
            Value::Integer(v) => v.hash(state),
            Value::Real(v) => v.to_bits().hash(state),
            Value::Text(v) => v.hash(state),
            Value::Blob(v) => v.hash(state),
        }
    }
}

/// A replica's identity: 16 bytes (a UUIDv7), shown as 32 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(pub [u8; 16]);

impl DeviceId {
    /// Builds a UUIDv7 from a Unix time in milliseconds and 10 random bytes.
    pub fn new_v7(unix_ms: u64, random: [u8; 10]) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
        bytes[6..].copy_from_slice(&random);
        bytes[6] = (bytes[6] & 0x0f) | 0x70;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        DeviceId(bytes)
    }

    /// Parses the 32-character lowercase hex form.
    pub fn from_hex(text: &str) -> Result<Self> {
        id_from_hex(text)
            .map(DeviceId)
            .ok_or_else(|| Error::InvalidArgument(format!("not a device id: {text:?}")))
    }

    /// Builds an id from a byte slice read back from storage.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        bytes
            .try_into()
            .map(DeviceId)
            .map_err(|_| Error::Corrupt(format!("device id of {} bytes", bytes.len())))
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&id_to_hex(&self.0))
    }
}

/// A 16-byte id (device, bundle or conflict) as 32 lowercase hex characters.
pub fn id_to_hex(bytes: &[u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 32 lowercase hex characters into a 16-byte id.
pub fn id_from_hex(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32
        || text
            .bytes()
            .any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// Statement parameters as the caller gave them.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Params {
    /// No parameters.
    #[default]
    None,
    /// Bound to `?` / `?NNN` in order, consumed statement by statement.
    Positional(Vec<Value>),
    /// Bound by name; keys are given without the `:`, `@` or `$` prefix.
    Named(Vec<(String, Value)>),
}

/// What `execute` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecOutcome {
    /// Rows changed by the INSERT, UPDATE and DELETE statements of the call (not counting triggers).
    pub changes: u64,
    /// SQLite's last inserted rowid after the call.
    pub last_insert_rowid: i64,
}

/// Rows returned by `query`: column names and one value per column per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// How a table's concurrent edits are settled (used by the merge; stored per synced table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictStrategy {
    /// Keep the conflict listed until the app resolves it.
    #[default]
    Manual,
    /// Resolve automatically: the later write (hybrid logical clock, then device id) wins.
    LastWriterWins,
    /// Merge columns changed on one side only; conflict only on columns changed on both.
    FieldMerge,
}

impl ConflictStrategy {
    /// The option string used by the JS API.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictStrategy::Manual => "manual",
            ConflictStrategy::LastWriterWins => "lww",
            ConflictStrategy::FieldMerge => "field-merge",
        }
    }

    /// Parses the option string used by the JS API.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "manual" => Ok(ConflictStrategy::Manual),
            "lww" => Ok(ConflictStrategy::LastWriterWins),
            "field-merge" => Ok(ConflictStrategy::FieldMerge),
            other => Err(Error::InvalidArgument(format!(
                "conflictStrategy must be \"manual\", \"lww\" or \"field-merge\", not {other:?}"
            ))),
        }
    }
}

/// One row's net change within a captured transaction. Column positions refer to the owning
/// [`TableChanges::columns`]. Encoded as a MessagePack array led by a kind number (0 insert,
/// 1 update, 2 delete) followed by the variant's fields, which keeps a row's overhead to 3 bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    /// A new row: every column's value.
    Insert { values: Vec<Value> },
    /// Changed columns of an existing row, identified by its primary key values.
    Update {
        key: Vec<Value>,
        columns: Vec<u32>,
        old: Vec<Value>,
        new: Vec<Value>,
    },
    /// A removed row: every column's value before the delete.
    Delete { old: Vec<Value> },
}

/// The changes of one table inside a [`ChangeSet`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableChanges {
    /// The table's name.
    pub table: String,
    /// Column names, in the order row values use.
    pub columns: Vec<String>,
    /// Positions (into `columns`) of the primary key columns, in key order.
    pub primary_key: Vec<u32>,
    /// Net row changes, in the order rows were first touched.
    pub rows: Vec<RowChange>,
}

impl TableChanges {
    /// The primary key values of a row change.
    pub fn key_of(&self, row: &RowChange) -> Result<Vec<Value>> {
        Ok(self.key_refs(row)?.into_iter().cloned().collect())
    }

    /// The primary key values of a row change, borrowed from it.
    pub fn key_refs<'a>(&self, row: &'a RowChange) -> Result<Vec<&'a Value>> {
        let pick = |values: &'a [Value]| {
            self.primary_key
                .iter()
                .map(|&i| values.get(i as usize))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::Corrupt(format!("row of {} lacks key columns", self.table)))
        };
        match row {
            RowChange::Insert { values } => pick(values),
            RowChange::Delete { old } => pick(old),
            RowChange::Update { key, .. } => Ok(key.iter().collect()),
        }
    }
}

/// All row changes of one captured transaction, grouped by table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChangeSet {
    pub tables: Vec<TableChanges>,
}

impl ChangeSet {
    /// Number of row changes.
    pub fn len(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len()).sum()
    }

    /// True when no row changed.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(|t| t.rows.is_empty())
    }

    /// The compact MessagePack form stored in the change log.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        rmp_serde::to_vec(self).map_err(|e| Error::Corrupt(format!("cannot encode changes: {e}")))
    }

    /// Decodes the change-log form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        decode::change_set(bytes).map_err(|e| Error::Corrupt(format!("undecodable changes: {e}")))
    }
}

/// One entry of the change log: a transaction's changes and their causal position.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// The device that made the change.
    pub origin: DeviceId,
    /// The origin's counter: 1 for its first record, then one more per record.
    pub seq: u64,
    /// Hybrid logical clock at commit (milliseconds << 16 | logical counter).
    pub hlc: u64,
    /// What the origin had seen from other devices when it committed (its causal context).
    pub clock: VectorClock,
    /// The row changes.
    pub changes: ChangeSet,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn values_round_trip_through_messagepack() {
        let values = vec![
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Integer(i64::MAX),
            Value::Integer(-1),
            Value::Real(0.1 + 0.2),
            Value::Real(-0.0),
            Value::Text("héllo 🌍\0".into()),
            Value::Blob(vec![]),
            Value::Blob(vec![0, 255, 7]),
        ];
        let bytes = rmp_serde::to_vec(&values).expect("encode");
        let back: Vec<Value> = rmp_serde::from_slice(&bytes).expect("decode");
        assert_eq!(back, values);
    }

    #[test]
    fn equality_is_exact_across_types() {
        assert_ne!(Value::Integer(1), Value::Real(1.0));
        assert_ne!(Value::Integer(1), Value::Text("1".into()));
        assert_ne!(Value::Real(0.0), Value::Real(-0.0));
    }

    #[test]
    fn device_id_is_uuid_v7_and_round_trips_as_hex() {
        let id = DeviceId::new_v7(0x0123_4567_89ab, [0xff; 10]);
        let hex = id.to_string();
        assert_eq!(hex.len(), 32);
        assert_eq!(&hex[..12], "0123456789ab");
        assert_eq!(&hex[12..13], "7");
        assert_eq!(DeviceId::from_hex(&hex), Ok(id));
        assert!(DeviceId::from_hex("0123").is_err());
        assert!(DeviceId::from_hex(&hex.to_uppercase()).is_err());
    }

    #[test]
    fn an_insert_costs_few_bytes_beyond_its_values() {
        let set = ChangeSet {
            tables: vec![TableChanges {
                table: "todos".into(),
                columns: vec![
                    "id".into(),
                    "title".into(),
                    "done".into(),
                    "updated_at".into(),
                ],
                primary_key: vec![0],
                rows: vec![RowChange::Insert {
                    values: vec![
                        Value::Integer(12345),
                        Value::Text("todo 12345".into()),
                        Value::Integer(0),
                        Value::Integer(1_764_000_000_000),
                    ],
                }],
            }],
        };
        let one = set.to_bytes().expect("encode").len();
        let mut two = set.clone();
        let row = two.tables[0].rows[0].clone();
        two.tables[0].rows.push(row);
        let per_row = two.to_bytes().expect("encode").len() - one;
        assert!(per_row <= 28, "an insert row costs {per_row} bytes");
        assert_eq!(
            ChangeSet::from_bytes(&set.to_bytes().expect("encode")),
            Ok(set)
        );
    }
}
