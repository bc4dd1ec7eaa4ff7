// Chromium smoke test: serves the repository on 127.0.0.1 (random port), opens
// tests/smoke/chromium.html in headless Debian Chromium through playwright-core, and waits for the
// module worker's verdict.
//   node tests/smoke/chromium.mjs

import { launch } from "../browser/chromium.mjs";

const logs = [];
let browser;
let failed = false;
try {
  browser = await launch("chromium");
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.on("console", (message) => logs.push(`console.${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => logs.push(`page error: ${error.message}`));
  await page.goto(`${browser.server.url}tests/smoke/chromium.html`);
  const handle = await page.waitForFunction(() => window.smokeResult, null, { timeout: 30_000 });
  const result = await handle.jsonValue();
  if (!result.ok) throw new Error(result.error);
  console.log(`chromium smoke: ok (${result.summary})`);
} catch (e) {
  console.error(`chromium smoke: FAILED: ${e?.stack ?? e}`);
  for (const line of logs) console.error(`  ${line}`);
  failed = true;
} finally {
  await browser?.close();
}
process.exitCode = failed ? 1 : 0;
