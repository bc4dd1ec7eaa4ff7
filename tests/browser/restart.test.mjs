// A browser restart: Chromium quits and starts again on the same profile, serving the same origin
// (same port). Rows, deviceId, change log and conflicts of an OPFS database and of an idb database
// must all come back, the OPFS one written without close() (the browser just quits).
//   node --test tests/browser/restart.test.mjs

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { launch } from "./chromium.mjs";

const profile = mkdtempSync(join(tmpdir(), "sqlite-sync-wasm-restart-"));
after(() => rmSync(profile, { recursive: true, force: true }));

/** Starts the browser on the kept profile and opens the test page. */
async function start(port) {
  const browser = await launch("restart", { profile, port });
  const page = await browser.context.newPage();
  await page.goto(`${browser.server.url}tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
  return { browser, page, port: Number(new URL(browser.server.url).port) };
}

test("OPFS and idb databases survive the browser quitting and starting again", async () => {
  const first = await start(0);
  let second;
  try {
    const before = await first.page.evaluate(async () => {
      const written = {};
      for (const storage of ["opfs", "idb"]) {
        const db = await t.api.openDatabase({ storage, name: `restart-${storage}.db` });
        const imported = await t.writeHistory(db, t.api.openDatabase);
        written[storage] = { imported, state: await t.persisted(db) };
        // idb saves right after each write; close() waits for the last save, as an app that
        // must have its data on disk would. The OPFS database is left open.
        if (storage === "idb") await db.close();
      }
      return written;
    });
    for (const storage of ["opfs", "idb"]) {
      assert.equal(before[storage].imported, 1, `${storage}: the concurrent edit made a conflict`);
    }
    await first.browser.close();

    second = await start(first.port);
    const afterRestart = await second.page.evaluate(async () => {
      const read = {};
      for (const storage of ["opfs", "idb"]) {
        const db = await t.api.openDatabase({ storage, name: `restart-${storage}.db` });
        read[storage] = await t.persisted(db);
        await db.close();
      }
      return read;
    });
    for (const storage of ["opfs", "idb"]) {
      assert.deepEqual(afterRestart[storage], before[storage].state, `${storage} after the restart`);
      assert.equal(afterRestart[storage].conflicts.length, 1);
    }
    assert.notEqual(afterRestart.opfs.deviceId, afterRestart.idb.deviceId, "two databases, two device ids");
  } finally {
    await second?.browser.close();
    if (second === undefined) await first.browser.close().catch(() => undefined);
  }
});
