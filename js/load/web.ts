// Browser, worker and Deno loader ("browser", "deno" and "default" conditions): fetches and
// instantiates the .wasm on first use (js/load/fetch.ts). No top-level await (service workers
// forbid it): `openDatabase` awaits the memoised init.

import { fetchWasm } from "./fetch.js";
import { register } from "./register.js";

export * from "../index.js";
export const openDatabase = register(fetchWasm);
