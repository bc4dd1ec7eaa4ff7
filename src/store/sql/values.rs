//! The bridge between SQLite's values (rusqlite) and the crate's own [`Value`] and [`ValueRef`]:
//! binding them to statements and reading them from rows. The one place the two meet.

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef as SqlValueRef};

use crate::model::{Value, ValueRef};

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(to_sql_ref(self)))
    }
}

impl ToSql for ValueRef<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            ValueRef::Null => SqlValueRef::Null,
            ValueRef::Integer(v) => SqlValueRef::Integer(v),
            ValueRef::Real(v) => SqlValueRef::Real(v),
            ValueRef::Text(v) => SqlValueRef::Text(v.as_bytes()),
            ValueRef::Blob(v) => SqlValueRef::Blob(v),
        }))
    }
}

/// Copies a value read from SQLite. TEXT that is not UTF-8 (which SQLite allows) is read with
/// U+FFFD replacements; capture refuses to record such text (see [`borrowed`]).
pub fn owned(value: SqlValueRef<'_>) -> Value {
    match value {
        SqlValueRef::Null => Value::Null,
        SqlValueRef::Integer(v) => Value::Integer(v),
        SqlValueRef::Real(v) => Value::Real(v),
        SqlValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
        SqlValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
    }
}

/// Borrows a value read from SQLite, exactly; `None` for TEXT that is not valid UTF-8, which no
/// change set can carry.
pub fn borrowed(value: SqlValueRef<'_>) -> Option<ValueRef<'_>> {
    Some(match value {
        SqlValueRef::Null => ValueRef::Null,
        SqlValueRef::Integer(v) => ValueRef::Integer(v),
        SqlValueRef::Real(v) => ValueRef::Real(v),
        SqlValueRef::Text(bytes) => ValueRef::Text(std::str::from_utf8(bytes).ok()?),
        SqlValueRef::Blob(bytes) => ValueRef::Blob(bytes),
    })
}

/// An owned value in SQLite's borrowed form.
pub fn to_sql_ref(value: &Value) -> SqlValueRef<'_> {
    match value {
        Value::Null => SqlValueRef::Null,
        Value::Integer(v) => SqlValueRef::Integer(*v),
        Value::Real(v) => SqlValueRef::Real(*v),
        Value::Text(v) => SqlValueRef::Text(v.as_bytes()),
        Value::Blob(v) => SqlValueRef::Blob(v),
    }
}
