// The packed tarball, as the registry would receive it, checked by publint (package.json fields
// against the files shipped) and by @arethetypeswrong/cli (the types each entry point resolves to
// under every TypeScript module resolution). Both run offline.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { packed } from "./harness.mjs";

let pack;
before(() => {
  pack = packed("lint");
});
after(() => pack?.remove());

/** Runs a devDependency's CLI; a non-zero exit fails the test with everything it printed. */
function cli(name, args) {
  const bin = fileURLToPath(new URL(`../../node_modules/.bin/${name}`, import.meta.url));
  try {
    return execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  } catch (error) {
    assert.fail(`${name} exited ${error.status ?? error.signal}:\n${error.stdout ?? ""}${error.stderr ?? ""}`);
  }
}

test("publint reports nothing, suggestions included, and warnings count as errors", () => {
  assert.match(cli("publint", ["run", pack.tarball, "--strict"]), /All good!/);
});

test("attw: every entry point's types resolve, the ESM-only finding excepted", () => {
  // The one rule ignored, cjs-resolves-to-esm, says that require() meets an ES module. That is the
  // design: the package is ES modules only (wasm-bindgen's ES-module glue, import.meta.url, one
  // build for every runtime). Node 20.19+ and 22.12+ load it with require() all the same, as no
  // module of the package uses top-level await; older CommonJS code uses import().
  cli("attw", [
    pack.tarball,
    "--ignore-rules",
    "cjs-resolves-to-esm",
    "--no-definitely-typed",
    "--format",
    "ascii",
    "--no-color",
    "--no-emoji",
  ]);
});
