// The state of this realm's wasm instance: running, or stopped by a trap. A Rust panic aborts on
// wasm: the instance traps (`WebAssembly.RuntimeError: unreachable`) in the middle of a call,
// leaving a database borrowed or a transaction open, and any later call into it would misbehave.
// Just before that trap the module's panic hook hands the panic's message to `recordPanic`
// (registered by js/init.ts with `reportPanicsTo`, src/wasm/panic.rs).
//
// Invariants: every call into the wasm module goes through `intoWasm` (or `intoWasmAsync`); the first call
// that traps stops the instance, and from then on `intoWasm` throws `ERR_INTERNAL` (with the
// panic's message, or the trap's when no panic was reported) without calling in, for every
// database of this realm; whatever else a call throws becomes a `SyncError` (js/errors.ts).

import { SyncError, toSyncError } from "./errors.js";

/** The message of the last panic the module reported. */
let panicMessage: string | undefined;
/** Why the instance stopped, once a call trapped. */
let stopped: { message: string; trap: unknown } | undefined;

/** Keeps the message of a panic, reported by the module right before it traps. @internal */
export function recordPanic(message: string): void {
  panicMessage = message;
}

/**
 * Runs `call` (a synchronous call into the wasm module); returns its result, or throws a
 * `SyncError`. Once the instance has stopped, throws `ERR_INTERNAL` without running `call`.
 */
export function intoWasm<T>(call: () => T): T {
  if (stopped !== undefined) throw stoppedError();
  try {
    return call();
  } catch (e) {
    throw failure(e);
  }
}

/**
 * Like {@link intoWasm} for an asynchronous call (the OPFS pool's): a trap in its synchronous
 * start or in any later part of it stops the instance the same way.
 */
export async function intoWasmAsync<T>(call: () => Promise<T>): Promise<T> {
  const pending = intoWasm(call);
  try {
    return await pending;
  } catch (e) {
    throw failure(e);
  }
}

/** Whether a call has trapped, so that nothing may call into the instance again. */
export function instanceStopped(): boolean {
  return stopped !== undefined;
}

/** What a call into the module threw, as a `SyncError`; a trap stops the instance. */
function failure(e: unknown): SyncError {
  if (!(e instanceof WebAssembly.RuntimeError)) return toSyncError(e);
  if (stopped === undefined) {
    // The hook's message reads "panicked at src/…rs:line:column:\n<message>".
    const why = panicMessage === undefined ? `it trapped (${e.message})` : panicMessage.replace(/\s*\n\s*/g, " ");
    stopped = {
      message: `internal error: the wasm module stopped: ${why}. Every database of this page or worker fails from now on; reload it to start again`,
      trap: e,
    };
  }
  return stoppedError();
}

function stoppedError(): SyncError {
  const { message, trap } = stopped!;
  return new SyncError("ERR_INTERNAL", message, { cause: trap });
}
