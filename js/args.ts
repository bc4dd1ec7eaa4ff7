// The checks every argument of a `Database` method goes through, in JS, before it is sent to the
// package worker or passed to the wasm glue; shared by every implementation (js/database.ts,
// js/worker/client.ts, and through the first one js/idb.ts and js/worker/server.ts).
//
// Why in JS: the generated glue trusts its declared Rust types. A non-string where Rust takes
// `&str` (a table name, a conflict id, a peer id) traps the module ("memory access out of
// bounds"); and a JS exception thrown while Rust reads an argument (a getter, a Proxy, an own
// `length` on bytes) unwinds through Rust with the database borrowed, leaving the handle
// unusable ("re-entrant call into the database"). So:
//
// Invariants: whatever these functions return holds only data that cannot run user code when read:
// strings, numbers, bigints, booleans, `null`, fresh arrays and null-prototype objects built here,
// and fresh `Uint8Array` views made from the typed-array intrinsics (no copy of the bytes). Every
// property of an argument is read once, here; a getter that throws, or a value of the wrong kind,
// is `ERR_INVALID_ARGUMENT` and nothing reaches SQLite. Unknown option keys are ignored.

import { SyncError } from "./errors.js";
import type { ConflictChoice, ConflictStrategy, Params, SqlValue, SyncOptions } from "./types.js";

function invalid(message: string, cause?: unknown): SyncError {
  return new SyncError("ERR_INVALID_ARGUMENT", message, cause === undefined ? {} : { cause });
}

/** Reads with `read`, turning anything it throws (a getter, a Proxy trap) into `ERR_INVALID_ARGUMENT`. */
function reading<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof SyncError) throw e;
    throw invalid(`cannot read ${what}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

/**
 * Runs `check` (the checks of a method's arguments) now, then `then` with what it returns; a
 * throw in `check` becomes the rejection, since every method returns a Promise.
 */
export function checked<A, T>(check: () => A, then: (args: A) => Promise<T>): Promise<T> {
  let args: A;
  try {
    args = check();
  } catch (e) {
    return Promise.reject(e instanceof SyncError ? e : invalid(String(e), e));
  }
  return then(args);
}

export function requireString(value: unknown, what: string): asserts value is string {
  if (typeof value !== "string") {
    throw invalid(`${what} must be a string, got ${kindOf(value)}`);
  }
}

export function requireFunction(value: unknown, message: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") throw invalid(message);
}

/** What `value` is, for messages (never throws, even for a revoked Proxy). */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  try {
    if (Array.isArray(value)) return "an array";
  } catch {
    // A revoked Proxy: an object.
  }
  return typeof value;
}

// The %TypedArray%.prototype getters: brand checks that work across realms, never run user code
// and ignore own properties that shadow them.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
function intrinsic(key: PropertyKey): (this: unknown) => unknown {
  const get = Object.getOwnPropertyDescriptor(typedArrayPrototype, key)?.get;
  if (get === undefined) throw new Error(`the runtime has no %TypedArray%.prototype getter ${String(key)}`);
  return get;
}
const tagOf = intrinsic(Symbol.toStringTag);
const bufferOf = intrinsic("buffer");
const offsetOf = intrinsic("byteOffset");
const lengthOf = intrinsic("byteLength");

/**
 * A fresh view of the bytes of `value` if it is a `Uint8Array` (of any realm, a `Buffer`
 * included), or `undefined`.
 */
function bytesOf(value: unknown): Uint8Array | undefined {
  if (typeof value !== "object" || value === null || tagOf.call(value) !== "Uint8Array") return undefined;
  const buffer = bufferOf.call(value) as ArrayBufferLike;
  return new Uint8Array(buffer, offsetOf.call(value) as number, lengthOf.call(value) as number);
}

/** `bytes` as a fresh view, or `ERR_INVALID_ARGUMENT`. */
export function checkBytes(bytes: unknown, what: string): Uint8Array {
  const view = reading(what, () => bytesOf(bytes));
  if (view === undefined) throw invalid(`${what} must be a Uint8Array, got ${kindOf(bytes)}`);
  return view;
}

/** Returned by `sqlValue` for a value of a kind no column can hold. */
const UNSUPPORTED = Symbol("unsupported");

/** One statement parameter or row value as the wasm layer accepts it, or `UNSUPPORTED`. */
function sqlValue(value: unknown): SqlValue | typeof UNSUPPORTED {
  switch (typeof value) {
    case "number":
    case "string":
    case "boolean":
    case "bigint":
      return value;
    case "undefined":
      return null;
    case "object":
      return value === null ? null : (bytesOf(value) ?? UNSUPPORTED);
    default:
      return UNSUPPORTED;
  }
}

function unsupported(value: unknown, what: string): SyncError {
  return invalid(`unsupported value of ${what}: ${kindOf(value)}; use null, number, bigint, string, boolean or Uint8Array`);
}

/** The own enumerable string-keyed entries of `object` as a null-prototype object of checked values. */
function checkRecord(object: object, what: string): Record<string, SqlValue> {
  const entries = reading(what, () => Object.entries(object));
  const out = Object.create(null) as Record<string, SqlValue>;
  for (const [key, value] of entries) {
    const checkedValue = reading(`${what}.${key}`, () => sqlValue(value));
    if (checkedValue === UNSUPPORTED) throw unsupported(value, `${what}.${key}`);
    out[key] = checkedValue;
  }
  return out;
}

/**
 * Statement parameters: `undefined`/`null` (none), an array (positional) or any other object
 * (named, by its own enumerable keys). Returns a checked copy, or `null` for none. (On the path
 * of every statement: one `try` around the loop, labels only built for an error.)
 */
export function checkParams(params: unknown): Params | null {
  if (params === undefined || params === null) return null;
  if (typeof params !== "object" || bytesOf(params) !== undefined) {
    throw invalid(`params must be an array or an object, got ${kindOf(params)}`);
  }
  if (!reading("params", () => Array.isArray(params))) return checkRecord(params, "params");
  const source = params as readonly unknown[];
  let i = -1;
  try {
    const length = source.length;
    if (!Number.isSafeInteger(length) || length < 0) throw invalid("params has no valid length");
    const out = new Array<SqlValue>(length);
    for (i = 0; i < length; i++) {
      const value = source[i];
      const checkedValue = sqlValue(value);
      if (checkedValue === UNSUPPORTED) throw unsupported(value, `params[${i}]`);
      out[i] = checkedValue;
    }
    return out;
  } catch (e) {
    if (e instanceof SyncError) throw e;
    throw invalid(`cannot read params${i < 0 ? "" : `[${i}]`}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

/** An options argument: `undefined`, or an object (not an array, bytes or `null`). */
function optionsObject(options: unknown, method: string): object | undefined {
  if (options === undefined) return undefined;
  const array = reading(`${method} options`, () => Array.isArray(options));
  if (typeof options !== "object" || options === null || array || ArrayBuffer.isView(options)) {
    throw invalid(`${method} options must be an object, got ${kindOf(options)}`);
  }
  return options;
}

const DEVICE_ID = /^[0-9a-f]{32}$/;

/** The options of `generateBundle`, checked: every one the method knows, with its default. */
export interface BundleOptions {
  peerId: string | undefined;
  unsentOnly: boolean;
}

/** `generateBundle(options)`: a checked copy of the options (a key added there must be added here). */
export function checkBundleOptions(options: unknown): BundleOptions {
  const object = optionsObject(options, "generateBundle");
  if (object === undefined) return { peerId: undefined, unsentOnly: false };
  const peerId = reading("options.peerId", () => (object as { peerId?: unknown }).peerId);
  if (peerId !== undefined && typeof peerId !== "string") {
    throw invalid(`peerId must be a device id string, got ${kindOf(peerId)}`);
  }
  if (peerId !== undefined && !DEVICE_ID.test(peerId)) {
    throw invalid(`peerId must be a device id (32 lowercase hex characters), got ${JSON.stringify(peerId.slice(0, 40))}`);
  }
  const unsentOnly = reading("options.unsentOnly", () => (object as { unsentOnly?: unknown }).unsentOnly);
  if (unsentOnly !== undefined && typeof unsentOnly !== "boolean") {
    throw invalid(`unsentOnly must be a boolean, got ${kindOf(unsentOnly)}`);
  }
  return { peerId, unsentOnly: unsentOnly === true };
}

const STRATEGIES: readonly ConflictStrategy[] = ["manual", "lww", "field-merge"];

/** `enableSync(table, options)`: returns a checked copy of the options. */
export function checkSyncOptions(options: unknown): SyncOptions | undefined {
  const object = optionsObject(options, "enableSync");
  if (object === undefined) return undefined;
  const strategy = reading("options.conflictStrategy", () => (object as { conflictStrategy?: unknown }).conflictStrategy);
  if (strategy === undefined) return {};
  if (typeof strategy !== "string" || !(STRATEGIES as readonly string[]).includes(strategy)) {
    throw invalid(`conflictStrategy must be "manual", "lww" or "field-merge", got ${typeof strategy === "string" ? JSON.stringify(strategy) : kindOf(strategy)}`);
  }
  return { conflictStrategy: strategy as ConflictStrategy };
}

/** `resolveConflict(id, choice)`: `"local"`, `"remote"` or `{ values: { column: value } }`, checked. */
export function checkChoice(choice: unknown): ConflictChoice {
  if (choice === "local" || choice === "remote") return choice;
  const wrong = (): SyncError =>
    invalid(`choice must be "local", "remote" or { values: { column: value } }, got ${typeof choice === "string" ? JSON.stringify(choice) : kindOf(choice)}`);
  if (typeof choice !== "object" || choice === null || reading("choice", () => Array.isArray(choice))) throw wrong();
  const values = reading("choice.values", () => (choice as { values?: unknown }).values);
  if (typeof values !== "object" || values === null || ArrayBuffer.isView(values) || reading("choice.values", () => Array.isArray(values))) {
    throw wrong();
  }
  return { values: checkRecord(values, "choice.values") };
}
