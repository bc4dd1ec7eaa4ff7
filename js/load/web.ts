// Browser, worker and Deno loader ("browser", "deno" and "default" conditions): fetches and
// instantiates the .wasm next to this file on first use. No top-level await (service workers
// forbid it): `openDatabase` awaits the memoised init.

import init from "../generated/sqlite_sync_wasm.js";
import { setInitializer } from "../init.js";

setInitializer(() =>
  init({ module_or_path: new URL("../generated/sqlite_sync_wasm_bg.wasm", import.meta.url) }),
);

export * from "../index.js";
