// `startSync` on a page's OPFS database: the loop runs in the worker that holds the database
// (js/worker/sync-server.ts); `WorkerSync` is its mirror on the page. Only the plain part of the
// options crosses (transport kind, url, space, ping interval, interval, debounce); the token
// function stays here and the worker asks for a token with a message whenever its transport needs
// one. Status and progress arrive as events; the conflict resolvers registered on the page run for
// the new conflicts of each round, as after an import.
//
// Several tabs on one OPFS database: every loop runs in the worker that holds the database (the
// one owning the OPFS pool), whichever tab started it, so the holder's tab syncs for all of them;
// each tab's `Sync` sees the status of the loop it started, and every tab sees the imported
// changes through `onChange` (`kind: "import"`). A tab that starts no loop sees no sync status.
// When the holder goes away, the next holder starts each tab's loop again (its counts start from
// zero); a loop whose tab goes away is stopped.
//
// Invariants: `status` is the last status the loop sent (a fresh frozen object per change);
// `syncNow` settles as the loop's does, after the resolvers of the rounds reported so far; after
// `stop()` no event reaches the listeners and every later call rejects with `ERR_CLOSED`.

import { SyncError, toSyncError } from "../errors.js";
import { reportUncaught } from "../shared.js";
import type { Sync, SyncEvents } from "../sync/api.js";
import { initialStatus, SyncListeners } from "../sync/events.js";
import type { LoopOptions } from "../sync/loop.js";
import type { TokenSource, TransportSpec } from "../sync/transports.js";
import type { RoundResult, SyncStatus } from "../types.js";
import { WorkerDatabase } from "./client.js";
import { fromWireStatus, toWire, type SyncEventData } from "./rpc.js";

/**
 * Starts the loop of `db` in the package worker, if `db` lives there (otherwise undefined).
 * @param injected the name of an injected `fetch` / `WebSocket`, which cannot cross to the worker
 */
export function startSyncInPackageWorker(
  db: unknown,
  spec: TransportSpec,
  token: TokenSource,
  injected: string | undefined,
  loop: LoopOptions,
): Sync | undefined {
  if (!(db instanceof WorkerDatabase)) return undefined;
  if (injected !== undefined) {
    throw new SyncError(
      "ERR_INVALID_ARGUMENT",
      `startSync: an injected ${injected} cannot cross to the package worker that holds this OPFS database; ` +
        `the worker uses its own global ${injected} (leave the option out, or open the database in a worker of your own)`,
    );
  }
  return new WorkerSync(db, spec, token, loop);
}

function stoppedError(): SyncError {
  return new SyncError("ERR_CLOSED", "the sync was stopped");
}

class WorkerSync implements Sync {
  #db: WorkerDatabase;
  #id = crypto.randomUUID();
  #token: TokenSource;
  #status: SyncStatus = initialStatus("idle");
  #listeners = new SyncListeners();
  /** The resolvers of the rounds reported so far (never rejects). */
  #resolving: Promise<void> = Promise.resolve();
  #stopping: Promise<void> | undefined;
  #detach: () => void;
  /** Whether a status event has arrived (newer than the status the start call answers with). */
  #heard = false;

  constructor(db: WorkerDatabase, spec: TransportSpec, token: TokenSource, loop: LoopOptions) {
    this.#db = db;
    this.#token = token;
    this.#detach = db.attachSync(this.#id, this, () => this.stop());
    db.sendForSync("syncStart", [this.#id, spec, loop]).then(
      (status) => {
        if (!this.#heard) this.#setStatus(fromWireStatus(status));
      },
      (e: unknown) => this.#setStatus(Object.freeze({ ...this.#status, state: "error", lastError: toSyncError(e) })),
    );
  }

  get status(): SyncStatus {
    return this.#status;
  }

  on<E extends keyof SyncEvents>(event: E, listener: (value: SyncEvents[E]) => void): () => void {
    return this.#listeners.on(event, listener);
  }

  async syncNow(): Promise<RoundResult> {
    if (this.#stopping !== undefined) throw stoppedError();
    const result = await this.#db.sendForSync("syncNow", [this.#id]);
    await this.#resolving;
    return result;
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#db.sendForSync("syncStop", [this.#id]).then(
      () => this.#stopped(),
      () => this.#stopped(), // the worker is gone: so is its loop
    );
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #stopped(): void {
    this.#detach();
    if (this.#status.state !== "stopped") this.#setStatus(Object.freeze({ ...this.#status, state: "stopped", nextRetryAt: null }));
    this.#listeners.clear();
  }

  /** An event of the loop in the worker. @internal */
  receive(event: SyncEventData): void {
    switch (event.type) {
      case "status":
        this.#heard = true;
        if (this.#stopping === undefined || event.status.state === "stopped") this.#setStatus(fromWireStatus(event.status));
        break;
      case "progress":
        this.#listeners.emit("progress", Object.freeze({ ...event.progress }));
        break;
      case "round":
        this.#resolving = this.#resolving
          .then(() => this.#db.runResolvers(event.newConflicts))
          // As for a listener: the round stands, the resolver's failure is reported as uncaught.
          .catch(reportUncaught);
        break;
      case "token":
        void this.#answerToken(event.ask);
        break;
    }
  }

  /** Runs the token function for the worker's request `ask` and sends its answer. */
  async #answerToken(ask: number): Promise<void> {
    let answer: [string | null, ReturnType<typeof toWire> | null];
    try {
      const token = typeof this.#token === "string" ? this.#token : await this.#token();
      answer = typeof token === "string" ? [token, null] : [null, toWire(new SyncError("ERR_UNAUTHORIZED", "the token function returned no string"))];
    } catch (e) {
      answer = [null, toWire(e)];
    }
    await this.#db.sendForSync("syncToken", [this.#id, ask, ...answer]).catch(() => undefined);
  }

  #setStatus(status: SyncStatus): void {
    this.#status = status;
    this.#listeners.emit("status", status);
  }
}
