#!/usr/bin/env bash
# scripts/build.sh: builds the npm package into dist/.
#   1. cargo builds the wasm module (release, wasm32-unknown-unknown)
#   2. wasm-bindgen writes the JS glue into js/generated/ (only when the module changed)
#   3. wasm-opt shrinks the module (cached in target/wasm-opt/<flags>/, only when the glue or the
#      flags changed): -Oz until nothing more shrinks (--converge, about 1 KB of gzip for a minute),
#      without the producers and target-features sections, which no runtime reads
#   4. tsc compiles js/ into dist/; js/generated/ is copied to dist/generated/ with the small module
# dist/ is assembled from scratch every time, so it never holds stale files.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { echo "==> $*"; local start=$SECONDS; "$@"; echo "    done in $((SECONDS - start))s"; }

name=sqlite_sync_wasm
module=target/wasm32-unknown-unknown/release/$name.wasm
glue=js/generated/${name}_bg.wasm
opt_flags=(-Oz --converge --strip-producers --strip-target-features)
small=target/wasm-opt/$(cksum <<<"${opt_flags[*]}" | cut -d' ' -f1)/${name}_bg.wasm

want=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [[ $have != "$want" ]]; then
  echo "build: wasm-bindgen ${have:-missing}, Cargo.lock wants $want; run scripts/bootstrap.sh" >&2
  exit 1
fi

step cargo build --lib --release --target wasm32-unknown-unknown

if [[ ! -f $glue || $module -nt $glue ]]; then
  rm -rf js/generated
  step wasm-bindgen --target web --out-dir js/generated "$module"
fi

if [[ ! -f $small || $glue -nt $small ]]; then
  mkdir -p "$(dirname "$small")"
  step node_modules/.bin/wasm-opt "${opt_flags[@]}" "$glue" -o "$small.tmp"
  mv "$small.tmp" "$small"
fi

# Assemble the package in target/ and swap it in whole, so dist/ is never half-built.
stage=$(mktemp -d target/dist-new.XXXXXX)
old=$(mktemp -d target/dist-old.XXXXXX)
trap 'rm -rf "$stage" "$old"' EXIT
step node_modules/.bin/tsc -p . --outDir "$stage"
cp -R js/generated "$stage/generated"
cp "$small" "$stage/generated/${name}_bg.wasm"
if [[ -d dist ]]; then mv dist "$old/"; fi
mv "$stage" dist
chmod 755 dist
echo "==> dist/ ready ($(wc -c <"dist/generated/${name}_bg.wasm") bytes of wasm)"
