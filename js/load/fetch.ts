// How browsers, their workers and Deno load the wasm module: the wasm-bindgen glue's `init()`
// fetches `sqlite_sync_wasm_bg.wasm` from `new URL("sqlite_sync_wasm_bg.wasm", import.meta.url)`,
// beside the glue. That form is the one bundlers understand: webpack, Vite and Rollup emit the file
// and rewrite the URL; a bundle that does not (esbuild) resolves it next to the bundle, where the
// app copies the file. Used by the web loader and by the package's OPFS worker.

import init from "../generated/sqlite_sync_wasm.js";

/** Fetches and instantiates the .wasm file that sits beside the glue (or the bundle). */
export const fetchWasm = (): Promise<unknown> => init();
