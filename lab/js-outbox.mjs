// The JavaScript reference of webim-edge's outbox mode: what a plain Worker would do to accept a
// Webim delivery durably and deliver it from a SQLite Durable Object per chat. The delivery is
// verified and its event built as lab/js-reference.mjs does (its `accept`, and `send` for the
// Standard Webhooks POST); the event is then stored in its chat's object (INSERT … ON CONFLICT
// DO NOTHING, so an id is stored once) and answered 202 only once stored and an alarm is set;
// the alarm delivers the chat's pending events oldest first, marks each delivered and drops its
// body. A failed attempt leaves the event at the front and sets the alarm again with a backoff,
// so a chat's order holds. Written to be reasonably fast, not complete: no dead events, no
// retention sweep, no admin view, no origin breaker.
import { DurableObject } from "cloudflare:workers";
import { accept, error, send } from "./js-reference.mjs";

const SCHEMA = `CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  body TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  received_at INTEGER NOT NULL,
  delivered_at INTEGER,
  last_status INTEGER
)`;
/** Retry delays after a failed attempt: 1 s doubling, at most an hour. */
const backoff = (attempts) => Math.min(1000 * 2 ** (attempts - 1), 3_600_000);
const log = (line) => console.log(JSON.stringify({ time: new Date().toISOString(), ...line }));

export class JsChatOutbox extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
  }

  /** Stores the event unless its id is here; true when new. Returns once written and an alarm is due. */
  async store(id, type, body) {
    const inserted = this.sql
      .exec("INSERT INTO events (id, type, body, received_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq", id, type, body, Date.now())
      .toArray().length > 0;
    // A retry's later alarm is kept: the new event waits behind the failed one.
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
    return inserted;
  }

  async alarm() {
    for (;;) {
      const [next] = this.sql.exec("SELECT seq, id, type, body, attempts FROM events WHERE state = 'pending' ORDER BY seq LIMIT 1").toArray();
      if (!next) return;
      let status = 0;
      try {
        status = (await send(this.env, next.type, next.id, next.body, { signal: AbortSignal.timeout(10_000) })).status;
      } catch {
        // Unreachable or timed out: status 0.
      }
      log({ route: "outbox", outcome: status >= 200 && status < 300 ? "delivered" : "attempt_failed", id: next.id, event: next.type, origin_status: status, attempt: next.attempts + 1 });
      if (status >= 200 && status < 300) {
        this.sql.exec("UPDATE events SET state = 'delivered', body = NULL, delivered_at = ?, last_status = ?, attempts = attempts + 1 WHERE seq = ?", Date.now(), status, next.seq);
      } else {
        this.sql.exec("UPDATE events SET attempts = attempts + 1, last_status = ? WHERE seq = ?", status, next.seq);
        await this.ctx.storage.setAlarm(Date.now() + backoff(next.attempts + 1));
        return;
      }
    }
  }
}

export default {
  async fetch(request, env) {
    const event = await accept(request, env);
    if (event instanceof Response) return event;
    const { route, type, id, body, parsed } = event;
    const chatId = String(parsed.id);
    let inserted;
    try {
      inserted = await env.OUTBOX.get(env.OUTBOX.idFromName(chatId)).store(id, type, body);
    } catch {
      log({ route, outcome: "storage_unavailable", status: 503, event: type, id, chat_id: chatId });
      return error(503, "storage_unavailable");
    }
    const [status, outcome] = inserted ? [202, "queued"] : [200, "duplicate"];
    // One log line per request, as webim-edge writes (contract §8).
    log({ route, outcome, status, event: type, id, chat_id: chatId, scheme: "hmac-sha256", key_index: 0 });
    return Response.json({ status: outcome, id }, { status });
  },
};
