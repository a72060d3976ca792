// contract §13 end to end: per-event origins and ORIGIN_FORMAT=webim, judged by receivers that
// check signatures as Webim's own receivers do — one in Node (crypto, querystring) and the
// repository's PHP example served by `php -S` (PHP's own form parsing, hash_hmac, md5 and
// json_decode) — never by the code under test.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import querystring from "node:querystring";
import { after, before, describe, test } from "node:test";
import { KEY, OLD_KEY, eventId, eventually, sampleChat, startEdge, startOrigin } from "./harness.mjs";

const FORM_TYPE = "application/x-www-form-urlencoded";
let origin;
const edges = [];
before(async () => {
  origin = await startOrigin();
});
after(async () => {
  for (const e of edges) await e.dispose();
  await origin.close();
});

async function edgeWith(bindings, options) {
  const e = await startEdge({ WEBIM_PRIVATE_KEYS: `${KEY},${OLD_KEY}`, ORIGIN_FORMAT: "webim", ...bindings }, options);
  edges.push(e);
  return e;
}

/** A form body's fields as raw bytes, decoded by Node's querystring (`+` is a space). */
function formFields(text) {
  const fields = {};
  for (const pair of text.split("&")) {
    const at = pair.indexOf("=");
    const name = querystring.unescape(pair.slice(0, at));
    assert.ok(!(name in fields), `field ${name} appears once`);
    fields[name] = querystring.unescapeBuffer(pair.slice(at + 1).replace(/\+/g, " "));
  }
  return fields;
}

const hmac = (bytes, key) => crypto.createHmac("sha256", key).update(bytes).digest("hex");
const md5 = (bytes, key) => crypto.createHash("md5").update(Buffer.concat([bytes, Buffer.from(key)])).digest("hex");

/** What the JSON-event format forwards as the clean chat for the same delivery. */
async function cleanChatOf(type, chat) {
  const e = await edgeWith({ ORIGIN_FORMAT: "event", ORIGIN_URL: `${origin.url}/json` });
  const before = origin.received.length;
  assert.equal((await e.deliver(type, chat)).status, 200);
  const body = origin.received[before].body;
  return body.slice(body.indexOf(',"chat":') + 8, -1);
}

describe("ORIGIN_FORMAT=webim: what Webim would have sent, clean and signed again", () => {
  test("signature: HMAC-SHA256 of exactly the forwarded chat bytes, with the first Webim key", async () => {
    const e = await edgeWith({ ORIGIN_URL: `${origin.url}/handler/webim.php` });
    const chat = sampleChat({ id: "webim-hmac" });
    const before = origin.received.length;
    const r = await e.deliver("chat_started", chat);
    assert.equal(r.status, 200, r.text);
    const got = origin.received[before];
    assert.equal(got.url, "/handler/webim.php");
    assert.equal(got.headers["content-type"], FORM_TYPE);
    assert.equal(got.headers["x-webim-event"], "chat_started");
    assert.equal(got.headers["webhook-id"], eventId("chat_started", chat));
    const fields = formFields(got.body);
    assert.deepEqual(Object.keys(fields), ["chat", "signature"]);
    assert.equal(fields.signature.toString(), hmac(fields.chat, KEY));
    const forwarded = fields.chat.toString("utf8");
    assert.equal(forwarded, await cleanChatOf("chat_started", chat));
    const parsed = JSON.parse(forwarded);
    assert.equal(parsed.visitor.fields.name, "Анна Петрова");
    assert.match(parsed.messages[0].message, /Здравствуйте! 👋/);
    assert.equal(parsed.start_page.url, "https://crm.example.com/x");
    assert.equal(parsed.created_at, "2019-07-05T16:28:20Z");
    assert.ok(!forwarded.includes("bob:pw") && !forwarded.includes("anna:tajna"));
  });

  test("form encoding survives +, &, =, %, newlines and non-ASCII in the chat", async () => {
    const e = await edgeWith({ ORIGIN_URL: `${origin.url}/handler` });
    const chat = JSON.stringify({ id: "enc", m: "a+b&c=d%25e %2B\n\r\tж 👋 ☃ =&?#" });
    const before = origin.received.length;
    assert.equal((await e.deliver("chat_assigned", chat)).status, 200);
    const fields = formFields(origin.received[before].body);
    assert.equal(fields.chat.toString("utf8"), chat);
    assert.equal(fields.signature.toString(), hmac(fields.chat, KEY));
    // A WHATWG form parser reads the same bytes.
    assert.equal(new URLSearchParams(origin.received[before].body).get("chat"), chat);
  });

  test("crc: MD5 of the chat bytes and the key, when ORIGIN_WEBIM_API_VERSION is below 4", async () => {
    const e = await edgeWith({ ORIGIN_URL: `${origin.url}/handler`, ORIGIN_WEBIM_API_VERSION: "3" });
    const chat = sampleChat({ id: "webim-crc" });
    const before = origin.received.length;
    assert.equal((await e.deliver("chat_closed", chat)).status, 200);
    const fields = formFields(origin.received[before].body);
    assert.deepEqual(Object.keys(fields), ["chat", "crc"]);
    assert.equal(fields.crc.toString(), md5(fields.chat, KEY));
  });

  test("ORIGIN_WEBIM_KEY, when set, is the key the receiver verifies with", async () => {
    const e = await edgeWith({ ORIGIN_URL: `${origin.url}/handler`, ORIGIN_WEBIM_KEY: "receiver-only-key" });
    const before = origin.received.length;
    assert.equal((await e.deliver("chat_started", sampleChat({ id: "own-key" }))).status, 200);
    const fields = formFields(origin.received[before].body);
    assert.equal(fields.signature.toString(), hmac(fields.chat, "receiver-only-key"));
    assert.notEqual(fields.signature.toString(), hmac(fields.chat, KEY));
  });
});

describe("per-event origins", () => {
  test("each event goes to its own URL with that URL's credentials as Basic auth; ORIGIN_URL may be unset", async () => {
    const e = await edgeWith({
      ORIGIN_URL_CHAT_STARTED: `http://start:p%40ss@127.0.0.1:${new URL(origin.url).port}/handler/webim_chat_start.php`,
      ORIGIN_URL_CHAT_ASSIGNED: `${origin.url}/handler/webim_chat_assign.php`,
      ORIGIN_URL_CHAT_CLOSED: `http://close:s3:cret@127.0.0.1:${new URL(origin.url).port}/handler/webim_chat_close.php`,
    });
    assert.equal((await e.send("/healthz")).status, 200);
    const expected = {
      chat_started: ["/handler/webim_chat_start.php", "start:p@ss"],
      chat_assigned: ["/handler/webim_chat_assign.php", undefined],
      chat_closed: ["/handler/webim_chat_close.php", "close:s3:cret"],
    };
    for (const [type, [path, credentials]] of Object.entries(expected)) {
      const before = origin.received.length;
      assert.equal((await e.deliver(type, sampleChat({ id: `per-${type}` }))).status, 200);
      const got = origin.received[before];
      assert.equal(got.url, path);
      const auth = got.headers.authorization;
      assert.equal(auth && Buffer.from(auth.replace(/^Basic /, ""), "base64").toString(), credentials);
    }
  });

  test("a per-event origin overrides ORIGIN_URL for its event only", async () => {
    const e = await edgeWith({ ORIGIN_FORMAT: "event", ORIGIN_URL: `${origin.url}/all`, ORIGIN_URL_CHAT_CLOSED: `${origin.url}/closed` });
    for (const [type, path] of [["chat_started", "/all"], ["chat_closed", "/closed"]]) {
      const before = origin.received.length;
      assert.equal((await e.deliver(type, sampleChat({ id: `override-${type}` }))).status, 200);
      assert.equal(origin.received[before].url, path);
    }
  });
});

describe("misconfiguration fails closed", () => {
  for (const [what, bindings, problems] of [
    ["an unknown ORIGIN_FORMAT", { ORIGIN_URL: "http://127.0.0.1:9/x", ORIGIN_FORMAT: "xml" }, ["ORIGIN_FORMAT"]],
    ["no ORIGIN_URL and not every per-event origin", { ORIGIN_URL_CHAT_STARTED: "http://127.0.0.1:9/a", ORIGIN_URL_CHAT_CLOSED: "http://127.0.0.1:9/c" }, ["ORIGIN_URL"]],
    ["an invalid per-event origin", { ORIGIN_URL: "http://127.0.0.1:9/x", ORIGIN_URL_CHAT_ASSIGNED: "ftp://127.0.0.1/x" }, ["ORIGIN_URL_CHAT_ASSIGNED"]],
    ["an ORIGIN_WEBIM_API_VERSION that is not a number", { ORIGIN_URL: "http://127.0.0.1:9/x", ORIGIN_WEBIM_API_VERSION: "v3" }, ["ORIGIN_WEBIM_API_VERSION"]],
  ]) {
    test(`${what}: /healthz names it and nothing is forwarded`, async () => {
      const e = await edgeWith(bindings);
      const health = await e.send("/healthz");
      assert.equal(health.status, 503);
      assert.deepEqual(health.json.problems, problems);
      const before = origin.received.length;
      const r = await e.deliver("chat_assigned", sampleChat({ id: "misconfigured" }));
      assert.equal(r.status, 500);
      assert.equal(r.json.error.code, "misconfigured");
      assert.equal(origin.received.length, before);
    });
  }
});

describe("every delivery mode", () => {
  test("queued: a retry is signed again over the same chat bytes, and both attempts verify", async () => {
    const e = await edgeWith(
      { ORIGIN_URL: `${origin.url}/queued`, RETRY_BASE_SECONDS: "1" },
      {
        worker: {
          queueProducers: { EVENTS: { queueName: "webim-format-events" } },
          queueConsumers: { "webim-format-events": { maxBatchSize: 1, maxBatchTimeout: 0.1, maxRetries: 3 } },
        },
      },
    );
    let failures = 1;
    origin.respond = (record) => (record.url === "/queued" && failures-- > 0 ? { status: 503 } : { status: 204 });
    try {
      const chat = sampleChat({ id: "queued-webim" });
      const r = await e.deliver("chat_assigned", chat);
      assert.equal(r.status, 202);
      const attempts = await eventually(() => {
        const got = origin.received.filter((x) => x.url === "/queued");
        return got.length >= 2 && got;
      }, 15000, "a retried delivery");
      for (const attempt of attempts) {
        const fields = formFields(attempt.body);
        assert.equal(fields.signature.toString(), hmac(fields.chat, KEY));
        assert.equal(attempt.headers["webhook-id"], eventId("chat_assigned", chat));
      }
      assert.deepEqual(attempts.map((a) => a.status), [503, 204]);
    } finally {
      origin.respond = () => ({ status: 204 });
    }
  });
});

describe("key rotation with the Webim format (contract §13)", () => {
  // WEBIM_PRIVATE_KEYS is "new,old" (KEY, OLD_KEY) and ORIGIN_WEBIM_KEY is unset.
  const signedWith = (record, key) => {
    const fields = formFields(record.body);
    return fields.signature.toString() === hmac(fields.chat, key);
  };

  test("direct: Webim signing with the old key gives a form that verifies with the old key, the new key with the new", async () => {
    const e = await edgeWith({ ORIGIN_URL: `${origin.url}/rotation` });
    for (const [key, other] of [[OLD_KEY, KEY], [KEY, OLD_KEY]]) {
      const before = origin.received.length;
      const r = await e.deliver("chat_started", sampleChat({ id: `rotation-${key}` }), { key });
      assert.equal(r.status, 200, r.text);
      const got = origin.received[before];
      assert.ok(signedWith(got, key), `verifies with ${key}`);
      assert.ok(!signedWith(got, other), `not with ${other}`);
    }
  });

  test("outbox: a retry is signed again with the same old key", async () => {
    const e = await edgeWith(
      { ORIGIN_URL: `${origin.url}/rotation-outbox`, RETRY_BASE_SECONDS: "1", ORDER_HOLD_SECONDS: "0" },
      { worker: { durableObjects: { OUTBOX: { className: "ChatOutbox", useSQLite: true } } } },
    );
    let failures = 1;
    origin.respond = (record) => (record.url === "/rotation-outbox" && failures-- > 0 ? { status: 500 } : { status: 204 });
    try {
      const chat = sampleChat({ id: "rotation-outbox" });
      assert.equal((await e.deliver("chat_assigned", chat, { key: OLD_KEY })).status, 202);
      const attempts = await eventually(() => {
        const got = origin.received.filter((x) => x.url === "/rotation-outbox");
        return got.length >= 2 && got;
      }, 15000, "a retried delivery");
      assert.deepEqual(attempts.map((a) => a.status), [500, 204]);
      for (const attempt of attempts) {
        assert.ok(signedWith(attempt, OLD_KEY), "verifies with the old key");
        assert.ok(!signedWith(attempt, KEY), "not with the new key");
        assert.equal(attempt.headers["webhook-id"], eventId("chat_assigned", chat));
      }
      // Once Webim signs with the new key, so does the edge.
      const before = origin.received.length;
      assert.equal((await e.deliver("chat_closed", sampleChat({ id: "rotation-outbox-new" }))).status, 202);
      const [next] = await eventually(() => origin.received.length > before && origin.received.slice(before), 5000, "the next event");
      assert.ok(signedWith(next, KEY), "verifies with the new key");
    } finally {
      origin.respond = () => ({ status: 204 });
    }
  });

  test("queued: the form is signed with the first key, whichever key Webim used (a queue message holds the event only)", async () => {
    const e = await edgeWith(
      { ORIGIN_URL: `${origin.url}/rotation-queued` },
      {
        worker: {
          queueProducers: { EVENTS: { queueName: "webim-rotation-events" } },
          queueConsumers: { "webim-rotation-events": { maxBatchSize: 1, maxBatchTimeout: 0.1, maxRetries: 1 } },
        },
      },
    );
    assert.equal((await e.deliver("chat_started", sampleChat({ id: "rotation-queued" }), { key: OLD_KEY })).status, 202);
    const [got] = await eventually(() => {
      const seen = origin.received.filter((x) => x.url === "/rotation-queued");
      return seen.length === 1 && seen;
    }, 10000, "the queued delivery");
    assert.ok(signedWith(got, KEY), "verifies with the first key");
  });
});

const php = spawnSync("php", ["--version"]).status === 0;

describe("the PHP example receiver, unchanged, behind the edge", () => {
  let dir;
  let port;
  let oldPort;
  const servers = [];
  /** `php -S` serving the example receiver with `key`, logging to `log`; resolves to its port. */
  async function servePhp(key, log) {
    const free = await new Promise((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port: p } = probe.address();
        probe.close(() => resolve(p));
      });
    });
    servers.push(spawn("php", ["-S", `127.0.0.1:${free}`, "examples/php/webim_receiver.php"], {
      env: { ...process.env, WEBIM_KEY: key, RECEIVER_LOG: join(dir, log) },
      stdio: "ignore",
    }));
    await eventually(async () => fetch(`http://127.0.0.1:${free}/`).then(() => true, () => false), 10000, "php -S");
    return free;
  }
  before(async () => {
    if (!php) return;
    dir = mkdtempSync(join(tmpdir(), "webim-php-"));
    port = await servePhp(KEY, "received.jsonl");
    // A receiver that still holds the old key, during a rotation.
    oldPort = await servePhp(OLD_KEY, "received-old.jsonl");
  });
  after(() => {
    for (const server of servers) server.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const received = (log = "received.jsonl") => readFileSync(join(dir, log), "utf8").trim().split("\n").map((l) => JSON.parse(l));

  for (const [scheme, version] of [["signature", "4"], ["crc", "3"]]) {
    test(`PHP's hash_hmac / md5 and json_decode accept what the edge sends (${scheme})`, { skip: !php && "php is not installed: this test did not run" }, async () => {
      const e = await edgeWith({
        ORIGIN_URL_CHAT_STARTED: `http://127.0.0.1:${port}/handler/webim_chat_start.php`,
        ORIGIN_URL_CHAT_ASSIGNED: `http://127.0.0.1:${port}/handler/webim_chat_assign.php`,
        ORIGIN_URL_CHAT_CLOSED: `http://127.0.0.1:${port}/handler/webim_chat_close.php`,
        ORIGIN_WEBIM_API_VERSION: version,
      });
      const chat = sampleChat({ id: `php-${scheme}` });
      const r = await e.deliver("chat_closed", chat);
      assert.equal(r.status, 200, `the receiver accepted it: ${r.text}`);
      const line = received().find((l) => l.chat.id === `php-${scheme}`);
      assert.equal(line.event, "webim_chat_close");
      assert.equal(line.scheme, scheme);
      assert.equal(line.chat.visitor.fields.name, "Анна Петрова");
      assert.match(line.chat.messages[0].message, /^Здравствуйте! 👋 Мой логин https:\/\/shop\.example\.ru\/cart$/);
      assert.equal(line.chat.start_page.url, "https://crm.example.com/x");
    });
  }

  test("key rotation: a receiver holding the old key verifies until Webim signs with the new key, one holding the new key from then on", { skip: !php && "php is not installed: this test did not run" }, async () => {
    // WEBIM_PRIVATE_KEYS = "new,old", no ORIGIN_WEBIM_KEY: the README's rotation, step 2.
    const toOld = await edgeWith({ ORIGIN_URL: `http://127.0.0.1:${oldPort}/handler/webim_chat_start.php` });
    const toNew = await edgeWith({ ORIGIN_URL: `http://127.0.0.1:${port}/handler/webim_chat_start.php` });
    // Webim still signs with the old key: the old receiver accepts.
    const beforeSwitch = await toOld.deliver("chat_started", sampleChat({ id: "php-rotation-old" }), { key: OLD_KEY });
    assert.equal(beforeSwitch.status, 200, `the old receiver accepted it: ${beforeSwitch.text}`);
    assert.ok(received("received-old.jsonl").some((l) => l.chat.id === "php-rotation-old"));
    // Webim signs with the new key (step 3): the form is signed with the new key, so the
    // receiver must hold the new key from then on.
    const afterSwitch = await toNew.deliver("chat_started", sampleChat({ id: "php-rotation-new" }));
    assert.equal(afterSwitch.status, 200, `the new receiver accepted it: ${afterSwitch.text}`);
    assert.ok(received().some((l) => l.chat.id === "php-rotation-new"));
    const stale = await toOld.deliver("chat_started", sampleChat({ id: "php-rotation-stale" }));
    assert.deepEqual([stale.status, stale.json.error.code], [502, "origin_unavailable"], "a receiver still on the old key refuses it");
  });

  test("a forged delivery never reaches the PHP receiver", { skip: !php && "php is not installed: this test did not run" }, async () => {
    const e = await edgeWith({ ORIGIN_URL: `http://127.0.0.1:${port}/handler/webim_chat_start.php` });
    const before = received().length;
    const r = await e.deliver("chat_started", sampleChat({ id: "php-forged" }), { key: "not-the-key" });
    assert.equal(r.status, 401);
    assert.equal(received().length, before);
  });
});
