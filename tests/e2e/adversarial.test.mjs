// Adversarial inputs and origin faults beyond the contract's list (issue: robustness). Each case
// gets the contract's answer, and nothing reaches the origin unless the delivery is genuine.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { KEY, crcHex, delivery, eventId, hmacHex, startEdge, startOrigin } from "./harness.mjs";

const FORM = { "content-type": "application/x-www-form-urlencoded" };
let origin;
let edge;
const edges = [];

before(async () => {
  origin = await startOrigin();
  edge = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/events`, INBOUND_BASIC_AUTH: "webim:pw" });
  edges.push(edge);
});
after(async () => {
  for (const e of edges) await e.dispose();
  await origin.close();
});

const AUTH = { authorization: "Basic " + Buffer.from("webim:pw").toString("base64") };

/** Sends `chat` signed as Webim would (or with `sign` overridden), with basic auth. */
async function send(chat, { sign = hmacHex, extra = "", headers = {}, query = "" } = {}) {
  const before = origin.received.length;
  const body = `chat=${encodeURIComponent(chat)}&signature=${sign(chat)}${extra}`;
  const r = await edge.send(`/webim/chat_started${query}`, { method: "POST", headers: { ...FORM, ...AUTH, ...headers }, body });
  return { ...r, reached: origin.received.length - before };
}

/** Sends a raw body and query, with basic auth. */
async function raw(body, { query = "", headers = {} } = {}) {
  const before = origin.received.length;
  const r = await edge.send(`/webim/chat_started${query}`, { method: "POST", headers: { ...FORM, ...AUTH, ...headers }, body });
  return { ...r, reached: origin.received.length - before };
}

describe("adversarial chats (signed: authentic but hostile)", () => {
  test("nesting of 127 levels passes; 128 and far deeper are invalid_chat_json", async () => {
    const nested = (n) => `{"a":${"[".repeat(n - 1)}${"]".repeat(n - 1)}}`;
    assert.equal((await send(nested(127))).status, 200);
    for (const n of [128, 5000]) {
      const r = await send(nested(n));
      assert.equal(r.json.error.code, "invalid_chat_json");
      assert.equal(r.reached, 0);
    }
  });

  test("huge numbers and number forms pass through digit for digit", async () => {
    const chat = '{"id":123456789012345678901234567890,"f":1.0,"e":-2.5E+308,"tiny":1e-400}';
    const r = await send(chat);
    assert.equal(r.status, 200);
    assert.ok(origin.received.at(-1).body.endsWith(`"chat":${chat}}`));
  });

  test("duplicate JSON keys are forwarded as sent, each cleaned", async () => {
    const chat = '{"id":1,"url":"https://a:b@h/","url":"https://c:d@h/"}';
    assert.equal((await send(chat)).status, 200);
    assert.ok(origin.received.at(-1).body.endsWith('"chat":{"id":1,"url":"https://h/","url":"https://h/"}}'));
  });

  test("escaped NUL and control characters are valid; raw ones are not", async () => {
    const ok = await send('{"m":"nul\\u0000 bell\\u0007 tab\\t"}');
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(origin.received.at(-1).body).chat.m, "nul\u0000 bell\u0007 tab\t");
    for (const bad of ['{"m":"raw\u0000nul"}', '{"m":"raw\u0001"}', '{"m":"line\nbreak"}']) {
      const r = await send(bad);
      assert.equal(r.json.error.code, "invalid_chat_json");
      assert.equal(r.reached, 0);
    }
  });

  test("overlong and invalid UTF-8 in the chat is invalid_chat_json even when signed", async () => {
    for (const bytes of [[0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d], [0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]]) {
      const chat = Buffer.from(bytes);
      const body = `chat=${[...chat].map((b) => "%" + b.toString(16).padStart(2, "0")).join("")}&signature=${hmacHex(chat)}`;
      const r = await raw(body);
      assert.equal(r.json.error.code, "invalid_chat_json");
      assert.equal(r.reached, 0);
    }
  });

  test("lone surrogate escapes and a byte-order mark are invalid_chat_json", async () => {
    for (const chat of ['{"m":"\\ud800"}', '{"m":"\\udc00x"}', "\uFEFF{}"]) {
      const r = await send(chat);
      assert.equal(r.json.error.code, "invalid_chat_json");
      assert.equal(r.reached, 0);
    }
  });

  test("credentials hidden behind JSON escapes are still removed", async () => {
    const chat = '{"u":"https:\\/\\/bob\\u003apw\\u0040crm.example\\/x"}';
    assert.equal((await send(chat)).status, 200);
    assert.equal(JSON.parse(origin.received.at(-1).body).chat.u, "https://crm.example/x");
  });

  test("no URL that Node's WHATWG parser reads in a forwarded string has credentials; other text is unchanged", async () => {
    const hostile = [
      "https:\\\\bob:pw@crm.example/x", "https:/bob:pw@crm.example", "https:///bob:pw@crm.example", "HTTPS:\\/bob@crm.example",
      "ht\ttps://bob:pw@crm.example", "https://bob:\npw@crm.example", "wss://u:p@h.example", "ftp:u:p@h.example",
      "see https:u@h.example/a and foo://u:p@h/x", "https://example.com,bob@mail.ru", "xhttps://u:p@h.example",
    ];
    const harmless = ["anna@example.ru", "https://host.example/a@b", "mailto:bob@example.com", "https://@h.example", "plain text: a@b"];
    const chat = JSON.stringify({ id: "whatwg", hostile, harmless, [hostile[0]]: "key too" });
    assert.equal((await send(chat)).status, 200);
    const forwarded = JSON.parse(origin.received.at(-1).body).chat;
    const strings = [...forwarded.hostile, ...forwarded.harmless, ...Object.keys(forwarded)];
    for (const text of strings) {
      for (let start = 0; start < text.length; start++) {
        if (!/[A-Za-z]/.test(text[start])) continue;
        // Every piece from a letter up to the next space, as a linkifier would cut it.
        const piece = text.slice(start).split(" ")[0];
        let url;
        try { url = new URL(piece); } catch { continue; }
        assert.equal(url.username + url.password, "", `credentials left in ${JSON.stringify(text)} (${piece})`);
      }
    }
    assert.deepEqual(forwarded.harmless, harmless);
    assert.equal(forwarded.hostile[9], "https://mail.ru");
  });
});

describe("forged signatures and parameter smuggling", () => {
  test("mixed-case hex passes; a signature for another key, a crc as signature, or a truncated one fail", async () => {
    const chat = '{"id":"mixed"}';
    const mixed = (c) => [...hmacHex(c)].map((ch, i) => (i % 2 ? ch.toUpperCase() : ch)).join("");
    assert.equal((await send(chat, { sign: mixed })).status, 200);
    for (const sign of [(c) => hmacHex(c, "other-key"), (c) => crcHex(c), (c) => hmacHex(c).slice(0, 63), (c) => hmacHex(c) + "0"]) {
      const r = await send('{"id":"forged"}', { sign });
      assert.equal(r.json.error.code, "bad_signature");
      assert.equal(r.reached, 0);
    }
  });

  test("a second chat in the query, or spelled with percent-escapes, is duplicate_parameter", async () => {
    const chat = '{"id":"one"}';
    for (const query of [`?chat=${encodeURIComponent('{"id":"two"}')}`, "?ch%61t=%7B%7D", "?%63hat=%7B%7D"]) {
      const r = await send(chat, { query });
      assert.equal(r.json.error.code, "duplicate_parameter");
      assert.equal(r.reached, 0);
    }
  });

  test("';' is not a separator and %00 is a byte: neither splits a parameter", async () => {
    const chat = '{"id":"semi"}';
    // The signature now covers "…;chat=x", not the chat: refused.
    const semi = await raw(`chat=${encodeURIComponent(chat)};chat=x&signature=${hmacHex(chat)}`);
    assert.equal(semi.json.error.code, "bad_signature");
    const nul = await raw(`chat=${encodeURIComponent(chat)}%00&signature=${hmacHex(chat)}`);
    assert.equal(nul.json.error.code, "bad_signature");
    assert.equal(semi.reached + nul.reached, 0);
  });

  test("parameter names are case-sensitive: Chat is not chat", async () => {
    const r = await raw(`Chat=${encodeURIComponent("{}")}&signature=${hmacHex("{}")}`);
    assert.equal(r.json.error.code, "missing_chat");
  });

  test("repeated Authorization headers are refused", async () => {
    const { init } = delivery('{"id":"twice-auth"}');
    const headers = new Headers(init.headers);
    headers.append("authorization", AUTH.authorization);
    headers.append("authorization", AUTH.authorization);
    const r = await edge.send("/webim/chat_started", { ...init, headers });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, "unauthorized");
  });

  test("a content-length claiming more than MAX_BODY_BYTES is refused before the body is read", async () => {
    const small = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/events`, MAX_BODY_BYTES: "100" }, { listen: true });
    edges.push(small);
    const { hostname: host, port } = new URL(small.url);
    const answer = await new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), host, () => {
        socket.write(`POST /webim/chat_started HTTP/1.1\r\nhost: x\r\ncontent-type: ${FORM["content-type"]}\r\ncontent-length: 1000000\r\n\r\nchat=`);
      });
      let text = "";
      socket.on("data", (d) => {
        text += d;
        if (text.includes("}}")) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on("error", reject);
      setTimeout(() => { socket.destroy(); resolve(text); }, 5000);
    });
    assert.match(answer, /^HTTP\/1\.1 413/);
    assert.match(answer, /payload_too_large/);
  });
});

describe("origin faults", () => {
  test("an origin that resets the connection mid-body, after its status line, is reported by that status", async () => {
    // The reset waits until the status line has left, or it could overtake it (then the edge
    // rightly says 502, as the next test shows).
    const resetting = net.createServer((socket) => {
      socket.once("data", () => {
        socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial", () => {
          setTimeout(() => socket.resetAndDestroy(), 200);
        });
      });
    });
    await new Promise((r) => resetting.listen(0, "127.0.0.1", r));
    const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `http://127.0.0.1:${resetting.address().port}/`, ORIGIN_TIMEOUT_MS: "2000" });
    edges.push(e);
    const { init } = delivery('{"id":"reset"}');
    const r = await e.send("/webim/chat_started", init);
    // The origin's status line arrived before the reset: the origin took the event and said 200,
    // which is what the edge reports (it decides on the status, not on the response body).
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, "forwarded");
    resetting.close();
  });

  test("an origin that resets before answering is 502", async () => {
    const resetting = net.createServer((socket) => socket.once("data", () => socket.resetAndDestroy()));
    await new Promise((r) => resetting.listen(0, "127.0.0.1", r));
    const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `http://127.0.0.1:${resetting.address().port}/` });
    edges.push(e);
    const { init } = delivery('{"id":"reset-early"}');
    const r = await e.send("/webim/chat_started", init);
    assert.equal(r.status, 502);
    assert.equal(r.json.error.code, "origin_unavailable");
    resetting.close();
  });

  test("a 301 to another host is not followed", async () => {
    const elsewhere = await startOrigin();
    const moving = await startOrigin();
    moving.respond = () => ({ status: 301, headers: { location: `${elsewhere.url}/stolen` } });
    const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${moving.url}/events` });
    edges.push(e);
    const { init } = delivery('{"id":"moved"}');
    const r = await e.send("/webim/chat_started", init);
    assert.equal(r.status, 502);
    assert.equal(elsewhere.received.length, 0);
    await elsewhere.close();
    await moving.close();
  });

  test("a slow origin under concurrent load: every event delivered within the timeout", async () => {
    const slow = await startOrigin();
    slow.respond = () => new Promise((r) => setTimeout(() => r({ status: 204 }), 300));
    const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${slow.url}/events`, ORIGIN_TIMEOUT_MS: "5000" });
    edges.push(e);
    const chats = Array.from({ length: 60 }, (_, i) => `{"id":"slow-${i}"}`);
    const started = Date.now();
    const answers = await Promise.all(chats.map((chat) => e.send("/webim/chat_closed", delivery(chat).init)));
    assert.deepEqual(answers.map((a) => a.status), chats.map(() => 200));
    assert.deepEqual(new Set(slow.received.map((g) => g.headers["webhook-id"])), new Set(chats.map((c) => eventId("chat_closed", c))));
    assert.ok(Date.now() - started < 5000, "requests were served concurrently, not one by one");
    await slow.close();
  });
});
