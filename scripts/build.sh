#!/usr/bin/env bash
# Builds the release wasm worker into build/ (wrangler's [build] command runs this too): the
# crate for wasm32, wasm-bindgen's `web` output (its public initSync and, for trap recovery,
# __wbg_reset_state), one wasm-opt pass, and webim-edge's own module entry (src/shell/entry.mjs)
# beside them as build/entry.mjs. Prints the sizes.
#   --keep-names  keeps the names section, so that profiles (lab/profile.mjs) name functions
source "$(dirname "$0")/bootstrap.sh"
cargo build --release --target wasm32-unknown-unknown --quiet
rm -rf build
wasm-bindgen target/wasm32-unknown-unknown/release/webim_edge.wasm --out-dir build --out-name index \
  --target web --experimental-reset-state-function --no-typescript
names=(--strip-debug --strip-producers)
[ "${1:-}" = "--keep-names" ] && names=(--debuginfo)
wasm-opt build/index_bg.wasm -o build/index_bg.wasm -O3 "${names[@]}" \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling --enable-simd
cp src/shell/entry.mjs build/entry.mjs
for f in build/index_bg.wasm build/index.js build/entry.mjs; do
  printf '[build] %-20s %7d bytes, %7d gzipped\n' "$f" "$(wc -c <"$f")" "$(gzip -9c "$f" | wc -c)" >&2
done
