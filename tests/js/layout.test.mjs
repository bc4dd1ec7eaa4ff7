// The shape of the TypeScript sources that the rest of the package relies on: the OPFS worker code
// is reached through its one entry, and runtime probes are asked of js/runtime.ts only.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const js = fileURLToPath(new URL("../../js/", import.meta.url));

/** Every hand-written .ts file under js/, as [path relative to js/, text]. */
function sources(dir = js) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "generated" ? [] : sources(path);
    return entry.name.endsWith(".ts") ? [[relative(js, path), readFileSync(path, "utf8")]] : [];
  });
}

/** The module specifiers a file imports or re-exports from. */
const specifiers = (text) => [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms)].map((m) => m[1]);

test("nothing outside js/worker/ imports the worker's internals, only js/worker/index.ts", () => {
  const offenders = [];
  for (const [path, text] of sources()) {
    if (path.startsWith("worker/")) continue;
    for (const spec of specifiers(text)) {
      if (/(^|\/)worker\//.test(spec) && !/(^|\/)worker\/index\.js$/.test(spec)) offenders.push(`${path} → ${spec}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test("runtime probes of globalThis live in js/runtime.ts", () => {
  // The package worker's script types its own global scope (not a probe), so host.ts may name it.
  const probing = sources()
    .filter(([path, text]) => path !== "runtime.ts" && path !== "worker/host.ts" && /\bglobalThis\b/.test(text))
    .map(([path]) => path);
  assert.deepEqual(probing, []);
});
