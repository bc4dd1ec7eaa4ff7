// The page's connection to its package worker: it starts the worker (js/worker/host.ts), posts the
// calls of every database of the page (js/worker/client.ts) and hands each answer to the call it
// belongs to, every change event to the databases, and each sync loop's events to its mirror.
//
// Invariants: calls are posted in the order they are made; each is settled once: with the
// worker's answer, with a `SyncError` rebuilt from the worker's error, or with the error that
// ended the link (the worker failed to load or crashed, or the last database closed it); a call
// made on an ended link rejects at once.

import { SyncError, toSyncError } from "../errors.js";
import type { ChangeEvent } from "../types.js";
import { fromWire, type ArgsMap, type Method, type ResultMap, type Response, type SyncEventData } from "./rpc.js";

/** A database of the page, as far as the link needs it: change events are delivered to it. */
export interface Subscriber {
  dispatch(event: ChangeEvent): void;
}

/** A sync loop of the page, mirrored (js/worker/sync-client.ts): its loop's events are delivered to it. */
export interface SyncSubscriber {
  receive(event: SyncEventData): void;
}

type FromWorker = Response | { kind: "change"; event: ChangeEvent } | { kind: "sync"; sync: string; event: SyncEventData };

interface Pending {
  /** Takes the worker's answer, which the worker sends as `ResultMap[M]` for a call of `M`. */
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** The page's connection to its package worker. */
export class Link {
  readonly worker: Worker;
  #next = 1;
  #pending = new Map<number, Pending>();
  #databases = new Set<Subscriber>();
  #syncs = new Map<string, SyncSubscriber>();
  #dead: SyncError | undefined;

  constructor() {
    this.worker = new Worker(new URL("./host.js", import.meta.url), { type: "module", name: "sqlite-sync-wasm" });
    this.worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(event.data);
    this.worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail(
        new SyncError("ERR_STORAGE_UNAVAILABLE", `the sqlite-sync-wasm worker failed: ${event.message || "it did not load"}`),
      );
    };
  }

  /**
   * Sends one call; resolves with the worker's answer. Arguments that cannot be cloned (a symbol,
   * a function) reject with `ERR_INVALID_ARGUMENT`, as the in-process database rejects them.
   */
  call<M extends Method>(conn: string, name: string, method: M, args: ArgsMap[M]): Promise<ResultMap[M]> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<ResultMap[M]>((resolve, reject) => {
      try {
        this.worker.postMessage({ kind: "req", id, conn, name, method, args });
      } catch (e) {
        reject(
          e instanceof DOMException && e.name === "DataCloneError"
            ? new SyncError("ERR_INVALID_ARGUMENT", `unsupported value: ${e.message}`, { cause: e })
            : toSyncError(e),
        );
        return;
      }
      // The answer to call `id` is the worker's result of `method`: the one place it is trusted.
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
  }

  add(db: Subscriber): void {
    this.#databases.add(db);
  }

  /** Forgets a closed database; the last one asks the worker to let go and terminates it. */
  async remove(db: Subscriber): Promise<void> {
    this.#databases.delete(db);
    if (this.#databases.size > 0 || this.#dead !== undefined) return;
    if (link === this) link = undefined;
    const id = this.#next++;
    const done = new Promise((resolve) => this.#pending.set(id, { resolve, reject: resolve }));
    this.worker.postMessage({ kind: "shutdown", id });
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 2000))]);
    this.worker.terminate();
    this.#fail(new SyncError("ERR_CLOSED", "the database is closed"));
  }

  /** Delivers the events of the loop `id` to `sync` until the returned function is called. */
  addSync(id: string, sync: SyncSubscriber): () => void {
    this.#syncs.set(id, sync);
    return () => {
      this.#syncs.delete(id);
    };
  }

  #receive(message: FromWorker): void {
    if (message.kind === "change") {
      for (const db of this.#databases) db.dispatch(message.event);
      return;
    }
    if (message.kind === "sync") {
      this.#syncs.get(message.sync)?.receive(message.event);
      return;
    }
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(fromWire(message.error));
  }

  #fail(error: SyncError): void {
    this.#dead ??= error;
    if (link === this) link = undefined;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

let link: Link | undefined;

/** The page's link, started on first use (and again after the last database closed it). */
export function sharedLink(): Link {
  link ??= new Link();
  return link;
}
