// Owning the OPFS access-handle pool in this dedicated worker: one context of an origin may hold
// the `opfs-sahpool` handles at a time, so the holder is elected with a Web Lock, and the handles
// are acquired (retrying while the previous holder's handles are still being freed) only under
// that lock. Databases open through `openInPool`, which first grows the pool when it is short of
// free files; `trimPool` gives surplus files back after a database closes.
//
// Invariants: `installOpfs()` runs only while this worker holds `POOL_LOCK`; the lock is given
// back only once `releaseOpfs()` has been called (or when the worker dies, which frees both);
// installing, growing, trimming and releasing the pool are pool changes (js/worker/gate.ts), run
// one at a time while the calls of this worker's OPFS databases wait.

import { SyncError, toSyncError } from "../errors.js";
import { DatabaseHandle, installOpfs, releaseOpfs, reserveOpfs, trimOpfs } from "../generated/sqlite_sync_wasm.js";
import { instanceStopped, intoWasm, intoWasmAsync } from "../instance.js";
import { hasStorageDirectory, inDedicatedWorker, locks } from "../runtime.js";
import { changePool } from "./gate.js";
import { POOL_LOCK } from "./rpc.js";

function unavailable(message: string, retryable = false): SyncError {
  return new SyncError("ERR_STORAGE_UNAVAILABLE", message, { retryable });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The held pool: the lock's release function. */
let held: { release: () => void } | undefined;
let acquiring: Promise<void> | undefined;

/** Whether this worker holds the pool now. */
export function holdingPool(): boolean {
  return held !== undefined;
}

/**
 * Takes the pool lock (waiting up to `timeoutMs`, forever when undefined) and acquires the access
 * handles. Idempotent while held.
 * @throws {SyncError} `ERR_STORAGE_UNAVAILABLE` outside a dedicated worker, without Web Locks or
 *   OPFS, or (retryable) when another context keeps the pool past the timeout
 */
export function acquirePool(timeoutMs?: number): Promise<void> {
  if (held !== undefined) return Promise.resolve();
  acquiring ??= acquire(timeoutMs).finally(() => {
    acquiring = undefined;
  });
  return acquiring;
}

async function acquire(timeoutMs: number | undefined): Promise<void> {
  if (!inDedicatedWorker()) throw unavailable("OPFS storage needs a dedicated worker or a page");
  const lockApi = locks();
  if (lockApi === undefined || !hasStorageDirectory()) {
    throw unavailable("OPFS needs a secure context with Web Locks and navigator.storage.getDirectory");
  }
  const abort = new AbortController();
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => abort.abort(), timeoutMs);
  const granted = await new Promise<() => void>((resolve, reject) => {
    lockApi
      .request(POOL_LOCK, { signal: abort.signal }, () => {
        if (timer !== undefined) clearTimeout(timer);
        return new Promise<void>((release) => resolve(release));
      })
      .catch((e: unknown) => {
        if (abort.signal.aborted) {
          reject(unavailable("another tab or worker holds the OPFS database; try again later", true));
        } else {
          reject(toSyncError(e));
        }
      });
  });
  try {
    await installWithRetry();
  } catch (e) {
    granted();
    throw e;
  }
  held = { release: granted };
}

/**
 * `installOpfs()`, retried for a while: a holder that has just died (a closed tab, a terminated
 * worker) frees its lock slightly before its access handles.
 */
async function installWithRetry(): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    try {
      await changePool(() => intoWasmAsync(() => installOpfs()));
      return;
    } catch (e) {
      const error = toSyncError(e);
      if (Date.now() > deadline || instanceStopped()) throw error;
      await sleep(wait);
    }
  }
}

/**
 * Gives the access handles back and releases the lock (every OPFS database must be closed), once
 * the pool changes asked before have run, and only if `unused()` still says so then.
 */
export function releasePool(unused: () => boolean = () => true): Promise<void> {
  return changePool(async () => {
    if (held === undefined || !unused()) return;
    const { release } = held;
    held = undefined;
    try {
      intoWasm(() => releaseOpfs());
    } finally {
      release();
    }
  });
}

/**
 * Opens the OPFS database `name`, first growing the pool if it is short of free files for it.
 * @throws {SyncError} `ERR_STORAGE_UNAVAILABLE` when the pool cannot grow (storage quota exceeded,
 *   access handles refused) and has no room left for the database
 */
export function openInPool(name: string): Promise<DatabaseHandle> {
  return changePool(async () => {
    try {
      await intoWasmAsync(() => reserveOpfs(name));
      return intoWasm(() => DatabaseHandle.open({ storage: "opfs", name }));
    } catch (e) {
      throw toSyncError(e);
    }
  });
}

/** Gives back free files the open databases do not need (best effort: surplus files stay else). */
export function trimPool(): void {
  if (held === undefined) return;
  changePool(() => intoWasmAsync(() => trimOpfs())).catch(() => undefined);
}
