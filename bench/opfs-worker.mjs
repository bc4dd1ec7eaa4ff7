// The bench's own module dedicated worker (started by the bench page, one per round of
// `opfs.insert_100k`): its OPFS databases open in this worker, in-process, not through the
// package's worker. Requests: { op: "ping" } and { op: "insert", name, synced, rows, deep };
// answers { ok: true, value } or { ok: false, error }.

import { insertRun } from "./opfs-browser.mjs";

onmessage = async ({ data }) => {
  try {
    const value = data.op === "insert" ? await insertRun(data) : data.op === "ping" ? "pong" : undefined;
    if (value === undefined) throw new Error(`unknown request ${JSON.stringify(data.op)}`);
    postMessage({ ok: true, value });
  } catch (e) {
    postMessage({ ok: false, error: `${e?.code ? `${e.code}: ` : ""}${e?.stack ?? e}` });
  }
};
