//! One sync round over a transport, exported as `DatabaseHandle.syncRound(transport,
//! onProgress)`, and `DatabaseHandle.syncPending(transport)`; `transport` is either transport
//! class of this module.
//!
//! The round is the engine's ([`Engine::begin_round`], [`Engine::continue_round`]); this file
//! only carries its messages: it sends what an [`Action::Send`] says and feeds back the answer,
//! feeds the next inbound message on [`Action::Wait`], and resolves with the [`RoundReport`] on
//! [`Action::Done`]. The engine is borrowed only inside each synchronous step, never across an
//! `.await`, so the database serves other calls while the round waits for the network (and a
//! `close()` meanwhile ends the round with `ERR_CLOSED`). `onProgress({ received, total })` is
//! called whenever a catch-up's progress changes. Every failure rejects with a `SyncError`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::error::to_js;
use super::handle::DatabaseHandle;
use super::transport::http::HttpTransport;
use super::transport::websocket::WebSocketTransport;
use super::transport::{Failure, Transport};
use crate::engine::{Action, Engine, Round, RoundReport};
use crate::error::{Error, Result};

#[wasm_bindgen(typescript_custom_section)]
const ROUND_TYPES: &str = r#"
/** What `syncRound` resolves with. */
export interface RoundReport {
  /** Records pushed. */
  sent: number;
  /** Records pulled and imported. */
  received: number;
  /** Conflicts the round created. */
  conflicts: number;
  /** Local records the relay has not acknowledged. */
  pending: number;
  /** The relay announced more during the round: run another soon. */
  behind: boolean;
  /** Ids of the conflicts the round created. */
  newConflicts: string[];
}
/** A catch-up's progress. */
export interface RoundProgress { received: number; total: number }
"#;

/// The engine, shared by the handle and the rounds it runs.
pub type SharedEngine = Rc<RefCell<Option<Engine>>>;

#[wasm_bindgen]
impl DatabaseHandle {
    /// Runs one round with the relay behind `transport` (an `HttpTransport` or a
    /// `WebSocketTransport` of this module).
    #[wasm_bindgen(js_name = syncRound, unchecked_return_type = "Promise<RoundReport>")]
    pub fn sync_round(
        &self,
        #[wasm_bindgen(unchecked_param_type = "HttpTransport | WebSocketTransport")]
        transport: JsValue,
        #[wasm_bindgen(unchecked_param_type = "((progress: RoundProgress) => void) | null")]
        on_progress: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let transport = RoundTransport::of(&transport).map_err(|e| to_js(&e))?;
        Ok(spawn(self.shared_engine(), transport, on_progress))
    }

    /// Local records the relay behind `transport` has not acknowledged.
    #[wasm_bindgen(js_name = syncPending)]
    pub fn sync_pending(
        &self,
        #[wasm_bindgen(unchecked_param_type = "HttpTransport | WebSocketTransport")]
        transport: JsValue,
    ) -> Result<f64, JsValue> {
        let t = RoundTransport::of(&transport).map_err(|e| to_js(&e))?;
        let pending = step(&self.shared_engine(), |e| {
            e.sync_pending(t.relay(), t.space())
        });
        pending.map(|n| n as f64).map_err(|f| f.to_js())
    }
}

/// A transport as a round takes it: what `forRound()` of either transport class gives, a fresh
/// JS object that [`RoundTransport::of`] takes over at once (so Rust learns which class it was
/// given without touching the caller's object).
#[wasm_bindgen(skip_typescript)]
pub struct ForRound {
    transport: RoundTransport,
}

impl ForRound {
    pub fn new(transport: RoundTransport) -> ForRound {
        ForRound { transport }
    }
}

/// Either transport, cheaply cloned; rounds take this one type, so the round's code exists once.
pub enum RoundTransport {
    Http(HttpTransport),
    WebSocket(WebSocketTransport),
}

impl RoundTransport {
    /// The transport behind a JS transport object.
    fn of(transport: &JsValue) -> Result<RoundTransport> {
        let not_one = || {
            Error::InvalidArgument(
                "transport must be an HttpTransport or a WebSocketTransport of this module".into(),
            )
        };
        let for_round = Reflect::get(transport, &JsValue::from_str("forRound"))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(not_one)?;
        let wrapper = for_round.call0(transport).map_err(|_| not_one())?;
        ForRound::try_from_js_value(wrapper)
            .map(|w| w.transport)
            .map_err(|_| not_one())
    }
}

impl Transport for RoundTransport {
    fn relay(&self) -> &str {
        match self {
            RoundTransport::Http(t) => t.relay(),
            RoundTransport::WebSocket(t) => t.relay(),
        }
    }

    fn space(&self) -> &str {
        match self {
            RoundTransport::Http(t) => t.space(),
            RoundTransport::WebSocket(t) => t.space(),
        }
    }

    async fn begin(&self) -> Result<(), Failure> {
        match self {
            RoundTransport::Http(t) => t.begin().await,
            RoundTransport::WebSocket(t) => t.begin().await,
        }
    }

    async fn exchange(&self, message: Vec<u8>) -> Result<Vec<u8>, Failure> {
        match self {
            RoundTransport::Http(t) => t.exchange(message).await,
            RoundTransport::WebSocket(t) => t.exchange(message).await,
        }
    }

    async fn next(&self) -> Result<Vec<u8>, Failure> {
        match self {
            RoundTransport::Http(t) => t.next().await,
            RoundTransport::WebSocket(t) => t.next().await,
        }
    }

    fn end(&self, failure: Option<&Error>) {
        match self {
            RoundTransport::Http(t) => t.end(failure),
            RoundTransport::WebSocket(t) => t.end(failure),
        }
    }
}

fn spawn(
    engine: SharedEngine,
    transport: RoundTransport,
    on_progress: Option<Function>,
) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        transport.begin().await.map_err(|f| f.to_js())?;
        let result = drive(&engine, &transport, on_progress.as_ref()).await;
        transport.end(result.as_ref().err().map(|f| &f.error));
        let report = result.map_err(|f| f.to_js())?;
        report_to_js(&report).map_err(|e| super::error::to_js(&e))
    })
}

async fn drive(
    engine: &SharedEngine,
    transport: &RoundTransport,
    on_progress: Option<&Function>,
) -> Result<RoundReport, Failure> {
    let (mut round, mut action) = step(engine, |e| {
        e.begin_round(transport.relay(), transport.space())
    })?;
    let mut shown = None;
    loop {
        let reply = match action {
            Action::Send(message) => transport.exchange(message).await?,
            Action::Wait => transport.next().await?,
            Action::Done(report) => return Ok(report),
        };
        action = step(engine, |e| e.continue_round(&mut round, &reply))?;
        report_progress(&round, &mut shown, on_progress);
    }
}

/// Runs one synchronous step of the round with the engine borrowed.
fn step<T>(engine: &SharedEngine, f: impl FnOnce(&mut Engine) -> Result<T>) -> Result<T, Failure> {
    let mut slot = engine
        .try_borrow_mut()
        .map_err(|_| Error::Internal("the database is in use by a re-entrant call".into()))?;
    let engine = slot.as_mut().ok_or(Error::Closed)?;
    Ok(f(engine)?)
}

fn report_progress(round: &Round, shown: &mut Option<(u64, u64)>, on_progress: Option<&Function>) {
    let Some(progress) = round.progress() else {
        return;
    };
    let now = (progress.received, progress.total);
    if *shown == Some(now) {
        return;
    }
    *shown = Some(now);
    let Some(callback) = on_progress else { return };
    let object = Object::new();
    let _ = Reflect::set(
        &object,
        &"received".into(),
        &JsValue::from_f64(now.0 as f64),
    );
    let _ = Reflect::set(&object, &"total".into(), &JsValue::from_f64(now.1 as f64));
    // A throwing progress callback is the app's bug; the round goes on.
    let _ = callback.call1(&JsValue::UNDEFINED, &object);
}

fn report_to_js(report: &RoundReport) -> Result<JsValue> {
    let object = Object::new();
    let put = |key: &str, value: &JsValue| {
        Reflect::set(&object, &JsValue::from_str(key), value)
            .map(drop)
            .map_err(|_| Error::Internal("cannot build the round report".into()))
    };
    put("sent", &JsValue::from_f64(report.sent as f64))?;
    put("received", &JsValue::from_f64(report.received as f64))?;
    put("conflicts", &JsValue::from_f64(report.conflicts as f64))?;
    put("pending", &JsValue::from_f64(report.pending as f64))?;
    put("behind", &JsValue::from_bool(report.behind))?;
    let ids: Array = report
        .new_conflicts
        .iter()
        .map(|id| JsValue::from_str(&id.to_string()))
        .collect();
    put("newConflicts", &ids.into())?;
    Ok(object.into())
}
