// Loading the wasm module once per realm, in whatever way the runtime allows.
//
// Each runtime loader in js/load/ registers how to initialise the wasm-bindgen glue when it is
// imported (js/load/register.ts), and so does the package worker; `ready()` runs that once and
// memoises it, then registers the listener of the module's panic hook (js/instance.ts). Nothing
// is loaded at import time (service workers forbid top-level await), so `openDatabase` awaits
// `ready()` instead.

import { SyncError, toSyncError } from "./errors.js";
import { reportPanicsTo } from "./generated/sqlite_sync_wasm.js";
import { intoWasm, recordPanic } from "./instance.js";

/** How a runtime initialises the wasm-bindgen glue (it may return a promise). */
export type Initializer = () => unknown;

let initializer: Initializer | undefined;
let loading: Promise<void> | undefined;

/** Called by a runtime loader to say how the wasm module is initialised. @internal */
export function setInitializer(init: Initializer): void {
  initializer = init;
}

/**
 * Initialises the wasm module on first use; later calls share the result. A failed attempt is
 * forgotten, so the next call tries again (a network fetch may succeed later).
 */
export function ready(): Promise<void> {
  loading ??= load().catch((e: unknown) => {
    loading = undefined;
    throw toSyncError(e);
  });
  return loading;
}

async function load(): Promise<void> {
  if (initializer === undefined) {
    throw new SyncError(
      "ERR_INTERNAL",
      "no runtime loader ran: import the package by name so its exports pick a loader",
    );
  }
  await initializer();
  intoWasm(() => reportPanicsTo(recordPanic));
}
