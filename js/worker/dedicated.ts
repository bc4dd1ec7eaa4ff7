// OPFS databases that a dedicated worker of the app opens for itself (`openDatabase({ storage:
// "opfs" })` in a worker): they run in-process, in the worker's own wasm instance, and share the
// origin's OPFS pool with no package worker in between.
//
// Invariants: the pool is taken (js/worker/pool.ts) before the first such database opens and
// given back once the last one has closed; these databases' calls pass the pool's gate
// (js/worker/gate.ts), so they wait while the pool changes.

import { LocalDatabase, type Database } from "../database.js";
import { toSyncError } from "../errors.js";
import { ready } from "../init.js";
import { poolGate } from "./gate.js";
import { acquirePool, openInPool, releasePool, trimPool } from "./pool.js";

/** OPFS databases open (or opening) in this worker (the pool is given back when none is left). */
let opfsOpen = 0;

/** Opens an OPFS database in this dedicated worker, taking the origin's pool (waiting up to 5 s). */
export async function openInThisWorker(name: string): Promise<Database> {
  await ready();
  await acquirePool(5_000);
  opfsOpen += 1;
  const closed = (): void => {
    opfsOpen -= 1;
    if (opfsOpen > 0) {
      trimPool();
    } else {
      // A failure leaves the handles to the worker's end; the lock is released all the same.
      releasePool(() => opfsOpen === 0).catch(() => undefined);
    }
  };
  try {
    return new LocalDatabase(await openInPool(name), name, { onClosed: closed, gate: poolGate });
  } catch (e) {
    closed();
    throw toSyncError(e);
  }
}
