//! `HttpTransport`: one `POST {url}/v1/sync` per protocol message, with `Authorization: Bearer`,
//! the message as the body and the answer read as bytes. The token is asked for at the start of
//! every round and dropped when the relay says it is not valid (401), so the next round asks
//! again. A refused request becomes its coded error ([`refusal`](super::refusal)); a rejected
//! `fetch` (no network, connection refused, CORS) becomes `ERR_NETWORK`. After `close()` nothing
//! is sent. The JS object is a cheap handle: clones share one state, so a call's future owns one.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Response};

use super::options::{self, SYNC_PATH};
use super::token::TokenSource;
use super::{global, promise_bytes, promise_unit, refusal, Failure};
use crate::error::Error;

#[wasm_bindgen(typescript_custom_section)]
const HTTP_OPTIONS: &str = r#"
/** Options of `new HttpTransport(…)`. */
export interface HttpTransportOptions {
  /** The relay's base URL (`http(s)://` or `ws(s)://`); the transport adds `/v1/sync`. */
  url: string;
  /** The space to sync. */
  space: string;
  /** The token, or a (possibly async) function giving one, called at the start of every round. */
  token: string | (() => string | Promise<string>);
  /** The `fetch` to use instead of the global one. */
  fetch?: (input: string, init: { method: "POST"; headers: Record<string, string>; body: Uint8Array; signal?: unknown }) => Promise<unknown>;
  /** How long a request may take, answer included, before it fails with ERR_NETWORK (default 60,000 ms). */
  timeoutMs?: number;
}
"#;

/// The fetch transport (internal: the public class is the TypeScript `HttpTransport`).
#[wasm_bindgen(js_name = HttpTransport)]
#[derive(Clone)]
pub struct HttpTransport {
    inner: Rc<Http>,
}

struct Http {
    relay: String,
    endpoint: String,
    token: TokenSource,
    fetch: Option<Function>,
    timeout_ms: f64,
    /// The token of the round in progress.
    current: RefCell<Option<String>>,
    closed: Cell<bool>,
}

#[wasm_bindgen(js_class = HttpTransport)]
impl HttpTransport {
    /// Checks the options; connects to nothing yet.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "HttpTransportOptions")] options: JsValue,
    ) -> Result<HttpTransport, JsValue> {
        let (common, fetch) =
            options::read(&options, "fetch").map_err(|e| super::super::error::to_js(&e))?;
        let endpoint = format!("{}{SYNC_PATH}", common.relay);
        Ok(HttpTransport {
            inner: Rc::new(Http {
                relay: common.relay,
                endpoint,
                token: common.token,
                fetch,
                timeout_ms: common.timeout_ms,
                current: RefCell::new(None),
                closed: Cell::new(false),
            }),
        })
    }

    /// The relay's base URL in its normal `http(s)` form.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.inner.relay.clone()
    }

    /// Does nothing: an HTTP relay announces nothing (the loop treats both transports alike).
    #[wasm_bindgen(js_name = onNotify)]
    pub fn on_notify(
        &self,
        #[wasm_bindgen(unchecked_param_type = "((head: number) => void) | null")] _callback: Option<
            Function,
        >,
    ) {
    }

    /// Starts a round: asks for the token.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn begin(&self) -> Promise {
        let this = self.clone();
        promise_unit(async move { this.start().await })
    }

    /// POSTs one message; resolves with the relay's answer.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn exchange(&self, message: Vec<u8>) -> Promise {
        let this = self.clone();
        promise_bytes(async move { this.post(message).await })
    }

    /// Rejects: an HTTP relay sends nothing unasked (the engine never waits over HTTP).
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn next(&self) -> Promise {
        let error = Error::Protocol("an HTTP relay cannot send a message unasked".into());
        Promise::reject(&Failure::from(error).to_js())
    }

    /// No request is sent after this. Calling it again does nothing.
    pub fn close(&self) {
        self.inner.closed.set(true);
        self.inner.current.replace(None);
    }
}

impl HttpTransport {
    async fn start(&self) -> Result<(), Failure> {
        self.check_open()?;
        let token = self.inner.token.get().await?;
        self.inner.current.replace(Some(token));
        Ok(())
    }

    async fn post(&self, message: Vec<u8>) -> Result<Vec<u8>, Failure> {
        self.check_open()?;
        let token = self
            .inner
            .current
            .borrow()
            .clone()
            .ok_or_else(|| Error::Internal("exchange before begin".into()))?;
        let init = request_init(&token, &message, self.inner.timeout_ms)?;
        let sent = global::fetch(self.inner.fetch.as_ref(), &self.inner.endpoint, &init);
        let response = JsFuture::from(sent).await.map_err(|cause| {
            Failure::with_cause(
                Error::Network("the request to the relay failed".into()),
                cause,
            )
        })?;
        let status = Reflect::get(&response, &JsValue::from_str("status"))
            .ok()
            .and_then(|s| s.as_f64())
            .ok_or_else(|| Error::Internal("fetch did not resolve to a Response".into()))?;
        let response: Response = response.unchecked_into();
        if (200.0..300.0).contains(&status) {
            let body = read(response.array_buffer()).await?;
            return Ok(Uint8Array::new(&body).to_vec());
        }
        let retry_after = Reflect::get(&response, &JsValue::from_str("headers"))
            .ok()
            .and_then(|h| {
                h.unchecked_into::<Headers>()
                    .get("Retry-After")
                    .ok()
                    .flatten()
            });
        let text = read(response.text()).await?.as_string().unwrap_or_default();
        let failure = refusal::from_response(status as u16, &text, retry_after.as_deref());
        if failure.error.code() == crate::error::ErrorCode::Unauthorized {
            self.inner.current.replace(None);
        }
        Err(failure)
    }

    fn check_open(&self) -> Result<(), Failure> {
        if self.inner.closed.get() {
            return Err(Error::Closed.into());
        }
        Ok(())
    }
}

/// `{ method: "POST", headers: { Authorization, Content-Type }, body, signal }`, the signal
/// aborting the request (its answer included) after `timeout_ms`.
fn request_init(token: &str, message: &[u8], timeout_ms: f64) -> Result<JsValue, Failure> {
    let headers = Object::new();
    let init = Object::new();
    let put = |object: &Object, key: &str, value: &JsValue| {
        Reflect::set(object, &JsValue::from_str(key), value)
            .map(drop)
            .map_err(|_| Failure::from(Error::Internal("cannot build a request".into())))
    };
    put(
        &headers,
        "Authorization",
        &JsValue::from_str(&format!("Bearer {token}")),
    )?;
    put(
        &headers,
        "Content-Type",
        &JsValue::from_str("application/octet-stream"),
    )?;
    put(&init, "method", &JsValue::from_str("POST"))?;
    put(&init, "headers", &headers.into())?;
    put(&init, "body", &Uint8Array::from(message).into())?;
    if let Some(signal) = super::global::deadline(timeout_ms) {
        put(&init, "signal", &signal)?;
    }
    Ok(init.into())
}

/// Awaits a body-reading promise; the body failing midway is a dropped connection.
async fn read(body: Result<js_sys::Promise, JsValue>) -> Result<JsValue, Failure> {
    let promise = body.map_err(|cause| {
        Failure::with_cause(
            Error::Internal("cannot read the relay's answer".into()),
            cause,
        )
    })?;
    JsFuture::from(promise).await.map_err(|cause| {
        Failure::with_cause(
            Error::Network("the connection dropped while reading the relay's answer".into()),
            cause,
        )
    })
}
