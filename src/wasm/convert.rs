//! Converting values between JavaScript and the engine.
//!
//! In: `null`/`undefined` → NULL, integral numbers within ±(2^53−1) → INTEGER, other numbers →
//! REAL, `bigint` → INTEGER (must fit 64 bits), strings → TEXT, booleans → 0/1, `Uint8Array` →
//! BLOB. Out: INTEGER → number, or bigint beyond ±(2^53−1); REAL → number; TEXT → string; BLOB →
//! a fresh `Uint8Array`; NULL → null. Anything else is an `ERR_INVALID_ARGUMENT`.

use js_sys::{Array, BigInt, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::clock::{Hlc, VectorClock};
use crate::engine::{ChangeRecord, Choice, Conflict, ImportOutcome, Params, PendingRecord, Rows};
use crate::error::{Error, Result};
use crate::model::{RowChange, TableChanges, Value};

/// Largest integer a JS number holds exactly.
const MAX_SAFE: i64 = (1 << 53) - 1;

/// A JS value as an SQL value.
pub fn value_from_js(value: &JsValue) -> Result<Value> {
    if value.is_null() || value.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(number) = value.as_f64() {
        let integral = number.fract() == 0.0 && number.abs() <= MAX_SAFE as f64;
        return Ok(if integral {
            Value::Integer(number as i64)
        } else {
            Value::Real(number)
        });
    }
    if let Some(text) = value.as_string() {
        return Ok(Value::Text(text));
    }
    if let Some(flag) = value.as_bool() {
        return Ok(Value::Integer(i64::from(flag)));
    }
    if value.is_bigint() {
        return i64::try_from(value.clone())
            .map(Value::Integer)
            .map_err(|_| {
                Error::InvalidArgument("bigint parameter does not fit in 64 bits".into())
            });
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(Value::Blob(bytes.to_vec()));
    }
    Err(Error::InvalidArgument(format!(
        "unsupported parameter type {}; use null, number, bigint, string, boolean or Uint8Array",
        value.js_typeof().as_string().unwrap_or_default()
    )))
}

/// An SQL value as a JS value.
pub fn value_to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Integer(v) if (-MAX_SAFE..=MAX_SAFE).contains(v) => JsValue::from_f64(*v as f64),
        Value::Integer(v) => BigInt::from(*v).into(),
        Value::Real(v) => JsValue::from_f64(*v),
        Value::Text(v) => JsValue::from_str(v),
        Value::Blob(v) => Uint8Array::from(v.as_slice()).into(),
    }
}

/// Statement parameters: an array (positional), a plain object (named), or nothing.
pub fn params_from_js(params: &JsValue) -> Result<Params> {
    if params.is_null() || params.is_undefined() {
        return Ok(Params::None);
    }
    if let Some(array) = params.dyn_ref::<Array>() {
        return array
            .iter()
            .map(|v| value_from_js(&v))
            .collect::<Result<_>>()
            .map(Params::Positional);
    }
    if params.is_object() && !params.is_instance_of::<Uint8Array>() {
        let entries = Object::entries(params.unchecked_ref());
        let mut named = Vec::with_capacity(entries.length() as usize);
        for entry in entries.iter() {
            let pair: Array = entry.unchecked_into();
            let key = pair.get(0).as_string().unwrap_or_default();
            named.push((key, value_from_js(&pair.get(1))?));
        }
        return Ok(Params::Named(named));
    }
    Err(Error::InvalidArgument(
        "params must be an array or an object".into(),
    ))
}

/// Query rows as an array of plain objects keyed by column name.
pub fn rows_to_js(rows: &Rows) -> Result<Array> {
    let keys: Vec<JsValue> = rows.columns.iter().map(|c| JsValue::from_str(c)).collect();
    let out = Array::new_with_length(rows.rows.len() as u32);
    for (i, row) in rows.rows.iter().enumerate() {
        let object = Object::new();
        for (key, value) in keys.iter().zip(row) {
            put(&object, key, &value_to_js(value))?;
        }
        out.set(i as u32, object.into());
    }
    Ok(out)
}

/// A vector clock as `{ deviceId: counter }`.
pub fn clock_to_js(clock: &VectorClock) -> Result<Object> {
    let object = Object::new();
    for (device, seq) in clock.iter() {
        put(
            &object,
            &JsValue::from_str(&device.to_string()),
            &JsValue::from_f64(*seq as f64),
        )?;
    }
    Ok(object)
}

/// A change-log record as the object `changeLog()` documents.
pub fn record_to_js(record: &ChangeRecord) -> Result<Object> {
    let object = Object::new();
    put(
        &object,
        &"origin".into(),
        &JsValue::from_str(&record.origin.to_string()),
    )?;
    put(
        &object,
        &"seq".into(),
        &JsValue::from_f64(record.seq as f64),
    )?;
    put(
        &object,
        &"hlc".into(),
        &JsValue::from_str(&record.hlc.to_string()),
    )?;
    put(
        &object,
        &"committedAt".into(),
        &JsValue::from_f64(Hlc::millis(record.hlc) as f64),
    )?;
    put(
        &object,
        &"clock".into(),
        &clock_to_js(&record.clock)?.into(),
    )?;
    let changes = Array::new();
    for table in &record.changes.tables {
        for row in &table.rows {
            changes.push(&row_change_to_js(table, row)?.into());
        }
    }
    put(&object, &"changes".into(), &changes.into())?;
    Ok(object)
}

fn row_change_to_js(table: &TableChanges, row: &RowChange) -> Result<Object> {
    let object = Object::new();
    put(&object, &"table".into(), &JsValue::from_str(&table.table))?;
    let key = Object::new();
    for (&i, value) in table.primary_key.iter().zip(table.key_of(row)?) {
        let name = table
            .columns
            .get(i as usize)
            .map(String::as_str)
            .unwrap_or_default();
        put(&key, &JsValue::from_str(name), &value_to_js(&value))?;
    }
    put(&object, &"primaryKey".into(), &key.into())?;
    let columns = Object::new();
    let cell = |i: usize, old: Option<&Value>, new: Option<&Value>| -> Result<()> {
        let cell = Object::new();
        if let Some(old) = old {
            put(&cell, &"old".into(), &value_to_js(old))?;
        }
        if let Some(new) = new {
            put(&cell, &"new".into(), &value_to_js(new))?;
        }
        let name = table.columns.get(i).map(String::as_str).unwrap_or_default();
        put(&columns, &JsValue::from_str(name), &cell.into())
    };
    let op = match row {
        RowChange::Insert { values } => {
            values
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| cell(i, None, Some(v)))?;
            "insert"
        }
        RowChange::Delete { old } => {
            old.iter()
                .enumerate()
                .try_for_each(|(i, v)| cell(i, Some(v), None))?;
            "delete"
        }
        RowChange::Update {
            columns: changed,
            old,
            new,
            ..
        } => {
            for ((&i, o), n) in changed.iter().zip(old).zip(new) {
                cell(i as usize, Some(o), Some(n))?;
            }
            "update"
        }
    };
    put(&object, &"op".into(), &JsValue::from_str(op))?;
    put(&object, &"columns".into(), &columns.into())?;
    Ok(object)
}

/// An `ImportResult`.
pub fn import_to_js(outcome: &ImportOutcome) -> Result<Object> {
    let object = Object::new();
    put(
        &object,
        &"bundleId".into(),
        &JsValue::from_str(&outcome.bundle_id.to_string()),
    )?;
    put(
        &object,
        &"sourceDeviceId".into(),
        &JsValue::from_str(&outcome.source.to_string()),
    )?;
    for (key, count) in [
        ("total", outcome.total),
        ("applied", outcome.applied),
        ("conflicts", outcome.conflicts),
        ("duplicates", outcome.duplicates),
        ("pending", outcome.pending),
        ("deferred", outcome.deferred),
        ("released", outcome.released),
    ] {
        put(&object, &key.into(), &JsValue::from_f64(count as f64))?;
    }
    put(
        &object,
        &"skipped".into(),
        &JsValue::from_bool(outcome.skipped),
    )?;
    let ids: Array = outcome
        .new_conflicts
        .iter()
        .map(|id| JsValue::from_str(&id.to_string()))
        .collect();
    put(&object, &"newConflicts".into(), &ids.into())?;
    Ok(object)
}

/// A `Conflict`.
pub fn conflict_to_js(conflict: &Conflict) -> Result<Object> {
    let object = Object::new();
    put(
        &object,
        &"id".into(),
        &JsValue::from_str(&conflict.id.to_string()),
    )?;
    put(
        &object,
        &"table".into(),
        &JsValue::from_str(&conflict.table),
    )?;
    put(
        &object,
        &"primaryKey".into(),
        &named_to_js(&conflict.primary_key)?.into(),
    )?;
    let row = |version: &Option<Vec<(String, Value)>>| -> Result<JsValue> {
        Ok(match version {
            Some(values) => named_to_js(values)?.into(),
            None => JsValue::NULL,
        })
    };
    put(&object, &"local".into(), &row(&conflict.local)?)?;
    put(&object, &"remote".into(), &row(&conflict.remote)?)?;
    let versions = Array::new();
    for version in &conflict.versions {
        let entry = Object::new();
        put(
            &entry,
            &"deviceId".into(),
            &JsValue::from_str(&version.device.to_string()),
        )?;
        put(&entry, &"row".into(), &row(&version.values)?)?;
        versions.push(&entry.into());
    }
    put(&object, &"versions".into(), &versions.into())?;
    put(
        &object,
        &"detectedAt".into(),
        &JsValue::from_f64(conflict.detected_at as f64),
    )?;
    Ok(object)
}

/// A waiting record as `{ origin, seq, rows, bytes, waitsFor: { origin, seq }, receivedAt }`.
pub fn pending_to_js(record: &PendingRecord) -> Result<Object> {
    let object = Object::new();
    put(
        &object,
        &"origin".into(),
        &JsValue::from_str(&record.dot.origin.to_string()),
    )?;
    put(
        &object,
        &"seq".into(),
        &JsValue::from_f64(record.dot.seq as f64),
    )?;
    put(
        &object,
        &"rows".into(),
        &JsValue::from_f64(record.rows as f64),
    )?;
    put(
        &object,
        &"bytes".into(),
        &JsValue::from_f64(record.bytes as f64),
    )?;
    let waits = Object::new();
    put(
        &waits,
        &"origin".into(),
        &JsValue::from_str(&record.waits_for.origin.to_string()),
    )?;
    put(
        &waits,
        &"seq".into(),
        &JsValue::from_f64(record.waits_for.seq as f64),
    )?;
    put(&object, &"waitsFor".into(), &waits.into())?;
    put(
        &object,
        &"receivedAt".into(),
        &JsValue::from_f64(record.received_at as f64),
    )?;
    Ok(object)
}

/// `"local"`, `"remote"` or `{ values: Row }`.
pub fn choice_from_js(choice: &JsValue) -> Result<Choice> {
    match choice.as_string().as_deref() {
        Some("local") => return Ok(Choice::Local),
        Some("remote") => return Ok(Choice::Remote),
        _ => {}
    }
    let values = if choice.is_object() {
        Reflect::get(choice, &JsValue::from_str("values")).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    };
    if !values.is_object() {
        return Err(Error::InvalidArgument(
            "choice must be \"local\", \"remote\" or { values: { column: value } }".into(),
        ));
    }
    let entries = Object::entries(values.unchecked_ref());
    let mut row = Vec::with_capacity(entries.length() as usize);
    for entry in entries.iter() {
        let pair: Array = entry.unchecked_into();
        row.push((
            pair.get(0).as_string().unwrap_or_default(),
            value_from_js(&pair.get(1))?,
        ));
    }
    Ok(Choice::Values(row))
}

fn named_to_js(values: &[(String, Value)]) -> Result<Object> {
    let object = Object::new();
    for (column, value) in values {
        put(&object, &JsValue::from_str(column), &value_to_js(value))?;
    }
    Ok(object)
}

/// Reads an optional string property of an options object.
pub fn string_option(options: &JsValue, key: &str) -> Result<Option<String>> {
    if options.is_null() || options.is_undefined() {
        return Ok(None);
    }
    let value = Reflect::get(options, &JsValue::from_str(key))
        .map_err(|_| Error::InvalidArgument(format!("cannot read option {key}")))?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| Error::InvalidArgument(format!("option {key} must be a string")))
}

pub fn put(object: &Object, key: &JsValue, value: &JsValue) -> Result<()> {
    Reflect::set(object, key, value)
        .map(drop)
        .map_err(|_| Error::Internal("cannot build a result object".into()))
}
