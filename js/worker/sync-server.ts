// The sync loops that pages start on the databases this worker holds (`startSync` on a page's
// OPFS database: js/worker/sync-client.ts). Each loop (js/sync/loop.ts) runs here, next to its
// database, over a wasm transport made here; its status, progress and finished rounds are sent to
// the page that started it, and its transport's token is asked of that page (whose token function
// never leaves it).
//
// Invariants: a loop is known by the id its page chose, and starting it again (a page repeating
// the call after a takeover) answers with the running loop; a loop whose page's worker goes away
// is stopped; a token request the page leaves unanswered for `TOKEN_WAIT_MS` fails (retryably), so
// a round never hangs on a dead page; a database's `close()` stops its loops first.

import type { LocalDatabase } from "../database.js";
import { SyncError } from "../errors.js";
import { locks, runtimeNetwork } from "../runtime.js";
import { systemClock } from "../sync/host.js";
import { LocalSyncHost } from "../sync/local.js";
import { SyncLoop } from "../sync/loop.js";
import { fromSpec } from "../sync/transports.js";
import type { ChangeEvent, RoundResult } from "../types.js";
import { aliveLock, fromWire, toWireStatus, type ArgsMap, type SyncEventData, type WireStatus } from "./rpc.js";

/** How long a loop waits for its page to hand over a token. */
const TOKEN_WAIT_MS = 30_000;

interface Running {
  loop: SyncLoop;
  /** Token requests waiting for the page's answer, by number. */
  asks: Map<number, { resolve(token: string): void; reject(error: unknown): void }>;
}

export class SyncService {
  #self: string;
  #send: (to: string, sync: string, event: SyncEventData) => void;
  #notify: (origin: string, database: string, kind: ChangeEvent["kind"]) => void;
  #running = new Map<string, Running>();
  #nextAsk = 1;

  /**
   * @param self this worker's id
   * @param send delivers an event to the page of the worker `to`
   * @param notify announces a committed change (a round that imported) to every tab
   */
  constructor(
    self: string,
    send: (to: string, sync: string, event: SyncEventData) => void,
    notify: (origin: string, database: string, kind: ChangeEvent["kind"]) => void,
  ) {
    this.#self = self;
    this.#send = send;
    this.#notify = notify;
  }

  /** Starts the loop `sync` of the page whose worker is `from` on `db` (named `name`). */
  start(from: string, name: string, db: LocalDatabase, [sync, spec, options]: ArgsMap["syncStart"]): WireStatus {
    const known = this.#running.get(sync);
    if (known !== undefined) return toWireStatus(known.loop.status);
    const running: Running = { loop: undefined as unknown as SyncLoop, asks: new Map() };
    const token = (): Promise<string> =>
      new Promise<string>((resolve, reject) => {
        const ask = this.#nextAsk++;
        const timer = setTimeout(() => {
          running.asks.delete(ask);
          reject(new SyncError("ERR_UNAUTHORIZED", "the page that started the sync did not hand over a token", { retryable: true }));
        }, TOKEN_WAIT_MS);
        const settle = (): void => {
          clearTimeout(timer);
          running.asks.delete(ask);
        };
        running.asks.set(ask, {
          resolve: (value) => (settle(), resolve(value)),
          reject: (error) => (settle(), reject(error)),
        });
        this.#send(from, sync, { type: "token", ask });
      });
    const unwatch = new AbortController();
    const unregister = db.onClosing(() => running.loop.stop());
    let host: LocalSyncHost;
    try {
      host = new LocalSyncHost(db, spec.kind, fromSpec(spec, token), {
        afterRound: (round) => {
          if (round.received > 0 || round.conflicts > 0) this.#notify(from, name, "import");
          if (round.newConflicts.length > 0) this.#send(from, sync, { type: "round", newConflicts: round.newConflicts });
        },
        closed: () => {
          unregister();
          unwatch.abort();
          this.#running.delete(sync);
          for (const ask of running.asks.values()) ask.reject(new SyncError("ERR_CLOSED", "the sync was stopped"));
        },
      });
    } catch (e) {
      unregister();
      throw e;
    }
    running.loop = new SyncLoop(host, options, systemClock, runtimeNetwork);
    running.loop.on("status", (status) => this.#send(from, sync, { type: "status", status: toWireStatus(status) }));
    running.loop.on("progress", (progress) => this.#send(from, sync, { type: "progress", progress }));
    this.#running.set(sync, running);
    this.#watch(from, running.loop, unwatch.signal);
    return toWireStatus(running.loop.status);
  }

  now([sync]: ArgsMap["syncNow"]): Promise<RoundResult> {
    const running = this.#running.get(sync);
    if (running === undefined) return Promise.reject(new SyncError("ERR_CLOSED", "the sync was stopped"));
    return running.loop.syncNow();
  }

  async stop([sync]: ArgsMap["syncStop"]): Promise<undefined> {
    await this.#running.get(sync)?.loop.stop();
    return undefined;
  }

  token([sync, ask, token, error]: ArgsMap["syncToken"]): undefined {
    const waiting = this.#running.get(sync)?.asks.get(ask);
    if (waiting === undefined) return undefined;
    if (error !== null) waiting.reject(fromWire(error));
    else if (typeof token === "string") waiting.resolve(token);
    else waiting.reject(new SyncError("ERR_UNAUTHORIZED", "the token function returned no string"));
    return undefined;
  }

  /** Stops `loop` when the worker `origin` (another tab's) goes away. */
  #watch(origin: string, loop: SyncLoop, signal: AbortSignal): void {
    if (origin === this.#self) return;
    locks()
      ?.request(aliveLock(origin), { signal }, async () => {
        await loop.stop();
      })
      .catch(() => undefined);
  }
}
