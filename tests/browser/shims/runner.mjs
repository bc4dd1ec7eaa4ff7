// `node:test` for the tests/js suites when they run in Chromium (tests/browser/suite.html maps the
// specifier here): a collecting runner with what those suites use, `test(name, fn)`,
// `describe(name, fn)`, `before(fn)` and `after(fn)`, plus `runFile`, which imports one suite
// file, runs its tests in order as node:test would (hooks around the tests of their suite,
// describe blocks depth first) and returns one plain result per test for
// tests/browser/suite.test.mjs to report. Test functions get no context argument (no `t.test`);
// a suite that starts using more of node:test fails to load here until this file grows.

/** How long one test or hook may take before it counts as failed. */
const TIMEOUT_MS = 60_000;

/** The suite being collected (set while a file or a describe callback runs). */
let collecting;

function newSuite(name) {
  return { name, children: [], before: [], after: [] };
}

function requireCollecting(what) {
  if (collecting === undefined) throw new Error(`${what}() called outside a suite file's top level or describe()`);
  return collecting;
}

export function test(name, fn) {
  if (typeof fn !== "function") throw new TypeError(`test("${name}"): this shim supports test(name, fn) only`);
  requireCollecting("test").children.push({ name, fn });
}

export function describe(name, fn) {
  const parent = requireCollecting("describe");
  const suite = newSuite(name);
  parent.children.push(suite);
  collecting = suite;
  try {
    if (fn() !== undefined) throw new TypeError(`describe("${name}"): this shim needs a synchronous callback`);
  } finally {
    collecting = parent;
  }
}

export function before(fn) {
  requireCollecting("before").before.push(fn);
}

export function after(fn) {
  requireCollecting("after").after.push(fn);
}

/** `error` as text for the report: the stack (which starts with the message), and a SyncError's code. */
function describeError(error) {
  if (!(error instanceof Error)) return `thrown: ${String(error)}`;
  const code = typeof error.code === "string" ? ` [${error.code}]` : "";
  return `${error.stack?.includes(error.message) ? error.stack : `${error.name}: ${error.message}`}${code}`;
}

/** Runs `fn`, failing it after TIMEOUT_MS; resolves to undefined or the error text. */
async function attempt(fn) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), timeout]);
    return undefined;
  } catch (e) {
    return describeError(e);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `suite`'s hooks and tests, appending to `results`. `path` names the enclosing describe
 * blocks; `skips` maps full test names to the reason they are not run; `harness.started()` and
 * `harness.finished()` run before and after each test (a failure of `finished` is reported as a
 * failure of that test's cleanup). When a `before` hook of this suite or an enclosing one failed
 * (`hookError`), its tests fail without running; `after` hooks run anyway.
 */
async function runSuite(suite, path, results, skips, harness, hookError) {
  for (const hook of suite.before) {
    hookError ??= await attempt(hook);
  }
  for (const child of suite.children) {
    const name = [...path, child.name].join(" > ");
    if ("children" in child) {
      await runSuite(child, [...path, child.name], results, skips, harness, hookError);
      continue;
    }
    if (name in skips) {
      results.push({ name, status: "skip", reason: skips[name] });
      continue;
    }
    if (hookError !== undefined) {
      results.push({ name, status: "fail", error: `before hook failed: ${hookError}` });
      continue;
    }
    harness.started();
    const error = await attempt(child.fn);
    results.push(error === undefined ? { name, status: "pass" } : { name, status: "fail", error });
    const cleanup = await attempt(harness.finished);
    if (cleanup !== undefined) results.push({ name: `${name} (cleanup)`, status: "fail", error: cleanup });
  }
  for (const hook of suite.after) {
    const error = await attempt(hook);
    if (error !== undefined) results.push({ name: [...path, "(after hook)"].join(" > "), status: "fail", error });
  }
}

/**
 * Imports the suite file at `url` (collecting its tests), runs them, and resolves to one
 * `{ name, status: "pass" | "fail" | "skip", error?, reason? }` per test.
 * @param {string} url absolute URL of a tests/js/*.test.mjs file
 * @param {Record<string, string>} skips full test name → why it does not run here
 * @param {{ started(): void, finished(): Promise<void> }} harness called around every test
 */
export async function runFile(url, skips, harness) {
  const root = newSuite(url);
  collecting = root;
  try {
    await import(url);
  } catch (e) {
    return [{ name: "(loading the file)", status: "fail", error: describeError(e) }];
  } finally {
    collecting = undefined;
  }
  const results = [];
  await runSuite(root, [], results, skips, harness, undefined);
  return results;
}
