#!/usr/bin/env bash
# npm start: builds the worker and serves it on 127.0.0.1:8787 with a demo key, in front of a
# demo origin on 127.0.0.1:8788 that prints each clean event and checks its signature. Events
# go through the outbox (wrangler.toml binds OUTBOX; wrangler dev keeps its state under
# .wrangler/), and the admin API answers to the demo token.
source "$(dirname "$0")/bootstrap.sh"
DEMO_KEY="demo-private-key"
DEMO_SECRET="whsec_ZGVtby1vcmlnaW4tc2lnbmluZy1zZWNyZXQ="
DEMO_ADMIN_TOKEN="demo-admin-token"
EDGE_PORT="${EDGE_PORT:-8787}"
ORIGIN_PORT="${ORIGIN_PORT:-8788}"

node scripts/demo-origin.mjs --port "$ORIGIN_PORT" --secret "$DEMO_SECRET" &
origin_pid=$!
trap 'kill "$origin_pid" 2>/dev/null' EXIT

cat >&2 <<MSG
[start] webim-edge on http://127.0.0.1:$EDGE_PORT (demo key "$DEMO_KEY"), origin on http://127.0.0.1:$ORIGIN_PORT
[start] try it from another terminal:  npm run send -- chat_started
[start] then see the chat in the outbox:  npm run admin -- chat 190425   (admin token "$DEMO_ADMIN_TOKEN")
MSG
export WRANGLER_SEND_METRICS=false
# wrangler runs the [build] command (scripts/build.sh) before serving.
wrangler dev --ip 127.0.0.1 --port "$EDGE_PORT" \
  --var "WEBIM_PRIVATE_KEYS:$DEMO_KEY" \
  --var "ORIGIN_URL:http://127.0.0.1:$ORIGIN_PORT/events" \
  --var "ORIGIN_SIGNING_SECRET:$DEMO_SECRET" \
  --var "ADMIN_TOKEN:$DEMO_ADMIN_TOKEN"
