#!/usr/bin/env bash
# npm run deploy [-- --env staging|production]: installs what is missing, then wrangler deploy
# (which builds through wrangler.toml's [build] command).
source "$(dirname "$0")/bootstrap.sh"
export WRANGLER_SEND_METRICS="${WRANGLER_SEND_METRICS:-false}"
wrangler deploy "$@"
