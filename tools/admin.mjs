#!/usr/bin/env node
// npm run admin -- dead | chat <chat id> | replay <event id> [--url URL]
// Talks to a webim-edge's admin API (the outbox's dead events, a chat's events, replays) with
// the bearer token from $ADMIN_TOKEN, and prints what it answers as tables.
import { parseArgs } from "node:util";

const usage = `usage: npm run admin -- <command> [--url URL] [--json]
  dead                 dead events of every chat, newest first
  chat <chat id>       a chat's events in delivery order, with their attempts
  replay <event id>    puts a dead event back to pending (its attempts start again)
  --url URL            edge base URL (default http://127.0.0.1:8787)
  --json               print the API's JSON instead of tables
The token is read from the ADMIN_TOKEN environment variable (for a local edge it defaults to
npm start's demo-admin-token-for-local-use-only).`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string", default: "http://127.0.0.1:8787" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

const [command, arg] = positionals;
const routes = {
  dead: () => ["GET", "/admin/dead"],
  chat: (id) => id && ["GET", `/admin/chats/${encodeURIComponent(id)}`],
  replay: (id) => id && ["POST", `/admin/events/${encodeURIComponent(id)}/replay`],
};
const route = routes[command]?.(arg);
if (values.help || !route) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}
const base = values.url.replace(/\/+$/, "");
// npm start serves with a demo token; anywhere else the real one must be given.
const local = /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(base);
const token = process.env.ADMIN_TOKEN || (local ? "demo-admin-token-for-local-use-only" : "");
if (!token) {
  console.error("ADMIN_TOKEN is not set: export the edge's admin token first (wrangler secret put ADMIN_TOKEN sets it on the edge).");
  process.exit(2);
}

/** Rows as an aligned text table under `columns` ([header, value of a row]). */
function table(columns, rows) {
  const cells = rows.map((row) => columns.map(([, value]) => String(value(row) ?? "")));
  const widths = columns.map(([header], i) => Math.max(header.length, ...cells.map((c) => c[i].length)));
  const line = (values) => values.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
  return [line(columns.map(([h]) => h)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "");

const [method, path] = route;
let res;
try {
  res = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}` } });
} catch (err) {
  console.error(`could not reach ${base}: ${err.cause?.code ?? err.message}`);
  process.exit(1);
}
const text = await res.text();
let body;
try {
  body = JSON.parse(text);
} catch {
  body = undefined;
}
if (!res.ok) {
  const code = body?.error?.code ?? res.statusText;
  const hint = {
    401: "the token was refused: check ADMIN_TOKEN against the edge's secret",
    404: command === "replay" ? `no dead event has the id ${arg}`
      : command === "chat" ? `the outbox holds no event of chat ${arg} (or the edge has no ADMIN_TOKEN set)`
      : "the edge has no admin API: set its ADMIN_TOKEN secret",
    501: "the edge has no outbox: bind OUTBOX (see wrangler.toml)",
    503: "the outbox's storage did not answer; try again",
  }[res.status];
  console.error(`${res.status} ${code}${hint ? `: ${hint}` : ""}`);
  process.exit(1);
}
if (values.json) {
  console.log(JSON.stringify(body, null, 2));
  process.exit(0);
}
if (command === "dead") {
  if (body.dead.length === 0) console.log("no dead events");
  else {
    console.log(table([
      ["died at", (d) => when(d.died_at)],
      ["event id", (d) => d.id],
      ["type", (d) => d.type],
      ["chat", (d) => d.chat_id ?? "-"],
      ["attempts", (d) => d.attempts],
      ["last status", (d) => d.last_status],
    ], body.dead));
    const shown = body.total > body.dead.length ? ` (the newest ${body.dead.length} of ${body.total})` : "";
    console.log(`\n${body.total ?? body.dead.length} dead${shown}; replay one with: npm run admin -- replay <event id>`);
  }
} else if (command === "chat") {
  console.log(`chat ${body.chat_id ?? arg}: ${body.events.length} event(s), in delivery order\n`);
  console.log(table([
    ["#", (e) => body.events.indexOf(e) + 1],
    ["state", (e) => e.state],
    ["type", (e) => e.type],
    ["event id", (e) => e.id],
    ["received", (e) => when(e.received_at)],
    ["attempts", (e) => e.attempts],
    ["last status", (e) => e.last_status ?? "-"],
    ["next attempt / done", (e) => when(e.finished_at ?? e.next_attempt_at)],
    ["stored", (e) => (e.stored_bytes ? `${e.stored_bytes} B` : "-")],
  ], body.events));
  const attempts = body.events.flatMap((e) => e.attempt_log.map((a) => ({ ...a, id: e.id, type: e.type })));
  if (attempts.length) {
    console.log("\nattempts\n" + table([
      ["at", (a) => when(a.at)],
      ["event id", (a) => a.id],
      ["type", (a) => a.type],
      ["status", (a) => a.status],
      ["ms", (a) => a.duration_ms],
    ], attempts));
  }
} else {
  console.log(`${body.id} is ${body.status} again: it will be delivered with the same webhook-id.`);
}
