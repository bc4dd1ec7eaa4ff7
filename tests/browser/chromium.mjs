// Shared by the browser tests and the Chromium smoke test: the repository served on 127.0.0.1 (a
// random port) and Debian's headless Chromium, launched through playwright-core with the flags
// this machine needs, in a fresh profile removed again by `close()` (or a kept one, to restart the
// browser on the same profile and origin).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { serve } from "../../scripts/serve.mjs";

/** Debian's Chromium (override with CHROMIUM_PATH). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The flags headless Chromium needs on this machine (no sandbox as root, no network chatter). */
export const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts the server and a browser context.
 * @param {string} label part of the temporary profile's name
 * @param {{ profile?: string, port?: number }} [reuse] a profile directory to use and keep (it is
 *   then not removed by `close()`), and a port to serve on: together they bring back the same
 *   browser profile and origin after a restart
 * @returns {Promise<{ server: { url: string, close(): Promise<void> }, context: import("playwright-core").BrowserContext, close(): Promise<void> }>}
 */
export async function launch(label, reuse = {}) {
  const server = await serve({ port: reuse.port ?? 0 });
  const profile = reuse.profile ?? mkdtempSync(join(tmpdir(), `sqlite-sync-wasm-${label}-`));
  const removeProfile = () => {
    if (reuse.profile === undefined) rmSync(profile, { recursive: true, force: true });
  };
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    const close = async () => {
      await context.close();
      await server.close();
      removeProfile();
    };
    return { server, context, close };
  } catch (error) {
    await server.close();
    removeProfile();
    throw error;
  }
}
