// End-to-end tests of the built webim-edge worker (contract §2–§5, §7 direct delivery, §8, §9),
// in Miniflare, in front of a real local origin.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { KEY, OLD_KEY, SIGNING_SECRET, VERSION, crcHex, delivery, eventId, eventually, hmacHex, sampleChat, startEdge, startOrigin } from "./harness.mjs";

const TYPES = ["chat_started", "chat_assigned", "chat_closed"];
const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** Everything any edge answered or logged, scanned for leaks at the end. */
const seen = { responses: [], logs: [] };
const edges = [];
let origin;

async function edge(bindings) {
  const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/events`, ...bindings });
  const send = e.send;
  e.send = async (...args) => {
    const r = await send(...args);
    seen.responses.push(r.text, JSON.stringify([...r.headers]));
    return r;
  };
  edges.push(e);
  return e;
}

function assertError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get("content-type"), /^application\/json/);
  assert.equal(r.json?.error?.code, code, r.text);
  assert.equal(typeof r.json.error.message, "string");
}

before(async () => {
  origin = await startOrigin();
});

after(async () => {
  for (const e of edges) {
    seen.logs.push(...e.logs);
    await e.dispose();
  }
  await origin.close();
});

describe("routes and health", () => {
  let e;
  before(async () => { e = await edge({}); });

  test("GET /healthz answers ok with the crate version", async () => {
    const r = await e.send("/healthz");
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: "ok", version: VERSION });
  });

  test("unknown paths are 404 not_found", async () => {
    for (const [path, method] of [["/", "GET"], ["/webim/chat_other", "POST"], ["/webim/chat_started/", "POST"], ["/healthz", "POST"]]) {
      assertError(await e.send(path, { method }), 404, "not_found");
    }
  });

  test("other methods on the event paths are 405 with Allow: POST", async () => {
    for (const type of TYPES) {
      for (const method of ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
        const r = await e.send(`/webim/${type}`, { method });
        assertError(r, 405, "method_not_allowed");
        assert.equal(r.headers.get("allow"), "POST");
      }
      const head = await e.send(`/webim/${type}`, { method: "HEAD" });
      assert.equal(head.status, 405);
      assert.equal(head.headers.get("allow"), "POST");
    }
  });
});

describe("misconfiguration fails closed", () => {
  test("/healthz is 503 naming bad settings, never their values", async () => {
    const e = await edge({ WEBIM_PRIVATE_KEYS: " , ", ORIGIN_URL: "ftp://secret-host.example/", ORIGIN_TIMEOUT_MS: "soon" });
    const r = await e.send("/healthz");
    assert.equal(r.status, 503);
    assert.equal(r.json.status, "misconfigured");
    assert.deepEqual(r.json.problems, ["WEBIM_PRIVATE_KEYS", "ORIGIN_URL", "ORIGIN_TIMEOUT_MS"]);
    assert.doesNotMatch(r.text, /secret-host|soon/);
  });

  test("a delivery is 500 misconfigured, not forwarded, and the log names the setting", async () => {
    const e = await startEdge({ ORIGIN_URL: `${origin.url}/events` });
    edges.push(e);
    const before = origin.received.length;
    const r = await e.deliver("chat_started", sampleChat());
    assertError(r, 500, "misconfigured");
    assert.equal(origin.received.length, before);
    const [line] = await e.logLines(1);
    assert.equal(line.outcome, "misconfigured");
    assert.deepEqual(line.problems, ["WEBIM_PRIVATE_KEYS"]);
  });
});

describe("genuine deliveries", () => {
  let e;
  before(async () => { e = await edge({ WEBIM_PRIVATE_KEYS: `${KEY}\n${OLD_KEY}`, ORIGIN_SIGNING_SECRET: SIGNING_SECRET }); });

  for (const form of [false, true]) {
    test(`${form ? "form body" : "query string"}: forwarded as the spec's clean, signed event`, async () => {
      origin.received.length = 0;
      const chat = sampleChat({ id: form ? 1 : 2 });
      const { query, init } = delivery(chat, { form });
      init.headers = { ...init.headers, cookie: "session=abc", "x-forwarded-for": "198.51.100.9" };
      const r = await e.send(`/webim/chat_started${query}`, init);
      const id = eventId("chat_started", chat);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { status: "forwarded", id });

      assert.equal(origin.received.length, 1);
      const got = origin.received[0];
      assert.equal(got.method, "POST");
      assert.equal(got.url, "/events");
      assert.equal(got.headers["content-type"], "application/json");
      assert.equal(got.headers["user-agent"], `webim-edge/${VERSION}`);
      assert.equal(got.headers["x-webim-event"], "chat_started");
      assert.equal(got.headers["webhook-id"], id);
      assert.ok(Math.abs(Number(got.headers["webhook-timestamp"]) - Date.now() / 1000) < 60);
      for (const leaked of ["cookie", "authorization", "x-forwarded-for"]) assert.equal(got.headers[leaked], undefined, leaked);
      assert.doesNotMatch(got.body, new RegExp(hmacHex(chat)));

      // An independent Standard Webhooks implementation accepts the signature...
      const verified = new Webhook(SIGNING_SECRET).verify(got.body, got.headers);
      assert.equal(verified.id, id);
      // ...and rejects it for a body changed by one byte.
      assert.throws(() => new Webhook(SIGNING_SECRET).verify(got.body.replace("chat_started", "chat_closed"), got.headers));

      const event = JSON.parse(got.body);
      assert.deepEqual(Object.keys(event), ["type", "id", "received_at", "signature_scheme", "chat"]);
      assert.equal(event.type, "chat_started");
      assert.equal(event.signature_scheme, "hmac-sha256");
      assert.match(event.received_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(Math.abs(Date.parse(event.received_at) - Date.now()) < 60_000);

      const input = JSON.parse(chat);
      const expected = structuredClone(input);
      expected.created_at = "2019-07-05T16:28:20Z";
      expected.start_page.url = "https://crm.example.com/x";
      expected.messages[0].created_at = "2019-07-05T16:28:21Z";
      expected.messages[0].message = "Здравствуйте! 👋 Мой логин https://shop.example.ru/cart";
      assert.deepEqual(event.chat, expected, "every other field, Cyrillic and emoji intact");
    });
  }

  test("each event type is forwarded under its own name", async () => {
    origin.received.length = 0;
    for (const type of TYPES) {
      const chat = sampleChat({ id: `t-${type}` });
      const r = await e.deliver(type, chat);
      assert.deepEqual(r.json, { status: "forwarded", id: eventId(type, chat) });
    }
    assert.deepEqual(origin.received.map((g) => [g.headers["x-webim-event"], JSON.parse(g.body).type]), TYPES.map((t) => [t, t]));
  });

  test("key rotation: a delivery signed with the previous key passes and the log names its index", async () => {
    const chat = sampleChat({ id: "rotated" });
    const r = await e.deliver("chat_closed", chat, { key: OLD_KEY });
    assert.equal(r.status, 200, r.text);
    const lines = await e.logLines(1);
    const line = lines.find((l) => l.id === eventId("chat_closed", chat));
    assert.equal(line.key_index, 1);
    assert.equal(line.outcome, "forwarded");
    assert.equal(line.scheme, "hmac-sha256");
    assert.equal(line.chat_id, "rotated");
  });

  test("the same delivery keeps its id; another parameter order or extra parameters do not change it", async () => {
    const chat = sampleChat({ id: "same" });
    const a = await e.deliver("chat_started", chat);
    const b = await e.deliver("chat_started", chat, { form: false, extra: "&unrelated=1" });
    assert.equal(a.json.id, b.json.id);
  });

  test("uppercase hex signatures are accepted", async () => {
    const chat = sampleChat({ id: "upper" });
    const body = new URLSearchParams({ chat, signature: hmacHex(chat).toUpperCase() }).toString();
    const r = await e.send("/webim/chat_started", { method: "POST", headers: FORM, body });
    assert.equal(r.status, 200, r.text);
  });

  test("query and form body combine (signature in the query, chat in the body)", async () => {
    const chat = sampleChat({ id: "split" });
    const r = await e.send(`/webim/chat_assigned?signature=${hmacHex(chat)}`, { method: "POST", headers: FORM, body: new URLSearchParams({ chat }).toString() });
    assert.equal(r.status, 200, r.text);
  });
});

describe("forged, tampered and malformed deliveries never reach the origin", () => {
  let e;
  before(async () => { e = await edge({ MAX_BODY_BYTES: "4096" }); });

  const cases = [
    ["a tampered chat", () => { const chat = sampleChat(); const d = delivery(chat); d.init.body = d.init.body.replace("4242", "4243"); return d; }, 401, "bad_signature"],
    ["a signature made with another key", () => delivery(sampleChat(), { key: "attacker-key" }), 401, "bad_signature"],
    ["a signature that is not hex", () => ({ query: "", init: { method: "POST", headers: FORM, body: "chat=%7B%7D&signature=zz" } }), 401, "bad_signature"],
    ["a crc presented as signature", () => { const chat = sampleChat(); return { query: "", init: { method: "POST", headers: FORM, body: new URLSearchParams({ chat, signature: crcHex(chat) }).toString() } }; }, 401, "bad_signature"],
    ["no signature at all", () => ({ query: "", init: { method: "POST", headers: FORM, body: new URLSearchParams({ chat: sampleChat() }).toString() } }), 401, "missing_signature"],
    ["a legacy crc at API version 4", () => delivery(sampleChat(), { legacy: true }), 401, "legacy_signature_rejected"],
    ["no chat", () => ({ query: `?signature=${hmacHex("")}`, init: { method: "POST" } }), 400, "missing_chat"],
    ["chat twice in the body", () => { const d = delivery(sampleChat()); d.init.body += "&chat=%7B%7D"; return d; }, 400, "duplicate_parameter"],
    ["signature in query and body", () => { const chat = sampleChat(); const d = delivery(chat); d.query = `?signature=${hmacHex(chat)}`; return d; }, 400, "duplicate_parameter"],
    ["crc twice in the query", () => ({ query: "?chat=%7B%7D&crc=00&crc=00", init: { method: "POST" } }), 400, "duplicate_parameter"],
    ["a JSON body", () => ({ query: "", init: { method: "POST", headers: { "content-type": "application/json" }, body: sampleChat() } }), 415, "unsupported_media_type"],
    ["a body without content type", () => ({ query: "", init: { method: "POST", body: new Blob(["chat=x"]) } }), 415, "unsupported_media_type"],
    ["a body over MAX_BODY_BYTES", () => delivery(sampleChat({ pad: "x".repeat(5000) })), 413, "payload_too_large"],
    ["a signed chat that is not JSON", () => delivery("not json"), 400, "invalid_chat_json"],
    ["a signed chat that is a JSON array", () => delivery("[1,2]"), 400, "invalid_chat_json"],
    ["a signed chat with a byte-order mark", () => delivery("\uFEFF" + sampleChat()), 400, "invalid_chat_json"],
    ["a signed chat that is not UTF-8", () => { const q = `?chat=%FF%FE&signature=${hmacHex(Buffer.from([0xff, 0xfe]))}`; return { query: q, init: { method: "POST" } }; }, 400, "invalid_chat_json"],
  ];
  for (const [name, make, status, code] of cases) {
    test(`${name}: ${status} ${code}`, async () => {
      const before = origin.received.length;
      const { query, init } = make();
      assertError(await e.send(`/webim/chat_started${query}`, init), status, code);
      assert.equal(origin.received.length, before, "nothing reached the origin");
    });
  }

  test("errors never echo the chat or the submitted signature", async () => {
    const chat = sampleChat();
    const sig = hmacHex(chat, "attacker-key");
    const r = await e.send(`/webim/chat_started?chat=${encodeURIComponent(chat)}&signature=${sig}`, { method: "POST" });
    assert.equal(r.status, 401);
    assert.ok(!r.text.includes(sig) && !r.text.includes("4242") && !r.text.includes("Анна"));
  });
});

describe("legacy crc below API version 4", () => {
  let e;
  before(async () => { e = await edge({ WEBIM_API_VERSION: "3" }); });

  test("a correct crc is accepted and forwarded as md5", async () => {
    origin.received.length = 0;
    const chat = sampleChat({ id: "legacy" });
    const r = await e.deliver("chat_closed", chat, { legacy: true });
    assert.deepEqual(r.json, { status: "forwarded", id: eventId("chat_closed", chat) });
    assert.equal(JSON.parse(origin.received[0].body).signature_scheme, "md5");
    assert.equal(origin.received[0].headers["webhook-signature"], undefined, "no signature without ORIGIN_SIGNING_SECRET");
  });

  test("a wrong crc is bad_signature; an HMAC signature still works", async () => {
    const chat = sampleChat({ id: "legacy2" });
    assertError(await e.deliver("chat_closed", chat, { legacy: true, key: "wrong" }), 401, "bad_signature");
    assert.equal((await e.deliver("chat_closed", chat)).status, 200);
  });
});

describe("basic auth", () => {
  let e;
  const auth = (pair) => ({ authorization: "Basic " + Buffer.from(pair).toString("base64") });
  before(async () => { e = await edge({ INBOUND_BASIC_AUTH: "webim:pa:ss:word,backup:b4ckup-Pw" }); });

  test("required when set: 401 with WWW-Authenticate, before anything else", async () => {
    const before = origin.received.length;
    for (const headers of [{}, auth("webim:pa:ss"), auth("webim:wrong"), { authorization: "Bearer x" }]) {
      const { query, init } = delivery(sampleChat());
      const r = await e.send(`/webim/chat_started${query}`, { ...init, headers: { ...init.headers, ...headers } });
      assertError(r, 401, "unauthorized");
      assert.equal(r.headers.get("www-authenticate"), 'Basic realm="webim-edge"');
    }
    assert.equal(origin.received.length, before);
  });

  test("accepted with any configured pair (a password may contain ':'), and never forwarded", async () => {
    origin.received.length = 0;
    for (const pair of ["webim:pa:ss:word", "backup:b4ckup-Pw"]) {
      const { query, init } = delivery(sampleChat({ id: `auth-${pair.length}` }));
      const r = await e.send(`/webim/chat_started${query}`, { ...init, headers: { ...init.headers, ...auth(pair) } });
      assert.equal(r.status, 200, r.text);
    }
    assert.equal(origin.received.length, 2);
    for (const got of origin.received) assert.equal(got.headers.authorization, undefined);
  });
});

describe("origin URL credentials", () => {
  test("are removed from the URL and sent as Authorization, percent-decoded", async () => {
    const e = await edge({ ORIGIN_URL: origin.url.replace("http://", "http://edge:p%40ss@") + "/secured" });
    origin.received.length = 0;
    const r = await e.deliver("chat_started", sampleChat());
    assert.equal(r.status, 200, r.text);
    assert.equal(origin.received[0].url, "/secured");
    assert.equal(origin.received[0].headers.authorization, "Basic " + Buffer.from("edge:p@ss").toString("base64"));
  });
});

describe("origin failures are 502 origin_unavailable", () => {
  let e;
  before(async () => { e = await edge({ ORIGIN_TIMEOUT_MS: "400" }); });
  after(() => { origin.respond = () => ({ status: 204 }); });

  for (const status of [500, 503, 404, 429]) {
    test(`origin answers ${status}`, async () => {
      origin.respond = () => ({ status });
      assertError(await e.deliver("chat_started", sampleChat()), 502, "origin_unavailable");
    });
  }

  test("origin redirects elsewhere: not followed", async () => {
    const elsewhere = await startOrigin();
    origin.respond = () => ({ status: 302, headers: { location: `${elsewhere.url}/steal` } });
    assertError(await e.deliver("chat_started", sampleChat()), 502, "origin_unavailable");
    assert.equal(elsewhere.received.length, 0);
    await elsewhere.close();
  });

  test("origin never answers: 502 after about ORIGIN_TIMEOUT_MS", async () => {
    origin.respond = () => ({ hang: true });
    const started = Date.now();
    assertError(await e.deliver("chat_started", sampleChat()), 502, "origin_unavailable");
    const took = Date.now() - started;
    assert.ok(took >= 350 && took < 3000, `took ${took} ms`);
  });

  test("origin refuses connections", async () => {
    const gone = await startOrigin();
    await gone.close();
    const down = await edge({ ORIGIN_URL: `${gone.url}/events` });
    assertError(await down.deliver("chat_started", sampleChat()), 502, "origin_unavailable");
  });

  test("the log records the origin's status", async () => {
    origin.respond = () => ({ status: 503 });
    const chat = sampleChat({ id: "log-503" });
    await e.deliver("chat_started", chat);
    const lines = await e.logLines(1);
    const line = lines.find((l) => l.id === eventId("chat_started", chat));
    assert.equal(line.origin_status, 503);
    assert.equal(line.outcome, "origin_unavailable");
    assert.equal(line.status, 502);
  });
});

describe("the module entry", () => {
  test("after a real wasm trap in a request, the wasm is reinitialized once and deliveries go on", async () => {
    // Not one of `edges`: the runtime's own lines about the trap are not JSON.
    const e = await startEdge(
      { WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/events` },
      { worker: { scriptPath: "tests/fixtures/trap-entry.mjs", modulesRoot: "." } },
    );
    try {
      origin.received.length = 0;
      const trapped = await e.send("/webim/chat_started", { ...delivery(sampleChat({ id: "trap" })).init, headers: { "x-test-trap": "1" } });
      assert.ok(trapped.status >= 500, `the trapped request fails: ${trapped.status}`);
      assert.equal(origin.received.length, 0);
      assert.ok(e.logs.some((l) => /RuntimeError|memory access out of bounds/.test(l)) || trapped.text.includes("out of bounds"),
        `a real trap: ${trapped.text.slice(0, 200)} ${e.logs.join("\n").slice(0, 400)}`);
      for (const id of ["after-trap-1", "after-trap-2"]) {
        const chat = sampleChat({ id });
        const r = await e.deliver("chat_started", chat);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json, { status: "forwarded", id: eventId("chat_started", chat) });
      }
      assert.equal(origin.received.length, 2);
      assert.equal(e.logs.filter((l) => l.includes("\"wasm_reinitialized\"")).length, 1, e.logs.join("\n"));
    } finally {
      await e.dispose();
    }
  });
});

describe("the module entry, across a replacement of the wasm instance", () => {
  test("a delivery that waited for its origin through a trap fails, and never takes the answer of a delivery made since", async () => {
    const e = await startEdge(
      { WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/held` },
      { worker: { scriptPath: "tests/fixtures/trap-entry.mjs", modulesRoot: "." } },
    );
    // The origin holds each event on /held until the test releases it by id.
    const releases = new Map();
    const respond = origin.respond;
    origin.respond = (r) =>
      r.url === "/held" ? new Promise((release) => releases.set(JSON.parse(r.body).id, () => release({ status: 204 }))) : respond(r);
    try {
      const [before, since] = [sampleChat({ id: "before-trap" }), sampleChat({ id: "since-trap" })];
      const [beforeId, sinceId] = [eventId("chat_started", before), eventId("chat_started", since)];
      // The query string: no body, so the delivery takes the path that waits outside the wasm.
      const waiting = e.deliver("chat_started", before, { form: false });
      await eventually(() => releases.has(beforeId), 5000, "the first delivery at the origin");
      const trapped = await e.send("/webim/chat_started", { ...delivery(sampleChat({ id: "trap" })).init, headers: { "x-test-trap": "1" } });
      assert.ok(trapped.status >= 500, `the trapped request fails: ${trapped.status}`);
      // The fresh instance's first delivery, waiting beside the first one (had they been slots of
      // a table, it would have been given the first one's).
      const later = e.deliver("chat_started", since, { form: false });
      await eventually(() => releases.has(sinceId), 5000, "the later delivery at the origin");
      releases.get(beforeId)();
      const first = await waiting;
      releases.get(sinceId)();
      const second = await later;
      assert.deepEqual([second.status, second.json], [200, { status: "forwarded", id: sinceId }], second.text);
      assert.ok(first.status >= 500, `the delivery that waited through the trap fails: ${first.status} ${first.text}`);
      const lines = (await e.logLines(1, 2000, (l) => l.id === sinceId)).filter((l) => l.id === sinceId);
      assert.deepEqual(lines.map((l) => [l.outcome, l.status]), [["forwarded", 200]]);
    } finally {
      origin.respond = respond;
      await e.dispose();
    }
  });
});

describe("no secret or personal data in responses or logs", () => {
  test("every response and log line of this run is free of secrets and personal data", async () => {
    for (const e of edges) await e.logLines(1);
    const logs = edges.flatMap((e) => e.logs);
    assert.ok(logs.length > 20, `saw ${logs.length} log lines`);
    for (const line of logs) assert.doesNotThrow(() => JSON.parse(line), `log line is JSON: ${line.slice(0, 80)}`);
    const chat = sampleChat();
    const forbidden = [
      KEY, OLD_KEY, SIGNING_SECRET, SIGNING_SECRET.slice(6), "pa:ss:word", "b4ckup-Pw", "p%40ss", "p@ss",
      hmacHex(chat), hmacHex(chat, OLD_KEY), crcHex(chat),
      "Здравствуйте", "Анна", "anna@example.ru", "op@example.com", "203.0.113.7", "198.51.100.9", "tajna", "bob:pw",
    ];
    const text = [...seen.responses, ...logs].join("\n");
    for (const secret of forbidden) assert.ok(!text.includes(secret), `leaked: ${secret.slice(0, 4)}…`);
  });
});
