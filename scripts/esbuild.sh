#!/bin/sh
# The esbuild worker-build runs (ESBUILD_BIN) to bundle the wasm-bindgen glue. The glue imports
# node:crypto, which the Workers runtime provides (the nodejs_compat flag), so it must stay an
# import rather than be resolved from disk.
exec "$(dirname "$0")/../node_modules/.bin/esbuild" "$@" '--external:node:*'
