//! What the transports take from the global object: `fetch`, the `WebSocket` class, the interval
//! timer and `AbortSignal.timeout`, bound as globals (never through `window`, which workers, Deno, Workers and
//! Node do not have), so one build runs everywhere. Each binding is looked up when it is called,
//! so a runtime without one fails that call with a coded error, not the module's loading.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::Error;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch(input, init)`.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(input: &str, init: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = setInterval, catch)]
    fn global_set_interval(handler: &Function, ms: f64) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = clearInterval, catch)]
    fn global_clear_interval(id: &JsValue) -> Result<(), JsValue>;

    /// `AbortSignal.timeout(ms)`: a signal that aborts after `ms`.
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout, catch)]
    fn abort_signal_timeout(ms: f64) -> Result<JsValue, JsValue>;
}

/// A signal that aborts a request after `ms`, where the runtime has `AbortSignal.timeout` (every
/// runtime the package supports does).
pub fn deadline(ms: f64) -> Option<JsValue> {
    abort_signal_timeout(ms).ok()
}

/// Calls `fetch` (the injected one if any, else the global) and returns its promise; a
/// synchronous throw becomes a rejected promise, as the caller awaits either the same way.
pub fn fetch(injected: Option<&Function>, url: &str, init: &JsValue) -> Promise {
    let result = match injected {
        Some(fetch) => fetch.call2(&JsValue::UNDEFINED, &JsValue::from_str(url), init),
        None => global_fetch(url, init),
    };
    match result {
        Ok(value) => Promise::resolve(&value),
        Err(thrown) => Promise::reject(&thrown),
    }
}

/// The `WebSocket` class to construct: the injected one, else the global object's.
pub fn websocket_class(injected: Option<&Function>) -> Result<Function, Error> {
    if let Some(class) = injected {
        return Ok(class.clone());
    }
    Reflect::get(&js_sys::global(), &JsValue::from_str("WebSocket"))
        .ok()
        .and_then(|class| class.dyn_into::<Function>().ok())
        .ok_or_else(|| {
            Error::InvalidArgument(
                "this runtime has no global WebSocket; pass one as the WebSocket option (on Node 20: the ws package's class)".into(),
            )
        })
}

/// A repeating timer; cleared when dropped.
pub struct Interval {
    id: JsValue,
    _handler: Closure<dyn FnMut()>,
}

impl Interval {
    /// Calls `handler` every `ms` milliseconds until the interval is dropped.
    pub fn every(ms: f64, handler: impl FnMut() + 'static) -> Result<Interval, Error> {
        let handler = Closure::<dyn FnMut()>::new(handler);
        let id = global_set_interval(handler.as_ref().unchecked_ref(), ms)
            .map_err(|_| Error::Internal("setInterval is not available".into()))?;
        Ok(Interval {
            id,
            _handler: handler,
        })
    }
}

impl Drop for Interval {
    fn drop(&mut self) {
        // Clearing a timer the runtime has already forgotten is harmless; nothing to report.
        let _ = global_clear_interval(&self.id);
    }
}
