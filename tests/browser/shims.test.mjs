// The browser shim of `node:assert/strict` (tests/browser/shims/assert.mjs) gives the same verdicts
// as Node's own on the kinds of values the tests/js suites compare, so that the suites pass in
// Chromium only when they would pass in Node. Runs in Node (no browser needed).

import assert from "node:assert/strict";
import { test } from "node:test";
import shim from "./shims/assert.mjs";

const verdict = (fn) => {
  try {
    fn();
    return "pass";
  } catch (e) {
    return e.name === "AssertionError" ? "fail" : `threw ${e.name}`;
  }
};

const sym = Symbol("k");
class Point {
  constructor() {
    this.x = 1;
  }
}

/** Pairs Node's deepStrictEqual decides; the shim must agree on each. */
const PAIRS = [
  [1, 1],
  [NaN, NaN],
  [0, -0],
  [1n, 1n],
  [1n, 1],
  [2n ** 64n, 2n ** 64n],
  ["a", "a"],
  [null, undefined],
  [null, {}],
  [new Uint8Array([1, 2]), new Uint8Array([1, 2])],
  [new Uint8Array([1, 2]), new Uint8Array([1, 3])],
  [new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])],
  [new Uint8Array([]), new Uint8Array([])],
  [new Uint8Array([9, 1, 2, 9]).subarray(1, 3), new Uint8Array([1, 2])],
  [new Uint8Array([1, 2]), new Int8Array([1, 2])],
  [new Uint8Array([1, 2]), [1, 2]],
  [{ a: 1, b: [2, { c: 3n }] }, { b: [2, { c: 3n }], a: 1 }],
  [{ a: 1, b: [2, { c: 3n }] }, { a: 1, b: [2, { c: 3 }] }],
  [{ a: undefined }, {}],
  [{ a: 1 }, Object.assign(Object.create(null), { a: 1 })],
  [Object.assign(Object.create(null), { a: 1 }), Object.assign(Object.create(null), { a: 1 })],
  [new Point(), { x: 1 }],
  [{ [sym]: 1 }, {}],
  [{ [sym]: 1 }, { [sym]: 1 }],
  [[1, 2], [1, 2, 3]],
  [[, 1], [undefined, 1]],
  [[1], { 0: 1, length: 1 }],
  [{ k: new Uint8Array([1]) }, { k: new Uint8Array([1]) }],
  [{ k: new Uint8Array([1]) }, { k: new Uint8Array([2]) }],
  [{ k: -0 }, { k: 0 }],
  [[NaN], [NaN]],
];

test("deepEqual agrees with Node's deepStrictEqual", () => {
  for (const [a, b] of PAIRS) {
    const label = `${String(a?.constructor?.name ?? typeof a)} vs ${String(b?.constructor?.name ?? typeof b)}`;
    assert.equal(verdict(() => shim.deepEqual(a, b)), verdict(() => assert.deepStrictEqual(a, b)), label);
    assert.equal(verdict(() => shim.deepEqual(b, a)), verdict(() => assert.deepStrictEqual(b, a)), `${label}, swapped`);
  }
  assert.equal(verdict(() => shim.deepEqual(new Map(), new Map())), "threw TypeError", "unsupported kinds are refused");
});

test("equal, notEqual, ok and match agree with Node's", () => {
  const cases = [
    ["equal", [NaN, NaN]],
    ["equal", [0, -0]],
    ["equal", [{}, {}]],
    ["equal", [2n ** 63n, 2n ** 63n]],
    ["notEqual", [1, 2]],
    ["notEqual", ["x", "x"]],
    ["ok", [0]],
    ["ok", ["x"]],
    ["match", ["near \"SELEC\": syntax error", /syntax error/]],
    ["match", ["abc", /x/]],
    ["match", [42, /42/]],
  ];
  const node = { equal: assert.strictEqual, notEqual: assert.notStrictEqual, ok: assert.ok, match: assert.match };
  for (const [name, args] of cases) {
    assert.equal(verdict(() => shim[name](...args)), verdict(() => node[name](...args)), `${name}(${args.map(String)})`);
  }
});

test("rejects requires a rejection and checks it with a RegExp or a validation function", async () => {
  const outcome = (promise) =>
    promise.then(
      () => "pass",
      (e) => (e.name === "AssertionError" ? "fail" : `threw ${e.name}`),
    );
  const boom = () => Promise.reject(new Error("abort"));
  assert.equal(await outcome(shim.rejects(boom(), /abort/)), "pass");
  assert.equal(await outcome(shim.rejects(boom(), /other/)), "fail");
  assert.equal(await outcome(shim.rejects(boom, (e) => e.message === "abort")), "pass");
  assert.equal(await outcome(shim.rejects(boom(), () => "yes")), "fail", "only true validates");
  assert.equal(await outcome(shim.rejects(Promise.resolve(1))), "fail");
  assert.equal(await outcome(shim.rejects(boom())), "pass");
});
