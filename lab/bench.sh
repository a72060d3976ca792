#!/usr/bin/env bash
# npm run bench: builds the worker, then the runtime benchmark and size report (lab/run.mjs).
# Arguments go to lab/run.mjs (--requests, --processes, --batch, --concurrency, --workers,
# --transports, --baseline, --no-cold); lab/cold.mjs alone measures start-up.
# The core's criterion benchmark (lab/criterion.rs) is `cargo bench`, then
# `node lab/summary.mjs` for the table.
# With --help (or -h) it only prints lab/run.mjs's usage, without building; with EDGE_BUILD=DIR
# (a copy of build/, e.g. from lab/build-rev.sh) it measures DIR and builds nothing.
for arg in "$@"; do
  case "$arg" in --help | -h) exec node "$(dirname "$0")/run.mjs" --help ;; esac
done
source "$(dirname "$0")/../scripts/bootstrap.sh"
[ -n "${EDGE_BUILD:-}" ] || bash scripts/build.sh
node lab/run.mjs "$@"
