//! `DatabaseHandle`: the exported class behind the TypeScript `Database`.
//!
//! Every method takes `&self`, borrows the engine only for the duration of the call (no JS runs
//! while it is borrowed), and returns plain JS values or throws a coded `SyncError`. After
//! `close()` every call throws `ERR_CLOSED`. The values built here (`convert.rs`) have the shapes
//! of the package's public types, so the generated `.d.ts` declares them with those types
//! (`unchecked_return_type`, `unchecked_param_type`), imported from `js/types.ts`.

use std::cell::{Cell, RefCell};

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::engine::{Carry, ConflictStrategy, Engine, Location};
use crate::error::{Error, Result};
use crate::ids::{ConflictId, DeviceId};
use crate::wasm::error::{internal, to_js};
use crate::wasm::{convert, opfs};

#[wasm_bindgen(typescript_custom_section)]
const PUBLIC_TYPES: &str = r#"
import type {
  ChangeRecord,
  Conflict,
  ConflictChoice,
  ExecResult,
  ImportResult,
  Params,
  PendingChange,
  Row,
  SyncOptions,
  VectorClock,
} from "../types.js";

/** Where `DatabaseHandle.open` opens a database. */
export interface HandleOptions {
  /** `"memory"` (the default) or `"opfs"` (after `installOpfs()`, in a dedicated worker). */
  storage?: "memory" | "opfs";
  /** The OPFS file's name (default `"main.db"`). */
  name?: string;
  /** Bytes from `snapshot()` that a memory database starts from. */
  snapshot?: Uint8Array;
}
"#;

/// One open database (internal; the public API is the TypeScript `Database`).
#[wasm_bindgen]
pub struct DatabaseHandle {
    engine: RefCell<Option<Engine>>,
    device_id: String,
    /// Counts an open OPFS database (the pool keeps a journal's room for each); none otherwise.
    lease: Cell<Option<opfs::Lease>>,
}

#[wasm_bindgen]
impl DatabaseHandle {
    /// Opens a database. `options.storage` is `"memory"` (the default; `options.snapshot`, bytes
    /// from `snapshot()`, seeds it) or `"opfs"` (after `installOpfs()`, in a dedicated worker),
    /// where `options.name` names the file.
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "HandleOptions")] options: JsValue,
    ) -> Result<DatabaseHandle, JsValue> {
        let storage = convert::string_option(&options, "storage").map_err(|e| to_js(&e))?;
        let name = convert::string_option(&options, "name").map_err(|e| to_js(&e))?;
        let snapshot = js_sys::Reflect::get(&options, &JsValue::from_str("snapshot"))
            .ok()
            .and_then(|v| v.dyn_into::<Uint8Array>().ok());
        let location = match storage.as_deref() {
            None | Some("memory") => match snapshot {
                Some(bytes) => Location::Snapshot(bytes.to_vec()),
                None => Location::Memory,
            },
            Some("opfs") if opfs::ready() => {
                let path = opfs::path_for(name.as_deref().unwrap_or("main.db"));
                opfs::check_room(&path).map_err(|e| to_js(&e))?;
                Location::Path { path, vfs: Some(opfs::VFS_NAME.to_owned()) }
            }
            Some("opfs") => {
                return Err(to_js(&Error::StorageUnavailable(
                    "OPFS is not installed in this context; call installOpfs() in a dedicated worker first".into(),
                )))
            }
            Some("idb") => {
                return Err(to_js(&Error::StorageUnavailable(
                    "storage \"idb\" is not available in this build yet".into(),
                )))
            }
            Some(other) => {
                return Err(to_js(&Error::InvalidArgument(format!(
                    "storage must be \"memory\", \"opfs\" or \"idb\", not {other:?}"
                ))))
            }
        };
        let in_opfs = matches!(location, Location::Path { .. });
        let engine = Engine::open(&location, Box::new(|| js_sys::Date::now() as u64))
            .map_err(|e| to_js(&e))?;
        let device_id = engine.device_id().to_string();
        Ok(DatabaseHandle {
            engine: RefCell::new(Some(engine)),
            device_id,
            lease: Cell::new(in_opfs.then(opfs::Lease::acquire)),
        })
    }

    /// This replica's id: 32 lowercase hex characters.
    #[wasm_bindgen(getter, js_name = deviceId)]
    pub fn device_id(&self) -> String {
        self.device_id.clone()
    }

    /// Runs one or more statements; returns `{ changes, lastInsertRowid }`.
    #[wasm_bindgen(unchecked_return_type = "ExecResult")]
    pub fn exec(
        &self,
        sql: &str,
        #[wasm_bindgen(unchecked_param_type = "Params | null")] params: JsValue,
    ) -> Result<Object, JsValue> {
        self.with(|engine| {
            let params = convert::params_from_js(&params)?;
            let outcome = engine.execute(sql, &params)?;
            let result = Object::new();
            let set = |key: &str, value: f64| {
                js_sys::Reflect::set(&result, &JsValue::from_str(key), &JsValue::from_f64(value))
                    .map_err(|_| Error::InvalidArgument("cannot build a result object".into()))
            };
            set("changes", outcome.changes as f64)?;
            set("lastInsertRowid", outcome.last_insert_rowid as f64)?;
            Ok(result)
        })
    }

    /// Runs statements and returns the last result set as an array of row objects.
    #[wasm_bindgen(unchecked_return_type = "Row[]")]
    pub fn query(
        &self,
        sql: &str,
        #[wasm_bindgen(unchecked_param_type = "Params | null")] params: JsValue,
    ) -> Result<Array, JsValue> {
        self.with(|engine| {
            let params = convert::params_from_js(&params)?;
            convert::rows_to_js(&engine.query(sql, &params)?)
        })
    }

    /// Starts capturing changes to `table`; `options.conflictStrategy` defaults to `"manual"`.
    #[wasm_bindgen(js_name = enableSync)]
    pub fn enable_sync(
        &self,
        table: &str,
        #[wasm_bindgen(unchecked_param_type = "SyncOptions | null")] options: JsValue,
    ) -> Result<(), JsValue> {
        self.with(|engine| {
            let strategy = match convert::string_option(&options, "conflictStrategy")? {
                Some(text) => ConflictStrategy::parse(&text)?,
                None => ConflictStrategy::default(),
            };
            engine.enable_sync(table, strategy)
        })
    }

    /// Stops capturing changes to `table`.
    #[wasm_bindgen(js_name = disableSync)]
    pub fn disable_sync(&self, table: &str) -> Result<(), JsValue> {
        self.with(|engine| engine.disable_sync(table))
    }

    /// The synced tables, sorted.
    #[wasm_bindgen(js_name = syncedTables)]
    pub fn synced_tables(&self) -> Result<Vec<String>, JsValue> {
        self.with(|engine| Ok(engine.synced_tables()))
    }

    /// `{ deviceId: highest counter }` for every device with known changes.
    #[wasm_bindgen(js_name = vectorClock, unchecked_return_type = "VectorClock")]
    pub fn vector_clock(&self) -> Result<Object, JsValue> {
        self.with(|engine| convert::clock_to_js(&engine.vector_clock()?))
    }

    /// The change log, oldest first.
    #[wasm_bindgen(js_name = changeLog, unchecked_return_type = "ChangeRecord[]")]
    pub fn change_log(&self) -> Result<Array, JsValue> {
        self.with(|engine| {
            let out = Array::new();
            for record in engine.change_log()? {
                out.push(&convert::record_to_js(&record)?.into());
            }
            Ok(out)
        })
    }

    /// A bundle of every change the peer `peerId` is not known to have (all changes when it is
    /// absent or unknown), or only those no earlier bundle to it carried (`unsentOnly`); `null`
    /// when there is nothing to send.
    #[wasm_bindgen(js_name = generateBundle, unchecked_return_type = "Uint8Array | null")]
    pub fn generate_bundle(
        &self,
        peer_id: Option<String>,
        unsent_only: bool,
    ) -> Result<JsValue, JsValue> {
        self.with(|engine| {
            let peer = peer_id.as_deref().map(DeviceId::from_hex).transpose()?;
            let carry = if unsent_only {
                Carry::Unsent
            } else {
                Carry::Unacknowledged
            };
            Ok(
                match engine.generate_bundle_carrying(peer.as_ref(), carry)? {
                    Some(bytes) => Uint8Array::from(bytes.as_slice()).into(),
                    None => JsValue::NULL,
                },
            )
        })
    }

    /// Validates a bundle, then applies it in one transaction; returns the `ImportResult`.
    #[wasm_bindgen(js_name = importBundle, unchecked_return_type = "ImportResult")]
    pub fn import_bundle(&self, bytes: &[u8]) -> Result<Object, JsValue> {
        self.with(|engine| convert::import_to_js(&engine.import_bundle(bytes)?))
    }

    /// Open conflicts, oldest first.
    #[wasm_bindgen(unchecked_return_type = "Conflict[]")]
    pub fn conflicts(&self) -> Result<Array, JsValue> {
        self.with(|engine| {
            let out = Array::new();
            for conflict in engine.conflicts()? {
                out.push(&convert::conflict_to_js(&conflict)?.into());
            }
            Ok(out)
        })
    }

    /// Resolves a conflict: `choice` is `"local"`, `"remote"` or `{ values: Row }`.
    #[wasm_bindgen(js_name = resolveConflict)]
    pub fn resolve_conflict(
        &self,
        id: &str,
        #[wasm_bindgen(unchecked_param_type = "ConflictChoice")] choice: JsValue,
    ) -> Result<(), JsValue> {
        self.with(|engine| {
            let choice = convert::choice_from_js(&choice)?;
            let id =
                ConflictId::from_hex(id).ok_or_else(|| Error::ConflictNotFound(id.to_owned()))?;
            engine.resolve_conflict(id, choice)
        })
    }

    /// Received records that wait for a change they depend on.
    #[wasm_bindgen(js_name = pendingChanges, unchecked_return_type = "PendingChange[]")]
    pub fn pending_changes(&self) -> Result<Array, JsValue> {
        self.with(|engine| {
            let out = Array::new();
            for record in engine.pending_records()? {
                out.push(&convert::pending_to_js(&record)?.into());
            }
            Ok(out)
        })
    }

    /// Drops waiting records (all, or those of `origin`); returns how many were dropped.
    #[wasm_bindgen(js_name = discardPendingChanges)]
    pub fn discard_pending_changes(&self, origin: Option<String>) -> Result<f64, JsValue> {
        self.with(|engine| {
            let origin = origin.as_deref().map(DeviceId::from_hex).transpose()?;
            Ok(engine.discard_pending(origin.as_ref())? as f64)
        })
    }

    /// Keeps `reply` (JSON) as the answer of the worker call `key`, in the current transaction.
    #[wasm_bindgen(js_name = rememberReply)]
    pub fn remember_reply(&self, key: String, reply: String) -> Result<(), JsValue> {
        self.with(|engine| engine.remember_reply(&key, &reply))
    }

    /// The reply kept for the worker call `key`, if it committed before.
    #[wasm_bindgen(js_name = recallReply)]
    pub fn recall_reply(&self, key: String) -> Result<Option<String>, JsValue> {
        self.with(|engine| engine.recall_reply(&key))
    }

    /// The whole database as bytes; `open({ storage: "memory", snapshot })` reopens it.
    pub fn snapshot(&self) -> Result<Uint8Array, JsValue> {
        self.with(|engine| Ok(Uint8Array::from(engine.snapshot()?.as_slice())))
    }

    /// True while a transaction is open.
    #[wasm_bindgen(js_name = inTransaction)]
    pub fn in_transaction(&self) -> Result<bool, JsValue> {
        self.with(|engine| Ok(engine.in_transaction()))
    }

    /// Closes the database. Calling it again does nothing.
    pub fn close(&self) -> Result<(), JsValue> {
        let engine = self
            .engine
            .try_borrow_mut()
            .map_err(|_| internal("close() called while the database is in use"))?
            .take();
        self.lease.take();
        match engine {
            Some(engine) => engine.close().map_err(|e| to_js(&e)),
            None => Ok(()),
        }
    }
}

impl DatabaseHandle {
    /// Runs `f` with the open engine, converting errors for JS.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Engine) -> Result<T>) -> Result<T, JsValue> {
        let mut slot = self
            .engine
            .try_borrow_mut()
            .map_err(|_| internal("re-entrant call into the database"))?;
        let engine = slot.as_mut().ok_or_else(|| to_js(&Error::Closed))?;
        f(engine).map_err(|e| to_js(&e))
    }
}
