// `node:assert/strict` for the tests/js suites when they run in Chromium (tests/browser/suite.html
// maps the specifier here): exactly the functions those suites call (`equal`, `notEqual`, `ok`,
// `match`, `deepEqual`, `rejects`), with Node's strict semantics: `equal` is `Object.is` (NaN
// equals NaN, -0 differs from 0); `deepEqual` also requires equal prototypes and type tags,
// compares typed arrays byte by byte and plain objects and arrays by their own enumerable keys
// (string and symbol, in any order). Values of any other kind (Map, Set, Date, boxed primitives, …)
// make `deepEqual` throw instead of comparing them wrongly; extend it when a suite needs one.

class AssertionError extends Error {
  constructor(message, actual, expected, operator) {
    super(message);
    this.name = "AssertionError";
    this.code = "ERR_ASSERTION";
    this.actual = actual;
    this.expected = expected;
    this.operator = operator;
  }
}

/** A short, readable rendering of `value` for failure messages. */
function show(value, depth = 0) {
  if (typeof value === "string") return JSON.stringify(value.length > 300 ? `${value.slice(0, 300)}…` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (Object.is(value, -0)) return "-0";
  if (typeof value === "symbol") return value.toString();
  if (typeof value === "function") return `[Function ${value.name || "(anonymous)"}]`;
  if (value === null || typeof value !== "object") return String(value);
  if (depth > 4) return "[…]";
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    const bytes = bytesOf(value);
    const head = [...bytes.subarray(0, 32)].join(", ");
    return `${value.constructor.name}(${bytes.length} bytes) [${head}${bytes.length > 32 ? ", …" : ""}]`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => show(v, depth + 1)).join(", ")}]`;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  const proto = Object.getPrototypeOf(value);
  const prefix = proto === null ? "[null prototype] " : proto === Object.prototype ? "" : `${proto.constructor?.name ?? "?"} `;
  const entries = ownKeys(value).map((k) => `${typeof k === "symbol" ? `[${k.toString()}]` : k}: ${show(value[k], depth + 1)}`);
  return `${prefix}{ ${entries.join(", ")} }`;
}

function bytesOf(view) {
  return view instanceof ArrayBuffer ? new Uint8Array(view) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Own enumerable keys, strings then symbols. */
function ownKeys(object) {
  return Reflect.ownKeys(object).filter((k) => Object.prototype.propertyIsEnumerable.call(object, k));
}

const tagOf = (value) => Object.prototype.toString.call(value);

/** Node's deepStrictEqual, for the kinds of values listed at the top of this file. */
function deepSame(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b) || tagOf(a) !== tagOf(b)) return false;
  if (ArrayBuffer.isView(a) || a instanceof ArrayBuffer) {
    const [x, y] = [bytesOf(a), bytesOf(b)];
    return x.length === y.length && x.every((byte, i) => byte === y[i]);
  }
  const tag = tagOf(a);
  if (tag !== "[object Object]" && tag !== "[object Array]") {
    throw new TypeError(`deepEqual: comparing ${tag} values is not supported by this shim`);
  }
  if (Array.isArray(a) && a.length !== b.length) return false;
  const keys = ownKeys(a);
  if (keys.length !== ownKeys(b).length) return false;
  return keys.every((k) => Object.prototype.propertyIsEnumerable.call(b, k) && deepSame(a[k], b[k]));
}

function fail(message, details, actual, expected, operator) {
  throw new AssertionError(message === undefined ? details : `${message}\n${details}`, actual, expected, operator);
}

export function equal(actual, expected, message) {
  if (!Object.is(actual, expected)) {
    fail(message, `Expected values to be strictly equal:\n  actual   ${show(actual)}\n  expected ${show(expected)}`, actual, expected, "strictEqual");
  }
}

export function notEqual(actual, expected, message) {
  if (Object.is(actual, expected)) {
    fail(message, `Expected "actual" to be strictly unequal to: ${show(expected)}`, actual, expected, "notStrictEqual");
  }
}

export function ok(value, message) {
  if (!value) fail(message, `Expected a truthy value, got ${show(value)}`, value, true, "==");
}

export function match(string, regexp, message) {
  if (!(regexp instanceof RegExp)) throw new TypeError("match: the second argument must be a RegExp");
  if (typeof string !== "string" || !regexp.test(string)) {
    fail(message, `The input did not match ${regexp}:\n  ${show(string)}`, string, regexp, "match");
  }
}

export function deepEqual(actual, expected, message) {
  if (!deepSame(actual, expected)) {
    fail(message, `Expected values to be strictly deep-equal:\n  actual   ${show(actual)}\n  expected ${show(expected)}`, actual, expected, "deepStrictEqual");
  }
}

/**
 * Awaits `promiseOrFn` (or the promise it returns) and requires it to reject. `expected` may be a
 * RegExp (tested against `String(error)`) or a validation function that must return `true`.
 */
export async function rejects(promiseOrFn, expected, message) {
  const promise = typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn;
  if (typeof promise?.then !== "function") throw new TypeError("rejects: expected a promise or a function returning one");
  let rejected = false;
  let error;
  try {
    await promise;
  } catch (e) {
    rejected = true;
    error = e;
  }
  if (!rejected) fail(message, "Missing expected rejection.", undefined, expected, "rejects");
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    if (!expected.test(String(error))) {
      fail(message, `The rejection did not match ${expected}:\n  ${show(String(error))}`, error, expected, "rejects");
    }
  } else if (typeof expected === "function") {
    const verdict = expected(error);
    if (verdict !== true) {
      fail(message, `The validation function returned ${show(verdict)}, not true, for ${show(error)}`, error, expected, "rejects");
    }
  } else {
    throw new TypeError("rejects: this shim takes a RegExp or a validation function");
  }
}

const assert = { equal, notEqual, ok, match, deepEqual, rejects };
export default assert;
