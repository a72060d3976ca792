#!/usr/bin/env bash
# npm run bench: builds the worker, then the runtime benchmark and size report (bench/run.mjs).
# Arguments go to bench/run.mjs (--requests, --processes, --batch, --concurrency, --workers,
# --transports, --baseline, --no-cold); bench/cold.mjs alone measures start-up.
# The core's criterion benchmark is `cargo bench` (then `node bench/summary.mjs` for the table).
source "$(dirname "$0")/bootstrap.sh"
bash scripts/build.sh
node bench/run.mjs "$@"
