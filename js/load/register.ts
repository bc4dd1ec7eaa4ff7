// The `openDatabase` every runtime loader exports: registering how this runtime initialises the
// wasm module, then handing back the API's own `openDatabase`.
//
// Why the registration is the value of the export rather than a statement of its own: a loader
// exists for that one effect, and a bundler drops statements (or whole modules) it believes have
// none, whether package.json "sideEffects" says so or its configuration treats every module as
// pure. An app that calls `openDatabase` uses the value `register(…)` returned, so no bundler can
// keep the function and lose the registration; `openDatabase` then fails with "no runtime loader
// ran" only if the package was not imported by name.

import { openDatabase } from "../index.js";
import { setInitializer, type Initializer } from "../init.js";

/** Registers `initializer` as this realm's way of loading the wasm module; returns `openDatabase`. */
export function register(initializer: Initializer): typeof openDatabase {
  setInitializer(initializer);
  return openDatabase;
}
