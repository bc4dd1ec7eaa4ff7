// Vite: a production build (`vite build`) of the app, with no configuration, emits the package
// worker and the .wasm by itself, and the page opens an OPFS database in headless Chromium. A
// second build declares every module of the package free of side effects, overriding its
// package.json "sideEffects" (a transform hook's `moduleSideEffects: false` outranks it in
// Rolldown): the loaders must keep working when a bundler drops everything it may.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { build } from "vite";
import { WASM_IN_PACKAGE, expectedOutcome, filesUnder, installedApp, outcomeInChromium, sameBytes } from "./harness.mjs";

/** A plugin that tells Rolldown no module of the package has side effects. */
const packagePure = () => ({
  name: "sqlite-sync-wasm-is-pure",
  transform(_code, id) {
    return id.includes("/node_modules/sqlite-sync-wasm/") ? { moduleSideEffects: false } : null;
  },
});

let app;
before(() => {
  app = installedApp("vite");
});
after(() => app?.remove());

/** Runs `vite build` on the app into `dir/name`, with `plugins()` for the page and the worker. */
async function viteBuild(name, plugins = () => []) {
  const outDir = join(app.dir, name);
  await build({
    root: app.app,
    configFile: false,
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
    plugins: plugins(),
    worker: { plugins },
  });
  return outDir;
}

/** Checks that the build emitted the package's .wasm unchanged, and a worker chunk that names it. */
function assertAssets(outDir) {
  const files = filesUnder(outDir);
  const wasm = files.filter((f) => f.endsWith(".wasm"));
  assert.equal(wasm.length, 1, `one .wasm in ${files.join(", ")}`);
  assert.ok(sameBytes(join(outDir, wasm[0]), join(app.app, WASM_IN_PACKAGE)), "the .wasm is the package's");
  const wasmName = wasm[0].split("/").pop();
  const naming = files.filter((f) => f.endsWith(".js") && readFileSync(join(outDir, f), "utf8").includes(wasmName));
  assert.ok(naming.length >= 1, `a chunk names ${wasmName}`);
  const worker = files.find((f) => /(^|\/)host-[^/]*\.js$/.test(f));
  assert.ok(worker, `a worker chunk in ${files.join(", ")}`);
  assert.ok(naming.includes(worker), "the worker chunk fetches the .wasm");
}

test("vite build: emits the .wasm and the package worker; the page writes and reads a row in OPFS and in memory", { timeout: 180_000 }, async () => {
  const outDir = await viteBuild("out");
  assertAssets(outDir);
  assert.deepEqual(await outcomeInChromium(outDir, "vite"), expectedOutcome());
});

test("vite build with every module of the package declared side-effect-free: the loaders still run", { timeout: 180_000 }, async () => {
  const outDir = await viteBuild("out-pure", () => [packagePure()]);
  assertAssets(outDir);
  assert.deepEqual(await outcomeInChromium(outDir, "vite-pure"), expectedOutcome());
});
