// The outbox's floor in the runtime benchmark: the fewest calls into the runtime that any
// durable store-then-deliver design makes per event, each by the cheapest means workerd offers,
// and none of the job's own logic. The worker reads the delivery and hashes it as lab/floor.mjs
// does (the Webim signature, the event id), then makes one request to the chat's SQLite Durable
// Object (a JavaScript RPC call); the object makes one insert (`ON CONFLICT DO NOTHING`: an id
// is stored once) and answers, which the runtime releases once the insert is durable; then, in
// the same invocation, one delivery (signed, under a timeout) and one update that marks the
// event delivered. No alarm, no order across a chat's concurrent events, no retry, no log line
// from the object: a bound, not an outbox. docs/performance.md reports webim-edge's outbox
// against it.
import { Buffer } from "node:buffer";
import { DurableObject } from "cloudflare:workers";
import { hmacSha256, sha256 } from "../src/shell/runtime/helpers.mjs";

const encoder = new TextEncoder();

export class FloorOutbox extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY NOT NULL, state TEXT NOT NULL, body BLOB) WITHOUT ROWID");
  }

  store(id, body) {
    const inserted = this.sql.exec("INSERT INTO events VALUES (?, 'pending', ?) ON CONFLICT (id) DO NOTHING RETURNING 1", id, body).toArray().length > 0;
    if (inserted) this.ctx.waitUntil(this.deliver(id, body));
    return inserted;
  }

  async deliver(id, body) {
    const mac = Buffer.from(hmacSha256(encoder.encode(this.env.ORIGIN_SIGNING_SECRET), body)).toString("base64");
    const res = await fetch(this.env.ORIGIN_URL, {
      method: "POST",
      redirect: "manual",
      body,
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        "webhook-signature": `v1,${mac}`,
      },
      signal: AbortSignal.timeout(10000),
    });
    if (res.ok) this.sql.exec("UPDATE events SET state = 'delivered', body = NULL WHERE id = ?", id);
  }
}

/** The benchmark's chat id in `text` (`bench-<pid>-<n>`), found without parsing anything. */
function benchChat(text) {
  const at = text.indexOf("bench-");
  if (at < 0) return undefined;
  let end = at + 6;
  while (end < text.length && "0123456789-".includes(text[end])) end++;
  return text.slice(at, end);
}

export default {
  async fetch(request, env) {
    let body = new Uint8Array(await request.arrayBuffer());
    const url = request.url;
    if (body.byteLength === 0) body = encoder.encode(url.slice(url.indexOf("?") + 1));
    hmacSha256(encoder.encode(env.WEBIM_PRIVATE_KEYS), body);
    const id = "evt_" + Buffer.from(sha256(body)).toString("hex").slice(0, 32);
    // The chat's object: the benchmark's chat id sits in the delivery (five events to a chat).
    const chat = benchChat(url) ?? benchChat(Buffer.from(body).toString("latin1")) ?? "none";
    const inserted = await env.OUTBOX.get(env.OUTBOX.idFromName(chat)).store(id, body);
    const [status, outcome] = inserted ? [202, "queued"] : [200, "duplicate"];
    console.log(JSON.stringify({ time: new Date().toISOString(), route: "/webim/chat_started", outcome, id }));
    return Response.json({ status: outcome, id }, { status });
  },
};
