// Shared by the bundler tests: the built package, packed with `npm pack` and installed from the
// tarball (offline: the package has no dependencies) into a temporary copy of tests/bundlers/app/,
// so bundlers resolve "sqlite-sync-wasm" by name as in a user's app; and a build's output served
// on 127.0.0.1 and opened in headless Chromium, with the page's verdict read back. Every wait is
// bounded, and whatever was started is stopped and removed again.

import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "../../scripts/serve.mjs";
import { ARGS, CHROMIUM } from "../browser/chromium.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const APP = fileURLToPath(new URL("./app/", import.meta.url));

/** The package's .wasm inside an installed copy of it. */
export const WASM_IN_PACKAGE = "node_modules/sqlite-sync-wasm/dist/generated/sqlite_sync_wasm_bg.wasm";

const npm = (args, cwd) =>
  execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });

/**
 * Packs the repository's package into a temporary directory.
 * @param {string} label part of the directory's name
 * @returns {{ dir: string, tarball: string, remove(): void }}
 */
export function packed(label) {
  const dir = mkdtempSync(join(tmpdir(), `sqlite-sync-wasm-${label}-`));
  try {
    const [info] = JSON.parse(npm(["pack", "--json", "--pack-destination", dir], ROOT));
    return { dir, tarball: join(dir, info.filename), remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The test app with the packed package installed, in a temporary directory.
 * @param {string} label part of the directory's name
 * @returns {{ dir: string, app: string, remove(): void }} `app` holds index.html, main.js and
 *   node_modules/sqlite-sync-wasm; `dir` is free for build output
 */
export function installedApp(label) {
  const pack = packed(label);
  try {
    const app = join(pack.dir, "app");
    cpSync(APP, app, { recursive: true });
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "bundled-app", private: true, type: "module" }));
    npm(["install", "--offline", "--no-audit", "--no-fund", "--no-save", pack.tarball], app);
    return { dir: pack.dir, app, remove: pack.remove };
  } catch (error) {
    pack.remove();
    throw error;
  }
}

/** Every file under `dir`, as paths relative to it with "/" separators, sorted. */
export function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split("\\").join("/"))
    .sort();
}

/** Whether `a` and `b` hold the same bytes. */
export function sameBytes(a, b) {
  return readFileSync(a).equals(readFileSync(b));
}

/**
 * Serves `outDir` on 127.0.0.1, opens its index.html in a fresh headless Chromium profile and
 * waits (at most `timeoutMs`) for the page to set `window.outcome`.
 * @returns {Promise<unknown>} the outcome; a timeout rejects with what the page logged and which
 *   requests failed
 */
export async function outcomeInChromium(outDir, label, timeoutMs = 60_000) {
  const server = await serve({ root: outDir });
  const profile = mkdtempSync(join(tmpdir(), `sqlite-sync-wasm-${label}-profile-`));
  const logs = [];
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      timeout: 30_000,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (message) => logs.push(`console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => logs.push(`page error: ${error.message}`));
    page.on("response", (response) => {
      if (response.status() >= 400) logs.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    await page.goto(`${server.url}index.html`, { timeout: 30_000 });
    const handle = await page.waitForFunction(() => window.outcome, null, { timeout: timeoutMs });
    return await handle.jsonValue();
  } catch (error) {
    throw new Error(`${error.message}\n${logs.join("\n")}`, { cause: error });
  } finally {
    await context?.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** What tests/bundlers/app/main.js reports when everything worked. */
export function expectedOutcome() {
  const roundTrip = (storage) => ({ rows: [{ id: 1, body: `written to ${storage}` }], records: 1, error: "ERR_SQL" });
  return { ok: true, opfs: roundTrip("opfs"), memory: roundTrip("memory") };
}
