// A RelayStore in memory: for tests and for embedding a relay whose data may vanish with its
// process (a restarted memory relay has new log ids, so devices pull from the start and push
// again what it lacks). Same rules as every store (store.ts), no I/O.

import type { Clock } from "./messages.js";
import { newLogId, newRecords, type DeviceEntry, type PushOutcome, type RelayStore, type SpaceLog, type StoredRecord } from "./store.js";

interface MemorySpace {
  log: SpaceLog;
  byKey: Map<string, Uint8Array>;
  byPosition: Uint8Array[];
  contiguous: Map<string, number>;
  devices: Map<string, DeviceEntry>;
}

/** A store that keeps everything in memory. */
export function createMemoryStore(): RelayStore {
  const spaces = new Map<string, MemorySpace>();
  const get = (space: string): MemorySpace => {
    let found = spaces.get(space);
    if (found === undefined) {
      found = { log: { log: newLogId(), head: 0, bytes: 0 }, byKey: new Map(), byPosition: [], contiguous: new Map(), devices: new Map() };
      spaces.set(space, found);
    }
    return found;
  };
  const clock = (s: MemorySpace): Clock =>
    [...s.contiguous].filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1));

  return {
    open: (space) => ({ ...get(space).log }),
    clock: (space) => clock(get(space)),
    push(space: string, records: readonly StoredRecord[], quotaBytes: number): PushOutcome {
      const s = get(space);
      const plan = newRecords(records, (origin, seq) => s.byKey.get(`${origin}:${seq}`));
      if (!("fresh" in plan)) return { ok: false, reason: "mismatch", ...plan };
      if (s.log.bytes + plan.bytes > quotaBytes) return { ok: false, reason: "quota", bytes: s.log.bytes, quotaBytes };
      for (const record of plan.fresh) {
        const bytes = record.bytes.slice();
        s.byKey.set(`${record.origin}:${record.seq}`, bytes);
        s.byPosition.push(bytes);
      }
      for (const origin of new Set(plan.fresh.map((r) => r.origin))) {
        let n = s.contiguous.get(origin) ?? 0;
        while (s.byKey.has(`${origin}:${n + 1}`)) n++;
        s.contiguous.set(origin, n);
      }
      s.log.head = s.byPosition.length;
      s.log.bytes += plan.bytes;
      return { ok: true, stored: plan.fresh.length, head: s.log.head, clock: clock(s) };
    },
    sizes: (space, after, limit) => get(space).byPosition.slice(after, after + limit).map((r) => r.length),
    read: (space, after, count) => get(space).byPosition.slice(after, after + count),
    seen(space, device, at) {
      const devices = get(space).devices;
      const entry = devices.get(device);
      if (entry === undefined) devices.set(device, { id: device, firstSeen: at, lastSeen: at });
      else entry.lastSeen = Math.max(entry.lastSeen, at);
    },
    devices: (space) => [...get(space).devices.values()].map((d) => ({ ...d })),
    close() {
      spaces.clear();
    },
  };
}
