//! `WebSocketTransport`: one socket to `{url}/v1/sync` (the `ws(s)` form of the base URL), kept
//! open across rounds so the relay's `Notify` messages reach the loop between them. Each new
//! socket asks for a token and offers it as the subprotocol `bearer.<token>` next to
//! `sqlite-sync.v1` (never in the URL); frames are binary, `binaryType` is `arraybuffer`. A round
//! sends one message at a time and awaits its answer, so at most one message is ever buffered. A
//! round that fails drops the socket (the next round connects afresh, with a fresh token); a
//! relay's refusal (an `Error` message, then close 1008) reports the refusal's code, any other
//! close `ERR_NETWORK`. After `close()` (code 1000) nothing is sent.

use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::WebSocket;

use super::options;
use super::socket::{self, Connection, Shared, SUBPROTOCOL};
use super::token::TokenSource;
use super::{global, promise_bytes, promise_unit, Failure};
use crate::error::Error;

#[wasm_bindgen(typescript_custom_section)]
const WS_OPTIONS: &str = r#"
/** Options of `new WebSocketTransport(…)`. */
export interface WebSocketTransportOptions {
  /** The relay's base URL (`ws(s)://` or `http(s)://`); the transport adds `/v1/sync`. */
  url: string;
  /** The space to sync. */
  space: string;
  /** The token, or a (possibly async) function giving one, called for every new connection. */
  token: string | (() => string | Promise<string>);
  /** The WebSocket class to use where the runtime has none (Node 20: the `ws` package's). */
  WebSocket?: unknown;
  /** How often to ping the relay (default 15,000 ms); about two silent intervals end the socket. */
  pingIntervalMs?: number;
}
"#;

/// The WebSocket transport (internal: the public class is the TypeScript `WebSocketTransport`).
#[wasm_bindgen(js_name = WebSocketTransport)]
#[derive(Clone)]
pub struct WebSocketTransport {
    inner: Rc<Ws>,
}

struct Ws {
    relay: String,
    endpoint: String,
    token: TokenSource,
    class: Option<Function>,
    ping_interval_ms: f64,
    state: Shared,
}

#[wasm_bindgen(js_class = WebSocketTransport)]
impl WebSocketTransport {
    /// Checks the options; connects at the first round.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "WebSocketTransportOptions")] options: JsValue,
    ) -> Result<WebSocketTransport, JsValue> {
        let (common, class) =
            options::read(&options, "WebSocket").map_err(|e| super::super::error::to_js(&e))?;
        Ok(WebSocketTransport {
            inner: Rc::new(Ws {
                endpoint: options::ws_endpoint(&common.relay),
                relay: common.relay,
                token: common.token,
                class,
                ping_interval_ms: common.ping_interval_ms,
                state: Shared::default(),
            }),
        })
    }

    /// The relay's base URL in its normal `http(s)` form.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.inner.relay.clone()
    }

    /// Calls `callback(head)` for every `Notify` the relay sends while no round runs (`null`
    /// stops it).
    #[wasm_bindgen(js_name = onNotify)]
    pub fn on_notify(
        &self,
        #[wasm_bindgen(unchecked_param_type = "((head: number) => void) | null")] callback: Option<
            Function,
        >,
    ) {
        self.inner.state.borrow_mut().on_notify = callback;
    }

    /// Starts a round: opens a socket (with a fresh token) unless one is open.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn begin(&self) -> Promise {
        let this = self.clone();
        promise_unit(async move { this.start().await })
    }

    /// Sends one message; resolves with the next message the relay sends (its answer).
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn exchange(&self, message: Vec<u8>) -> Promise {
        self.call(Some(message))
    }

    /// Resolves with the next message the relay sends.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn next(&self) -> Promise {
        self.call(None)
    }

    /// True while a socket is open.
    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        let s = self.inner.state.borrow();
        s.open && s.failure.is_none()
    }

    /// Closes the socket (code 1000); nothing is sent after this. Calling it again does nothing.
    pub fn close(&self) {
        let connection = {
            let mut s = self.inner.state.borrow_mut();
            s.closed = true;
            s.open = false;
            s.on_notify = None;
            s.connection.take()
        };
        drop(connection);
        socket::wake(&self.inner.state);
    }
}

impl WebSocketTransport {
    /// `exchange` and `next` as one future (so its code exists once).
    fn call(&self, message: Option<Vec<u8>>) -> Promise {
        let this = self.clone();
        promise_bytes(async move {
            if let Some(message) = message {
                this.send(&message)?;
            }
            this.receive().await
        })
    }

    async fn start(&self) -> Result<(), Failure> {
        {
            let mut s = self.inner.state.borrow_mut();
            if s.closed {
                return Err(Error::Closed.into());
            }
            // What is left from an earlier round (answers nobody took) is not this round's.
            s.queue.clear();
            if s.open && s.failure.is_none() {
                return Ok(());
            }
        }
        self.connect().await
    }

    async fn receive(&self) -> Result<Vec<u8>, Failure> {
        let state = &self.inner.state;
        state.borrow_mut().awaiting = true;
        let received = loop {
            let wake = {
                let mut s = state.borrow_mut();
                if let Some(message) = s.queue.pop_front() {
                    break Ok(message);
                }
                if let Err(failure) = check(&s) {
                    break Err(failure);
                }
                drop(s);
                socket::wake_on_next_event(state)
            };
            // The promise only says that something happened; the loop looks at what.
            let _ = JsFuture::from(wake).await;
        };
        state.borrow_mut().awaiting = false;
        received
    }

    /// Opens a new socket with a fresh token and waits until it is open.
    async fn connect(&self) -> Result<(), Failure> {
        let state = &self.inner.state;
        let old = {
            let mut s = state.borrow_mut();
            s.failure = None;
            s.open = false;
            s.connection.take()
        };
        drop(old);
        let token = self.inner.token.get().await?;
        check(&state.borrow())?;
        if !token.bytes().all(is_tchar) {
            // Checked here, as a runtime's own error would quote the subprotocol, token and all.
            return Err(Error::InvalidArgument(
                "a WebSocket token must be usable as a subprotocol: letters, digits and !#$%&'*+-.^_`|~ only (a JWT is)".into(),
            )
            .into());
        }
        let class = global::websocket_class(self.inner.class.as_ref())?;
        let protocols = Array::of2(
            &JsValue::from_str(SUBPROTOCOL),
            &JsValue::from_str(&format!("bearer.{token}")),
        );
        let args = Array::of2(&JsValue::from_str(&self.inner.endpoint), &protocols);
        let socket = Reflect::construct(&class, &args).map_err(|cause| {
            Failure::with_cause(
                Error::InvalidArgument("cannot create a WebSocket to the relay".into()),
                cause,
            )
        })?;
        Connection::attach(
            state,
            socket.unchecked_into::<WebSocket>(),
            self.inner.ping_interval_ms,
        )?;
        loop {
            let wake = {
                let s = state.borrow();
                check(&s)?;
                if s.open {
                    break;
                }
                drop(s);
                socket::wake_on_next_event(state)
            };
            let _ = JsFuture::from(wake).await;
        }
        let selected = state
            .borrow()
            .connection
            .as_ref()
            .map(Connection::protocol)
            .unwrap_or_default();
        if selected != SUBPROTOCOL {
            return Err(Error::Protocol(format!(
                "the relay selected the subprotocol {selected:?}, not {SUBPROTOCOL:?}"
            ))
            .into());
        }
        Ok(())
    }

    fn send(&self, message: &[u8]) -> Result<(), Failure> {
        let s = self.inner.state.borrow();
        check(&s)?;
        match &s.connection {
            Some(connection) if s.open => Ok(connection.send(message)?),
            _ => Err(Error::Network("the connection to the relay is not open".into()).into()),
        }
    }
}

/// A character of an HTTP token (RFC 9110), which a subprotocol is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The error a call gets on a closed transport or an ended connection.
fn check(s: &socket::State) -> Result<(), Failure> {
    if s.closed {
        return Err(Error::Closed.into());
    }
    match &s.failure {
        Some(error) => Err(error.clone().into()),
        None => Ok(()),
    }
}
