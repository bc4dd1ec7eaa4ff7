// What this runtime offers, asked of `globalThis` in one place: which kind of realm the code runs
// in (a page, a dedicated worker, a service or shared worker, or none of them: Node, Deno,
// Cloudflare Workers), which storage APIs exist there (OPFS, IndexedDB, Web Locks) and what it
// says of the network (`navigator.onLine`, the `online` / `offline` events, `fetch`), and how it
// defers work to the end of an event-loop turn. Every other module asks these functions instead of
// probing globals itself.
//
// Invariants: a probe never throws and never changes anything; each answers from the globals as
// they are when it is called (nothing is cached, so a test that installs a global sees it).

/** The Web Locks API, as far as the package uses it (not in TypeScript's ES2022 DOM lib for workers). */
export interface Locks {
  request(
    name: string,
    options: { signal?: AbortSignal; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown>;
}

/** The globals the probes read, each possibly missing. */
interface Globals {
  window?: unknown;
  document?: unknown;
  navigator?: { locks?: Locks; storage?: { getDirectory?: unknown }; onLine?: unknown };
  addEventListener?: (type: string, listener: () => void) => void;
  removeEventListener?: (type: string, listener: () => void) => void;
  indexedDB?: IDBFactory;
  fetch?: typeof fetch;
  setImmediate?: (fn: () => void) => unknown;
  Worker?: unknown;
  FileSystemSyncAccessHandle?: unknown;
  DedicatedWorkerGlobalScope?: new () => unknown;
  ServiceWorkerGlobalScope?: new () => unknown;
  SharedWorkerGlobalScope?: new () => unknown;
}

const globals = globalThis as Globals;

/** Whether the global object is an instance of `scope` (a worker global scope class). */
function inScope(scope: (new () => unknown) | undefined): boolean {
  return scope !== undefined && globalThis instanceof scope;
}

/** Whether this code runs on a page (a window with a document). */
export function onPage(): boolean {
  return globals.window !== undefined && globals.window === globalThis && globals.document !== undefined;
}

/** Whether this code runs in a dedicated worker (the only place OPFS sync access handles exist). */
export function inDedicatedWorker(): boolean {
  return inScope(globals.DedicatedWorkerGlobalScope);
}

/** Whether this code runs in a service or shared worker (which never have OPFS sync access handles). */
export function inServiceOrSharedWorker(): boolean {
  return inScope(globals.ServiceWorkerGlobalScope) || inScope(globals.SharedWorkerGlobalScope);
}

/** Whether OPFS can hold a database from here: in a dedicated worker itself, or from a page through a worker. */
export function opfsAvailable(): boolean {
  if (inDedicatedWorker()) return typeof globals.FileSystemSyncAccessHandle === "function";
  return onPage() && hasStorageDirectory() && typeof globals.Worker === "function";
}

/** Whether `navigator.storage.getDirectory` (the OPFS root) exists. */
export function hasStorageDirectory(): boolean {
  return typeof globals.navigator?.storage?.getDirectory === "function";
}

/** `navigator.locks`, or undefined where Web Locks do not exist. */
export function locks(): Locks | undefined {
  return globals.navigator?.locks;
}

/** The IndexedDB factory of this realm, if any. */
export function indexedDbFactory(): IDBFactory | undefined {
  return globals.indexedDB;
}

/** The runtime's `fetch`, if it has one. */
export function runtimeFetch(): typeof fetch | undefined {
  return typeof globals.fetch === "function" ? globals.fetch.bind(globalThis) : undefined;
}

/**
 * Runs `fn` once the events already queued are handled: `setImmediate` where the runtime has it
 * (Node), otherwise a 0 ms timer.
 */
export function soon(fn: () => void): void {
  if (typeof globals.setImmediate === "function") globals.setImmediate(fn);
  else setTimeout(fn, 0);
}

/** The runtime's network signal: `navigator.onLine` and the global `online` / `offline` events. */
export const runtimeNetwork = {
  /** False only when the runtime says it is offline (`navigator.onLine === false`). */
  online(): boolean {
    return globals.navigator?.onLine !== false;
  },
  /** Listens for `type` on the global object where it is an event target (pages, workers, Deno). */
  on(type: "online" | "offline", fn: () => void): () => void {
    const add = globals.addEventListener;
    const remove = globals.removeEventListener;
    if (typeof add !== "function" || typeof remove !== "function") return () => undefined;
    const listener = (): void => fn();
    add.call(globalThis, type, listener);
    return () => remove.call(globalThis, type, listener);
  },
};
