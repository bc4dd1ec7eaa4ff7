//! Sync rounds across the boundary, one step at a time: `DatabaseHandle.beginRound` starts a
//! [`SyncRound`] and `continueRound` feeds it the relay's messages, each a synchronous call that
//! borrows the engine only while it runs. The TypeScript side moves the bytes (through the
//! transports) and schedules each step through the database's own call queue, so a page is never
//! applied inside a transaction the app holds open across awaits.
//!
//! An action crosses as a plain object: `{ send: Uint8Array }` (send this message, feed the
//! reply), `{ wait: true }` (feed the next message that arrives) or `{ done: RoundReport }`.

use std::cell::RefCell;

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::engine::{Action, Round, RoundReport};
use crate::error::Result;
use crate::wasm::convert::put;
use crate::wasm::error::{internal, to_js};
use crate::wasm::handle::DatabaseHandle;

#[wasm_bindgen(typescript_custom_section)]
const ROUND_TYPES: &str = r#"
/** What a completed sync round did (`DatabaseHandle.continueRound`'s `done`). */
export interface RoundReport {
  sent: number;
  received: number;
  conflicts: number;
  /** This replica's own change records the relay has not acknowledged. */
  pending: number;
  /** The relay announced more records during the round: run another soon. */
  behind: boolean;
  newConflicts: string[];
}
/** The next step of a sync round. */
export type RoundAction = { send: Uint8Array } | { wait: true } | { done: RoundReport };
"#;

/// One sync round in progress (internal; driven by the package's sync loop).
#[wasm_bindgen]
pub struct SyncRound {
    round: RefCell<Round>,
    /// The round's first action, until it is taken.
    first: RefCell<Option<Action>>,
}

#[wasm_bindgen]
impl SyncRound {
    /// The round's first action (once; later calls throw).
    #[wasm_bindgen(js_name = firstAction, unchecked_return_type = "RoundAction")]
    pub fn first_action(&self) -> Result<Object, JsValue> {
        let first = self.first.borrow_mut().take();
        let action = first.ok_or_else(|| internal("the round's first action was taken"))?;
        action_to_js(action).map_err(|e| to_js(&e))
    }

    /// How far the round's pull has come: `{ received, total }`, or undefined before any page.
    #[wasm_bindgen(unchecked_return_type = "{ received: number; total: number } | undefined")]
    pub fn progress(&self) -> Result<JsValue, JsValue> {
        let round = self.round.try_borrow().map_err(|_| busy())?;
        let Some(progress) = round.progress() else {
            return Ok(JsValue::UNDEFINED);
        };
        let object = Object::new();
        let set = |key: &str, value: u64| put(&object, &key.into(), &(value as f64).into());
        set("received", progress.received)
            .and_then(|()| set("total", progress.total))
            .map_err(|e| to_js(&e))?;
        Ok(object.into())
    }

    /// What the round did so far: `{ sent, received }` (pushes the relay acknowledged, records
    /// pulled that were new here), also when it was cut short.
    #[wasm_bindgen(unchecked_return_type = "{ sent: number; received: number }")]
    pub fn counts(&self) -> Result<Object, JsValue> {
        let round = self.round.try_borrow().map_err(|_| busy())?;
        let (sent, received) = round.counts();
        let object = Object::new();
        let set = |key: &str, value: u64| put(&object, &key.into(), &(value as f64).into());
        set("sent", sent)
            .and_then(|()| set("received", received))
            .map_err(|e| to_js(&e))?;
        Ok(object)
    }

    /// The ids of the conflicts that the pages applied so far created, not taken before: for a
    /// round cut short, so that resolvers still see them.
    #[wasm_bindgen(js_name = takeNewConflicts, unchecked_return_type = "string[]")]
    pub fn take_new_conflicts(&self) -> Result<Array, JsValue> {
        let mut round = self.round.try_borrow_mut().map_err(|_| busy())?;
        Ok(round
            .take_new_conflicts()
            .iter()
            .map(|id| JsValue::from_str(&id.to_string()))
            .collect())
    }
}

#[wasm_bindgen]
impl DatabaseHandle {
    /// Starts a sync round with the relay `relay` (its base URL: what cursors are kept by) over
    /// `space`; its first action is `round.firstAction()`.
    #[wasm_bindgen(js_name = beginRound)]
    pub fn begin_round(&self, relay: &str, space: &str) -> Result<SyncRound, JsValue> {
        let (round, first) = self.with(|engine| engine.begin_round(relay, space))?;
        Ok(SyncRound {
            round: RefCell::new(round),
            first: RefCell::new(Some(first)),
        })
    }

    /// Feeds one message from the relay to `round`; returns the next action. A page is imported
    /// here, with the cursor after it, in one transaction. A thrown error ends the round.
    #[wasm_bindgen(js_name = continueRound, unchecked_return_type = "RoundAction")]
    pub fn continue_round(&self, round: &SyncRound, message: &[u8]) -> Result<Object, JsValue> {
        let mut round = round.round.try_borrow_mut().map_err(|_| busy())?;
        let action = self.with(|engine| engine.continue_round(&mut round, message))?;
        action_to_js(action).map_err(|e| to_js(&e))
    }

    /// This replica's own change records that (`relay`, `space`) has not acknowledged.
    #[wasm_bindgen(js_name = syncPending)]
    pub fn sync_pending(&self, relay: &str, space: &str) -> Result<f64, JsValue> {
        self.with(|engine| engine.sync_pending(relay, space))
            .map(|pending| pending as f64)
    }
}

fn busy() -> JsValue {
    internal("a sync round is fed from two places at once")
}

fn action_to_js(action: Action) -> Result<Object> {
    let object = Object::new();
    match action {
        Action::Send(bytes) => put(&object, &"send".into(), &Uint8Array::from(&bytes[..]))?,
        Action::Wait => put(&object, &"wait".into(), &JsValue::TRUE)?,
        Action::Done(report) => put(&object, &"done".into(), &report_to_js(&report)?.into())?,
    }
    Ok(object)
}

fn report_to_js(report: &RoundReport) -> Result<Object> {
    let object = Object::new();
    for (key, count) in [
        ("sent", report.sent),
        ("received", report.received),
        ("conflicts", report.conflicts),
        ("pending", report.pending),
    ] {
        put(&object, &key.into(), &JsValue::from_f64(count as f64))?;
    }
    put(
        &object,
        &"behind".into(),
        &JsValue::from_bool(report.behind),
    )?;
    let ids: Array = report
        .new_conflicts
        .iter()
        .map(|id| JsValue::from_str(&id.to_string()))
        .collect();
    put(&object, &"newConflicts".into(), &ids)?;
    Ok(object)
}
