#!/usr/bin/env bash
# scripts/test.sh: the whole test suite (`npm test`). Bootstraps, then runs every layer in order,
# keeps going after a failure, and ends with the line "N passed, N failed", where N sums the tests
# that runners count (cargo, node:test) and counts each other step as one. Exits non-zero if
# anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1

bash scripts/bootstrap.sh --test-runtimes || { echo "bootstrap failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
summary=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# step NAME COMMAND...: runs one layer, adds its counts, records a one-line verdict.
step() {
  local name=$1 start=$SECONDS rc p f
  shift
  echo
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # cargo: "test result: ok. 12 passed; 0 failed; ..." per test binary; node: "ℹ pass 12" / "ℹ fail 0".
  read -r p f < <(awk '
    /^test result: / { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }; n++ }
    /^ℹ pass [0-9]+$/ { p += $3; n++ }
    /^ℹ fail [0-9]+$/ { f += $3; n++ }
    END { if (n) print p + 0, f + 0; else print "-", "-" }' "$log")
  if [[ $p == "-" ]]; then
    if ((rc == 0)); then p=1 f=0; else p=0 f=1; fi
  elif ((rc != 0 && f == 0)); then
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  local verdict=PASS
  ((rc == 0)) || verdict="FAIL (exit $rc)"
  summary+=("$(printf '%-22s %-16s %4d passed, %d failed  (%ds)' "$name" "$verdict" "$p" "$f" $((SECONDS - start)))")
  echo "=== $name: $verdict"
}

# skip NAME REASON: a step this platform cannot run; counted neither passed nor failed.
skip() {
  echo
  echo "=== $1: SKIPPED ($2)"
  summary+=("$(printf '%-22s %-16s %s' "$1" "SKIPPED" "$2")")
}

# node_suite NODE: the node:test suite of the built package under that node binary (which must
# run and say its version), with a timeout.
node_suite() {
  "$1" --version || return
  timeout 900 "$1" --test --test-reporter=spec tests/js/*.test.mjs
}

# relay_suite NODE: the relay's tests (a real relay process through the CLI, on a SQLite file:
# node:sqlite where that Node has it, better-sqlite3 on Node 20) under that node binary.
relay_suite() {
  "$1" --version || return
  timeout 600 "$1" --test --test-reporter=spec tests/relay/*.test.mjs
}

# net_suite NODE [FILE...]: the end-to-end network tests (in-process devices of the built package
# syncing through a real relay process on 127.0.0.1; all of tests/net unless FILEs are given)
# under that node binary, with a timeout.
net_suite() {
  local node=$1
  shift
  "$node" --version || return
  (($# > 0)) || set -- tests/net/*.test.mjs
  timeout 600 "$node" --test --test-reporter=spec "$@"
}

step "rust lint" bash scripts/lint.sh
step "cargo test (native)" cargo test
step "build" bash scripts/build.sh
step "cargo test (wasm)" cargo test --target wasm32-unknown-unknown
step "node:test" node --test --test-reporter=spec tests/js/*.test.mjs
# The same suite under each Node release of scripts/node-runtimes.sh (installed by bootstrap.sh).
source scripts/node-runtimes.sh
for pin in "${node_runtimes[@]}"; do
  version=${pin%% *}
  if [[ -n $node_runtimes_skip ]]; then
    skip "node:test (node ${version%%.*})" "$node_runtimes_skip"
  else
    step "node:test (node ${version%%.*})" node_suite "$(node_runtime_bin "$version")"
  fi
done
step "relay" relay_suite node
for pin in "${node_runtimes[@]}"; do
  version=${pin%% *}
  if [[ -n $node_runtimes_skip ]]; then
    skip "relay (node ${version%%.*})" "$node_runtimes_skip"
  else
    step "relay (node ${version%%.*})" relay_suite "$(node_runtime_bin "$version")"
  fi
done
step "net" net_suite node
# Where Node has a global WebSocket (22, 24), the devices' WebSocket tests run with it too.
for pin in "${node_runtimes[@]}"; do
  version=${pin%% *}
  if [[ -n $node_runtimes_skip ]]; then
    skip "net (node ${version%%.*})" "$node_runtimes_skip"
  else
    step "net (node ${version%%.*})" net_suite "$(node_runtime_bin "$version")" tests/net/converge.test.mjs
  fi
done
step "types" node_modules/.bin/tsc -p tests/types
step "package lint" node --test --test-reporter=spec tests/bundlers/lint.test.mjs
step "deno smoke" node_modules/.bin/deno run --allow-read tests/smoke/deno.mjs
step "relay deno smoke" node_modules/.bin/deno run --allow-read --allow-write tests/smoke/relay-deno.mjs
step "workerd smoke" node tests/smoke/workerd.mjs
step "chromium smoke" node tests/smoke/chromium.mjs
step "bundlers" node --test --test-reporter=spec tests/bundlers/esbuild.test.mjs tests/bundlers/vite.test.mjs
step "browser (OPFS, idb)" node --test --test-reporter=spec tests/browser/*.test.mjs

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
((failed == 0))
