//! Turning engine errors into JavaScript errors.
//!
//! Every error thrown across the boundary is a JS `Error` whose `name` is `"SyncError"`, with the
//! stable `code` string, the `retryable` flag, for SQL errors SQLite's extended result code as
//! `sqliteCode`, and for a relay's rate limit the delay it asked for as `retryAfterMs`. Strings are
//! never thrown.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::error::{Error, ErrorCode};

/// The JS form of an engine error.
pub fn to_js(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("SyncError");
    let object: &JsValue = js.as_ref();
    set(object, "code", &JsValue::from_str(error.code().as_str()));
    set(
        object,
        "retryable",
        &JsValue::from_bool(error.is_retryable()),
    );
    if let Error::Sql {
        sqlite_code: Some(code),
        ..
    } = error
    {
        set(object, "sqliteCode", &JsValue::from_f64(f64::from(*code)));
    }
    if let Error::RateLimited {
        retry_after_ms: Some(ms),
        ..
    } = error
    {
        set(object, "retryAfterMs", &JsValue::from_f64(*ms as f64));
    }
    js.into()
}

/// A coded error for a failure that has no engine error (a bug at the boundary).
pub fn internal(message: &str) -> JsValue {
    let js = js_sys::Error::new(message);
    js.set_name("SyncError");
    let object: &JsValue = js.as_ref();
    set(
        object,
        "code",
        &JsValue::from_str(ErrorCode::Internal.as_str()),
    );
    set(object, "retryable", &JsValue::FALSE);
    js.into()
}

/// Sets a property of an error object being built.
pub fn set(object: &JsValue, key: &str, value: &JsValue) {
    // Setting a property on a fresh Error object cannot fail; if it somehow does, the error is
    // still thrown, just without that property.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}
