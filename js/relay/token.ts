// The relay's tokens: JWTs signed with HS256 over the relay's secret (through jose, which runs in
// every runtime on WebCrypto), with the claims `sub` (the device id), `space`, `iat` and `exp`.
// `createToken` mints one (in an app's backend or through the CLI); `verifyToken` is what the
// relay checks on every request and connection. A token is never logged, echoed or put in an
// error message: refusals only say why.

import { jwtVerify, SignJWT } from "jose";
import { SyncError } from "../errors.js";
import { MAX_SPACE_BYTES, utf8Length } from "./messages.js";
import { isIdHex } from "./record.js";

/** The longest lifetime a token may have, in seconds (24 h). */
export const MAX_TOKEN_SECONDS = 86_400;
/** The clock skew the relay allows between the minting machine and itself, in seconds. */
export const CLOCK_SKEW_SECONDS = 60;
/** The fewest bytes a secret takes (RFC 7518 §3.2: an HS256 key is at least 256 bits). */
export const MIN_SECRET_BYTES = 32;

/** What {@link createToken} takes. */
export interface CreateTokenOptions {
  /** The relay's secret (at least 32 bytes; a string is taken as its UTF-8 bytes). */
  secret: string | Uint8Array;
  /** The one space the token grants. */
  space: string;
  /** The device the token is for (`db.deviceId`: 32 lowercase hex digits). */
  deviceId: string;
  /** Seconds until the token expires: 1 to 86,400 (default 3,600). */
  expiresIn?: number;
}

/** Who a verified token speaks for. */
export interface TokenClaims {
  /** The device id (32 lowercase hex digits). */
  device: string;
  /** The space the token grants. */
  space: string;
  /** When the token expires, in seconds since the epoch. */
  exp: number;
}

/** The secret as a key; `ERR_INVALID_ARGUMENT` when it is too short. */
export function secretKey(secret: unknown): Uint8Array {
  const key = typeof secret === "string" ? new TextEncoder().encode(secret) : secret instanceof Uint8Array ? secret : null;
  if (key === null) throw new SyncError("ERR_INVALID_ARGUMENT", "secret must be a string or a Uint8Array");
  if (key.length < MIN_SECRET_BYTES) {
    throw new SyncError(
      "ERR_INVALID_ARGUMENT",
      `the secret takes at least ${MIN_SECRET_BYTES} bytes (${key.length} given); make one with \`openssl rand -hex 32\``,
    );
  }
  return key;
}

/** Checks a space name: 1 to 256 bytes of UTF-8. */
export function isSpaceName(space: unknown): space is string {
  if (typeof space !== "string") return false;
  const size = utf8Length(space);
  return size >= 1 && size <= MAX_SPACE_BYTES;
}

/**
 * Mints a token granting `deviceId` the space `space` for `expiresIn` seconds.
 * @throws {SyncError} `ERR_INVALID_ARGUMENT` for a short secret, a bad space, device id or lifetime
 */
export async function createToken(options: CreateTokenOptions): Promise<string> {
  if (typeof options !== "object" || options === null) {
    throw new SyncError("ERR_INVALID_ARGUMENT", "createToken takes { secret, space, deviceId, expiresIn }");
  }
  const { secret, space, deviceId, expiresIn = 3600 } = options;
  const key = secretKey(secret);
  if (!isSpaceName(space)) throw new SyncError("ERR_INVALID_ARGUMENT", `space must be a string of 1 to ${MAX_SPACE_BYTES} bytes`);
  if (!isIdHex(deviceId)) throw new SyncError("ERR_INVALID_ARGUMENT", "deviceId must be 32 lowercase hex digits");
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_TOKEN_SECONDS) {
    throw new SyncError("ERR_INVALID_ARGUMENT", `expiresIn must be a whole number of seconds from 1 to ${MAX_TOKEN_SECONDS}`);
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ space })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(deviceId)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(key);
}

/**
 * Verifies a token: signature (HS256 only), expiry (with {@link CLOCK_SKEW_SECONDS} of skew), a
 * lifetime of at most 24 h, and the form of `sub` and `space`.
 * @throws {SyncError} `ERR_UNAUTHORIZED`, saying why but never quoting the token
 */
export async function verifyToken(token: string, key: Uint8Array): Promise<TokenClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      clockTolerance: CLOCK_SKEW_SECONDS,
      requiredClaims: ["sub", "exp"],
    }));
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const why =
      code === "ERR_JWT_EXPIRED"
        ? "the token has expired"
        : code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
          ? "the token's signature does not verify"
          : "the token is not valid";
    throw new SyncError("ERR_UNAUTHORIZED", why);
  }
  const { sub, space, exp } = payload;
  if (!isIdHex(sub)) throw new SyncError("ERR_UNAUTHORIZED", "the token's sub is not a device id (32 lowercase hex digits)");
  if (!isSpaceName(space)) throw new SyncError("ERR_UNAUTHORIZED", "the token names no valid space");
  const now = Date.now() / 1000;
  if (typeof exp !== "number" || exp - now > MAX_TOKEN_SECONDS + CLOCK_SKEW_SECONDS) {
    throw new SyncError("ERR_UNAUTHORIZED", `the token lives longer than ${MAX_TOKEN_SECONDS} seconds`);
  }
  return { device: sub, space, exp };
}
