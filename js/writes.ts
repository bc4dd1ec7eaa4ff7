// Cheap tests of whether a call may have written something, used only to decide when to announce
// a change and when to persist a snapshot; they err on the side of "it may have".

import type { ImportResult } from "./types.js";

/**
 * Whether SQL run through `query` may have written rows (an INSERT/UPDATE/DELETE … RETURNING):
 * a cheap, conservative test on the text, used only to decide whether to announce a change.
 */
export function mayWrite(sql: string): boolean {
  return /\b(insert|update|delete|replace)\b/i.test(sql);
}

/**
 * Whether SQL run through `query` is certainly read-only (a SELECT, EXPLAIN or VALUES without
 * write keywords); anything else (PRAGMA, DDL) counts as a possible write for persistence.
 */
export function readOnly(sql: string): boolean {
  return /^\s*(select|explain|values)\b/i.test(sql) && !mayWrite(sql);
}

/** Whether an import wrote anything that readers could see. */
export function importChanged(result: ImportResult): boolean {
  return result.applied > 0 || result.conflicts > 0 || result.released > 0;
}
