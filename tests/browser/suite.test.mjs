// The whole JS API suite (tests/js/*.test.mjs, written for node:test against memory databases)
// run in headless Chromium on a page, where `openDatabase` goes through the main-thread proxy to
// an OPFS database in the package worker: main-thread API parity. The suite files are used as
// they are; tests/browser/suite.html maps their imports to browser shims (tests/browser/shims/).
// Each suite file runs on a freshly loaded page and each of its tests is reported here as its own
// subtest, named as in tests/js.
//   node --test tests/browser/

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, test } from "node:test";
import { launch } from "./chromium.mjs";

/** Suite files that cannot run in a browser at all, and why. */
const NODE_ONLY_FILES = {
  "layout.test.mjs": "reads the TypeScript sources under js/ with node:fs; it opens no database",
  "panic.test.mjs":
    "stops the wasm instance of its realm on purpose; on a page the databases live in the package worker's instance (tests/browser/panic.test.mjs covers a worker)",
  "package.test.mjs":
    "npm-packs the package and installs it with node:child_process and node:fs; it opens no database through the API under test",
  "sync-loop.test.mjs":
    "drives the sync loop's schedule with a scripted host and a fake clock; it opens no database (a page's loop runs against the real relay in tests/browser/net.test.mjs)",
  "transport.test.mjs":
    "listens on loopback with node:http and ws, which a page cannot; a page's transports meet the real relay in tests/browser/net.test.mjs",
};

/** Single tests that check what only holds outside browsers (file → full test name → why). */
const NODE_ONLY_TESTS = {
  "lifecycle.test.mjs": {
    'storage "opfs" and "idb" are unavailable in Node':
      "asserts that Node has neither storage; on a page both exist (OPFS is what every other test here uses)",
  },
};

const { server, context, close } = await launch("suite");
after(close);
after(() =>
  console.log(
    `tests/js through the worker proxy: ${run} tests run, ${skipped} skipped as Node-only, ` +
      `${Object.keys(NODE_ONLY_FILES).length} Node-only file(s) not loaded; ${databases} OPFS databases opened`,
  ),
);

const page = await context.newPage();
const logs = [];
page.on("console", (m) => logs.push(`console.${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => logs.push(`page error: ${e.message}`));

/** A failure reported by the page, with its browser stack and the page's recent log. */
function browserError(text) {
  const message = logs.length === 0 ? text : `${text}\npage log (last 20):\n${logs.slice(-20).join("\n")}`;
  const error = new Error(message);
  error.stack = message;
  return error;
}

/** Loads a fresh page and runs the suite file at `path` (from the server root) on it. */
async function runOnPage(path, skips) {
  logs.length = 0;
  await page.goto(`${server.url}tests/browser/suite.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
  return page.evaluate(({ path, skips }) => window.runSuite(path, skips), { path, skips });
}

test("the harness reports passes, failures, exclusions and hook failures by name", async () => {
  const { results, opened, open } = await runOnPage("/tests/browser/shims/sample-suite.mjs", {
    "is excluded": "excluded by this check",
  });
  const outcome = Object.fromEntries(results.map((r) => [r.name, [r.status, r.error ?? r.reason ?? ""]]));
  assert.deepEqual(Object.keys(outcome), [
    "passes",
    "fails an assertion",
    "rejects with a SyncError",
    "is excluded",
    "a block whose before hook throws > cannot run",
    "(after hook)",
  ]);
  assert.equal(outcome["passes"][0], "pass");
  assert.match(outcome["fails an assertion"].join(" "), /^fail AssertionError: Expected values to be strictly equal/);
  assert.match(outcome["rejects with a SyncError"].join(" "), /^fail SyncError: near "SELEC": syntax error[^]*\[ERR_SQL\]$/);
  assert.deepEqual(outcome["is excluded"], ["skip", "excluded by this check"]);
  assert.match(outcome["a block whose before hook throws > cannot run"].join(" "), /^fail before hook failed: Error: before hook/);
  assert.match(outcome["(after hook)"].join(" "), /^fail Error: after hook/);
  assert.deepEqual({ opened, open }, { opened: 2, open: 0 }, "the database the failing test left open was closed");
});

const files = readdirSync(new URL("../js/", import.meta.url))
  .filter((f) => f.endsWith(".test.mjs"))
  .sort();

let run = 0;
let skipped = 0;
let databases = 0;

for (const file of files) {
  if (file in NODE_ONLY_FILES) {
    test(file, { skip: NODE_ONLY_FILES[file] }, () => {});
    continue;
  }
  test(`${file} through the worker proxy (OPFS)`, async (t) => {
    const skips = NODE_ONLY_TESTS[file] ?? {};
    const outcome = await runOnPage(`/tests/js/${file}`, skips);
    const { results } = outcome;
    for (const name of Object.keys(skips)) {
      assert.ok(results.some((r) => r.name === name && r.status === "skip"), `${file} has no test named "${name}" to exclude`);
    }
    assert.ok(outcome.opened > 0, `${file} opened no database through the proxy`);
    run += results.filter((r) => r.status !== "skip").length;
    skipped += results.filter((r) => r.status === "skip").length;
    databases += outcome.opened;
    for (const result of results) {
      if (result.status === "skip") {
        await t.test(result.name, { skip: result.reason }, () => {});
      } else {
        await t.test(result.name, () => {
          if (result.status === "fail") throw browserError(result.error);
        });
      }
    }
  });
}
