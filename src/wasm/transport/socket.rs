//! One WebSocket connection to a relay and what happens on it between the transport's calls: the
//! socket's event handlers, the queue of inbound binary messages a round awaits, and the
//! keepalive.
//!
//! The handlers are closures owned by the [`Connection`] (never forgotten); dropping it detaches
//! them and closes the socket with 1000. They hold the shared [`State`] weakly, so a connection
//! never keeps its transport alive. Small inbound messages are decoded to serve the connection
//! itself: a relay's `Ping` is answered with `Pong`, a `Pong` is swallowed, a `Notify` goes to the
//! `onNotify` callback unless a round awaits a message (then it is queued for the round, which
//! counts it), an `Error` is remembered so that the close that follows it (1008) reports its code
//! (a refused token ends the connection at once).
//! Every other message is queued for the round (the next `begin` drops what nobody took). The keepalive sends `Ping`
//! every interval and declares the connection dead (closing it, `ERR_NETWORK`) once nothing has
//! arrived for about two intervals; before the socket opens, the same limit bounds the connect.
//! No JS callback runs while the state is borrowed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use js_sys::{ArrayBuffer, Function, Object, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use super::global::Interval;
use crate::error::{Error, ErrorCode};
use crate::protocol::{decode, encode, Message};

/// The subprotocol the relay selects.
pub const SUBPROTOCOL: &str = "sqlite-sync.v1";
/// Messages up to this size are decoded on arrival (Ping, Pong, Notify and Error are far smaller).
const SMALL: usize = 1_024;
/// How many intervals of silence make a connection dead.
const DEAD_AFTER_INTERVALS: f64 = 1.75;
/// The close code of a connection the keepalive found dead (a private-use code: browsers let a
/// page send only 1000 and 3000–4999).
const DEAD_CLOSE_CODE: u16 = 4000;

/// What the transport and the handlers share.
#[derive(Default)]
pub struct State {
    pub connection: Option<Connection>,
    pub open: bool,
    /// Set once the current connection has ended; the error its users get.
    pub failure: Option<Error>,
    /// The last `Error` message the relay sent on this connection.
    refusal: Option<Error>,
    pub queue: VecDeque<Vec<u8>>,
    /// True while a round awaits a message (`exchange`, `next`).
    pub awaiting: bool,
    pub closed: bool,
    pub on_notify: Option<Function>,
    /// Resolves the promise a waiting call awaits.
    waiter: Option<Function>,
    last_inbound: f64,
    nonce: u64,
}

pub type Shared = Rc<RefCell<State>>;

/// A socket with its handlers and keepalive; dropping it detaches them and closes the socket.
pub struct Connection {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _keepalive: Interval,
}

impl Connection {
    /// Starts connecting `socket` (already constructed) and installs its handlers in `state`.
    pub fn attach(state: &Shared, socket: WebSocket, interval_ms: f64) -> Result<(), Error> {
        socket.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let weak = Rc::downgrade(state);
        let on_open = {
            let weak = weak.clone();
            Closure::<dyn FnMut()>::new(move || event(&weak, opened))
        };
        let on_message = {
            let weak = weak.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let mut notify = None;
                event(&weak, |s| notify = received(s, e.data()));
                if let Some((callback, head)) = notify {
                    // A throwing callback is the app's bug; the connection carries on.
                    let _ = callback.call1(&JsValue::UNDEFINED, &JsValue::from_f64(head as f64));
                }
            })
        };
        let on_close = {
            let weak = weak.clone();
            Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
                event(&weak, |s| closed(s, e.code(), &e.reason()))
            })
        };
        let keepalive = Interval::every(interval_ms, move || {
            event(&weak, |s| tick(s, interval_ms));
        })?;
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // Keeps Node's `ws` from throwing on an error event; the close event that follows
        // reports it.
        socket.set_onerror(Some(&noop(&on_open)));
        let mut s = state.borrow_mut();
        s.open = false;
        s.failure = None;
        s.refusal = None;
        s.queue.clear();
        s.last_inbound = js_sys::Date::now();
        s.connection = Some(Connection {
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
            _keepalive: keepalive,
        });
        Ok(())
    }

    /// Sends one message as a binary frame (copied out of wasm memory first).
    pub fn send(&self, message: &[u8]) -> Result<(), Error> {
        self.socket
            .send_with_js_u8_array(&Uint8Array::from(message))
            .map_err(|_| Error::Network("the connection to the relay is not open".into()))
    }

    /// The subprotocol the relay selected.
    pub fn protocol(&self) -> String {
        self.socket.protocol()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        // Closing an already closed socket does nothing; a failure here leaves nothing to undo.
        let _ = self.socket.close_with_code(1000);
    }
}

/// `Function.prototype`: a function that does nothing, owned by no closure (so it may outlive
/// the connection on the socket's `onerror`), and made without `eval` (so CSP allows it).
fn noop(any_function: &Closure<dyn FnMut()>) -> Function {
    Object::get_prototype_of(any_function.as_ref()).unchecked_into()
}

/// Runs `f` on the state if the transport still exists, then wakes a waiting call.
fn event(weak: &Weak<RefCell<State>>, f: impl FnOnce(&mut State)) {
    let Some(state) = weak.upgrade() else { return };
    let waiter = match state.try_borrow_mut() {
        Ok(mut s) => {
            f(&mut s);
            s.waiter.take()
        }
        Err(_) => None,
    };
    if let Some(resolve) = waiter {
        // Resolving a promise cannot throw.
        let _ = resolve.call0(&JsValue::UNDEFINED);
    }
}

/// A promise that the next event resolves (its value is meaningless: the caller looks again).
pub fn wake_on_next_event(state: &Shared) -> Promise {
    let mut resolver = None;
    let promise = Promise::new(&mut |resolve, _reject| resolver = Some(resolve));
    state.borrow_mut().waiter = resolver;
    promise
}

/// Wakes a waiting call (after a change made outside the handlers).
pub fn wake(state: &Shared) {
    let waiter = state.borrow_mut().waiter.take();
    if let Some(resolve) = waiter {
        let _ = resolve.call0(&JsValue::UNDEFINED);
    }
}

fn opened(s: &mut State) {
    s.open = true;
    s.last_inbound = js_sys::Date::now();
}

/// Handles one inbound message; returns the `onNotify` callback to call, with the head.
fn received(s: &mut State, data: JsValue) -> Option<(Function, u64)> {
    s.last_inbound = js_sys::Date::now();
    let Some(buffer) = data.dyn_ref::<ArrayBuffer>() else {
        fail(s, Error::Protocol("the relay sent a text frame".into()));
        return None;
    };
    let bytes = Uint8Array::new(buffer).to_vec();
    if bytes.len() <= SMALL {
        match decode(&bytes) {
            Ok(Message::Ping(nonce)) => {
                reply(s, &Message::Pong(nonce));
                return None;
            }
            Ok(Message::Pong(_)) => return None,
            Ok(Message::Notify(head)) if !s.awaiting => {
                return s.on_notify.clone().map(|callback| (callback, head));
            }
            Ok(Message::Error(refusal)) => {
                let error = refusal.into_error();
                if matches!(error.code(), ErrorCode::Unauthorized | ErrorCode::Forbidden) {
                    // The relay closes after refusing a token (1008): the socket is done now, so
                    // the next round connects afresh, with a fresh token.
                    fail(s, error.clone());
                }
                s.refusal = Some(error);
            }
            _ => {}
        }
    }
    s.queue.push_back(bytes);
    None
}

fn closed(s: &mut State, code: u16, reason: &str) {
    s.open = false;
    let refusal = s.refusal.take().filter(|_| code == 1008);
    if s.failure.is_none() {
        s.failure = Some(refusal.unwrap_or_else(|| {
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            };
            Error::Network(format!(
                "the connection to the relay closed (code {code}{reason})"
            ))
        }));
    }
}

fn tick(s: &mut State, interval_ms: f64) {
    if s.failure.is_some() {
        return;
    }
    let silent = js_sys::Date::now() - s.last_inbound;
    if silent >= DEAD_AFTER_INTERVALS * interval_ms {
        let what = if s.open {
            "no message from the relay"
        } else {
            "no connection"
        };
        fail(
            s,
            Error::Network(format!(
                "{what} for {} ms: the connection is dead",
                silent as u64
            )),
        );
    } else if s.open {
        s.nonce = s.nonce.wrapping_add(1) & ((1 << 53) - 1);
        let nonce = s.nonce;
        reply(s, &Message::Ping(nonce));
    }
}

/// Ends the connection with `error`: closes the socket (its close event changes nothing more).
fn fail(s: &mut State, error: Error) {
    s.failure = Some(error);
    s.open = false;
    if let Some(connection) = &s.connection {
        let _ = connection
            .socket
            .close_with_code_and_reason(DEAD_CLOSE_CODE, "connection abandoned");
    }
}

fn reply(s: &mut State, message: &Message<'_>) {
    let sent = encode(message).and_then(|bytes| match &s.connection {
        Some(connection) => connection.send(&bytes),
        None => Ok(()),
    });
    if let Err(error) = sent {
        fail(s, error);
    }
}
