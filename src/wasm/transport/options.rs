//! The transports' options objects, `{ url, space, token, fetch?, timeoutMs? }` and `{ url, space,
//! token, WebSocket?, pingIntervalMs? }`, each field read once with `Reflect.get` (serde-wasm-bindgen,
//! here and for the JSON error body, cost 1.9 KB of gzipped wasm that the size budget lacks).
//! And the base URL's normal form: no trailing `/`, `http(s)` for the key and for HTTP, `ws(s)`
//! for the socket, so one URL serves both.

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::token::TokenSource;
use crate::error::{Error, Result};

/// The path both transports add to the base URL.
pub const SYNC_PATH: &str = "/v1/sync";
/// The keepalive interval when `pingIntervalMs` is absent.
pub const DEFAULT_PING_INTERVAL_MS: f64 = 15_000.0;
/// How long an HTTP request may take, answer included, when `timeoutMs` is absent.
pub const DEFAULT_TIMEOUT_MS: f64 = 60_000.0;

/// The options both transports share, checked. (`space` is checked too, but a round names its
/// space itself: the engine keeps cursors per relay and space.)
pub struct Common {
    /// The base URL in its `http(s)` form, without a trailing `/`.
    pub relay: String,
    pub token: TokenSource,
    pub ping_interval_ms: f64,
    /// HTTP: how long a request may take before it counts as a dropped connection.
    pub timeout_ms: f64,
}

/// Reads the common options, and the JS function under `injected` (`"fetch"`, `"WebSocket"`).
pub fn read(options: &JsValue, injected: &str) -> Result<(Common, Option<Function>)> {
    if !options.is_object() {
        return Err(Error::InvalidArgument(
            "transport options must be an object { url, space, token }".into(),
        ));
    }
    let text = |key: &str| {
        get(options, key)?
            .as_string()
            .ok_or_else(|| Error::InvalidArgument(format!("option {key} must be a string")))
    };
    let (url, space) = (text("url")?, text("space")?);
    if space.is_empty() {
        return Err(Error::InvalidArgument(
            "option space must not be empty".into(),
        ));
    }
    let ping_interval_ms = milliseconds(options, "pingIntervalMs", DEFAULT_PING_INTERVAL_MS)?;
    let timeout_ms = milliseconds(options, "timeoutMs", DEFAULT_TIMEOUT_MS)?;
    let token = TokenSource::from_js(&get(options, "token")?)?;
    let class = get(options, injected)?;
    let class = if class.is_undefined() || class.is_null() {
        None
    } else {
        Some(class.dyn_into::<Function>().map_err(|_| {
            Error::InvalidArgument(format!("option {injected} must be a function or class"))
        })?)
    };
    let common = Common {
        relay: http_base(&url)?,
        token,
        ping_interval_ms,
        timeout_ms,
    };
    Ok((common, class))
}

/// The option `key`: a positive number of milliseconds, or `default` when absent.
fn milliseconds(options: &JsValue, key: &str, default: f64) -> Result<f64> {
    let value = get(options, key)?;
    match value.as_f64() {
        None if value.is_undefined() => Ok(default),
        Some(ms) if ms.is_finite() && ms >= 1.0 => Ok(ms),
        _ => Err(Error::InvalidArgument(format!(
            "option {key} must be a positive number of milliseconds"
        ))),
    }
}

fn get(options: &JsValue, key: &str) -> Result<JsValue> {
    Reflect::get(options, &JsValue::from_str(key))
        .map_err(|_| Error::InvalidArgument(format!("cannot read option {key}")))
}

/// The base URL in its `http(s)` form: `ws:` → `http:`, `wss:` → `https:`, trailing `/` removed.
pub fn http_base(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| bad_url(url))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => return Err(bad_url(url)),
    };
    if rest.is_empty() || rest.contains(['?', '#']) {
        return Err(bad_url(url));
    }
    Ok(format!("{scheme}://{rest}"))
}

/// The socket URL for a base in its `http(s)` form.
pub fn ws_endpoint(http_base: &str) -> String {
    match http_base.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}{SYNC_PATH}"),
        None => format!(
            "ws://{}{SYNC_PATH}",
            http_base.strip_prefix("http://").unwrap_or(http_base)
        ),
    }
}

fn bad_url(url: &str) -> Error {
    Error::InvalidArgument(format!(
        "option url must be the relay's base URL, http(s):// or ws(s)://, not {url:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn one_base_url_serves_both_transports() {
        for url in [
            "http://127.0.0.1:8787",
            "ws://127.0.0.1:8787/",
            "HTTP://127.0.0.1:8787//",
        ] {
            let base = http_base(url).unwrap();
            assert_eq!(base, "http://127.0.0.1:8787");
            assert_eq!(ws_endpoint(&base), "ws://127.0.0.1:8787/v1/sync");
        }
        let secure = http_base("wss://relay.example/sync/").unwrap();
        assert_eq!(secure, "https://relay.example/sync");
        assert_eq!(ws_endpoint(&secure), "wss://relay.example/sync/v1/sync");
    }

    #[test]
    fn other_urls_are_refused() {
        for url in [
            "",
            "relay.example",
            "ftp://relay.example",
            "http://",
            "http://x/?a=1",
        ] {
            assert_eq!(
                http_base(url).unwrap_err().code().as_str(),
                "ERR_INVALID_ARGUMENT"
            );
        }
    }
}
