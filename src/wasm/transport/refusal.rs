//! A relay's refusal over HTTP: a non-2xx status with the JSON body `{ "error": { "code",
//! "message", "retryAfterMs"?, "versions"? } }` (network contract). The code goes through the
//! protocol's one mapping ([`Refusal::into_error`]), so HTTP and WebSocket refusals read alike. A
//! rate limit takes its delay from the body, else from the `Retry-After` header (whole seconds).
//! A 5xx is retryable whatever its code; a body that is not the contract's JSON (a proxy's page)
//! is judged by its status alone: 401, 403, 413 and 429 keep their codes, a 5xx is a network
//! failure, anything else a protocol error.

use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::Failure;
use crate::error::Error;
use crate::protocol::Refusal;

/// The failure a refusal reports: `status`, the body's text and the `Retry-After` header.
pub fn from_response(status: u16, body: &str, retry_after: Option<&str>) -> Failure {
    let header_ms = retry_after
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(|seconds| seconds.saturating_mul(1_000));
    let error = match parse(body) {
        Some(mut refusal) => {
            refusal.retry_after_ms = refusal.retry_after_ms.or(header_ms);
            refusal.into_error()
        }
        None => by_status(status, header_ms),
    };
    Failure {
        retryable: error.is_retryable() || status >= 500,
        error,
        cause: None,
    }
}

/// The body's `error` as a [`Refusal`]; `None` unless it is the contract's JSON with a string
/// `code` (a JSON document read through `JSON.parse`, so no JSON parser is compiled in).
fn parse(body: &str) -> Option<Refusal> {
    let field = |object: &JsValue, key: &str| Reflect::get(object, &JsValue::from_str(key)).ok();
    let json = js_sys::JSON::parse(body).ok()?;
    let error = field(&json, "error").filter(JsValue::is_object)?;
    let code = field(&error, "code")?.as_string()?;
    let message = field(&error, "message")
        .and_then(|m| m.as_string())
        .unwrap_or_default();
    let retry_after_ms = field(&error, "retryAfterMs")
        .and_then(|ms| ms.as_f64())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| ms as u64);
    let versions = field(&error, "versions")
        .and_then(|v| v.dyn_into::<Array>().ok())
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_f64())
                .filter(|v| v.fract() == 0.0 && *v >= 0.0)
                .map(|v| v as u64)
                .collect()
        })
        .unwrap_or_default();
    Some(Refusal {
        code,
        message,
        retry_after_ms,
        versions,
    })
}

fn by_status(status: u16, retry_after_ms: Option<u64>) -> Error {
    let message = format!("the relay answered HTTP {status}");
    match status {
        401 => Error::Unauthorized(message),
        403 => Error::Forbidden(message),
        413 => Error::TooLarge(message),
        429 => Error::RateLimited {
            message,
            retry_after_ms,
        },
        500.. => Error::Network(message),
        _ => Error::Protocol(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_json_code_is_the_error_code() {
        let body = r#"{"error":{"code":"ERR_FORBIDDEN","message":"another space"}}"#;
        let failure = from_response(403, body, None);
        assert_eq!(failure.error, Error::Forbidden("another space".into()));
        assert!(!failure.retryable);
    }

    #[test]
    fn a_rate_limit_takes_its_delay_from_the_body_else_the_header() {
        let body = r#"{"error":{"code":"ERR_RATE_LIMITED","message":"slow","retryAfterMs":1500}}"#;
        let failure = from_response(429, body, Some("9"));
        assert!(failure.retryable);
        assert!(matches!(
            failure.error,
            Error::RateLimited {
                retry_after_ms: Some(1_500),
                ..
            }
        ));
        let body = r#"{"error":{"code":"ERR_RATE_LIMITED","message":"slow"}}"#;
        let failure = from_response(429, body, Some(" 2 "));
        assert!(matches!(
            failure.error,
            Error::RateLimited {
                retry_after_ms: Some(2_000),
                ..
            }
        ));
    }

    #[test]
    fn a_version_refusal_keeps_the_versions() {
        let body = r#"{"error":{"code":"ERR_PROTOCOL","message":"v2","versions":[1]}}"#;
        let failure = from_response(400, body, None);
        assert!(matches!(failure.error, Error::ProtocolVersion { .. }));
    }

    #[test]
    fn server_errors_are_retryable_and_other_bodies_go_by_status() {
        let body = r#"{"error":{"code":"ERR_INTERNAL","message":"disk"}}"#;
        let failure = from_response(500, body, None);
        assert_eq!(failure.error.code().as_str(), "ERR_INTERNAL");
        assert!(failure.retryable);
        for (status, code) in [
            (401, "ERR_UNAUTHORIZED"),
            (413, "ERR_TOO_LARGE"),
            (429, "ERR_RATE_LIMITED"),
            (502, "ERR_NETWORK"),
            (404, "ERR_PROTOCOL"),
        ] {
            let failure = from_response(status, "<html>gateway</html>", None);
            assert_eq!(failure.error.code().as_str(), code);
            assert_eq!(failure.retryable, status == 429 || status >= 500);
        }
    }
}
