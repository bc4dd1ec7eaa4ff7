// workerd smoke test: runs tests/smoke/worker.mjs in a local workerd through miniflare, with the
// .wasm loaded as a CompiledWasm module exactly as wrangler uploads it, and checks its answer.
//   node tests/smoke/workerd.mjs

import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  compatibilityDate: "2026-04-01",
  modules: true,
  modulesRoot: root,
  scriptPath: `${root}tests/smoke/worker.mjs`,
  modulesRules: [
    { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
});

let failed = false;
try {
  const response = await mf.dispatchFetch("http://localhost/");
  const body = await response.json();
  if (!body.ok) throw new Error(body.error);
  console.log(`workerd smoke: ok (${body.summary})`);
} catch (e) {
  console.error(`workerd smoke: FAILED: ${e?.stack ?? e}`);
  failed = true;
} finally {
  await mf.dispose();
}
process.exitCode = failed ? 1 : 0;
