// One WebSocket of the relay, independent of the runtime's socket API. A runtime adapter (Node
// `ws`, Deno `upgradeWebSocket`, Workers `WebSocketPair`) asks `relay.accept(request)` before it
// upgrades, selects the offer's `protocol`, calls `offer.open(peer)` once the socket is open, then
// feeds every frame to `session.receive(frame)` and reports the socket's end with
// `session.closed()`. The session answers each message with exactly one message, in order, sends
// `Notify` when the space's log grows through another connection, pings a quiet socket, and closes
// a silent one. A bad or missing token still gets its socket: one protocol `Error` (code
// `ERR_UNAUTHORIZED` or `ERR_FORBIDDEN`), then close code 1008.

import { decodeMessage, encodeMessage, type Message } from "./messages.js";
import { Refusal, refusalMessage } from "./refusal.js";
import type { Listener, RelayCore } from "./core.js";
import { CLOCK_SKEW_SECONDS, type TokenClaims } from "./token.js";

/** The subprotocol the relay selects. */
export const SUBPROTOCOL = "sqlite-sync.v1";
/** The prefix of the subprotocol that carries the token. */
export const BEARER_PREFIX = "bearer.";

/** Close codes the relay uses. */
export const CLOSE = Object.freeze({ POLICY: 1008, GOING_AWAY: 1001, RESTART: 1012 });

/** The runtime's socket, as the session needs it. */
export interface RelayPeer {
  /** Sends one binary frame (a no-op once the socket is closing). */
  send(bytes: Uint8Array): void;
  /** Closes the socket with this code and reason. */
  close(code: number, reason: string): void;
}

/** What `relay.accept(request)` gives an adapter, before the upgrade. */
export interface SocketOffer {
  /** The subprotocol to select in the upgrade's answer (`"sqlite-sync.v1"`), or null when the client offered none. */
  readonly protocol: string | null;
  /** Starts the session on the open socket. Call once. */
  open(peer: RelayPeer): RelaySession;
}

/** A socket's session, fed by its adapter. */
export interface RelaySession {
  /** One frame from the device (bytes, or a string for a text frame); resolves once it is answered. */
  receive(frame: Uint8Array | ArrayBuffer | string): Promise<void>;
  /** The socket closed (from either side): stops the session's timers and frees its slot. */
  closed(): void;
}

/** The subprotocols offered in `Sec-WebSocket-Protocol`, and the token among them. */
export function offeredProtocols(request: Request): { protocols: string[]; token: string | null } {
  const protocols = (request.headers.get("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  const bearer = protocols.find((p) => p.startsWith(BEARER_PREFIX));
  return { protocols, token: bearer === undefined ? null : bearer.slice(BEARER_PREFIX.length) };
}

export class Session implements RelaySession, Listener {
  #queue: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;
  #heardAt = Date.now();
  #nonce = 0;
  #open = false;
  #done = false;

  constructor(
    readonly core: RelayCore,
    readonly peer: RelayPeer,
    readonly claims: TokenClaims,
  ) {}

  /** Sends a refusal and closes the socket: the end of a session that may not start. */
  static refuse(core: RelayCore, peer: RelayPeer, error: unknown): RelaySession {
    const message = refusalMessage(error, core.onError);
    peer.send(encodeMessage(message));
    peer.close(CLOSE.POLICY, message.code);
    return { receive: async () => {}, closed: () => {} };
  }

  /** Takes the device's socket slot and starts keep-alive. */
  start(): RelaySession {
    try {
      this.core.connect(this);
    } catch (error) {
      return Session.refuse(this.core, this.peer, error);
    }
    this.#open = true;
    const every = Math.max(50, Math.floor(this.core.limits.pingIntervalMs / 4));
    this.#timer = setInterval(() => this.#tick(), every);
    (this.#timer as { unref?: () => void }).unref?.();
    return this;
  }

  receive(frame: Uint8Array | ArrayBuffer | string): Promise<void> {
    this.#queue = this.#queue.then(() => this.#handle(frame));
    return this.#queue;
  }

  closed(): void {
    if (this.#done) return;
    this.#done = true;
    clearInterval(this.#timer);
    if (this.#open) this.core.disconnect(this);
  }

  /** Closes the socket from the relay's side. */
  end(code: number, reason: string): void {
    this.peer.close(code, reason);
    this.closed();
  }

  notify(head: number): void {
    this.#send({ kind: "Notify", head });
  }

  #send(message: Message): void {
    if (!this.#done) this.peer.send(encodeMessage(message));
  }

  #tick(): void {
    const silent = Date.now() - this.#heardAt;
    if (silent >= this.core.limits.idleTimeoutMs) {
      this.end(CLOSE.GOING_AWAY, `silent for ${Math.round(silent / 1000)} s`);
    } else if (silent >= this.core.limits.pingIntervalMs) {
      this.#nonce = (this.#nonce + 1) % Number.MAX_SAFE_INTEGER;
      this.#send({ kind: "Ping", nonce: this.#nonce });
    }
  }

  async #handle(frame: Uint8Array | ArrayBuffer | string): Promise<void> {
    if (this.#done) return;
    this.#heardAt = Date.now();
    try {
      if ((this.claims.exp + CLOCK_SKEW_SECONDS) * 1000 <= Date.now()) {
        this.#send(refusalMessage(new Refusal("ERR_UNAUTHORIZED", "the token has expired"), this.core.onError));
        this.end(CLOSE.POLICY, "ERR_UNAUTHORIZED");
        return;
      }
      if (typeof frame === "string") throw new Refusal("ERR_PROTOCOL", "a text frame is not a protocol message: frames are binary");
      const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
      this.core.admit(this.claims);
      const message = decodeMessage(bytes, this.core.limits.maxMessageBytes);
      if (message.kind === "Pong") return;
      if (message.kind === "Ping") return this.#send({ kind: "Pong", nonce: message.nonce });
      const answer = await this.core.answer(this.claims, message);
      this.#send(answer.reply);
      if (answer.grewTo !== undefined) this.core.notify(this.claims.space, answer.grewTo, this);
    } catch (error) {
      this.#send(refusalMessage(error, this.core.onError));
    }
  }
}
