// A panic in the wasm instance of a dedicated worker whose OPFS database runs in-process: the call
// that panicked and every later call reject with ERR_INTERNAL and the panic's message, and once
// that worker is gone a new one opens the database with what was committed before the panic.
// (The same path in Node, with a count of calls into the instance: tests/js/panic.test.mjs.)
//   node --test tests/browser/panic.test.mjs

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { launch } from "./chromium.mjs";

const { server, context, close } = await launch("panic");
after(close);

test("after a panic in a worker every call rejects with ERR_INTERNAL; a new worker reopens the database", async () => {
  const page = await context.newPage();
  await page.goto(`${server.url}tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
  const { outcomes, rows } = await page.evaluate(async () => {
    const run = (message) => {
      const worker = new Worker("/tests/browser/panic-worker.mjs", { type: "module" });
      return new Promise((resolve, reject) => {
        worker.onmessage = ({ data }) => (data.error === undefined ? resolve({ worker, data }) : reject(new Error(data.error)));
        worker.onerror = (e) => reject(new Error(e.message));
        worker.postMessage(message);
      });
    };
    const stopped = await run({ name: "panic.db", panic: true });
    stopped.worker.terminate(); // its access handles go with it
    const reopened = await run({ name: "panic.db" });
    reopened.worker.terminate();
    return { outcomes: stopped.data.outcomes, rows: reopened.data.rows };
  });
  assert.equal(outcomes.length, 5);
  for (const [i, outcome] of outcomes.entries()) {
    assert.equal(outcome.code, "ERR_INTERNAL", `call ${i}: ${JSON.stringify(outcome)}`);
    assert.match(outcome.message, /the wasm module stopped: panicked at src\/wasm\/panic\.rs:\d+:\d+: a bug in the worker, raised on purpose/);
  }
  assert.deepEqual(rows, [{ v: "written before the panic" }]);
});
