// End-to-end tests of durable delivery (contract §6, §7 queued): Miniflare's real queues, its
// dead-letter queue and KV, in front of a real local origin that can be told to fail.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { KEY, SIGNING_SECRET, eventId, eventually, sampleChat, startEdge, startOrigin } from "./harness.mjs";

const MAX_RETRIES = 3;
const RETRY_BASE_SECONDS = 1;

/** A JS worker that drains the dead-letter queue into the origin's /dlq, for inspection. */
const dlqRecorder = (originUrl) => ({
  name: "dlq-recorder",
  modules: true,
  script: `export default {
    async queue(batch) {
      for (const message of batch.messages) {
        await fetch(${JSON.stringify(originUrl + "/dlq")}, { method: "POST", body: message.body });
        message.ack();
      }
    },
  };`,
  queueConsumers: ["webim-events-dlq"],
});

let origin;
const edges = [];

/** An edge in queued mode (with dedup unless `dedup` is false). */
async function queuedEdge({ dedup = true, bindings = {}, maxRetries } = {}) {
  const e = await startEdge(
    { WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/events`, ORIGIN_SIGNING_SECRET: SIGNING_SECRET, RETRY_BASE_SECONDS: String(RETRY_BASE_SECONDS), ...bindings },
    {
      worker: {
        queueProducers: { EVENTS: { queueName: "webim-events" } },
        queueConsumers: { "webim-events": { maxBatchSize: 10, maxBatchTimeout: 0.2, maxRetries: maxRetries ?? MAX_RETRIES, deadLetterQueue: "webim-events-dlq" } },
        ...(dedup ? { kvNamespaces: ["DEDUP"] } : {}),
      },
      workers: [dlqRecorder(origin.url)],
    },
  );
  edges.push(e);
  return e;
}

const deliveriesOf = (id) => origin.received.filter((r) => r.url === "/events" && r.headers["webhook-id"] === id);
const dlqIds = () => origin.received.filter((r) => r.url === "/dlq").map((r) => JSON.parse(r.body).id);

before(async () => { origin = await startOrigin(); });
after(async () => {
  for (const e of edges) await e.dispose();
  await origin.close();
});

describe("queued delivery", () => {
  let e;
  before(async () => { e = await queuedEdge(); });
  after(() => { origin.respond = () => ({ status: 204 }); });

  test("a verified event is answered 202 queued and reaches the origin as the same signed event", async () => {
    const chat = sampleChat({ id: "queued-1" });
    const id = eventId("chat_assigned", chat);
    const r = await e.deliver("chat_assigned", chat);
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json, { status: "queued", id });
    const [got] = await eventually(() => deliveriesOf(id).length && deliveriesOf(id), 15_000, "the queued event");
    assert.equal(got.headers["x-webim-event"], "chat_assigned");
    assert.equal(got.headers["content-type"], "application/json");
    assert.equal(new Webhook(SIGNING_SECRET).verify(got.body, got.headers).id, id);
    const event = JSON.parse(got.body);
    assert.equal(event.type, "chat_assigned");
    assert.equal(event.id, id);
    assert.equal(event.signature_scheme, "hmac-sha256");
    assert.equal(event.chat.start_page.url, "https://crm.example.com/x");
    assert.equal(event.chat.created_at, "2019-07-05T16:28:20Z");
    assert.equal(event.chat.messages[0].message, "Здравствуйте! 👋 Мой логин https://shop.example.ru/cart");
  });

  test("the same Webim call twice is delivered once; the second answer is duplicate", async () => {
    const chat = sampleChat({ id: "twice" });
    const id = eventId("chat_started", chat);
    assert.equal((await e.deliver("chat_started", chat)).status, 202);
    const second = await e.deliver("chat_started", chat, { form: false });
    assert.equal(second.status, 200);
    assert.deepEqual(second.json, { status: "duplicate", id });
    await eventually(() => deliveriesOf(id).length === 1, 15_000, "the first delivery");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(deliveriesOf(id).length, 1);
  });

  test("an origin failing the first two attempts gets the event on the third, after growing delays", async () => {
    const chat = sampleChat({ id: "flaky" });
    const id = eventId("chat_closed", chat);
    origin.respond = (r) => (r.headers["webhook-id"] === id && deliveriesOf(id).length <= 2 ? { status: 503 } : { status: 204 });
    assert.equal((await e.deliver("chat_closed", chat)).status, 202);
    await eventually(() => deliveriesOf(id).length === 3, 30_000, "three attempts");
    const [a, b, c] = deliveriesOf(id).map((r) => r.at);
    assert.ok(c - b > b - a, `gaps ${b - a} ms then ${c - b} ms`);
    // Each attempt is freshly timestamped and signed; the id never changes.
    for (const r of deliveriesOf(id)) assert.equal(new Webhook(SIGNING_SECRET).verify(r.body, r.headers).id, id);
    const lines = await e.logLines(3, 5000, (l) => l.route === "queue" && l.id === id);
    assert.deepEqual(lines.map((l) => [l.attempt, l.outcome, l.retry_in_s ?? null]), [
      [1, "origin_unavailable", RETRY_BASE_SECONDS],
      [2, "origin_unavailable", RETRY_BASE_SECONDS * 2],
      [3, "delivered", null],
    ]);
  });

  test("an origin answering 429 with Retry-After: the next attempt waits that long, not the backoff", async () => {
    const chat = sampleChat({ id: "throttled" });
    const id = eventId("chat_started", chat);
    origin.respond = (r) => (r.headers["webhook-id"] === id && deliveriesOf(id).length === 1 ? { status: 429, headers: { "retry-after": "3" } } : { status: 204 });
    assert.equal((await e.deliver("chat_started", chat)).status, 202);
    await eventually(() => deliveriesOf(id).length === 2, 20_000, "the attempt after Retry-After");
    const [a, b] = deliveriesOf(id).map((r) => r.at);
    assert.ok(b - a >= 2500, `second attempt after ${b - a} ms`);
    const lines = await e.logLines(2, 5000, (l) => l.route === "queue" && l.id === id);
    assert.deepEqual(lines.map((l) => [l.attempt, l.outcome, l.origin_status ?? null, l.retry_in_s ?? null]), [
      [1, "origin_unavailable", 429, 3],
      [2, "delivered", 204, null],
    ]);
  });

  test("an origin that always fails: the event ends in the dead-letter queue after max_retries", async () => {
    const chat = sampleChat({ id: "doomed" });
    const id = eventId("chat_started", chat);
    origin.respond = (r) => (r.headers["webhook-id"] === id ? { status: 422 } : { status: 204 });
    assert.equal((await e.deliver("chat_started", chat)).status, 202);
    await eventually(() => dlqIds().includes(id), 40_000, "the dead-letter queue");
    assert.equal(deliveriesOf(id).length, MAX_RETRIES + 1);
    const lines = await e.logLines(MAX_RETRIES + 1, 5000, (l) => l.route === "queue" && l.id === id);
    assert.equal(lines.length, MAX_RETRIES + 1);
    assert.ok(lines.every((l) => l.outcome === "origin_rejected" && l.origin_status === 422));
  });

  test("an event too large for a queue message is delivered directly", async () => {
    const chat = sampleChat({ id: "huge", pad: "ж".repeat(70_000) });
    const id = eventId("chat_started", chat);
    const r = await e.deliver("chat_started", chat);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { status: "forwarded", id });
    assert.equal(deliveriesOf(id).length, 1);
    const [line] = await e.logLines(1, 2000, (l) => l.id === id && l.route === "/webim/chat_started");
    assert.equal(line.fallback, "too_large");
  });
});

describe("deduplication in direct mode", () => {
  test("ids are recorded only after a successful forward", async () => {
    const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/events` }, { worker: { kvNamespaces: ["DEDUP"] } });
    edges.push(e);
    const chat = sampleChat({ id: "direct-dedup" });
    const id = eventId("chat_started", chat);
    origin.respond = () => ({ status: 500 });
    assert.equal((await e.deliver("chat_started", chat)).status, 502);
    origin.respond = () => ({ status: 204 });
    assert.deepEqual((await e.deliver("chat_started", chat)).json, { status: "forwarded", id });
    assert.deepEqual((await e.deliver("chat_started", chat)).json, { status: "duplicate", id });
    assert.equal(deliveriesOf(id).length, 2);
  });
});

describe("burst while the origin fails about a third of requests at random", () => {
  test("every id is delivered, none lost", async (t) => {
    const e = await queuedEdge({ dedup: false, maxRetries: 10 });
    const TOTAL = 240;
    // A third of requests fail at random, but one event at most 4 times in a row, so the
    // backoff (1 + 2 + 4 + 8 s) keeps the test within a minute.
    const streak = new Map();
    origin.respond = (r) => {
      const id = r.headers["webhook-id"];
      const fail = r.url === "/events" && (streak.get(id) ?? 0) < 4 && Math.random() < 1 / 3;
      streak.set(id, fail ? (streak.get(id) ?? 0) + 1 : 0);
      return { status: fail ? 503 : 204 };
    };
    const ids = [];
    const started = Date.now();
    for (let i = 0; i < TOTAL; i += 20) {
      const batch = Array.from({ length: 20 }, (_, j) => sampleChat({ id: `burst-${i + j}` }));
      const answers = await Promise.all(batch.map((chat) => e.deliver("chat_assigned", chat)));
      for (const [j, r] of answers.entries()) {
        assert.equal(r.status, 202, r.text);
        ids.push(eventId("chat_assigned", batch[j]));
      }
    }
    const delivered = () => new Set(origin.received.filter((r) => r.url === "/events" && r.status < 300).map((r) => r.headers["webhook-id"]));
    await eventually(() => ids.every((id) => delivered().has(id)), 120_000, "every burst id");
    const attempts = origin.received.filter((r) => ids.includes(r.headers["webhook-id"]));
    const accepted = attempts.filter((r) => r.status < 300);
    const perId = new Map();
    for (const r of accepted) perId.set(r.headers["webhook-id"], (perId.get(r.headers["webhook-id"]) ?? 0) + 1);
    const duplicated = [...perId.values()].filter((n) => n > 1).length;
    const lost = ids.filter((id) => !perId.has(id)).length;
    const figures = `burst: ${TOTAL} sent, ${perId.size} delivered, ${lost} lost, ${duplicated} delivered more than once; ` +
      `${attempts.length} attempts (${attempts.length - accepted.length} failed by the origin) in ${((Date.now() - started) / 1000).toFixed(1)} s`;
    t.diagnostic(figures);
    console.log(figures);
    assert.equal(lost, 0);
    assert.equal(perId.size, TOTAL);
    origin.respond = () => ({ status: 204 });
  });
});

describe("a consumer whose settings are broken", () => {
  test("backs off as for an origin failure instead of burning the retries at once", async () => {
    // The producer side is healthy enough to enqueue; the consumer then finds ORIGIN_URL invalid.
    const e = await queuedEdge({ dedup: false, bindings: { ORIGIN_URL: "not a url" }, maxRetries: 5 });
    const producer = await e.mf.getQueueProducer("EVENTS");
    const chat = sampleChat({ id: "while-misconfigured" });
    const body = new TextEncoder().encode(JSON.stringify({ type: "chat_started", id: eventId("chat_started", chat), chat: JSON.parse(chat) }));
    await producer.send(body, { contentType: "v8" });
    const [first] = await e.logLines(1, 10_000, (l) => l.route === "queue");
    assert.ok(first, "the first attempt is logged");
    assert.equal(first.outcome, "misconfigured");
    assert.equal(first.attempt, 1);
    assert.equal(first.retry_in_s, 5);
    assert.deepEqual(first.problems, ["ORIGIN_URL"]);
    // Retried without delay, the second attempt would follow within a second or two.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await e.logLines(1, 2000, (l) => l.route === "queue")).length, 1);
    assert.deepEqual(dlqIds().filter((id) => id === eventId("chat_started", chat)), []);
  });
});
