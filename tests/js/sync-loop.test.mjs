// The sync loop's schedule (dist/sync/loop.js), driven by a fake clock and a scripted host: when
// rounds start, how failures back off, what the status says. These are unit tests of the loop's
// timing logic only; rounds against a real relay are tested end to end elsewhere.

import assert from "node:assert/strict";
import { test } from "node:test";
import { HttpTransport, openDatabase, startSync, SyncError, WebSocketTransport } from "sqlite-sync-wasm";
import { backoffDelay, DEFAULT_BACKOFF, SyncLoop } from "../../dist/sync/loop.js";

const T0 = 1_000_000;
/** A scheduling bug shows as a test that never ends: each fails after this instead. */
const LIMIT = { timeout: 10_000 };
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A clock whose time moves only when the test says so; `random` answers from a list (or 0.5). */
class FakeClock {
  t = T0;
  timers = new Map();
  next = 1;
  randoms = [];
  now() {
    return this.t;
  }
  setTimeout(fn, ms) {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(id) {
    this.timers.delete(id);
  }
  random() {
    return this.randoms.length > 0 ? this.randoms.shift() : 0.5;
  }
  /** When the earliest armed timer fires, or null. */
  get dueAt() {
    let at = null;
    for (const timer of this.timers.values()) if (at === null || timer.at < at) at = timer.at;
    return at;
  }
  /** Moves time forward by `ms`, firing the timers due on the way (and letting promises settle). */
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let first;
      for (const [id, timer] of this.timers) if (timer.at <= end && (first === undefined || timer.at < first[1].at)) first = [id, timer];
      if (first === undefined) break;
      this.timers.delete(first[0]);
      this.t = first[1].at;
      first[1].fn();
    }
    this.t = end;
    await settle();
  }
}

/** A host whose rounds the test ends by hand (`finish`, `fail`), unless `script` answers them. */
class ScriptedHost {
  rounds = [];
  active = 0;
  maxActive = 0;
  closed = 0;
  pendingCount = 0;
  commit = () => assert.fail("no commit listener");
  notify = () => assert.fail("no notify listener");
  constructor(script) {
    this.script = script;
  }
  round(onProgress, onCounts) {
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    const done = () => {
      this.active -= 1;
    };
    if (this.script !== undefined) {
      return Promise.resolve(this.script(onProgress, this.rounds.length)).finally(() => {
        this.rounds.push({});
        done();
      });
    }
    return new Promise((resolve, reject) => {
      this.rounds.push({
        onProgress,
        onCounts,
        finish: (report = {}) => {
          done();
          resolve({ sent: 0, received: 0, conflicts: 0, pending: 0, behind: false, ...report });
        },
        fail: (error) => {
          done();
          reject(error);
        },
      });
    });
  }
  /** The round running now. */
  get current() {
    assert.equal(this.active, 1, "a round is running");
    return this.rounds.at(-1);
  }
  pending() {
    return Promise.resolve(this.pendingCount);
  }
  onLocalCommit(fn) {
    this.commit = fn;
    return () => {
      this.commit = () => undefined;
    };
  }
  onNotify(fn) {
    this.notify = fn;
    return () => {
      this.notify = () => undefined;
    };
  }
  async close() {
    this.closed += 1;
  }
}

class FakeNetwork {
  onLine = true;
  listeners = { online: new Set(), offline: new Set() };
  online() {
    return this.onLine;
  }
  on(type, fn) {
    this.listeners[type].add(fn);
    return () => this.listeners[type].delete(fn);
  }
  fire(type) {
    this.onLine = type === "online";
    for (const fn of this.listeners[type]) fn();
  }
}

const OPTIONS = { intervalMs: 30_000, debounceMs: 50, backoff: DEFAULT_BACKOFF };
const networkError = () => new SyncError("ERR_NETWORK", "connection refused", { retryable: true });

/** A loop whose first round has started (it starts on the first tick). */
async function started(options = OPTIONS, host = new ScriptedHost(), network = new FakeNetwork()) {
  const clock = new FakeClock();
  const loop = new SyncLoop(host, options, clock, network);
  const statuses = [];
  loop.on("status", (s) => statuses.push(s));
  await clock.advance(0);
  return { loop, host, clock, network, statuses };
}

/** Ends the running round, if any (stop() waits for it), then stops the loop. */
async function finish(loop, host) {
  if (host.active > 0) host.current.finish();
  await loop.stop();
}

test("backoffDelay: full jitter under min(cap, base · 2^(n−1)), Retry-After as a floor", () => {
  for (let n = 1; n <= 12; n++) {
    const ceiling = Math.min(30_000, 500 * 2 ** (n - 1));
    assert.equal(backoffDelay(DEFAULT_BACKOFF, n, 0), 0);
    assert.equal(backoffDelay(DEFAULT_BACKOFF, n, 0.999999), ceiling - 1);
    assert.ok(backoffDelay(DEFAULT_BACKOFF, n, 0.5) <= ceiling / 2);
  }
  assert.equal(backoffDelay(DEFAULT_BACKOFF, 1, 0.1, 5_000), 5_000);
  assert.equal(backoffDelay(DEFAULT_BACKOFF, 20, 0.9, 1_000), 27_000);
});

test("retryable failures back off with full jitter up to the cap, forever, in state offline", LIMIT, async () => {
  const { loop, host, clock } = await started();
  const randoms = [0.999, 0.25, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999];
  clock.randoms = [...randoms];
  for (let n = 1; n <= randoms.length; n++) {
    host.current.fail(networkError());
    await clock.advance(0);
    const { state, nextRetryAt, lastError } = loop.status;
    assert.equal(state, "offline");
    assert.equal(lastError.code, "ERR_NETWORK");
    const ceiling = Math.min(30_000, 500 * 2 ** (n - 1));
    const delay = nextRetryAt - clock.now();
    assert.equal(delay, Math.floor(randoms[n - 1] * ceiling), `retry ${n}`);
    assert.equal(clock.dueAt, nextRetryAt);
    const before = host.rounds.length;
    await clock.advance(Math.max(0, delay - 1));
    if (delay > 0) assert.equal(host.rounds.length, before, "no round before nextRetryAt");
    await clock.advance(1);
    assert.equal(host.rounds.length, before + 1, "a round at nextRetryAt");
  }
  host.current.finish({ pending: 0 });
  await clock.advance(0);
  assert.equal(loop.status.state, "idle");
  assert.equal(loop.status.lastError, null);
  assert.equal(loop.status.nextRetryAt, null);
  assert.equal(clock.dueAt, clock.now() + 30_000, "back to the interval");
  await finish(loop, host);
});

test("what a failed round did (acknowledged pushes, new records) still counts in status.sent and received", LIMIT, async () => {
  const { loop, host, clock } = await started();
  host.current.onCounts({ sent: 1_000, received: 0 });
  host.current.onCounts({ sent: 1_000, received: 300 });
  host.current.fail(networkError());
  await clock.advance(0);
  assert.deepEqual([loop.status.state, loop.status.sent, loop.status.received], ["offline", 1_000, 300]);
  await clock.advance(loop.status.nextRetryAt - clock.now());
  host.current.finish({ sent: 500, received: 200, pending: 0 });
  await clock.advance(0);
  assert.deepEqual([loop.status.state, loop.status.sent, loop.status.received], ["idle", 1_500, 500]);
  await finish(loop, host);
});

test("a relay's retryAfterMs is a floor under the jittered delay; a 5xx-like retryable error is state error", LIMIT, async () => {
  const { loop, host, clock } = await started();
  clock.randoms = [0];
  host.current.fail(new SyncError("ERR_RATE_LIMITED", "slow down", { retryable: true, retryAfterMs: 5_000 }));
  await clock.advance(0);
  assert.equal(loop.status.state, "error");
  assert.equal(loop.status.nextRetryAt, clock.now() + 5_000);
  await clock.advance(4_999);
  assert.equal(host.rounds.length, 1);
  await clock.advance(1);
  assert.equal(host.rounds.length, 2);
  await finish(loop, host);
});

test("never two rounds at once: requests during a round queue exactly one follow-up", LIMIT, async () => {
  const { loop, host, clock } = await started();
  const first = host.current;
  const waiting = [loop.syncNow(), loop.syncNow()];
  host.commit();
  host.notify();
  await clock.advance(1_000);
  assert.equal(host.rounds.length, 1);
  first.finish({ sent: 1 });
  await clock.advance(0);
  assert.equal(host.rounds.length, 2, "one follow-up");
  assert.equal(host.maxActive, 1);
  host.current.finish({ sent: 2, received: 3, conflicts: 1 });
  assert.deepEqual(await Promise.all(waiting), [
    { sent: 2, received: 3, conflicts: 1 },
    { sent: 2, received: 3, conflicts: 1 },
  ]);
  await clock.advance(29_999);
  assert.equal(host.rounds.length, 2, "then the interval");
  assert.equal(loop.status.sent, 3);
  assert.equal(loop.status.received, 3);
  await finish(loop, host);
});

test("commits close together share one round, debounceMs after the first", LIMIT, async () => {
  const { loop, host, clock } = await started();
  host.current.finish();
  await clock.advance(1_000);
  for (let i = 0; i < 5; i++) {
    if (i > 0) await clock.advance(10);
    host.commit();
  }
  await clock.advance(9);
  assert.equal(host.rounds.length, 1, "nothing before 50 ms");
  await clock.advance(1);
  assert.equal(host.rounds.length, 2, "one round 50 ms after the first commit");
  host.current.finish();
  await clock.advance(100);
  assert.equal(host.rounds.length, 2);
  await finish(loop, host);
});

test("ERR_UNAUTHORIZED: the round is tried once more at once with a fresh token, then the state is error", LIMIT, async () => {
  const tokens = ["expired", "fresh", "expired", "expired"];
  const asked = [];
  const host = new ScriptedHost(async () => {
    const token = tokens.shift();
    asked.push(token);
    if (token !== "fresh") throw new SyncError("ERR_UNAUTHORIZED", "token expired");
    return { sent: 1, received: 0, conflicts: 0, pending: 0, behind: false };
  });
  const { loop, clock } = await started(OPTIONS, host);
  assert.deepEqual(asked, ["expired", "fresh"]);
  assert.equal(clock.now(), T0, "retried at once");
  assert.equal(loop.status.state, "idle");
  assert.equal(loop.status.sent, 1);

  await assert.rejects(loop.syncNow(), (e) => e instanceof SyncError && e.code === "ERR_UNAUTHORIZED");
  assert.deepEqual(asked, ["expired", "fresh", "expired", "expired"], "one retry, no more");
  assert.equal(loop.status.state, "error");
  assert.equal(loop.status.lastError.code, "ERR_UNAUTHORIZED");
  assert.equal(loop.status.nextRetryAt, clock.now() + 30_000, "waits for the interval");
  await finish(loop, host);
});

test("a non-retryable error waits in state error for syncNow or the interval; commits do not start rounds", LIMIT, async () => {
  const { loop, host, clock, network } = await started();
  host.current.fail(new SyncError("ERR_FORBIDDEN", "other space"));
  await clock.advance(0);
  assert.equal(loop.status.state, "error");
  assert.equal(loop.status.lastError.code, "ERR_FORBIDDEN");
  host.commit();
  host.notify();
  network.fire("offline");
  network.fire("online");
  await clock.advance(10_000);
  assert.equal(host.rounds.length, 1, "neither commits, announcements nor online start a round");
  const now = loop.syncNow();
  await clock.advance(0);
  assert.equal(host.rounds.length, 2, "syncNow runs at once");
  host.current.fail(new SyncError("ERR_PROTOCOL", "bad message"));
  await assert.rejects(now, (e) => e.code === "ERR_PROTOCOL");
  await clock.advance(29_999);
  assert.equal(host.rounds.length, 2);
  await clock.advance(1);
  assert.equal(host.rounds.length, 3, "the interval runs a round");
  await finish(loop, host);
});

test("stop() during a round lets it end, closes the host once, and no round follows", LIMIT, async () => {
  const { loop, host, clock, statuses } = await started();
  const round = host.current;
  const queued = loop.syncNow();
  let stopped = false;
  const stopping = loop.stop().then(() => {
    stopped = true;
  });
  await clock.advance(100);
  assert.equal(stopped, false, "waits for the running round");
  assert.equal(host.closed, 0);
  host.commit();
  round.finish({ received: 2 });
  await stopping;
  await assert.rejects(queued, (e) => e.code === "ERR_CLOSED");
  assert.equal(host.closed, 1);
  assert.equal(loop.status.state, "stopped");
  assert.equal(loop.status.received, 2);
  assert.equal(statuses.at(-1).state, "stopped");
  await clock.advance(120_000);
  assert.equal(host.rounds.length, 1, "no request after stop");
  assert.equal(clock.timers.size, 0);
  await assert.rejects(loop.syncNow(), (e) => e.code === "ERR_CLOSED");
  await loop.stop();
  assert.equal(host.closed, 1);
});

test("offline → online: no round while the runtime is offline, one as soon as it is back", LIMIT, async () => {
  const network = new FakeNetwork();
  network.onLine = false;
  const { loop, host, clock } = await started(OPTIONS, new ScriptedHost(), network);
  assert.equal(loop.status.state, "offline");
  assert.equal(host.rounds.length, 0);
  network.fire("online");
  await clock.advance(0);
  assert.equal(host.rounds.length, 1);
  host.current.fail(networkError());
  await clock.advance(0);
  assert.equal(loop.status.state, "offline");
  network.fire("offline");
  await clock.advance(60_000);
  assert.equal(host.rounds.length, 1, "retries wait while the runtime says it is offline");
  network.fire("online");
  await clock.advance(0);
  assert.equal(host.rounds.length, 2, "online starts a round at once");
  host.current.finish();
  await clock.advance(0);
  assert.equal(loop.status.state, "idle");
  await finish(loop, host);
});

test("announcements and a report that is behind start another round; progress events pass through", LIMIT, async () => {
  const { loop, host, clock } = await started();
  const progress = [];
  loop.on("progress", (p) => progress.push(p));
  host.current.onProgress({ received: 1000, total: 2500 });
  host.current.finish({ received: 2500, behind: true });
  await clock.advance(0);
  assert.equal(host.rounds.length, 2, "behind: another round at once");
  assert.deepEqual(progress, [{ received: 1000, total: 2500 }]);
  host.current.finish();
  await clock.advance(1_000);
  host.notify();
  await clock.advance(0);
  assert.equal(host.rounds.length, 3, "an announcement starts a round");
  host.current.finish({ pending: 3 });
  await clock.advance(0);
  assert.equal(loop.status.pending, 3);
  await finish(loop, host);
});

test("status events: one per change, frozen; intervalMs 0 disables the interval", LIMIT, async () => {
  const { loop, host, clock, statuses } = await started({ ...OPTIONS, intervalMs: 0 });
  host.current.finish();
  await clock.advance(0);
  assert.deepEqual(
    statuses.map((s) => s.state),
    ["syncing", "idle"],
  );
  assert.ok(Object.isFrozen(loop.status));
  assert.equal(clock.timers.size, 0, "nothing armed without an interval");
  host.pendingCount = 4;
  host.commit();
  await clock.advance(0);
  assert.equal(loop.status.pending, 4, "a commit refreshes the pending count");
  await finish(loop, host);
});

test("transports and startSync check their options when called; a transport never shows its token", LIMIT, async () => {
  const invalid = (fn) => assert.throws(fn, (e) => e instanceof SyncError && e.code === "ERR_INVALID_ARGUMENT");
  const http = { url: "http://127.0.0.1:8787", space: "team-42", token: "secret-jwt" };
  const transport = new HttpTransport(http);
  assert.equal(transport.url, http.url);
  assert.equal(transport.space, "team-42");
  assert.ok(!JSON.stringify(transport).includes("secret-jwt"));
  assert.ok(!Object.values(transport).includes("secret-jwt"));
  invalid(() => new HttpTransport());
  invalid(() => new HttpTransport({ ...http, url: "ws://127.0.0.1:8787" }));
  invalid(() => new HttpTransport({ ...http, url: "not a url" }));
  invalid(() => new HttpTransport({ ...http, space: "" }));
  invalid(() => new HttpTransport({ ...http, token: 42 }));
  invalid(() => new HttpTransport({ ...http, fetch: "fetch" }));
  invalid(() => new HttpTransport({ get url() { throw new Error("getter"); } }));
  const ws = { url: "ws://127.0.0.1:8787", space: "team-42", token: async () => "jwt" };
  assert.equal(new WebSocketTransport({ ...ws, pingIntervalMs: 15_000 }).pingIntervalMs, 15_000);
  invalid(() => new WebSocketTransport({ ...ws, url: "http://127.0.0.1:8787" }));
  invalid(() => new WebSocketTransport({ ...ws, pingIntervalMs: 0 }));
  invalid(() => new WebSocketTransport({ ...ws, WebSocket: {} }));

  const db = await openDatabase({ storage: "memory" });
  invalid(() => startSync(db));
  invalid(() => startSync(db, {}));
  invalid(() => startSync(db, { transport: http }));
  invalid(() => startSync(db, { transport, intervalMs: -1 }));
  invalid(() => startSync(db, { transport, debounceMs: Number.NaN }));
  invalid(() => startSync({ exec() {} }, { transport }));
  await db.close();
});
