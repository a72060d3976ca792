#!/usr/bin/env bash
# Builds the release wasm worker into build/ (wrangler's [build] command runs this too), puts
# webim-edge's own module entry in place, strips the names section that worker-build keeps,
# and reports the sizes.
#   --keep-names  keeps the names section, so that profiles (bench/profile.mjs) name functions
source "$(dirname "$0")/bootstrap.sh"
worker-build --release
# The module entry relies on two internals of the generated module; fail here if they changed.
node scripts/check-entry.mjs
# The module entry: calls the wasm handlers without worker-build's per-call Proxy (src/shell/entry.mjs).
cp src/shell/entry.mjs build/worker/shim.mjs
# The strip step runs -O3 once more: worker-build's pass leaves code that a second pass still
# shrinks (by about 1.4 KB gzipped when measured).
[ "${1:-}" = "--keep-names" ] || wasm-opt build/index_bg.wasm -o build/index_bg.wasm -O3 --strip-debug --strip-producers \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling --enable-simd
for f in build/index_bg.wasm build/index.js; do
  printf '[build] %-20s %7d bytes, %7d gzipped\n' "$f" "$(wc -c <"$f")" "$(gzip -9c "$f" | wc -c)" >&2
done
