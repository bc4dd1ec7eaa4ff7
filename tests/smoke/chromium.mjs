// Chromium smoke test: serves the repository on 127.0.0.1 (random port), opens
// tests/smoke/chromium.html in headless Debian Chromium through playwright-core, and waits for the
// module worker's verdict.
//   node tests/smoke/chromium.mjs

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { serve } from "../../scripts/serve.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const server = await serve({ port: 0 });
const profile = mkdtempSync(join(tmpdir(), "sqlite-sync-wasm-chromium-"));
const logs = [];
let context;
let failed = false;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => logs.push(`console.${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => logs.push(`page error: ${error.message}`));
  await page.goto(`${server.url}tests/smoke/chromium.html`);
  const handle = await page.waitForFunction(() => window.smokeResult, null, { timeout: 30_000 });
  const result = await handle.jsonValue();
  if (!result.ok) throw new Error(result.error);
  console.log(`chromium smoke: ok (${result.summary})`);
} catch (e) {
  console.error(`chromium smoke: FAILED: ${e?.stack ?? e}`);
  for (const line of logs) console.error(`  ${line}`);
  failed = true;
} finally {
  await context?.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
