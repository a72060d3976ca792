#!/usr/bin/env bash
# npm run bench: builds the worker, then the runtime benchmark and size report (lab/run.mjs).
# Arguments go to lab/run.mjs (--requests, --processes, --batch, --concurrency, --workers,
# --transports, --baseline, --no-cold); lab/cold.mjs alone measures start-up.
# The core's criterion benchmark (lab/criterion.rs) is `cargo bench`, then
# `node lab/summary.mjs` for the table.
source "$(dirname "$0")/../scripts/bootstrap.sh"
bash scripts/build.sh
node lab/run.mjs "$@"
