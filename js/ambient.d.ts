// Module declarations the loaders need at compile time only (not emitted into dist/).

/** A `.wasm` import: workerd (and bundlers for it) hand over a compiled `WebAssembly.Module`. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

/** The one Node API the Node loader uses (the package does not depend on @types/node). */
declare module "node:fs" {
  export function readFileSync(path: URL): Uint8Array;
}
