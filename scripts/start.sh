#!/usr/bin/env bash
# npm start: builds the worker and serves it on 127.0.0.1:8787 with a demo key, in front of a
# demo origin on 127.0.0.1:8788 that prints each clean event and checks its signature. Events
# go through the outbox (wrangler.toml binds OUTBOX; wrangler dev keeps its state under
# .wrangler/), the admin API answers to the demo token, and the demo origin also receives the
# alerts. Retries, deaths and outages are quicker than the defaults, so they can be watched.
#   npm start -- --webim   forwards in Webim's own form (ORIGIN_FORMAT=webim) to a receiver
#                          written for Webim: the PHP example (examples/php) where php is
#                          installed, else a Node one; both check signature/crc as Webim's do.
source "$(dirname "$0")/bootstrap.sh"
MODE="event"
ORIGIN_PATH="/events"
if [ "${1:-}" = "--webim" ]; then
  MODE="webim"
  ORIGIN_PATH="/handler/webim_chat.php"
fi
DEMO_KEY="demo-private-key"
DEMO_SECRET="whsec_ZGVtby1vcmlnaW4tc2lnbmluZy1zZWNyZXQ="
DEMO_ADMIN_TOKEN="demo-admin-token-for-local-use-only"
EDGE_PORT="${EDGE_PORT:-8787}"
ORIGIN_PORT="${ORIGIN_PORT:-8788}"

if [ "$MODE" = "webim" ] && command -v php >/dev/null; then
  WEBIM_KEY="$DEMO_KEY" php -S "127.0.0.1:$ORIGIN_PORT" examples/php/webim_receiver.php &
elif [ "$MODE" = "webim" ]; then
  node tools/demo-origin.mjs --port "$ORIGIN_PORT" --webim "$DEMO_KEY" &
else
  node tools/demo-origin.mjs --port "$ORIGIN_PORT" --secret "$DEMO_SECRET" &
fi
origin_pid=$!
trap 'kill "$origin_pid" 2>/dev/null' EXIT

cat >&2 <<MSG
[start] webim-edge on http://127.0.0.1:$EDGE_PORT (demo key "$DEMO_KEY"), origin on http://127.0.0.1:$ORIGIN_PORT
[start] try it from another terminal:  npm run send -- chat_started
[start] then see the chat in the outbox:  npm run admin -- chat 190425   (admin token "$DEMO_ADMIN_TOKEN")
[start] or in the operator console:  http://127.0.0.1:$EDGE_PORT/admin/   (same token)
[start] take the origin down and back:     curl -X POST http://127.0.0.1:$ORIGIN_PORT/demo/down   (then /demo/ok; /demo/reject makes events die)
[start] demo timings: retries from 2 s, 4 attempts, down after 3 failures, a probe every 5 s
MSG
export WRANGLER_SEND_METRICS=false
# wrangler runs the [build] command (scripts/build.sh) before serving.
wrangler dev --ip 127.0.0.1 --port "$EDGE_PORT" \
  --var "WEBIM_PRIVATE_KEYS:$DEMO_KEY" \
  --var "ORIGIN_URL:http://127.0.0.1:$ORIGIN_PORT$ORIGIN_PATH" \
  --var "ORIGIN_SIGNING_SECRET:$DEMO_SECRET" \
  --var "ORIGIN_FORMAT:$MODE" \
  --var "ADMIN_TOKEN:$DEMO_ADMIN_TOKEN" \
  --var "ALERT_URL:http://127.0.0.1:$ORIGIN_PORT/alerts" \
  --var "RETRY_BASE_SECONDS:2" --var "MAX_ATTEMPTS:4" \
  --var "ORIGIN_DOWN_AFTER:3" --var "ORIGIN_PROBE_SECONDS:5"
