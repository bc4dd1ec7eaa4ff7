//! OPFS persistence: the `opfs-sahpool` SQLite VFS (sqlite-wasm-vfs) over the Origin Private File
//! System's synchronous access handles, which exist only in dedicated workers.
//!
//! `installOpfs()` acquires the pool's access handles (asynchronously, once per worker) and
//! registers the VFS; databases opened with `storage: "opfs"` then live in it. The pool is a set of
//! files, each holding one SQLite file (a database or its rollback journal) and one access handle.
//! It grows on demand: `reserveOpfs(name)` runs before a database opens and adds files while the
//! free ones are fewer than a journal for every open database plus the new one, its own file and a
//! margin, because SQLite cannot wait for an asynchronous growth in the middle of a write.
//! `trimOpfs()` gives surplus free files back after databases close. Both are pool changes: the
//! caller keeps every SQLite call of this worker waiting while one runs (js/worker/gate.ts).
//! `releaseOpfs()` gives the handles back (after every OPFS database of the worker is closed) so
//! that another context, such as another tab's worker, can take over.

use std::cell::{Cell, RefCell};

use rsqlite_vfs::VfsFilesManager;
use sqlite_wasm_rs::WasmOsCallback;
use sqlite_wasm_vfs::sahpool::{install, OpfsSAHPoolCfgBuilder, OpfsSAHPoolUtil};
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::wasm::error::to_js;

/// Name under which the VFS is registered with SQLite.
pub const VFS_NAME: &str = "opfs-sahpool";

/// Files a new pool starts with: room for a few databases before it first grows.
const INITIAL_FILES: usize = 8;

/// Free files kept beyond one journal per open database (a database opened next, an attached one).
const SPARE_FILES: usize = 4;

/// The fewest files added at once, so that a run of opens grows the pool now and then, not each time.
const GROW_STEP: usize = 8;

thread_local! {
    static POOL: RefCell<Option<OpfsSAHPoolUtil>> = const { RefCell::new(None) };
    /// OPFS databases open in this worker.
    static OPEN: Cell<usize> = const { Cell::new(0) };
}

/// Counts one open OPFS database while it lives.
pub struct Lease(());

impl Lease {
    /// Counts a database that has just opened.
    pub fn acquire() -> Lease {
        OPEN.with(|open| open.set(open.get() + 1));
        Lease(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        OPEN.with(|open| open.set(open.get().saturating_sub(1)));
    }
}

/// The pool file name of the database `name`.
pub fn path_for(name: &str) -> String {
    format!("/{name}")
}

/// Whether the pool is installed and holding its handles.
pub fn ready() -> bool {
    POOL.with(|pool| {
        pool.borrow()
            .as_ref()
            .is_some_and(|p| !p.is_paused() && !p.is_uninstalled())
    })
}

/// The installed pool (a shared handle to it, so that no borrow is held across an `await`).
fn pool() -> Result<OpfsSAHPoolUtil, Error> {
    POOL.with(|pool| pool.borrow().clone())
        .ok_or_else(|| Error::StorageUnavailable("OPFS is not installed".into()))
}

fn unreadable(e: &dyn std::fmt::Display) -> Error {
    Error::StorageUnavailable(format!("OPFS: {e}"))
}

/// What the pool holds now: `(capacity, files in use)`.
fn usage(pool: &OpfsSAHPoolUtil) -> Result<(usize, usize), Error> {
    let used = pool.len().map_err(|e| unreadable(&e))?;
    Ok((pool.capacity(), used))
}

/// Refuses to open `path` when the pool could not then also hold a journal for it and for one
/// other database: a pool that runs out of files mid-write cannot open journals for any database.
/// (`reserveOpfs` grows the pool well before this can happen; only a pool that could not grow
/// gets here.)
pub fn check_room(path: &str) -> Result<(), Error> {
    let pool = pool()?;
    let (capacity, used) = usage(&pool)?;
    let exists = pool.contains(path).map_err(|e| unreadable(&e))?;
    let needed = if exists { 2 } else { 3 };
    if capacity < used + needed {
        return Err(Error::StorageUnavailable(format!(
            "the OPFS pool is full ({used} of {capacity} files in use) and could not grow"
        )));
    }
    Ok(())
}

/// Free files wanted with `open` databases open: a journal for each, and the spare ones.
fn wanted_free(open: usize) -> usize {
    open + SPARE_FILES
}

/// Grows the pool, if needed, so that the database `name` can open and every open database
/// (this one included) can still write. Fails with `ERR_STORAGE_UNAVAILABLE` only when the pool
/// could not grow (storage quota exceeded, access handles refused) and has no room for `name`.
#[wasm_bindgen(js_name = reserveOpfs)]
pub async fn reserve_opfs(name: String) -> Result<(), JsValue> {
    let path = path_for(&name);
    let pool = pool().map_err(|e| to_js(&e))?;
    let (capacity, used) = usage(&pool).map_err(|e| to_js(&e))?;
    let exists = pool.contains(&path).map_err(|e| to_js(&unreadable(&e)))?;
    let open = OPEN.with(Cell::get);
    let needed = usize::from(!exists) + wanted_free(open + 1);
    let free = capacity.saturating_sub(used);
    if free >= needed {
        return Ok(());
    }
    match pool.add_capacity((needed - free).max(GROW_STEP)).await {
        Ok(_) => Ok(()),
        // A pool that could not grow may still hold this database and its journal.
        Err(e) => check_room(&path).map_err(|_| {
            to_js(&Error::StorageUnavailable(format!(
                "the OPFS pool ({used} of {capacity} files in use) could not grow: {e}"
            )))
        }),
    }
}

/// Removes free files beyond what the open databases want (with some slack, so that opening and
/// closing a database does not remove and re-create files every time).
#[wasm_bindgen(js_name = trimOpfs)]
pub async fn trim_opfs() -> Result<(), JsValue> {
    trim().await.map_err(|e| to_js(&e))
}

async fn trim() -> Result<(), Error> {
    if !ready() {
        return Ok(());
    }
    let pool = pool()?;
    let (capacity, used) = usage(&pool)?;
    let keep = wanted_free(OPEN.with(Cell::get)) + GROW_STEP;
    let free = capacity.saturating_sub(used);
    if free > keep + GROW_STEP {
        pool.reduce_capacity(free - keep)
            .await
            .map_err(|e| unreadable(&e))?;
    }
    Ok(())
}

/// Acquires the OPFS access handles and registers the `opfs-sahpool` VFS (idempotent). Fails with
/// `ERR_STORAGE_UNAVAILABLE` outside a dedicated worker or when another context holds the handles.
#[wasm_bindgen(js_name = installOpfs)]
pub async fn install_opfs() -> Result<(), JsValue> {
    let paused = POOL.with(|pool| pool.borrow().as_ref().map(|p| p.is_paused()));
    let unavailable =
        |e: &dyn std::fmt::Display| to_js(&Error::StorageUnavailable(format!("OPFS: {e}")));
    match paused {
        Some(false) => return Ok(()),
        Some(true) => {
            let pool = POOL.with(|pool| pool.borrow().clone());
            if let Some(pool) = pool {
                pool.resume().await.map_err(|e| unavailable(&e))?;
            }
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
        }
    }
    // Files added for databases that are gone (a crash before trimming) are not kept forever. A
    // failed trim leaves them for the next one; the pool itself is installed.
    let _ = trim().await;
    Ok(())
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
