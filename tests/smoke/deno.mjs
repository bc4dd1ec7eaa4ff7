// Deno smoke test: loads the package through its "deno" export condition (Deno reads the
// repository's package.json) and runs the shared scenario, then checks that `await using` closes.
//   node_modules/.bin/deno run --allow-read tests/smoke/deno.mjs

import { scenario } from "./scenario.mjs";

try {
  const api = await import("sqlite-sync-wasm");
  const summary = await scenario(api);
  let disposed;
  {
    await using db = await api.openDatabase();
    disposed = db;
  }
  const afterDispose = await disposed.query("SELECT 1").catch((e) => e.code);
  if (afterDispose !== "ERR_CLOSED") throw new Error(`await using did not close: ${afterDispose}`);
  console.log(`deno smoke: ok (${summary}; await using closes)`);
} catch (e) {
  console.error(`deno smoke: FAILED: ${e?.stack ?? e}`);
  Deno.exit(1);
}
