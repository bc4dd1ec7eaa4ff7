// The relay's rules, shared by its HTTP handler and its WebSocket sessions: who may ask (tokens),
// how often (a token bucket per device), and what a Hello, Push or Pull is answered with
// (src/protocol/mod.rs, "Exchanges"). Pushes to one space reach the store one call at a time, so
// positions are assigned in order whatever the store; pushes that arrive together go in one call
// (`pushAll`: one commit for all, each still all or nothing). A push is answered once the store says
// it is durable, and then the space's other sockets hear `Notify`. It holds no socket of its own,
// and no timer beyond deferring a push to the end of the event loop's turn.

import { soon } from "../runtime.js";
import { Refusal } from "./refusal.js";
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, MAX_RECORDS, VERSIONS, type Message } from "./messages.js";
import { binHeaderLength } from "./msgpack.js";
import { recordKey } from "./record.js";
import { TokenBucket, type RelayLimits } from "./limits.js";
import type { PushOutcome, RelayStore, StoredRecord } from "./store.js";
import { verifyToken, type TokenClaims } from "./token.js";

/** The most bytes a Page takes besides its records (as the Rust `Batch` counts them). */
const PAGE_OVERHEAD = 32;
/** How often a device's `lastSeen` is written at most, in ms. */
const SEEN_EVERY_MS = 1_000;
/** Past this many devices tracked, idle ones are forgotten. */
const TRACKED_DEVICES = 10_000;

/** A socket the core can tell about new records. */
export interface Listener {
  readonly claims: TokenClaims;
  notify(head: number): void;
  /** Closes the socket from the relay's side. */
  end(code: number, reason: string): void;
}

interface DeviceState {
  bucket: TokenBucket;
  sockets: number;
  seenAt: number;
}

/** What a message was answered with, and whether it grew the log (so others hear of it). */
export interface Answer {
  reply: Message;
  grewTo?: number;
}

/** A push waiting in its space's queue. */
interface QueuedPush {
  entries: StoredRecord[];
  resolve(outcome: PushOutcome): void;
  reject(error: unknown): void;
}

interface PushQueue {
  waiting: QueuedPush[];
  running: boolean;
}

export class RelayCore {
  readonly #devices = new Map<string, DeviceState>();
  readonly #listeners = new Map<string, Set<Listener>>();
  /** Per space, the pushes waiting for the next store call, and whether one is under way. */
  readonly #pushes = new Map<string, PushQueue>();
  closing = false;

  constructor(
    readonly key: Uint8Array,
    readonly store: RelayStore,
    readonly limits: Readonly<RelayLimits>,
    readonly onError: (error: unknown) => void,
  ) {}

  /** The claims of a bearer token; `ERR_UNAUTHORIZED` when there is none or it does not verify. */
  async authenticate(token: string | null): Promise<TokenClaims> {
    if (token === null || token === "") {
      throw new Refusal("ERR_UNAUTHORIZED", "no token: send Authorization: Bearer <token> (WebSocket: the subprotocol bearer.<token>)");
    }
    return verifyToken(token, this.key);
  }

  #state(claims: TokenClaims, now: number): DeviceState {
    const id = `${claims.space}\u0000${claims.device}`;
    let state = this.#devices.get(id);
    if (state === undefined) {
      if (this.#devices.size >= TRACKED_DEVICES) {
        for (const [other, s] of this.#devices) if (s.sockets === 0 && s.bucket.full(now)) this.#devices.delete(other);
      }
      state = { bucket: new TokenBucket(this.limits.requestsPerSecond, this.limits.burst, now), sockets: 0, seenAt: -Infinity };
      this.#devices.set(id, state);
    }
    return state;
  }

  /** Counts one request of the device against its rate; `ERR_RATE_LIMITED` when over it. */
  admit(claims: TokenClaims): void {
    const now = Date.now();
    const wait = this.#state(claims, now).bucket.take(now);
    if (wait > 0) {
      throw new Refusal("ERR_RATE_LIMITED", `too many requests from this device (${this.limits.requestsPerSecond} a second, bursts of ${this.limits.burst})`, {
        retryAfterMs: wait,
      });
    }
  }

  /** Takes a WebSocket slot of the device; `ERR_RATE_LIMITED` when it has all it may have. */
  connect(listener: Listener): void {
    const state = this.#state(listener.claims, Date.now());
    if (state.sockets >= this.limits.maxConnectionsPerDevice) {
      throw new Refusal("ERR_RATE_LIMITED", `this device has ${state.sockets} WebSockets open, the most allowed`, {
        retryAfterMs: this.limits.pingIntervalMs,
      });
    }
    state.sockets++;
    let set = this.#listeners.get(listener.claims.space);
    if (set === undefined) this.#listeners.set(listener.claims.space, (set = new Set()));
    set.add(listener);
  }

  /** Gives back the slot of a socket that closed. */
  disconnect(listener: Listener): void {
    const set = this.#listeners.get(listener.claims.space);
    if (set?.delete(listener) !== true) return;
    if (set.size === 0) this.#listeners.delete(listener.claims.space);
    const state = this.#devices.get(`${listener.claims.space}\u0000${listener.claims.device}`);
    if (state !== undefined) state.sockets = Math.max(0, state.sockets - 1);
  }

  /** Every open socket, for a shutdown. */
  listeners(): Listener[] {
    return [...this.#listeners.values()].flatMap((set) => [...set]);
  }

  /** Tells the space's sockets, except `from`, that its log reached `head`. */
  notify(space: string, head: number, from?: Listener): void {
    for (const listener of this.#listeners.get(space) ?? []) if (listener !== from) listener.notify(head);
  }

  /** Records that the device was served (at most once a second per device, first sighting always). */
  async seen(claims: TokenClaims): Promise<void> {
    const now = Date.now();
    const state = this.#state(claims, now);
    if (now - state.seenAt < SEEN_EVERY_MS) return;
    await this.store.seen(claims.space, claims.device, now);
    state.seenAt = now;
  }

  /** The answer to a device's Hello, Push or Pull; a refusal for any other message. */
  async answer(claims: TokenClaims, message: Message): Promise<Answer> {
    switch (message.kind) {
      case "Hello": {
        if (message.space !== claims.space) throw new Refusal("ERR_FORBIDDEN", "the token grants another space");
        if (message.device !== claims.device) throw new Refusal("ERR_FORBIDDEN", "the Hello's device is not the token's device");
        const log = await this.store.open(claims.space);
        const clock = await this.store.clock(claims.space);
        await this.seen(claims);
        return { reply: { kind: "Welcome", versions: [...VERSIONS], log: log.log, head: log.head, clock } };
      }
      case "Push":
        return this.#push(claims, message.records);
      case "Pull": {
        const reply = await this.#page(claims.space, message.after, message.maxRecords, message.maxBytes);
        await this.seen(claims);
        return { reply };
      }
      default:
        throw new Refusal("ERR_PROTOCOL", `a relay is not sent ${message.kind} messages here`);
    }
  }

  async #push(claims: TokenClaims, records: readonly Uint8Array[]): Promise<Answer> {
    const entries: StoredRecord[] = records.map((bytes) => {
      const { origin, seq } = recordKey(bytes);
      if (PAGE_OVERHEAD + binHeaderLength(bytes.length) + bytes.length > MAX_MESSAGE_BYTES) {
        throw new Refusal("ERR_TOO_LARGE", `record ${origin}:${seq} takes ${bytes.length} bytes, more than one page may carry`);
      }
      return { origin, seq, bytes };
    });
    const outcome = await this.#queued(claims.space, entries);
    if (!outcome.ok && outcome.reason === "mismatch") {
      throw new Refusal(
        "ERR_RECORD_MISMATCH",
        `record ${outcome.origin}:${outcome.seq} is held here with other bytes; nothing of this push was stored`,
      );
    }
    if (!outcome.ok) {
      throw new Refusal(
        "ERR_TOO_LARGE",
        `the space's storage quota of ${outcome.quotaBytes} bytes would be exceeded (${outcome.bytes} held); nothing of this push was stored`,
      );
    }
    await this.seen(claims);
    const answer: Answer = { reply: { kind: "Pushed", clock: outcome.clock } };
    if (outcome.stored > 0) answer.grewTo = outcome.head;
    return answer;
  }

  /**
   * Stores one push of `space` with whatever other pushes of the space are waiting: one store call
   * at a time per space, and every push that arrived while one was under way (or in the same turn
   * of the event loop) goes into the next call together, made durable by one commit.
   */
  #queued(space: string, entries: StoredRecord[]): Promise<PushOutcome> {
    let queue = this.#pushes.get(space);
    if (queue === undefined) {
      queue = { waiting: [], running: false };
      this.#pushes.set(space, queue);
    }
    const current = queue;
    return new Promise<PushOutcome>((resolve, reject) => {
      current.waiting.push({ entries, resolve, reject });
      if (!current.running) {
        current.running = true;
        soon(() => void this.#drain(space, current));
      }
    });
  }

  async #drain(space: string, queue: PushQueue): Promise<void> {
    while (queue.waiting.length > 0) {
      const group = queue.waiting.splice(0);
      try {
        const outcomes = await this.#store(space, group.map((push) => push.entries));
        group.forEach((push, i) => push.resolve(outcomes[i]!));
      } catch (error) {
        for (const push of group) push.reject(error);
      }
    }
    queue.running = false;
    if (this.#pushes.get(space) === queue) this.#pushes.delete(space);
  }

  async #store(space: string, pushes: StoredRecord[][]): Promise<PushOutcome[]> {
    const quota = this.limits.quotaBytes;
    if (pushes.length > 1 && this.store.pushAll !== undefined) return this.store.pushAll(space, pushes, quota);
    const outcomes: PushOutcome[] = [];
    for (const entries of pushes) outcomes.push(await this.store.push(space, entries, quota));
    return outcomes;
  }

  async #page(space: string, after: number, maxRecords: number, maxBytes: number): Promise<Message> {
    const { head } = await this.store.open(space);
    if (after >= head) return { kind: "Page", records: [], next: after, remaining: 0, caughtUp: true };
    const count = Math.max(1, Math.min(maxRecords, MAX_RECORDS));
    const bound = Math.min(maxBytes, MAX_BATCH_BYTES);
    const sizes = await this.store.sizes(space, after, count);
    let size = PAGE_OVERHEAD;
    let taken = 0;
    for (const len of sizes) {
      const grown = size + binHeaderLength(len) + len;
      if (taken > 0 && grown > bound) break;
      size = grown;
      taken++;
    }
    const records = await this.store.read(space, after, taken);
    const next = after + records.length;
    const remaining = Math.max(0, head - next);
    return { kind: "Page", records, next, remaining, caughtUp: remaining === 0 };
  }
}
