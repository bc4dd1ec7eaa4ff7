//! The network transports: the exported classes `HttpTransport` ([`http`]) and
//! `WebSocketTransport` ([`websocket`], over the connection of [`socket`]), which move the
//! protocol's messages between a device and a relay and understand nothing of them beyond what
//! keeping a connection alive takes (Ping, Pong, Notify).
//!
//! Both find `fetch`, `WebSocket` and the timers on the global object ([`global`]), never on
//! `window`, so they run on pages, in dedicated and service workers, in Deno, in Cloudflare Workers
//! and in Node; an injected `fetch` / `WebSocket` class wins. Their options ([`options`]) name the
//! relay's base URL, the space and the token (a string, or a function called on every connect,
//! [`token`]). A relay's refusal over HTTP (the JSON error body, [`refusal`]) and a dropped
//! connection become [`Failure`]s, the crate's coded errors plus whether to retry.
//!
//! The package's sync loop (js/sync/wasm.ts) drives a round through the same three methods of
//! either class, each returning a promise: `begin()` once per round (a token; a socket if none is
//! open), `exchange(message)` per message the engine sends (resolving with the answer), `next()`
//! when the engine waits (resolving with the next message). A failure rejects with a `SyncError`.

pub mod global;
pub mod http;
pub mod options;
pub mod refusal;
pub mod socket;
pub mod token;
pub mod websocket;

use std::future::Future;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::JsValue;

use crate::error::Error;

/// How a transport (or a round over it) failed: the coded error, whether the same round may
/// succeed later, and the JS error behind it, if any (kept as the `SyncError`'s `cause`).
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    pub retryable: bool,
    pub cause: Option<JsValue>,
}

impl Failure {
    /// A failure that a relay's answer or the network caused, retryable as its code says unless
    /// `retryable` forces it (a relay's 5xx).
    pub fn with_cause(error: Error, cause: JsValue) -> Failure {
        Failure {
            retryable: error.is_retryable(),
            error,
            cause: Some(cause),
        }
    }

    /// The JS `SyncError` for this failure.
    pub fn to_js(&self) -> JsValue {
        let js = super::error::to_js(&self.error);
        super::error::set(&js, "retryable", &JsValue::from_bool(self.retryable));
        if let Some(cause) = &self.cause {
            super::error::set(&js, "cause", cause);
        }
        js
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            retryable: error.is_retryable(),
            error,
            cause: None,
        }
    }
}

/// The promise of a transport call that resolves with nothing.
pub fn promise_unit(call: impl Future<Output = Result<(), Failure>> + 'static) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        call.await
            .map(|()| JsValue::UNDEFINED)
            .map_err(|f| f.to_js())
    })
}

/// The promise of a transport call that resolves with a message, as a fresh `Uint8Array`.
pub fn promise_bytes(call: impl Future<Output = Result<Vec<u8>, Failure>> + 'static) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        call.await
            .map(|bytes| Uint8Array::from(bytes.as_slice()).into())
            .map_err(|f| f.to_js())
    })
}
