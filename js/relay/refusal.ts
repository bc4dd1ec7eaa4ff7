// How the relay says no. Everything it refuses is a `SyncError` with a relay code; this module
// gives each its HTTP status and makes the two forms of a refusal: the JSON body of an HTTP answer
// (`{ "error": { "code", "message", … } }`, with `Retry-After` or `Allow` headers where they
// apply) and the protocol `Error` message of a WebSocket. Anything else thrown is the relay's own
// failure: it is reported through `onError` and answered `ERR_INTERNAL` without its details.

import { SyncError, type SyncErrorCode } from "../errors.js";
import { VersionRefusal, type MessageOf } from "./messages.js";

/** A refusal with what its HTTP form needs beyond a code, a message and `retryAfterMs`. */
export class Refusal extends SyncError {
  /** The HTTP status, when it is not the code's usual one (404, 405). */
  readonly status: number | undefined;
  /** For a 405: the methods the route takes. */
  readonly allow: string | undefined;

  constructor(code: SyncErrorCode, message: string, extra: { status?: number; retryAfterMs?: number; allow?: string } = {}) {
    const retryable = code === "ERR_RATE_LIMITED" || code === "ERR_BUSY";
    super(code, message, extra.retryAfterMs === undefined ? { retryable } : { retryable, retryAfterMs: extra.retryAfterMs });
    this.status = extra.status;
    this.allow = extra.allow;
  }
}

const STATUS: Partial<Record<SyncErrorCode, number>> = {
  ERR_PROTOCOL: 400,
  ERR_RECORD_MISMATCH: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_TOO_LARGE: 413,
  ERR_RATE_LIMITED: 429,
  ERR_BUSY: 503,
};

/** A refusal as both forms read it. */
interface Said {
  status: number;
  code: string;
  message: string;
  retryAfterMs: number | null;
  versions: readonly number[];
  allow: string | undefined;
}

/** What to answer for `error`; reports it through `onError` when it is not a refusal. */
export function said(error: unknown, onError: (error: unknown) => void): Said {
  const status = error instanceof SyncError ? (error instanceof Refusal ? error.status : undefined) ?? STATUS[error.code] : undefined;
  if (!(error instanceof SyncError) || status === undefined) {
    onError(error);
    return { status: 500, code: "ERR_INTERNAL", message: "the relay failed to answer (see its log)", retryAfterMs: null, versions: [], allow: undefined };
  }
  return {
    status,
    code: error.code,
    message: error.message,
    retryAfterMs: error instanceof Refusal ? (error.retryAfterMs ?? null) : null,
    versions: error instanceof VersionRefusal ? error.versions : [],
    allow: error instanceof Refusal ? error.allow : undefined,
  };
}

/** Headers every HTTP answer carries: any origin may call the relay (it authenticates by bearer token, never by cookie). */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "Retry-After",
};

/** A JSON answer. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...CORS_HEADERS, ...headers },
  });
}

/** The HTTP form of a refusal. */
export function refusalResponse(error: unknown, onError: (error: unknown) => void): Response {
  const s = said(error, onError);
  const body: Record<string, unknown> = { code: s.code, message: s.message };
  const headers: Record<string, string> = {};
  if (s.versions.length > 0) body.versions = [...s.versions];
  if (s.retryAfterMs !== null) {
    body.retryAfterMs = s.retryAfterMs;
    headers["retry-after"] = String(Math.ceil(s.retryAfterMs / 1000));
  }
  if (s.allow !== undefined) headers.allow = s.allow;
  if (s.status === 401) headers["www-authenticate"] = "Bearer";
  return json(s.status, { error: body }, headers);
}

/** The WebSocket form of a refusal: a protocol `Error` message. */
export function refusalMessage(error: unknown, onError: (error: unknown) => void): MessageOf<"Error"> {
  const s = said(error, onError);
  return { kind: "Error", code: s.code, message: s.message, retryAfterMs: s.retryAfterMs, versions: [...s.versions] };
}
