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

use js_sys::{Function, Object, Promise, Reflect};
use serde::Serialize;
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
        let engine = self.shared_engine();
        Ok(match RoundTransport::of(&transport).map_err(|e| to_js(&e))? {
            RoundTransport::Http(t) => spawn(engine, t, on_progress),
            RoundTransport::WebSocket(t) => spawn(engine, t, on_progress),
        })
    }

    /// Local records the relay behind `transport` has not acknowledged.
    #[wasm_bindgen(js_name = syncPending)]
    pub fn sync_pending(
        &self,
        #[wasm_bindgen(unchecked_param_type = "HttpTransport | WebSocketTransport")]
        transport: JsValue,
    ) -> Result<f64, JsValue> {
        let engine = self.shared_engine();
        let pending = match RoundTransport::of(&transport).map_err(|e| to_js(&e))? {
            RoundTransport::Http(t) => step(&engine, |e| e.sync_pending(t.relay(), t.space())),
            RoundTransport::WebSocket(t) => step(&engine, |e| e.sync_pending(t.relay(), t.space())),
        };
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

/// Either transport, cheaply cloned.
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

fn spawn(engine: SharedEngine, transport: impl Transport + 'static, on_progress: Option<Function>) -> Promise {
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
    transport: &impl Transport,
    on_progress: Option<&Function>,
) -> Result<RoundReport, Failure> {
    let (mut round, mut action) =
        step(engine, |e| e.begin_round(transport.relay(), transport.space()))?;
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
    let Some(progress) = round.progress() else { return };
    let now = (progress.received, progress.total);
    if *shown == Some(now) {
        return;
    }
    *shown = Some(now);
    let Some(callback) = on_progress else { return };
    let object = Object::new();
    let _ = Reflect::set(&object, &"received".into(), &JsValue::from_f64(now.0 as f64));
    let _ = Reflect::set(&object, &"total".into(), &JsValue::from_f64(now.1 as f64));
    // A throwing progress callback is the app's bug; the round goes on.
    let _ = callback.call1(&JsValue::UNDEFINED, &object);
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    sent: f64,
    received: f64,
    conflicts: f64,
    pending: f64,
    behind: bool,
    new_conflicts: Vec<String>,
}

fn report_to_js(report: &RoundReport) -> Result<JsValue> {
    let plain = Report {
        sent: report.sent as f64,
        received: report.received as f64,
        conflicts: report.conflicts as f64,
        pending: report.pending as f64,
        behind: report.behind,
        new_conflicts: report.new_conflicts.iter().map(ToString::to_string).collect(),
    };
    serde_wasm_bindgen::to_value(&plain)
        .map_err(|e| Error::Internal(format!("cannot build the round report: {e}")))
}
