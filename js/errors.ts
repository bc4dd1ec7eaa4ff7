// SyncError, the one error type of the public API, and the stable list of its codes.
//
// The wasm layer throws plain `Error`s named "SyncError" carrying `code` and `retryable`;
// `toSyncError` turns those (and anything else a wasm call can throw) into `SyncError` instances,
// so `instanceof SyncError` and `err.code` hold in every runtime.

/**
 * Every error code the package can report, in a stable order. It is the same list, in the same
 * order, as the Rust `ErrorCode::ALL` (a test checks it against the wasm module).
 */
export const SYNC_ERROR_CODES = [
  "ERR_SQL",
  "ERR_BUSY",
  "ERR_CLOSED",
  "ERR_INVALID_ARGUMENT",
  "ERR_TABLE_NOT_FOUND",
  "ERR_NO_PRIMARY_KEY",
  "ERR_RESERVED_TABLE",
  "ERR_NOT_A_TABLE",
  "ERR_TABLE_NOT_SYNCED",
  "ERR_STORAGE_UNAVAILABLE",
  "ERR_CORRUPT",
  "ERR_BUNDLE_MALFORMED",
  "ERR_BUNDLE_TAMPERED",
  "ERR_BUNDLE_VERSION",
  "ERR_BUNDLE_TOO_LARGE",
  "ERR_SCHEMA_MISMATCH",
  "ERR_CONFLICT_NOT_FOUND",
  "ERR_INTERNAL",
  "ERR_UNSUPPORTED_KEY",
  "ERR_RECORD_MISMATCH",
  "ERR_UNAUTHORIZED",
  "ERR_FORBIDDEN",
  "ERR_TOO_LARGE",
  "ERR_RATE_LIMITED",
  "ERR_NETWORK",
  "ERR_PROTOCOL",
] as const;

/** A stable error code such as `"ERR_SQL"`; see {@link SYNC_ERROR_CODES}. */
export type SyncErrorCode = (typeof SYNC_ERROR_CODES)[number];

/** Options accepted by the {@link SyncError} constructor. */
export interface SyncErrorOptions {
  /** Whether trying the same call again later may succeed (default `false`). */
  retryable?: boolean;
  /** The underlying error, if any. */
  cause?: unknown;
  /** SQLite's extended result code, for errors SQLite reported. */
  sqliteCode?: number;
  /** How long the relay asked to wait before trying again (`ERR_RATE_LIMITED`), in ms. */
  retryAfterMs?: number;
}

/** The error every method of the package rejects with. */
export class SyncError extends Error {
  /** Always `"SyncError"`. */
  override readonly name = "SyncError";
  /** The stable, machine-readable category of the failure, e.g. `"ERR_SQL"`. */
  readonly code: SyncErrorCode;
  /** Whether trying the same call again later may succeed (for example `ERR_BUSY`). */
  readonly retryable: boolean;
  /** SQLite's extended result code (e.g. 2067 for a UNIQUE violation), when SQLite reported one. */
  declare readonly sqliteCode?: number;
  /** How long the relay asked to wait before trying again (`ERR_RATE_LIMITED`), in ms. */
  declare readonly retryAfterMs?: number;

  /**
   * @param code the stable error code
   * @param message a human-readable description (for `ERR_SQL`, SQLite's own message)
   * @param options `retryable`, `cause`, `sqliteCode` and `retryAfterMs`
   */
  constructor(code: SyncErrorCode, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.sqliteCode !== undefined) this.sqliteCode = options.sqliteCode;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** The shape of the errors thrown by the wasm layer. */
interface WasmSyncError extends Error {
  name: "SyncError";
  code: string;
  retryable?: unknown;
  sqliteCode?: unknown;
  retryAfterMs?: unknown;
}

function isWasmSyncError(e: unknown): e is WasmSyncError {
  return (
    e instanceof Error && e.name === "SyncError" && typeof (e as { code?: unknown }).code === "string"
  );
}

/**
 * Converts whatever a call into the wasm module threw into a {@link SyncError}.
 *
 * A `SyncError` is returned unchanged; a coded error from the wasm layer keeps its code, message,
 * `retryable` flag, `sqliteCode`, `retryAfterMs`, cause and stack; anything else (a trap, a glue-code
 * `TypeError`) is a bug in this package and becomes `ERR_INTERNAL` with the original error as
 * `cause`.
 */
export function toSyncError(e: unknown): SyncError {
  if (e instanceof SyncError) return e;
  if (isWasmSyncError(e)) {
    const options: SyncErrorOptions = { retryable: e.retryable === true, cause: e.cause };
    if (typeof e.sqliteCode === "number") options.sqliteCode = e.sqliteCode;
    if (typeof e.retryAfterMs === "number") options.retryAfterMs = e.retryAfterMs;
    const error = new SyncError(e.code as SyncErrorCode, e.message, options);
    if (e.stack !== undefined) error.stack = e.stack;
    return error;
  }
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new SyncError("ERR_INTERNAL", `internal error: ${message}`, { cause: e });
}
