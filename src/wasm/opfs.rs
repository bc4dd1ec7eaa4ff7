//! OPFS persistence: the `opfs-sahpool` SQLite VFS (sqlite-wasm-vfs) over the Origin Private File
//! System's synchronous access handles, which exist only in dedicated workers.
//!
//! `installOpfs()` acquires the pool's access handles (asynchronously, once per worker) and
//! registers the VFS; databases opened with `storage: "opfs"` then live in it. `releaseOpfs()`
//! gives the handles back (after every OPFS database of the worker is closed) so that another
//! context, such as another tab's worker, can take over.

use std::cell::RefCell;

use rsqlite_vfs::VfsFilesManager;
use sqlite_wasm_rs::WasmOsCallback;
use sqlite_wasm_vfs::sahpool::{install, OpfsSAHPoolCfgBuilder, OpfsSAHPoolUtil};
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::wasm::error::to_js;

/// Name under which the VFS is registered with SQLite.
pub const VFS_NAME: &str = "opfs-sahpool";

/// Files the pool holds from the start: a database and its journal take one each, so this leaves
/// room for a dozen databases per origin.
const INITIAL_FILES: usize = 24;

thread_local! {
    static POOL: RefCell<Option<OpfsSAHPoolUtil>> = const { RefCell::new(None) };
}

/// Whether the pool is installed and holding its handles.
pub fn ready() -> bool {
    POOL.with(|pool| {
        pool.borrow()
            .as_ref()
            .is_some_and(|p| !p.is_paused() && !p.is_uninstalled())
    })
}

/// Refuses to open `path` when the pool could not then also hold a journal for it and for one
/// other database: a pool that runs out of files mid-write cannot open journals for any database.
pub fn check_room(path: &str) -> Result<(), Error> {
    POOL.with(|pool| {
        let pool = pool.borrow();
        let Some(pool) = pool.as_ref() else {
            return Err(Error::StorageUnavailable("OPFS is not installed".into()));
        };
        let unreadable = |e: &dyn std::fmt::Display| Error::StorageUnavailable(format!("OPFS: {e}"));
        let used = pool.len().map_err(|e| unreadable(&e))?;
        let exists = pool.contains(path).map_err(|e| unreadable(&e))?;
        let needed = if exists { 2 } else { 3 };
        if pool.capacity() < used + needed {
            return Err(Error::StorageUnavailable(format!(
                "the OPFS pool is full ({used} of {} files in use); close or remove other databases",
                pool.capacity()
            )));
        }
        Ok(())
    })
}

/// Acquires the OPFS access handles and registers the `opfs-sahpool` VFS (idempotent). Fails with
/// `ERR_STORAGE_UNAVAILABLE` outside a dedicated worker or when another context holds the handles.
#[wasm_bindgen(js_name = installOpfs)]
pub async fn install_opfs() -> Result<(), JsValue> {
    let paused = POOL.with(|pool| pool.borrow().as_ref().map(|p| p.is_paused()));
    let unavailable =
        |e: &dyn std::fmt::Display| to_js(&Error::StorageUnavailable(format!("OPFS: {e}")));
    match paused {
        Some(false) => Ok(()),
        Some(true) => {
            let pool = POOL.with(|pool| pool.borrow_mut().take());
            let outcome = match &pool {
                Some(pool) => pool.resume().await.map_err(|e| unavailable(&e)),
                None => Ok(()),
            };
            POOL.with(|slot| *slot.borrow_mut() = pool);
            outcome
        }
        None => {
            let config = OpfsSAHPoolCfgBuilder::new()
                .vfs_name(VFS_NAME)
                .initial_capacity(INITIAL_FILES)
                .build();
            let pool = install::<WasmOsCallback>(&config, false)
                .await
                .map_err(|e| unavailable(&e))?;
            POOL.with(|slot| *slot.borrow_mut() = Some(pool));
            Ok(())
        }
    }
}

/// Releases the OPFS access handles. Every OPFS database of this worker must be closed first.
#[wasm_bindgen(js_name = releaseOpfs)]
pub fn release_opfs() -> Result<(), JsValue> {
    POOL.with(|pool| match pool.borrow().as_ref() {
        Some(pool) => pool
            .pause()
            .map_err(|e| to_js(&Error::InvalidArgument(format!("cannot release OPFS: {e}")))),
        None => Ok(()),
    })
}
