//! How the shared data types serialise to MessagePack: SQL values as MessagePack's own types (nil,
//! int, float64, str, bin), device ids as 16-byte `bin`, and row changes as arrays led by a kind
//! number (0 insert, 1 update, 2 delete), which keeps a row's overhead to three bytes. These forms
//! are part of the change-log and bundle formats, so they never change within a format version.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{DeviceId, RowChange, Value};

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Integer(v) => serializer.serialize_i64(*v),
            Value::Real(v) => serializer.serialize_f64(*v),
            Value::Text(v) => serializer.serialize_str(v),
            Value::Blob(v) => serializer.serialize_bytes(v),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("nil, an integer, a float, a string or bytes")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Integer)
            .map_err(|_| E::custom("integer out of SQLite's 64-bit range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Real(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Blob(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Blob(v))
    }
}

impl Serialize for DeviceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for DeviceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_bytes(DeviceIdVisitor)
    }
}

struct DeviceIdVisitor;

impl<'de> Visitor<'de> for DeviceIdVisitor {
    type Value = DeviceId;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("16 bytes")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<DeviceId, E> {
        v.try_into()
            .map(DeviceId)
            .map_err(|_| E::invalid_length(v.len(), &self))
    }
}

impl RowChange {
    const INSERT: u8 = 0;
    const UPDATE: u8 = 1;
    const DELETE: u8 = 2;
}

impl Serialize for RowChange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        match self {
            RowChange::Insert { values } => {
                let mut t = serializer.serialize_tuple(2)?;
                t.serialize_element(&RowChange::INSERT)?;
                t.serialize_element(values)?;
                t.end()
            }
            RowChange::Update {
                key,
                columns,
                old,
                new,
            } => {
                let mut t = serializer.serialize_tuple(5)?;
                t.serialize_element(&RowChange::UPDATE)?;
                t.serialize_element(key)?;
                t.serialize_element(columns)?;
                t.serialize_element(old)?;
                t.serialize_element(new)?;
                t.end()
            }
            RowChange::Delete { old } => {
                let mut t = serializer.serialize_tuple(2)?;
                t.serialize_element(&RowChange::DELETE)?;
                t.serialize_element(old)?;
                t.end()
            }
        }
    }
}
