// End-to-end tests of the outbox (SPEC §11) and the admin API (§12): the built worker in
// Miniflare with its ChatOutbox Durable Objects (SQLite), in front of a real local origin that
// can be told to fail.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { KEY, SIGNING_SECRET, eventId, eventually, sampleChat, startEdge, startOrigin } from "./harness.mjs";

const TOKEN = "admin-token-for-tests";
const OUTBOX = { durableObjects: { OUTBOX: { className: "ChatOutbox", useSQLite: true } } };
const bearer = (token = TOKEN) => ({ headers: { authorization: `Bearer ${token}` } });

let origin;
const edges = [];
let path = 0;

/** An edge with the outbox, delivering to its own path on the shared origin. */
async function outboxEdge(bindings = {}, worker = {}) {
  const route = `/o${++path}`;
  const e = await startEdge(
    {
      WEBIM_PRIVATE_KEYS: KEY,
      ORIGIN_URL: `${origin.url}${route}`,
      ORIGIN_SIGNING_SECRET: SIGNING_SECRET,
      RETRY_BASE_SECONDS: "1",
      ADMIN_TOKEN: TOKEN,
      ...bindings,
    },
    { worker: { ...OUTBOX, ...worker } },
  );
  e.route = route;
  edges.push(e);
  return e;
}

/** What the origin took (2xx) on `route`, as { type, id, chat } in arrival order. */
const taken = (route) =>
  origin.received
    .filter((r) => r.url === route && r.status >= 200 && r.status < 300)
    .map((r) => ({ ...JSON.parse(r.body), webhookId: r.headers["webhook-id"], headers: r.headers }));
const attemptsAt = (route) => origin.received.filter((r) => r.url === route);

/** A chat's event: distinct chat bytes per (chat, type, n). */
const chatOf = (chatId, n = 0) => sampleChat({ id: chatId, operator: { id: n, name: "Оператор" } });

before(async () => {
  origin = await startOrigin();
});
after(async () => {
  for (const e of edges) await e.dispose();
  await origin.close();
});

describe("outbox", () => {
  test("an accepted event is answered 202 queued and reaches the origin signed, once", async () => {
    const e = await outboxEdge();
    const chat = chatOf(1001);
    const res = await e.deliver("chat_started", chat);
    assert.equal(res.status, 202);
    assert.deepEqual(res.json, { status: "queued", id: eventId("chat_started", chat) });
    const [got] = await eventually(() => taken(e.route).length === 1 && taken(e.route), 5000, "delivery");
    assert.equal(got.id, eventId("chat_started", chat));
    assert.equal(got.webhookId, got.id);
    const raw = origin.received.find((r) => r.url === e.route);
    new Webhook(SIGNING_SECRET).verify(raw.body, raw.headers);
    const again = await e.deliver("chat_started", chat);
    assert.deepEqual([again.status, again.json.status], [200, "duplicate"]);
  });
});
