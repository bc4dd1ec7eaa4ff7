// Module declarations the loaders need at compile time only (not emitted into dist/).

/** A `.wasm` import: workerd (and bundlers for it) hand over a compiled `WebAssembly.Module`. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

/**
 * better-sqlite3, the relay's SQLite on Node 20 (an optional peer dependency, loaded lazily): only
 * its constructor is used, and the store sees the result through its own narrow driver type.
 */
declare module "better-sqlite3" {
  const Database: new (path: string, options?: { readonly?: boolean }) => unknown;
  export default Database;
}
