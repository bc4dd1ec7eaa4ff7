// The storage a relay runs on: the one interface every runtime's store implements (a SQLite file
// on Node and Deno, a Durable Object's SQL storage on Workers, memory for tests and embedding).
// A store keeps, per space: a log id (16 random bytes, made with the space), the records keyed by
// (origin, seq) with their bytes untouched and their position in the space's log (1, 2, 3, …),
// per origin the contiguous counter n such that it holds records 1..=n, the bytes of records held
// (for the quota) and the devices seen. It never decodes a record: the relay hands it origin and
// seq next to the bytes.

import type { Clock } from "./messages.js";

/** A space's log as a store holds it. */
export interface SpaceLog {
  /** The log's id: 32 lowercase hex digits, random, made when the space was first opened. */
  log: string;
  /** The position of the last record (0: none). */
  head: number;
  /** The bytes of records the space holds (what the quota counts). */
  bytes: number;
}

/** One record to store: where it goes and its bytes. */
export interface StoredRecord {
  /** The record's origin: 32 lowercase hex digits. */
  origin: string;
  /** The record's sequence number (1 to 2^53 − 1). */
  seq: number;
  /** The record's canonical bytes, kept exactly. */
  bytes: Uint8Array;
}

/** What a push did: all of it, or (for the reason given) nothing. */
export type PushOutcome =
  | {
      ok: true;
      /** How many records were new (0 when every one was already held). */
      stored: number;
      /** The log's head after the push. */
      head: number;
      /** The space's clock after the push (see {@link RelayStore.clock}). */
      clock: Clock;
    }
  | { ok: false; reason: "mismatch"; origin: string; seq: number }
  | { ok: false; reason: "quota"; bytes: number; quotaBytes: number };

/** A device of a space, as `GET /v1/devices` lists it. */
export interface DeviceEntry {
  /** The device id: 32 lowercase hex digits. */
  id: string;
  /** When the relay first served it, in ms since the epoch. */
  firstSeen: number;
  /** When the relay last served it, in ms since the epoch. */
  lastSeen: number;
}

/**
 * A relay's storage. Every method may return its answer or a promise of it. `push` is atomic
 * (all of the records or none of them) and resolves only once what it stored is durable, since
 * the relay acknowledges a push when it resolves.
 */
export interface RelayStore {
  /** The space's log; a space never seen gets a new log (a fresh random id, head 0) here. */
  open(space: string): SpaceLog | Promise<SpaceLog>;
  /** Per origin the n such that the space holds its records 1..=n; origins in increasing order. */
  clock(space: string): Clock | Promise<Clock>;
  /**
   * Stores the records not held yet at the next positions, in the order given. Refuses the whole
   * push when one (origin, seq) is held, or given twice, with other bytes (`mismatch`), or when the
   * new bytes would take the space past `quotaBytes` (`quota`). Opens the space if needed.
   */
  push(space: string, records: readonly StoredRecord[], quotaBytes: number): PushOutcome | Promise<PushOutcome>;
  /**
   * Several pushes to one space, in order, each all or nothing and judged as `push` judges it
   * (after the ones before it), made durable together: one commit for all of them, which is what
   * lets a relay keep up with many devices pushing at once. Optional: without it the relay calls
   * `push` for each. Rejects (nothing stored) only when storing itself fails.
   */
  pushAll?(space: string, pushes: readonly (readonly StoredRecord[])[], quotaBytes: number): PushOutcome[] | Promise<PushOutcome[]>;
  /** The byte lengths of the records at positions `after + 1`, … (at most `limit` of them). */
  sizes(space: string, after: number, limit: number): number[] | Promise<number[]>;
  /** The bytes of the records at positions `after + 1` to `after + count`. */
  read(space: string, after: number, count: number): Uint8Array[] | Promise<Uint8Array[]>;
  /** Records that `device` was served at `at` (ms): its first sighting, or a later one. */
  seen(space: string, device: string, at: number): void | Promise<void>;
  /** The devices of a space, first seen first. */
  devices(space: string): DeviceEntry[] | Promise<DeviceEntry[]>;
  /** Releases the storage; nothing is called after it. */
  close(): void | Promise<void>;
}

/** A fresh log id: 16 random bytes as hex. */
export function newLogId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether two byte strings are equal. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The records of a push that are new, in order, once duplicates within the push are folded; a
 * `mismatch` when the push names one (origin, seq) twice with different bytes. `held` returns the
 * bytes a store holds for an (origin, seq), or undefined.
 */
export function newRecords(
  records: readonly StoredRecord[],
  held: (origin: string, seq: number) => Uint8Array | undefined,
): { fresh: StoredRecord[]; bytes: number } | { origin: string; seq: number } {
  const fresh: StoredRecord[] = [];
  const seen = new Map<string, Uint8Array>();
  let bytes = 0;
  for (const record of records) {
    const key = `${record.origin}:${record.seq}`;
    const known = seen.get(key) ?? held(record.origin, record.seq);
    if (known !== undefined) {
      if (!sameBytes(known, record.bytes)) return { origin: record.origin, seq: record.seq };
      continue;
    }
    seen.set(key, record.bytes);
    fresh.push(record);
    bytes += record.bytes.length;
  }
  return { fresh, bytes };
}
