// Cloudflare Workers loader ("workerd" condition): workerd cannot compile wasm from bytes at run
// time, so the .wasm is imported as a module (wrangler and miniflare pre-compile it).

import wasm from "../generated/sqlite_sync_wasm_bg.wasm";
import { initSync } from "../generated/sqlite_sync_wasm.js";
import { register } from "./register.js";

export * from "../index.js";
export const openDatabase = register(() => {
  initSync({ module: wasm });
});
