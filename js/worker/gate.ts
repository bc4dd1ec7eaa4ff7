// Keeping SQLite away from the OPFS pool while the pool changes: growing it, trimming it,
// installing or releasing it. Such a change awaits the browser between files, and while it runs
// the pool refuses SQLite's file operations (opening or deleting a journal, checking for one), so
// a statement run meanwhile on any OPFS database of this worker would fail. Every synchronous call
// into the handle of an OPFS database goes through `steady()` (`poolGate`, the `CallGate` those
// databases are given: js/local-transaction.ts), which runs it at once unless a change is in
// progress, and otherwise once the change is over. Databases in other storage never wait here.
//
// Invariants: changes run one at a time, in the order asked; while one runs no held call starts;
// held calls start in the order they were made, before any call made after the change ended.

import type { CallGate } from "../local-transaction.js";

/** Calls waiting for the current change, or undefined when no change runs. */
let held: (() => void)[] | undefined;
/** The end of the queue of changes. */
let changes: Promise<unknown> = Promise.resolve();

/** Whether no pool change is in progress: a call into a handle may run now. */
export function idle(): boolean {
  return held === undefined;
}

/** Runs `call` now, or when the pool change in progress ends; settles with its outcome. */
export function steady<T>(call: () => T): Promise<T> {
  if (held === undefined) return new Promise((resolve) => resolve(call()));
  const waiting = held;
  return new Promise((resolve, reject) => {
    waiting.push(() => {
      try {
        resolve(call());
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** The gate of this worker's OPFS databases. */
export const poolGate: CallGate = { idle, steady };

/**
 * Runs `change` once the changes asked before it have ended, holding every `steady` call while it
 * runs. `change` may call the wasm module directly (opening a database, for instance): only the
 * calls that go through `steady` wait.
 */
export function changePool<T>(change: () => Promise<T>): Promise<T> {
  const run = changes.then(async () => {
    held = [];
    try {
      return await change();
    } finally {
      const waiting = held;
      held = undefined;
      for (const resume of waiting) resume();
    }
  });
  changes = run.catch(() => undefined);
  return run;
}
