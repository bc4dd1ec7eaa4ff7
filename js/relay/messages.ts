// The protocol-v1 messages (src/protocol/mod.rs, "Wire format, version 1") as TypeScript values,
// and the strict codec between them and bytes. `decodeMessage` checks the size, then the version
// before anything else (a version other than 1 is refused with the versions this relay speaks),
// then the kind and its exact field count, then every field and its bounds, and refuses bytes after
// the message; every failure is a coded `SyncError`, never another exception. `encodeMessage`
// writes the canonical form, so decode → encode gives back the golden bytes. Ids (devices, the
// log, clock keys) are 32 lowercase hex digits; records stay bytes, checked only as far as
// `recordKey` reads them.

import { SyncError } from "../errors.js";
import { malformed, MAX_UINT, Reader, Writer } from "./msgpack.js";
import { fromHex, isIdHex, MIN_RECORD_BYTES, recordKey, toHex } from "./record.js";

/** The protocol version this relay speaks. */
export const VERSION = 1;
/** Every protocol version this relay speaks. */
export const VERSIONS: readonly number[] = [VERSION];
/** The most records one `Push` or `Page` carries. */
export const MAX_RECORDS = 1_000;
/** The size a `Page` stays within unless its one record is larger. */
export const MAX_BATCH_BYTES = 900_000;
/** The largest message (16 MiB). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** The longest space name, in bytes of UTF-8. */
export const MAX_SPACE_BYTES = 256;
/** The most versions a `versions` list names. */
export const MAX_VERSIONS = 64;

/** A vector clock: `[device, counter]` pairs, devices (hex) in increasing order, no zero counter. */
export type Clock = Array<[device: string, counter: number]>;

/** One protocol message. */
export type Message =
  | { kind: "Error"; code: string; message: string; retryAfterMs: number | null; versions: number[] }
  | { kind: "Hello"; device: string; space: string; clock: Clock }
  | { kind: "Welcome"; versions: number[]; log: string; head: number; clock: Clock }
  | { kind: "Push"; records: Uint8Array[] }
  | { kind: "Pushed"; clock: Clock }
  | { kind: "Pull"; after: number; maxRecords: number; maxBytes: number }
  | { kind: "Page"; records: Uint8Array[]; next: number; remaining: number; caughtUp: boolean }
  | { kind: "Notify"; head: number }
  | { kind: "Ping"; nonce: number }
  | { kind: "Pong"; nonce: number };

/** A message of one kind. */
export type MessageOf<K extends Message["kind"]> = Extract<Message, { kind: K }>;

/** A message's kind name. */
export type MessageKind = Message["kind"];

const KINDS: ReadonlyArray<[MessageKind, number]> = [
  ["Error", 4],
  ["Hello", 3],
  ["Welcome", 4],
  ["Push", 1],
  ["Pushed", 1],
  ["Pull", 3],
  ["Page", 4],
  ["Notify", 1],
  ["Ping", 1],
  ["Pong", 1],
];

/** A refusal of a protocol version: `ERR_PROTOCOL` whose `versions` lists those spoken here. */
export class VersionRefusal extends SyncError {
  readonly versions: readonly number[] = VERSIONS;
  constructor(version: number) {
    super("ERR_PROTOCOL", `protocol version ${version} is not spoken here (this relay speaks ${VERSIONS.join(", ")})`);
  }
}

/**
 * Decodes one message. Throws `ERR_TOO_LARGE` over `maxBytes`, a {@link VersionRefusal} for a
 * version other than 1, and `ERR_PROTOCOL` for anything else malformed.
 */
export function decodeMessage(bytes: Uint8Array, maxBytes: number = MAX_MESSAGE_BYTES): Message {
  if (bytes.length > maxBytes) {
    throw new SyncError("ERR_TOO_LARGE", `a message of ${bytes.length} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  const reader = new Reader(bytes);
  const len = reader.arrayLength();
  if (len < 2) throw malformed(`a message of ${len} fields has no version and kind`);
  const version = reader.uint();
  if (version !== VERSION) throw new VersionRefusal(version);
  const number = reader.uint();
  const shape = KINDS[number];
  if (shape === undefined) throw malformed(`unknown message kind ${number}`);
  const [kind, fields] = shape;
  if (len - 2 !== fields) {
    throw malformed(`a ${kind} message has ${len - 2} fields after its version and kind, not ${fields}`);
  }
  try {
    const message = body(kind, reader);
    reader.finish("message");
    return message;
  } catch (error) {
    if (error instanceof SyncError && error.code === "ERR_PROTOCOL") {
      throw malformed(`malformed ${kind} message: ${error.message}`);
    }
    throw error;
  }
}

function body(kind: MessageKind, r: Reader): Message {
  switch (kind) {
    case "Error":
      return {
        kind,
        code: r.str(),
        message: r.str(),
        retryAfterMs: r.nil() ? null : counter(r),
        versions: versions(r),
      };
    case "Hello":
      return { kind, device: id(r), space: space(r), clock: clock(r) };
    case "Welcome":
      return { kind, versions: versions(r), log: id(r), head: counter(r), clock: clock(r) };
    case "Push":
      return { kind, records: records(r) };
    case "Pushed":
      return { kind, clock: clock(r) };
    case "Pull":
      return { kind, after: counter(r), maxRecords: counter(r), maxBytes: counter(r) };
    case "Page":
      return { kind, records: records(r), next: counter(r), remaining: counter(r), caughtUp: r.bool() };
    case "Notify":
      return { kind, head: counter(r) };
    case "Ping":
    case "Pong":
      return { kind, nonce: counter(r) };
  }
}

/** Every uint of the protocol is at most 2^53 − 1, which the reader already ensures. */
function counter(r: Reader): number {
  return r.uint();
}

function id(r: Reader): string {
  const bytes = r.bin();
  if (bytes.length !== 16) throw malformed(`an id of ${bytes.length} bytes, not 16`);
  return toHex(bytes);
}

function space(r: Reader): string {
  const name = r.str();
  const size = utf8Length(name);
  if (size === 0 || size > MAX_SPACE_BYTES) throw malformed(`a space name takes 1 to ${MAX_SPACE_BYTES} bytes, not ${size}`);
  return name;
}

/** Devices in strictly increasing order; a zero counter is dropped (as the Rust reader does). */
function clock(r: Reader): Clock {
  const entries = r.mapLength(19);
  const out: Clock = [];
  let last = "";
  for (let i = 0; i < entries; i++) {
    const device = id(r);
    if (device <= last) throw malformed("clock entries are not in increasing device order");
    last = device;
    const n = counter(r);
    if (n > 0) out.push([device, n]);
  }
  return out;
}

function versions(r: Reader): number[] {
  const len = r.arrayLength(1);
  if (len > MAX_VERSIONS) throw malformed(`${len} versions, more than ${MAX_VERSIONS}`);
  return Array.from({ length: len }, () => counter(r));
}

function records(r: Reader): Uint8Array[] {
  const len = r.arrayLength(MIN_RECORD_BYTES + 2);
  if (len > MAX_RECORDS) throw malformed(`${len} records, more than ${MAX_RECORDS}`);
  return Array.from({ length: len }, () => {
    const bytes = r.bin();
    recordKey(bytes);
    return bytes;
  });
}

/** Encodes a message in its canonical form; `ERR_INVALID_ARGUMENT` for values it cannot carry. */
export function encodeMessage(message: Message): Uint8Array<ArrayBuffer> {
  const w = new Writer();
  const fields = KINDS.findIndex(([kind]) => kind === message.kind);
  if (fields < 0) throw new SyncError("ERR_INVALID_ARGUMENT", "not a protocol message");
  w.arrayHeader(2 + KINDS[fields]![1]);
  w.uint(VERSION);
  w.uint(fields);
  switch (message.kind) {
    case "Error":
      w.str(message.code);
      w.str(message.message);
      if (message.retryAfterMs === null) w.nil();
      else w.uint(message.retryAfterMs);
      writeVersions(w, message.versions);
      break;
    case "Hello":
      writeId(w, message.device);
      w.str(message.space);
      writeClock(w, message.clock);
      break;
    case "Welcome":
      writeVersions(w, message.versions);
      writeId(w, message.log);
      w.uint(message.head);
      writeClock(w, message.clock);
      break;
    case "Push":
      writeRecords(w, message.records);
      break;
    case "Pushed":
      writeClock(w, message.clock);
      break;
    case "Pull":
      w.uint(message.after);
      w.uint(message.maxRecords);
      w.uint(message.maxBytes);
      break;
    case "Page":
      writeRecords(w, message.records);
      w.uint(message.next);
      w.uint(message.remaining);
      w.bool(message.caughtUp);
      break;
    case "Notify":
      w.uint(message.head);
      break;
    case "Ping":
    case "Pong":
      w.uint(message.nonce);
      break;
  }
  return w.bytes();
}

function writeId(w: Writer, hex: string): void {
  if (!isIdHex(hex)) throw new SyncError("ERR_INVALID_ARGUMENT", "an id is 32 lowercase hex digits");
  w.bin(fromHex(hex));
}

function writeClock(w: Writer, clock: Clock): void {
  w.mapHeader(clock.length);
  let last = "";
  for (const [device, n] of clock) {
    if (device <= last || n < 1 || n > MAX_UINT) {
      throw new SyncError("ERR_INVALID_ARGUMENT", "a clock lists devices in increasing order with counters of 1 to 2^53 - 1");
    }
    last = device;
    writeId(w, device);
    w.uint(n);
  }
}

function writeVersions(w: Writer, list: readonly number[]): void {
  w.arrayHeader(list.length);
  for (const version of list) w.uint(version);
}

function writeRecords(w: Writer, list: readonly Uint8Array[]): void {
  if (list.length > MAX_RECORDS) throw new SyncError("ERR_INVALID_ARGUMENT", `more than ${MAX_RECORDS} records`);
  w.arrayHeader(list.length);
  for (const record of list) w.bin(record);
}

const toUtf8 = new TextEncoder();

/** The length of a string in bytes of UTF-8. */
export function utf8Length(text: string): number {
  return toUtf8.encode(text).length;
}
