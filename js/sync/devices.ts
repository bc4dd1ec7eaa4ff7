// The devices a space's relay has seen, as a transport asks for them (`transport.devices()`): the
// relay's `GET /v1/devices` with the transport's token, through the runtime's `fetch` (or the one
// injected into an `HttpTransport`). Browsers cannot discover peers on the local network as the
// reference does; a space's device list at its relay is the web's form of it.
//
// Invariants: the token goes only in the `Authorization` header; a refusal becomes the relay's
// `SyncError` (its JSON error's code), a failed request `ERR_NETWORK` (retryable).

import { SYNC_ERROR_CODES, SyncError, type SyncErrorCode } from "../errors.js";
import { runtimeFetch } from "../runtime.js";
import type { TokenSource } from "./transports.js";

/** A device the relay has seen in the space: when first and last (ms since epoch). */
export interface DeviceInfo {
  id: string;
  firstSeen: number;
  lastSeen: number;
}

/** Lists the devices of the token's space at the relay `base` (an http(s) base URL). */
export async function listDevices(base: string, token: TokenSource, fetchFn: typeof fetch | undefined): Promise<DeviceInfo[]> {
  const call = fetchFn ?? runtimeFetch();
  if (typeof call !== "function") throw new SyncError("ERR_NETWORK", "this runtime has no fetch", { retryable: true });
  const bearer = typeof token === "function" ? await token() : token;
  let response: Response;
  try {
    response = await call(`${base}/v1/devices`, { headers: { authorization: `Bearer ${bearer}` } });
  } catch (cause) {
    throw new SyncError("ERR_NETWORK", "the relay could not be reached", { retryable: true, cause });
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const known = (SYNC_ERROR_CODES as readonly string[]).includes(String(error?.code));
    const code: SyncErrorCode = known ? (error?.code as SyncErrorCode) : response.status >= 500 ? "ERR_INTERNAL" : "ERR_PROTOCOL";
    const message = typeof error?.message === "string" ? error.message : `the relay answered ${response.status}`;
    throw new SyncError(code, message, { retryable: response.status === 429 || response.status >= 500 });
  }
  const devices = (body as { devices?: unknown } | undefined)?.devices;
  if (!Array.isArray(devices)) throw new SyncError("ERR_PROTOCOL", "the relay's device list is not a list");
  return devices.map((d: { id?: unknown; firstSeen?: unknown; lastSeen?: unknown }) => ({ id: String(d.id), firstSeen: Number(d.firstSeen), lastSeen: Number(d.lastSeen) }));
}
