// The package's dedicated worker: `openDatabase({ storage: "opfs" })` on a page starts one per
// page and talks to it with `postMessage` (js/worker/client.ts). Every such worker of an origin
// queues for the OPFS pool's Web Lock; the one holding it serves the databases (js/worker/server.ts)
// for its own page and, over a BroadcastChannel, for every other tab. The others forward their
// page's calls to it, and when it goes away (tab closed or crashed) the next in the queue takes
// over and the callers repeat what was left unanswered.
//
// A sync loop a page starts runs in the holder (js/worker/sync-server.ts), whose events reach that
// page through its own worker; this worker keeps the page's running loops' start calls and sends
// them again to a new holder, so that a loop survives a takeover (starting afresh there).
//
// Invariants: a call from this worker's page is answered exactly once; while no holder answers,
// calls wait (no "locked" error reaches the page); the page learns of every committed change.

import { ready, setInitializer } from "../init.js";
import { fetchWasm } from "../load/fetch.js";
import { locks } from "../runtime.js";
import { acquirePool, releasePool } from "./pool.js";
import {
  CHANNEL,
  aliveLock,
  toWire,
  transferables,
  type ChannelMessage,
  type Request,
  type Response,
  type SyncEventData,
} from "./rpc.js";
import { Server, type Reply } from "./server.js";
import type { ChangeEvent } from "../types.js";

/** What the page sends: calls, and the request to let go of everything before it terminates us. */
type FromPage = Request | { kind: "shutdown"; id: number };

interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
}

// This file is the worker's entry, so its own statements always run, whatever a bundler assumes
// about the modules it imports.
setInitializer(fetchWasm);

const scope = globalThis as unknown as WorkerScope;
const self = crypto.randomUUID();
const channel = new BroadcastChannel(CHANNEL);
/** Calls of this page sent to another worker and not answered yet. */
const inflight = new Map<number, Request>();
/** The start calls of this page's running sync loops, by loop id (sent again to a new holder). */
const syncing = new Map<string, Request>();
let server: Server | undefined;
let stopping = false;

/** Set when OPFS cannot work in this browser: every call fails with it. */
let broken: unknown;

type ToPage = Response | { kind: "change"; event: ChangeEvent } | { kind: "sync"; sync: string; event: SyncEventData };

function toPage(message: ToPage): void {
  scope.postMessage(message, message.kind === "res" && message.ok ? transferables(message.value) : []);
}

function replyTo(req: Request): Reply {
  const send = (response: Response): void => {
    if (req.from === self) toPage(response);
    else channel.postMessage(response);
  };
  return {
    ok: (value) => send({ kind: "res", to: req.from, id: req.id, ok: true, value }),
    fail: (error) => send({ kind: "res", to: req.from, id: req.id, ok: false, error: toWire(error) }),
  };
}

function notify(origin: string, database: string, change: ChangeEvent["kind"]): void {
  toPage({ kind: "change", event: { database, kind: change, local: origin === self } });
  channel.postMessage({ kind: "change", origin, database, change });
}

function toSync(to: string, sync: string, event: SyncEventData): void {
  if (to === self) toPage({ kind: "sync", sync, event });
  else channel.postMessage({ kind: "sync", to, sync, event });
}

/** Hands a call of this page to whoever holds the pool. */
function route(req: Request): void {
  if (req.method === "syncStart") syncing.set(req.args[0], req);
  if (req.method === "syncStop") syncing.delete(req.args[0]);
  if (server !== undefined) {
    server.handle(req, replyTo(req), false);
  } else if (broken !== undefined) {
    replyTo(req).fail(broken);
  } else {
    inflight.set(req.id, req);
    channel.postMessage(req);
  }
}

channel.onmessage = (event: MessageEvent<ChannelMessage>) => {
  const message = event.data;
  switch (message.kind) {
    case "req":
      server?.handle(message, replyTo(message), true);
      break;
    case "res":
      if (message.to === self && inflight.delete(message.id)) toPage(message);
      break;
    case "change":
      toPage({
        kind: "change",
        event: { database: message.database, kind: message.change, local: message.origin === self },
      });
      break;
    case "leader":
      if (message.id !== self) {
        // The old holder's loops went with it: they start first (the new holder runs a request
        // seen twice once; the answers to calls answered before are dropped), then the calls.
        for (const req of syncing.values()) channel.postMessage(req);
        for (const req of inflight.values()) channel.postMessage(req);
      }
      break;
    case "sync":
      if (message.to === self) toPage({ kind: "sync", sync: message.sync, event: message.event });
      break;
  }
};

scope.addEventListener("message", (event: MessageEvent<FromPage>) => {
  const message = event.data;
  if (message.kind === "shutdown") {
    stopping = true;
    const done = (): void => scope.postMessage({ kind: "res", to: self, id: message.id, ok: true, value: null });
    if (server === undefined) {
      done();
      return;
    }
    const closing = server;
    server = undefined;
    closing
      .stop()
      .then(() => releasePool())
      .then(done, done);
    return;
  }
  route({ ...message, from: self });
});

/** Queues for the pool; once this worker holds it, serves every tab until the worker ends. */
async function elect(): Promise<void> {
  const lockApi = locks();
  if (lockApi !== undefined) {
    // Held for the worker's whole life, so a holder notices when this worker's page is gone.
    void lockApi.request(aliveLock(self), {}, () => new Promise<never>(() => undefined));
  }
  try {
    await ready();
    // Waits as long as another worker holds the pool; fails only when OPFS is unusable here.
    await acquirePool();
  } catch (e) {
    broken = e;
    for (const req of inflight.values()) replyTo(req).fail(e);
    inflight.clear();
    return;
  }
  if (stopping) {
    releasePool().catch(() => undefined);
    return;
  }
  server = new Server(self, notify, toSync);
  channel.postMessage({ kind: "leader", id: self });
  const waiting = [...inflight.values()];
  inflight.clear();
  // Loops this page started in a holder that went away first (a request seen twice runs once).
  for (const req of syncing.values()) server.handle(req, replyTo(req), true);
  for (const req of waiting) server.handle(req, replyTo(req), true);
}

void elect();
