// Node loader (package.json "node" condition): reads the .wasm file from disk and instantiates it
// synchronously on first use (Node's fetch cannot read file: URLs).

import { readFileSync } from "node:fs";
import { initSync } from "../generated/sqlite_sync_wasm.js";
import { register } from "./register.js";

export * from "../index.js";
export const openDatabase = register(() => {
  initSync({ module: readFileSync(new URL("../generated/sqlite_sync_wasm_bg.wasm", import.meta.url)) });
});
