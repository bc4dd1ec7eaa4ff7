// esbuild: the app built the way README "Using a bundler" tells esbuild users to. esbuild does not
// follow `new URL("…", import.meta.url)`, so the package worker is a second entry point named
// host.js and the .wasm is copied beside the bundles; the page then opens an OPFS database in
// headless Chromium.

import assert from "node:assert/strict";
import { copyFileSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { build } from "esbuild";
import { WASM_IN_PACKAGE, expectedOutcome, filesUnder, installedApp, outcomeInChromium, sameBytes } from "./harness.mjs";

let app;
let out;
before(async () => {
  app = installedApp("esbuild");
  out = join(app.dir, "out");
  // Found from the app, as a build script would find it (wherever the package manager put it).
  const pkg = dirname(createRequire(join(app.app, "package.json")).resolve("sqlite-sync-wasm/package.json"));
  await build({
    absWorkingDir: app.app,
    entryPoints: { main: "main.js", host: join(pkg, "dist/worker/host.js") },
    bundle: true,
    format: "esm",
    outdir: out,
    logLevel: "warning",
  });
  copyFileSync(join(pkg, "dist/generated/sqlite_sync_wasm_bg.wasm"), join(out, "sqlite_sync_wasm_bg.wasm"));
  copyFileSync(join(app.app, "index.html"), join(out, "index.html"));
});
after(() => app?.remove());

test("esbuild: the page bundle, the worker bundle it starts, and the .wasm sit side by side", () => {
  assert.deepEqual(filesUnder(out), ["host.js", "index.html", "main.js", "sqlite_sync_wasm_bg.wasm"]);
  assert.ok(sameBytes(join(out, "sqlite_sync_wasm_bg.wasm"), join(app.app, WASM_IN_PACKAGE)));
  for (const bundle of ["main.js", "host.js"]) {
    const code = readFileSync(join(out, bundle), "utf8");
    assert.match(code, /new URL\("sqlite_sync_wasm_bg\.wasm", import\.meta\.url\)/, `${bundle} fetches the .wasm beside it`);
  }
  assert.match(readFileSync(join(out, "main.js"), "utf8"), /new Worker\(new URL\("\.\/host\.js", import\.meta\.url\)/);
});

test("esbuild: the bundled page writes and reads a row in OPFS and in memory", { timeout: 120_000 }, async () => {
  assert.deepEqual(await outcomeInChromium(out, "esbuild"), expectedOutcome());
});
