#!/usr/bin/env node
// npm run admin -- status | origins | dead | chat <chat id> | replay <event id> | replay --dead
// Talks to a webim-edge's admin API (contract §12) with the bearer token from $ADMIN_TOKEN, and
// prints what it answers as tables. Whatever the edge answers is printed with its control
// characters escaped, so that a hostile chat id cannot drive the terminal.
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const usage = `usage: npm run admin -- <command> [--url URL] [--json] [--insecure]
  status               the edge at a glance: version, delivery mode, dead events, origins down, events waiting
  origins              each origin: up or down, since when, failures in a row, last status, last probe, waiting
  dead [filter]        dead events of every chat, newest first
  chat <chat id>       a chat's events in delivery order, with their attempts
  replay <event id>    puts a dead event back to pending (its attempts start again)
  replay --dead [filter] [--yes]
                       replays every dead event the filter matches: shows how many, asks (y/N)
                       unless --yes, then replays them 200 at a time; without --until, only
                       events dead before the command started (so none is replayed twice)
filter, of dead and replay --dead (on the time of death):
  --since 2h|RFC3339   dead since then (s, m, h or d ago, or a time such as 2026-11-30T08:00:00Z)
  --until 2h|RFC3339   dead before then
  --type TYPE          chat_started, chat_assigned or chat_closed
  --chat ID            one chat's dead events
options:
  --url URL            edge base URL (default http://127.0.0.1:8787)
  --json               print the API's JSON instead of tables
  --insecure           allow plain http:// to a host other than this machine (the token travels in clear)
The token is read from the ADMIN_TOKEN environment variable (for a local edge it defaults to
npm start's demo-admin-token-for-local-use-only).`;

let values;
let positionals;
try {
  ({ values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: "string", default: "http://127.0.0.1:8787" },
      json: { type: "boolean", default: false },
      insecure: { type: "boolean", default: false },
      dead: { type: "boolean", default: false },
      since: { type: "string" },
      until: { type: "string" },
      type: { type: "string" },
      chat: { type: "string" },
      yes: { type: "boolean", short: "y", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (err) {
  fail(2, `${err.message}\n${usage}`);
}

/** Prints `message` on stderr and exits with `code`. */
function fail(code, message) {
  console.error(message);
  process.exit(code);
}

// Control characters (C0, DEL, C1: the ESC and CSI of terminal sequences among them), line and
// paragraph separators and bidirectional overrides are shown as escapes; so is the backslash,
// so that what is shown reads one way only.
const NAMED = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\" };
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\\\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** `value` as text that is safe to print on a terminal. */
function clean(value) {
  return String(value ?? "").replace(UNSAFE, (c) => {
    if (NAMED[c]) return NAMED[c];
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

const [command, arg] = positionals;
const filtering = ["dead", "replay"].includes(command);
const filterGiven = ["since", "until", "type", "chat"].filter((name) => values[name] !== undefined);
const bulk = command === "replay" && values.dead;
const known = {
  status: !arg,
  origins: !arg,
  dead: !arg,
  chat: Boolean(arg),
  replay: bulk ? !arg : Boolean(arg) && filterGiven.length === 0,
}[command];
if (values.help || !known || (!filtering && filterGiven.length) || (values.dead && !bulk) || (values.yes && !bulk)) {
  fail(values.help ? 0 : 2, usage);
}

let base;
try {
  base = new URL(values.url);
} catch {
  fail(2, `--url ${clean(values.url)} is not a URL`);
}
if (base.protocol !== "https:" && base.protocol !== "http:") fail(2, `--url must be an http:// or https:// URL, not ${clean(base.protocol)}`);
const root = base.href.replace(/\/+$/, "");
/** This machine: localhost, 127.0.0.0/8, [::1]. */
const loopback = base.hostname === "localhost" || base.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(base.hostname);
if (base.protocol === "http:" && !loopback && !values.insecure) {
  fail(2, `refusing to send the admin token in clear over http:// to ${clean(base.host)}: use https://, or add --insecure if this network is yours and trusted`);
}
// npm start serves with a demo token; anywhere else the real one must be given.
const token = process.env.ADMIN_TOKEN || (loopback ? "demo-admin-token-for-local-use-only" : "");
if (!token) fail(2, "ADMIN_TOKEN is not set: export the edge's admin token first (wrangler secret put ADMIN_TOKEN sets it on the edge).");

/** `--since` / `--until`: "90s", "15m", "2h", "7d" ago, or an RFC 3339 time; as RFC 3339 UTC. */
function instant(name, now) {
  const text = values[name];
  const ago = /^(\d+)([smhd])$/.exec(text);
  if (ago) return new Date(now - Number(ago[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[ago[2]]).toISOString();
  if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text))) {
    return new Date(Date.parse(text)).toISOString();
  }
  return fail(2, `--${name} ${clean(text)}: give a time ago (90s, 15m, 2h, 7d) or an RFC 3339 time (2026-11-30T08:00:00Z)`);
}

/** The dead-event filter of the command line, as the API takes it. */
function deadFilter(now) {
  const filter = {};
  if (values.since !== undefined) filter.since = instant("since", now);
  if (values.until !== undefined) filter.until = instant("until", now);
  if (values.type !== undefined) {
    if (!["chat_started", "chat_assigned", "chat_closed"].includes(values.type)) fail(2, `--type ${clean(values.type)}: chat_started, chat_assigned or chat_closed`);
    filter.type = values.type;
  }
  if (values.chat !== undefined) filter.chat_id = values.chat;
  return filter;
}

/** The filter in words. */
function described(filter) {
  const parts = [];
  if (filter.type) parts.push(filter.type);
  if (filter.chat_id !== undefined) parts.push(`of chat ${filter.chat_id}`);
  if (filter.since) parts.push(`dead since ${when(filter.since)}`);
  if (filter.until) parts.push(`dead before ${when(filter.until)}`);
  return clean(parts.join(", "));
}

/** Rows as an aligned text table under `columns` ([header, value of a row]); every cell escaped. */
function table(columns, rows) {
  const cells = rows.map((row) => columns.map(([, value]) => clean(value(row))));
  const widths = columns.map(([header], i) => Math.max(header.length, ...cells.map((c) => c[i].length)));
  const line = (texts) => texts.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
  return [line(columns.map(([h]) => h)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** An RFC 3339 time as it reads best in a table. */
const when = (iso) => (iso ? String(iso).replace("T", " ").replace(/\.\d+Z$/, "Z") : "");

/** Calls the API; its JSON answer, or a clear error and exit 1. */
async function call(method, path, body) {
  let res;
  try {
    res = await fetch(root + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    fail(1, `could not reach ${clean(root)}: ${clean(err.cause?.code ?? err.message)}`);
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const code = json?.error?.code ?? res.statusText;
    const hint = {
      400: json?.error?.message ?? "the edge refused the request",
      401: "the token was refused: check ADMIN_TOKEN against the edge's secret",
      404: command === "replay" && !bulk ? `no dead event has the id ${arg}`
        : command === "chat" ? `the outbox holds no event of chat ${arg} (or the edge has no ADMIN_TOKEN set)`
        : "the edge has no admin API: set its ADMIN_TOKEN secret",
      501: "the edge has no outbox: bind OUTBOX (see wrangler.toml)",
      503: "the outbox's storage did not answer; try again",
    }[res.status];
    fail(1, clean(`${res.status} ${code}${hint ? `: ${hint}` : ""}`));
  }
  if (json === undefined) fail(1, `${res.status}: the edge's answer is not JSON`);
  return json;
}

/** The API's JSON as text: JSON escapes C0 controls itself; the rest are escaped here. */
const jsonText = (value) =>
  JSON.stringify(value, null, 2).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** Asks `question` on the terminal (or reads a line from stdin); true for y or yes. */
async function confirm(question) {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise((resolve) => {
    rl.question(question, resolve);
    rl.on("close", () => resolve(""));
  });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

/** `replay --dead`: how many match, a confirmation, then POST /admin/replay until none remain. */
async function replayDead() {
  const started = Date.now();
  const filter = deadFilter(started);
  // Without --until, events that die while this runs (their replay failed again) are not
  // taken again by the next call.
  filter.until ??= new Date(started).toISOString();
  const query = new URLSearchParams(filter).toString();
  const { total } = await call("GET", `/admin/dead?${query}`);
  const what = described(filter);
  if (!total) {
    console.log(`no dead events match (${what})`);
    return;
  }
  const summary = `${total} dead event${total === 1 ? "" : "s"} match (${what})`;
  if (!values.yes) {
    if (!(await confirm(`${summary}. Replay ${total === 1 ? "it" : "them"}? [y/N] `))) {
      console.log("nothing replayed");
      return;
    }
  } else {
    console.log(summary);
  }
  let replayed = 0;
  for (;;) {
    const answer = await call("POST", "/admin/replay", filter);
    replayed += answer.replayed;
    const of = Math.max(total, replayed + answer.remaining);
    if (values.json) console.log(JSON.stringify(answer));
    else if (answer.remaining === 0) console.log(`replayed ${replayed} of ${of}: each is pending again and will be delivered with its webhook-id`);
    else console.log(`replayed ${replayed} of ${of}…`);
    if (answer.remaining === 0) return;
    if (answer.replayed === 0) fail(1, `the edge replayed none of the ${answer.remaining} left; run the command again later`);
  }
}

if (bulk) {
  await replayDead();
  process.exit(0);
}

const route = {
  status: () => ["GET", "/admin/status"],
  origins: () => ["GET", "/admin/origins"],
  dead: () => {
    const query = new URLSearchParams(deadFilter(Date.now())).toString();
    return ["GET", `/admin/dead${query ? `?${query}` : ""}`];
  },
  chat: () => ["GET", `/admin/chats/${encodeURIComponent(arg)}`],
  replay: () => ["POST", `/admin/events/${encodeURIComponent(arg)}/replay`],
}[command]();
const body = await call(...route);
if (values.json) {
  console.log(jsonText(body));
  process.exit(0);
}
if (command === "status") {
  console.log(`webim-edge ${clean(body.version)}, delivering in ${clean(body.mode)} mode\n`);
  for (const [name, value] of [["dead events", body.dead], ["origins down", body.origins_down], ["events waiting", body.waiting]]) {
    console.log(`${name.padEnd(16)}${clean(value)}`);
  }
  if (body.dead) console.log("\nlist them with: npm run admin -- dead");
  if (body.origins_down) console.log("see the origins with: npm run admin -- origins");
} else if (command === "origins") {
  if (!body.origins.length) console.log("no origins");
  else {
    console.log(table([
      ["name", (o) => o.name],
      ["state", (o) => o.state],
      ["since", (o) => when(o.since) || "-"],
      ["failures in row", (o) => o.failures_in_row],
      ["last status", (o) => o.last_status ?? "-"],
      ["last probe", (o) => when(o.last_probe) || "-"],
      ["waiting", (o) => o.waiting],
    ], body.origins));
  }
} else if (command === "dead") {
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
    console.log(`\n${body.total ?? body.dead.length} dead${shown}; replay one with: npm run admin -- replay <event id>, or all with: npm run admin -- replay --dead`);
  }
} else if (command === "chat") {
  console.log(`chat ${clean(body.chat_id ?? arg)}: ${body.events.length} event(s), in delivery order\n`);
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
  console.log(`${clean(body.id)} is ${clean(body.status)} again: it will be delivered with the same webhook-id.`);
}
