// contract §11, "Nothing wedges" and "Someone is told", end to end: the built worker in
// Miniflare behind tests/fixtures/faulty-outbox-entry.mjs, which makes the outbox's own storage
// fail, trap the wasm, or refuse the dead index's writes on demand. After each fault the test
// sends nothing more: whatever happens next is the outbox's own doing.
//
// The platform retries a failed alarm about six times, with a backoff from 2 s, then drops it;
// the outbox must not depend on that. A failing run (the one that follows a stored event, or an
// alarm's) therefore resolves, with a wake-up set AFTER_ERROR_MS (30 s) ahead, and the platform
// never has to retry it. Storage failures are injected for FAILED_RUNS runs in a row, 7 by
// default: the request's run, then more alarm runs than the platform would ever retry. Each
// failing run costs the test 30 s (about three and a half minutes in all); `FAILED_RUNS=2`
// shortens it while working on the outbox.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { KEY, delivery, eventId, eventually, sampleChat, startEdge, startOrigin } from "./harness.mjs";

const TOKEN = "admin-token-for-tests-0123456789abcdef";
const AFTER_ERROR_MS = 30_000;
const FAILED_RUNS = Number(process.env.FAILED_RUNS ?? 7);
const bearer = { headers: { authorization: `Bearer ${TOKEN}` } };

let origin;
const edges = [];
let path = 0;
/** How the origin answers on each path; 204 elsewhere. The tests run side by side. */
const answers = new Map();

before(async () => {
  origin = await startOrigin();
  origin.respond = (r) => (answers.get(r.url) ?? (() => ({ status: 204 })))(r);
});
after(async () => {
  for (const e of edges) await e.dispose();
  await origin.close();
});

/** The worker behind the fault-injecting entry, with the outbox, on its own origin path. */
async function faultyEdge(bindings = {}) {
  const route = `/heal${++path}`;
  const e = await startEdge(
    {
      WEBIM_PRIVATE_KEYS: KEY,
      ORIGIN_URL: `${origin.url}${route}`,
      RETRY_BASE_SECONDS: "1",
      ORDER_HOLD_SECONDS: "0",
      ADMIN_TOKEN: TOKEN,
      ...bindings,
    },
    {
      // Also on loopback, for requests that must carry their content-length.
      listen: true,
      worker: {
        scriptPath: "tests/fixtures/faulty-outbox-entry.mjs",
        modulesRoot: ".",
        durableObjects: { OUTBOX: { className: "ChatOutbox", useSQLite: true } },
      },
    },
  );
  e.route = route;
  /** Turns faults on (`fail`, `trap`, `at`, `index`); resolves to what the fixture saw. */
  e.fault = async (query = "") => (await e.send(`/__fault${query}`, { method: query ? "POST" : "GET" })).json;
  edges.push(e);
  return e;
}

const attemptsAt = (route) => origin.received.filter((r) => r.url === route);
const takenAt = (route) => attemptsAt(route).filter((r) => r.status >= 200 && r.status < 300);
const chatOf = (id, n = 0) => sampleChat({ id, operator: { id: n, name: "Оператор" } });
const outcomes = (e, outcome) => e.logs.filter((l) => l.includes(`"outcome":"${outcome}"`)).length;

/** `chat`'s signed delivery as a form body of declared length, over HTTP. */
async function declared(e, chat) {
  const { init } = delivery(chat);
  const res = await fetch(`${e.url}/webim/chat_started`, init);
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

/** `chat`'s signed delivery as a form body of undeclared length (no content-length). */
function chunked(e, chat) {
  const { init } = delivery(chat);
  const bytes = new TextEncoder().encode(init.body);
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.subarray(0, 100));
      controller.enqueue(bytes.subarray(100));
      controller.close();
    },
  });
  return e.send("/webim/chat_started", { ...init, body, duplex: "half" });
}

// Each test runs its own worker and mostly waits for the outbox's 30 s wake-ups: they run side by side.
describe("the outbox left alone", { concurrency: true }, () => {
  // A store reaches the chat's object by one of two ways: without awaiting in the wasm (a body
  // of declared length, or none), or through the general handler (a body of undeclared length).
  describe("a store the object cannot write (contract §11)", { concurrency: true }, () => {
    const ways = {
      "a form body of declared length": declared,
      "the query string": (e, chat) => e.deliver("chat_started", chat, { form: false }),
      "a body of undeclared length": chunked,
    };
    for (const [way, send] of Object.entries(ways)) {
      test(`is answered 503 storage_unavailable (${way}) and reaches nobody; Webim's retry is stored and delivered once`, async () => {
        const e = await faultyEdge();
        await e.fault("?store=1");
        const chat = chatOf(7100);
        const refused = await send(e, chat);
        assert.equal(refused.status, 503, refused.text);
        assert.equal(refused.json?.error?.code, "storage_unavailable", refused.text);
        const retried = await send(e, chat);
        assert.deepEqual([retried.status, retried.json?.status], [202, "queued"], retried.text);
        assert.equal(retried.json.id, eventId("chat_started", chat));
        await eventually(() => takenAt(e.route).length === 1, 10_000, "the retry's delivery");
        assert.deepEqual([(await send(e, chat)).json?.status], ["duplicate"]);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(attemptsAt(e.route).length, 1, "one attempt, for the retry");
        assert.equal(JSON.parse(takenAt(e.route)[0].body).id, retried.json.id);
      });
    }
  });

  describe("a store whose wake-up cannot be written (contract §11)", { concurrency: true }, () => {
    /** A store with its wake-up's write refused: answered 503, and nothing reaches the origin. */
    async function refused(e, chat) {
      await e.fault("?alarm=1");
      const answer = await e.deliver("chat_started", chat, { form: false });
      assert.equal(answer.status, 503, answer.text);
      assert.equal(answer.json?.error?.code, "storage_unavailable", answer.text);
      assert.equal(attemptsAt(e.route).length, 0, "nothing reached the origin");
    }

    test("is answered 503, not 202; Webim's retry finds the event stored and it is delivered once", async () => {
      const e = await faultyEdge();
      const chat = chatOf(7200);
      await refused(e, chat);
      const retried = await e.deliver("chat_started", chat, { form: false });
      assert.deepEqual([retried.status, retried.json?.status], [200, "duplicate"], retried.text);
      await eventually(() => takenAt(e.route).length === 1, 10_000, "the delivery after the retry");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(attemptsAt(e.route).length, 1, "one attempt");
    });

    test("without a retry, the wake-up the module entry set instead delivers the event", { timeout: 2 * AFTER_ERROR_MS }, async () => {
      const e = await faultyEdge();
      const chat = chatOf(7201);
      await refused(e, chat);
      const [got] = await eventually(() => takenAt(e.route).length === 1 && takenAt(e.route), AFTER_ERROR_MS + 15_000, "the delivery by the wake-up");
      assert.equal(JSON.parse(got.body).id, eventId("chat_started", chat));
    });
  });


  describe("nothing wedges (contract §11)", { concurrency: true }, () => {
    test(`an event whose storage fails for ${FAILED_RUNS} runs in a row (its request's, then the alarm's) is delivered later, with no new traffic and no platform retry`, { timeout: (FAILED_RUNS + 2) * AFTER_ERROR_MS }, async () => {
      const e = await faultyEdge();
      await e.fault(`?fail=${FAILED_RUNS}`);
      const chat = chatOf(7001);
      const sent = Date.now();
      const stored = await e.deliver("chat_started", chat);
      assert.deepEqual([stored.status, stored.json.status], [202, "queued"], "the store itself is not faulted");
      // Nothing is sent from here on.
      const [got] = await eventually(() => takenAt(e.route).length === 1 && takenAt(e.route), (FAILED_RUNS + 1) * AFTER_ERROR_MS + 10_000, "the delivery after the faults");
      assert.equal(got.headers["webhook-id"], eventId("chat_started", chat));
      assert.equal(attemptsAt(e.route).length, 1, "no attempt while the storage failed");
      assert.ok(Date.now() - sent >= FAILED_RUNS * AFTER_ERROR_MS - 1000, "each failing run waited for its wake-up");
      const { seen } = await e.fault();
      const failed = seen.runs.filter((a) => a.fail);
      assert.equal(failed.length, FAILED_RUNS);
      assert.deepEqual(failed.map((a) => a.kind), ["request", ...Array(FAILED_RUNS - 1).fill("alarm")], "the request's run failed first, then the alarm's");
      for (const run of failed) {
        assert.equal(run.outcome, "resolved", "a failing run never rejects: the platform is not asked to retry it");
        assert.ok(run.wakeInMs > AFTER_ERROR_MS - 5000 && run.wakeInMs <= AFTER_ERROR_MS, `a wake-up is set ${AFTER_ERROR_MS} ms ahead: ${run.wakeInMs}`);
      }
      assert.deepEqual(seen.runs.filter((a) => a.retry), [], "the platform never retried an alarm");
      assert.equal(outcomes(e, "alarm_failed"), FAILED_RUNS);
      const view = await e.send("/admin/chats/7001", bearer);
      assert.deepEqual(view.json.events.map((v) => [v.state, v.attempts]), [["delivered", 1]]);
    });

    for (const [at, how] of [
      ["exec", "inside sql.exec, a call the wasm catches as an error"],
      // This trap unwinds the wasm's future from inside a microtask of wasm-bindgen's executor,
      // not through the run's call: the entry hears of it as an unhandled rejection.
      ["sql", "reading storage.sql, a call the trap unwinds the wasm through"],
    ]) {
      test(`a real wasm trap in the request's run and then in the alarm's (${how}): the event is delivered with no new traffic, and an object in memory still answers`, { timeout: 4 * AFTER_ERROR_MS }, async () => {
        const e = await faultyEdge();
        // An object in memory, its wasm side built, before the trap.
        await e.deliver("chat_started", chatOf(7100));
        await eventually(() => takenAt(e.route).length === 1, 5000, "the first chat's delivery");
        assert.equal((await e.send("/admin/chats/7100", bearer)).status, 200);
        await e.fault(`?trap=2&at=${at}`);
        const chat = chatOf(7101);
        const sent = Date.now();
        const stored = await e.deliver("chat_started", chat);
        // Stored either way. A trap that replaces the instance (sql) also ends the storing
        // request if it is still waiting on that instance (here the worker and the object share
        // one isolate), as any call in flight on it ends (edge.test.mjs); Webim would retry it
        // and be answered `duplicate`. This test sends nothing more.
        if (at === "exec" || stored.status < 500) assert.equal(stored.status, 202, stored.text);
        await eventually(async () => (await e.fault()).seen.runs.some((a) => a.trap), 5000, "the trapping run after the store");
        // The object already in memory answers after the trap.
        const view = await e.send("/admin/chats/7100", bearer);
        assert.equal(view.status, 200, view.text);
        assert.deepEqual(view.json.events.map((v) => v.state), ["delivered"]);
        // Nothing is sent from here on.
        const got = await eventually(() => takenAt(e.route).length === 2 && takenAt(e.route), 3 * AFTER_ERROR_MS, "the delivery after the traps");
        assert.equal(got[1].headers["webhook-id"], eventId("chat_started", chat));
        assert.ok(Date.now() - sent >= 2 * AFTER_ERROR_MS - 1000, "each trapping run left a wake-up for later");
        const { seen } = await e.fault();
        const trapped = seen.runs.filter((a) => a.trap);
        assert.deepEqual(trapped.map((a) => a.kind), ["request", "alarm"]);
        for (const run of trapped) {
          assert.equal(run.outcome, "resolved", "a trapping run never rejects");
          assert.ok(run.wakeInMs > AFTER_ERROR_MS - 5000 && run.wakeInMs <= AFTER_ERROR_MS, `a wake-up is set ${AFTER_ERROR_MS} ms ahead: ${run.wakeInMs}`);
        }
        assert.deepEqual(seen.runs.filter((a) => a.retry), [], "the platform never retried an alarm");
        // Caught by the wasm as an error (exec), or recovered from by replacing the instance (sql).
        const [failed, reinitialized] = at === "exec" ? [2, 0] : [0, 2];
        assert.equal(outcomes(e, "alarm_failed"), failed, e.logs.join("\n"));
        assert.equal(outcomes(e, "wasm_reinitialized"), reinitialized, e.logs.join("\n"));
        // Deliveries go on.
        await e.deliver("chat_started", chatOf(7102));
        await eventually(() => takenAt(e.route).length === 3, 5000, "a delivery after the trap");
      });
    }
  });

  describe("each death told exactly once (contract §11)", { concurrency: true }, () => {
    test("an alert endpoint that fails is tried again later, and once it took the alert it is never sent again", { timeout: 3 * AFTER_ERROR_MS }, async () => {
      const alerts = "/alerts-7201";
      const e = await faultyEdge({ MAX_ATTEMPTS: "1", ALERT_URL: `${origin.url}${alerts}` });
      answers.set(e.route, () => ({ status: 500 }));
      let calls = 0;
      answers.set(alerts, () => ({ status: ++calls === 1 ? 500 : 200 }));
      const chat = chatOf(7201);
      const id = eventId("chat_started", chat);
      assert.equal((await e.deliver("chat_started", chat)).status, 202);
      // Nothing is sent from here on.
      const tried = await eventually(() => attemptsAt(alerts).length >= 2 && attemptsAt(alerts), 2 * AFTER_ERROR_MS, "the alert's second try");
      assert.ok(tried[1].at - tried[0].at >= AFTER_ERROR_MS - 1000, `the second try waited for the notice's backoff: ${tried[1].at - tried[0].at} ms`);
      await new Promise((r) => setTimeout(r, 5000));
      const posted = attemptsAt(alerts);
      assert.deepEqual(posted.map((r) => r.status), [500, 200], "one try failed, one took it, none after");
      for (const r of posted) assert.equal(JSON.parse(r.body).event.id, id);
      assert.equal(outcomes(e, "alert_failed"), 1);
      assert.equal(outcomes(e, "alerted"), 1);
      const dead = await e.send("/admin/dead", bearer);
      assert.deepEqual(dead.json.dead.map((d) => d.id), [id], "listed once, at the first try");
    });

    test("a dead index that refuses the entry gets it later, and the alert is not sent again", { timeout: 3 * AFTER_ERROR_MS }, async () => {
      const alerts = "/alerts-7301";
      const e = await faultyEdge({ MAX_ATTEMPTS: "1", ALERT_URL: `${origin.url}${alerts}` });
      answers.set(e.route, () => ({ status: 500 }));
      await e.fault("?index=1");
      const chat = chatOf(7301);
      const id = eventId("chat_started", chat);
      assert.equal((await e.deliver("chat_started", chat)).status, 202);
      // Nothing but reads is sent from here on.
      await eventually(() => attemptsAt(alerts).length === 1, 5000, "the alert");
      const died = Date.now();
      assert.equal((await e.fault()).seen.indexRefused, 1, "the index refused the entry");
      assert.equal((await e.send("/admin/dead", bearer)).json.total, 0, "not listed while the index refuses it");
      const listed = await eventually(async () => {
        const r = await e.send("/admin/dead", bearer);
        return r.json.total === 1 && r.json.dead[0];
      }, 2 * AFTER_ERROR_MS, "the dead event to be listed");
      assert.ok(Date.now() - died >= AFTER_ERROR_MS - 2000, "listed at the notice's retry");
      assert.deepEqual({ id: listed.id, chat_id: listed.chat_id, attempts: listed.attempts, last_status: listed.last_status }, { id, chat_id: "7301", attempts: 1, last_status: "500" });
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(attemptsAt(alerts).length, 1, "the alert went once, not again with the index's retry");
      assert.equal(outcomes(e, "alerted"), 1);
    });
  });
});
