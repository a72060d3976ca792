// Origin outages (contract §11, "Origin outages"; §12 /admin/origins and POST /admin/replay),
// end to end: the built worker in Miniflare with the outbox, a real local origin that is
// switched off and on, and a local alert receiver.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { KEY, eventId, eventually, sampleChat, startEdge, startOrigin } from "./harness.mjs";

const TOKEN = "outage-admin-token-0123456789abcdef";
const OUTBOX = { durableObjects: { OUTBOX: { className: "ChatOutbox", useSQLite: true } } };
const bearer = { headers: { authorization: `Bearer ${TOKEN}` } };

let origin;
let alerts;
const edges = [];
before(async () => {
  origin = await startOrigin();
  alerts = await startOrigin();
});
after(async () => {
  for (const e of edges) await e.dispose();
  await origin.close();
  await alerts.close();
});

let path = 0;
async function edge(bindings = {}) {
  const route = `/outage${++path}`;
  const e = await startEdge(
    {
      WEBIM_PRIVATE_KEYS: KEY,
      ORIGIN_URL: `${origin.url}${route}`,
      ALERT_URL: `${alerts.url}${route}`,
      RETRY_BASE_SECONDS: "1",
      MAX_ATTEMPTS: "3",
      ORDER_HOLD_SECONDS: "5",
      ORIGIN_DOWN_AFTER: "3",
      ORIGIN_PROBE_SECONDS: "2",
      ADMIN_TOKEN: TOKEN,
      ...bindings,
    },
    { worker: OUTBOX },
  );
  edges.push(e);
  return { e, route };
}

const TYPES = ["chat_started", "chat_assigned", "chat_closed"];
const chatOf = (id, type) => sampleChat({ id, operator: { id: TYPES.indexOf(type), name: "Оператор" } });
const bodies = (route) => origin.received.filter((r) => r.url === route);
const delivered = (route) =>
  bodies(route)
    .filter((r) => r.status >= 200 && r.status < 300)
    .map((r) => JSON.parse(r.body));

describe("an outage of the origin", () => {
  test("50 chats of 3 events through a 20 s outage: none dead, lost or doubled, each chat in order, the origin left alone, told once each way", async () => {
    const { e, route } = await edge();
    let up = false;
    const outage = [];
    origin.respond = (r) => {
      if (r.url !== route) return { status: 204 };
      if (!up) outage.push(r.at);
      return { status: up ? 204 : 503 };
    };
    const CHATS = 50;
    const started = Date.now();
    const sends = [];
    for (let c = 0; c < CHATS; c++) for (const type of TYPES) sends.push(e.deliver(type, chatOf(`out-${c}`, type)));
    for (const r of await Promise.all(sends)) assert.equal(r.status, 202, r.text);
    await new Promise((r) => setTimeout(r, 20_000 - (Date.now() - started)));
    const origins = await e.send("/admin/origins", bearer);
    assert.equal(origins.json.origins[0].name, "ORIGIN_URL");
    assert.equal(origins.json.origins[0].state, "down", origins.text);
    assert.ok(origins.json.origins[0].waiting > 0, origins.text);
    up = true;
    const back = Date.now();
    await eventually(() => delivered(route).length >= CHATS * 3, 60_000, "every event delivered");
    const drainMs = Date.now() - back;
    await new Promise((r) => setTimeout(r, 1500));

    const got = delivered(route);
    assert.equal(got.length, CHATS * 3, "none doubled");
    assert.equal(new Set(got.map((g) => g.id)).size, CHATS * 3, "none lost");
    for (let c = 0; c < CHATS; c++) {
      const order = got.filter((g) => g.chat.id === `out-${c}`).map((g) => g.type);
      assert.deepEqual(order, TYPES, `chat out-${c} in order`);
    }
    const dead = await e.send("/admin/dead", bearer);
    assert.equal(dead.json.total, 0, dead.text);

    // During the outage: after the first failures the origin saw only probes.
    const firstDown = outage.length ? outage[0] : started;
    const intervals = Math.ceil((back - firstDown) / 2000);
    const settled = outage.filter((at) => at > firstDown + 4000).length;
    const settledIntervals = Math.max(1, Math.ceil((back - firstDown - 4000) / 2000));
    console.log(`# outage: ${outage.length} requests in ${((back - firstDown) / 1000).toFixed(1)} s (${intervals} probe intervals), ${settled} after the first 4 s (${(settled / settledIntervals).toFixed(1)} per interval); drained ${CHATS * 3} events in ${(drainMs / 1000).toFixed(1)} s`);
    assert.ok(settled / settledIntervals <= 3, `at most a handful of requests a probe interval: ${settled} in ${settledIntervals}`);

    const notices = () => alerts.received.filter((r) => r.url === route).map((r) => JSON.parse(r.body));
    await eventually(() => notices().some((n) => n.origin?.state === "up"), 10_000, "the up notice");
    const told = notices().filter((n) => n.origin);
    assert.deepEqual(told.map((n) => n.origin.state), ["down", "up"], JSON.stringify(told));
    for (const n of told) {
      assert.equal(n.origin.name, "ORIGIN_URL");
      assert.ok(!n.text.includes("http") && !n.text.includes(origin.url), n.text);
    }
    assert.equal(notices().filter((n) => n.event).length, 0, "no event died, so no death was announced");
  });

  test("a poison event answered 4xx in one chat never marks the origin down; other chats keep flowing", async () => {
    const { e, route } = await edge({ MAX_ATTEMPTS: "4", ORIGIN_DOWN_AFTER: "2" });
    const poison = eventId("chat_started", chatOf("poison", "chat_started"));
    origin.respond = (r) => (r.url === route && r.headers["webhook-id"] === poison ? { status: 422 } : { status: 204 });
    assert.equal((await e.deliver("chat_started", chatOf("poison", "chat_started"))).status, 202);
    await eventually(() => bodies(route).filter((r) => r.headers["webhook-id"] === poison).length >= 3, 15_000, "the poison retried");
    for (let c = 0; c < 5; c++) assert.equal((await e.deliver("chat_started", chatOf(`fine-${c}`, "chat_started"))).status, 202);
    await eventually(() => delivered(route).length >= 5, 10_000, "the other chats");
    const origins = await e.send("/admin/origins", bearer);
    assert.equal(origins.json.origins[0].state, "up", origins.text);
  });

  test("with an origin per event type, one down does not stop the other", async () => {
    const closed = `/closed${++path}`;
    const { e, route } = await edge({ ORIGIN_URL_CHAT_CLOSED: `${origin.url}${closed}`, ORDER_HOLD_SECONDS: "0" });
    origin.respond = (r) => (r.url === closed ? { status: 503 } : { status: 204 });
    for (let c = 0; c < 4; c++) {
      assert.equal((await e.deliver("chat_closed", chatOf(`two-${c}`, "chat_closed"))).status, 202);
    }
    await eventually(async () => {
      const o = await e.send("/admin/origins", bearer);
      return o.json.origins.find((x) => x.name === "ORIGIN_URL_CHAT_CLOSED")?.state === "down";
    }, 15_000, "ORIGIN_URL_CHAT_CLOSED down");
    for (let c = 0; c < 4; c++) {
      assert.equal((await e.deliver("chat_started", chatOf(`other-${c}`, "chat_started"))).status, 202);
    }
    await eventually(() => delivered(route).length >= 4, 10_000, "chat_started still delivered");
    const o = await e.send("/admin/origins", bearer);
    assert.deepEqual(o.json.origins.map((x) => [x.name, x.state]), [["ORIGIN_URL", "up"], ["ORIGIN_URL_CHAT_CLOSED", "down"]]);
    origin.respond = () => ({ status: 204 });
    await eventually(() => delivered(closed).length >= 4, 20_000, "chat_closed delivered once back");
  });
});

describe("bulk replay", () => {
  test("replays what each filter matches, once", async () => {
    const { e, route } = await edge({ MAX_ATTEMPTS: "1", ORIGIN_DOWN_AFTER: "1000", ORDER_HOLD_SECONDS: "0" });
    origin.respond = (r) => (r.url === route ? { status: 500 } : { status: 204 });
    const sent = [];
    for (let c = 0; c < 3; c++) {
      for (const type of ["chat_started", "chat_closed"]) {
        const chat = chatOf(`bulk-${c}`, type);
        sent.push({ c, type, id: eventId(type, chat) });
        assert.equal((await e.deliver(type, chat)).status, 202);
      }
    }
    await eventually(async () => (await e.send("/admin/dead", bearer)).json.total === 6, 15_000, "six dead");
    const count = async (query) => (await e.send(`/admin/dead?${query}`, bearer)).json.total;
    assert.equal(await count("type=chat_closed"), 3);
    assert.equal(await count("chat_id=bulk-1"), 2);
    assert.equal(await count(`since=${new Date(Date.now() + 60_000).toISOString()}`), 0);
    assert.equal(await count(`until=${new Date(Date.now() + 60_000).toISOString()}`), 6);
    assert.equal((await e.send("/admin/dead?since=yesterday", bearer)).json.error.code, "bad_filter");

    const replay = (filter) => e.send("/admin/replay", { method: "POST", ...bearer, body: JSON.stringify(filter) });
    origin.respond = () => ({ status: 204 });
    let r = await replay({ type: "chat_closed", chat_id: "bulk-0" });
    assert.deepEqual(r.json, { replayed: 1, remaining: 0 });
    r = await replay({ type: "chat_closed", chat_id: "bulk-0" });
    assert.deepEqual(r.json, { replayed: 0, remaining: 0 }, "the same call again replays nothing");
    r = await replay({ since: new Date(Date.now() - 3_600_000).toISOString(), until: new Date().toISOString(), chat_id: "bulk-1" });
    assert.deepEqual(r.json, { replayed: 2, remaining: 0 });
    r = await replay({});
    assert.deepEqual(r.json, { replayed: 3, remaining: 0 });
    assert.deepEqual((await replay({})).json, { replayed: 0, remaining: 0 });
    assert.equal((await replay({ type: "chat_other" })).status, 400);
    await eventually(() => new Set(delivered(route).map((g) => g.id)).size === 6, 15_000, "every replayed event delivered");
    assert.equal(delivered(route).length, 6, "each once");
    const status = await e.send("/admin/status", bearer);
    assert.deepEqual(status.json, { version: status.json.version, mode: "outbox", dead: 0, origins_down: 0, waiting: 0 });
  });
});
