// The sync loops that pages start on the databases this worker holds (`startSync` on a page's
// OPFS database: js/worker/sync-client.ts). Each loop (js/sync/loop.ts) runs here, next to its
// database, over a wasm transport made here. Tabs that start a loop for the same database, relay
// and space share one: one connection serves the origin. Its status and progress go to every tab
// attached to it; its token, and the conflict resolvers of its rounds, are asked of the first tab
// still attached (the token function never leaves its page). Options of a later tab (interval,
// debounce, ping interval) do not change a running loop.
//
// Invariants: a tab's attachment is known by the id its page chose, and starting it again (a page
// repeating the call after a takeover) answers with the running loop; a tab is detached when it
// stops its `Sync` or its worker goes away, and the loop stops with its last tab; a token request
// left unanswered for `TOKEN_WAIT_MS`, or whose tab detaches, fails retryably, so a round never
// hangs on a dead page; a database's `close()` stops its loops first.

import type { LocalDatabase } from "../database.js";
import { SyncError } from "../errors.js";
import { locks, runtimeNetwork } from "../runtime.js";
import { systemClock } from "../sync/host.js";
import { LocalSyncHost } from "../sync/local.js";
import { SyncLoop, type LoopOptions } from "../sync/loop.js";
import { fromSpec, type TransportSpec } from "../sync/transports.js";
import type { ChangeEvent, RoundResult } from "../types.js";
import { aliveLock, fromWire, toWireStatus, type ArgsMap, type SyncEventData, type WireStatus } from "./rpc.js";

/** How long a loop waits for a page to hand over a token. */
const TOKEN_WAIT_MS = 30_000;

/** One loop and the tabs attached to it, by the id each tab's `Sync` chose (oldest first). */
interface Shared {
  key: string;
  loop: SyncLoop;
  tabs: Map<string, { origin: string; unwatch: AbortController }>;
}

interface Ask {
  sync: string;
  resolve(token: string): void;
  reject(error: unknown): void;
}

export class SyncService {
  #self: string;
  #send: (to: string, sync: string, event: SyncEventData) => void;
  #notify: (origin: string, database: string, kind: ChangeEvent["kind"]) => void;
  #bySync = new Map<string, Shared>();
  #byKey = new Map<string, Shared>();
  #asks = new Map<number, Ask>();
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

  /** Attaches the tab of worker `from` to the loop of `db` (named `name`) with `spec`'s relay, started if need be. */
  start(from: string, name: string, db: LocalDatabase, [sync, spec, options]: ArgsMap["syncStart"]): WireStatus {
    const known = this.#bySync.get(sync);
    if (known !== undefined) return toWireStatus(known.loop.status);
    const key = JSON.stringify([name, spec.kind, spec.url, spec.space]);
    const shared = this.#byKey.get(key) ?? this.#create(key, name, db, spec, options);
    const unwatch = new AbortController();
    shared.tabs.set(sync, { origin: from, unwatch });
    this.#bySync.set(sync, shared);
    if (from !== this.#self) {
      locks()
        ?.request(aliveLock(from), { signal: unwatch.signal }, () => this.#detach(sync))
        .catch(() => undefined);
    }
    return toWireStatus(shared.loop.status);
  }

  now([sync]: ArgsMap["syncNow"]): Promise<RoundResult> {
    const shared = this.#bySync.get(sync);
    if (shared === undefined) return Promise.reject(new SyncError("ERR_CLOSED", "the sync was stopped"));
    return shared.loop.syncNow();
  }

  async stop([sync]: ArgsMap["syncStop"]): Promise<undefined> {
    await this.#detach(sync);
    return undefined;
  }

  token([sync, ask, token, error]: ArgsMap["syncToken"]): undefined {
    const waiting = this.#asks.get(ask);
    if (waiting === undefined || waiting.sync !== sync) return undefined;
    if (error !== null) waiting.reject(fromWire(error));
    else if (typeof token === "string") waiting.resolve(token);
    else waiting.reject(new SyncError("ERR_UNAUTHORIZED", "the token function returned no string"));
    return undefined;
  }

  #create(key: string, name: string, db: LocalDatabase, spec: TransportSpec, options: LoopOptions): Shared {
    const shared: Shared = { key, loop: undefined as unknown as SyncLoop, tabs: new Map() };
    const unregister = db.onClosing(() => shared.loop.stop());
    let host: LocalSyncHost;
    try {
      host = new LocalSyncHost(db, spec.kind, fromSpec(spec, () => this.#askToken(shared)), {
        afterRound: (round) => {
          const [first] = shared.tabs;
          if (round.received > 0 || round.conflicts > 0) this.#notify(first?.[1].origin ?? this.#self, name, "import");
          if (first !== undefined && round.newConflicts.length > 0) {
            this.#send(first[1].origin, first[0], { type: "round", newConflicts: round.newConflicts });
          }
        },
        closed: () => {
          unregister();
          if (this.#byKey.get(key) === shared) this.#byKey.delete(key);
          for (const sync of [...shared.tabs.keys()]) this.#forget(shared, sync);
        },
      });
    } catch (e) {
      unregister();
      throw e;
    }
    shared.loop = new SyncLoop(host, options, systemClock, runtimeNetwork);
    shared.loop.on("status", (status) => this.#broadcast(shared, { type: "status", status: toWireStatus(status) }));
    shared.loop.on("progress", (progress) => this.#broadcast(shared, { type: "progress", progress }));
    this.#byKey.set(key, shared);
    return shared;
  }

  #broadcast(shared: Shared, event: SyncEventData): void {
    for (const [sync, { origin }] of shared.tabs) this.#send(origin, sync, event);
  }

  /** Asks the first tab attached to `shared` for a token. */
  #askToken(shared: Shared): Promise<string> {
    const [first] = shared.tabs;
    if (first === undefined) return Promise.reject(new SyncError("ERR_CLOSED", "the sync was stopped"));
    const [sync, { origin }] = first;
    return new Promise<string>((resolve, reject) => {
      const ask = this.#nextAsk++;
      const timer = setTimeout(() => this.#asks.get(ask)?.reject(noToken()), TOKEN_WAIT_MS);
      const settled = (): void => {
        clearTimeout(timer);
        this.#asks.delete(ask);
      };
      this.#asks.set(ask, {
        sync,
        resolve: (token) => (settled(), resolve(token)),
        reject: (error) => (settled(), reject(error)),
      });
      this.#send(origin, sync, { type: "token", ask });
    });
  }

  /** Detaches the tab `sync`; the loop stops (and is awaited) once no tab is attached. */
  async #detach(sync: string): Promise<void> {
    const shared = this.#bySync.get(sync);
    if (shared === undefined) return;
    this.#forget(shared, sync);
    if (shared.tabs.size === 0) await shared.loop.stop();
  }

  #forget(shared: Shared, sync: string): void {
    shared.tabs.get(sync)?.unwatch.abort();
    shared.tabs.delete(sync);
    this.#bySync.delete(sync);
    for (const waiting of [...this.#asks.values()]) if (waiting.sync === sync) waiting.reject(noToken());
  }
}

/** A token that did not come: retryable, so that the round is tried again (asking the next tab). */
function noToken(): SyncError {
  return new SyncError("ERR_UNAUTHORIZED", "no token: the tab that started the sync did not hand one over", { retryable: true });
}
