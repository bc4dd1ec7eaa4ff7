// What the relay reads of a record: its origin and sequence number, at the fixed offsets the
// protocol specifies (src/protocol/mod.rs, "Records"), and nothing else. A record's content
// begins `95 c4 10`, then the 16 bytes of its origin (offsets 3 to 18), then `seq` at offset 19 as
// a canonical uint; the rest (hlc, clock, change set) is never decoded, so the relay stores and
// forwards records untouched, encrypted ones included.

import { malformed, MAX_UINT } from "./msgpack.js";

/** The fewest bytes a record takes: `95 c4 10`, the origin, a 1-byte seq, hlc, clock, changes. */
export const MIN_RECORD_BYTES = 24;

/** Where a record is kept: its origin (32 lowercase hex digits) and sequence number. */
export interface RecordKey {
  origin: string;
  seq: number;
}

/** The origin and sequence number of one record's bytes; `ERR_PROTOCOL` when they are not there. */
export function recordKey(bytes: Uint8Array): RecordKey {
  if (bytes.length < MIN_RECORD_BYTES) throw malformed(`a record of ${bytes.length} bytes is too short`);
  if (bytes[0] !== 0x95 || bytes[1] !== 0xc4 || bytes[2] !== 0x10) {
    throw malformed("a record does not begin with its origin (95 c4 10)");
  }
  const origin = toHex(bytes.subarray(3, 19));
  const marker = bytes[19]!;
  const width = marker <= 0x7f ? 0 : marker >= 0xcc && marker <= 0xcf ? 1 << (marker - 0xcc) : -1;
  if (width < 0) throw malformed(`record of origin ${origin}: its sequence number is not an unsigned integer`);
  if (bytes.length < MIN_RECORD_BYTES + width) throw malformed(`record of origin ${origin} is truncated`);
  let seq: number;
  if (width === 0) seq = marker;
  else if (width === 1) seq = bytes[20]!;
  else if (width === 2) seq = (bytes[20]! << 8) | bytes[21]!;
  else if (width === 4) seq = readUint32(bytes, 20);
  else {
    const high = readUint32(bytes, 20);
    seq = high > 0x1f_ffff ? Infinity : high * 0x1_0000_0000 + readUint32(bytes, 24);
  }
  if (seq < 1 || seq > MAX_UINT) throw malformed(`record of origin ${origin}: sequence number out of range (1 to 2^53 - 1)`);
  // Canonical: the shortest form, so that one (origin, seq) has one encoding.
  const shortest = seq <= 0x7f ? 0 : seq <= 0xff ? 1 : seq <= 0xffff ? 2 : seq <= 0xffff_ffff ? 4 : 8;
  if (width !== shortest) throw malformed(`record ${origin}:${seq}: its sequence number is not in canonical form`);
  return { origin, seq };
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex of some bytes. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += HEX[byte];
  return out;
}

/** The bytes of a string of lowercase hex digits (the caller checked its form). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Whether `value` is an id as the API writes them: 32 lowercase hex digits. */
export function isIdHex(value: unknown): value is string {
  return typeof value === "string" && /^[0-9a-f]{32}$/.test(value);
}
