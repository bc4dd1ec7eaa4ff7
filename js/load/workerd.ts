// Cloudflare Workers loader ("workerd" condition): workerd cannot compile wasm from bytes at run
// time, so the .wasm is imported as a module (wrangler and miniflare pre-compile it).

import wasm from "../generated/sqlite_sync_wasm_bg.wasm";
import { initSync } from "../generated/sqlite_sync_wasm.js";
import { setInitializer } from "../init.js";

setInitializer(() => {
  initSync({ module: wasm });
});

export * from "../index.js";
