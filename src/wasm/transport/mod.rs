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
//! A round ([`round`](super::round)) drives either through the [`Transport`] trait: `begin` once,
//! `exchange` per message the engine sends, `next` when it waits, `end` when it is over.

pub mod global;
pub mod http;
pub mod options;
pub mod refusal;
pub mod socket;
pub mod token;
pub mod websocket;

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

/// What a round needs from a transport. Calls come one at a time, from one round.
pub trait Transport {
    /// The relay's base URL in its normalised `http(s)` form: the key under which the engine keeps
    /// the cursor, the same for both transports to one relay.
    fn relay(&self) -> &str;
    /// The space the transport syncs.
    fn space(&self) -> &str;
    /// Starts a round: fetches the token (HTTP) or makes sure a connection is open (WebSocket).
    async fn begin(&self) -> Result<(), Failure>;
    /// Sends one message and returns the relay's answer to it.
    async fn exchange(&self, message: Vec<u8>) -> Result<Vec<u8>, Failure>;
    /// The next message the relay sends of its own accord (WebSocket only).
    async fn next(&self) -> Result<Vec<u8>, Failure>;
    /// Ends the round, with the error it failed with, if any.
    fn end(&self, failure: Option<&Error>);
}
