// contract §12 end to end: the admin API's answers to a caller without the token, chat ids of
// any kind looked up and replayed, and the operator's tool (`npm run admin`, tools/admin.mjs)
// against a served worker: its commands, its refusal to send the token in clear, and its
// escaping of whatever the edge answers.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import { networkInterfaces } from "node:os";
import { after, before, describe, test } from "node:test";
import { KEY, eventId, eventually, sampleChat, startEdge, startOrigin } from "./harness.mjs";

const TOKEN = "admin-token-for-tests-0123456789abcdef";
const OUTBOX = { durableObjects: { OUTBOX: { className: "ChatOutbox", useSQLite: true } } };
const bearer = { headers: { authorization: `Bearer ${TOKEN}` } };

let origin;
const edges = [];
let path = 0;
/** How the origin answers on each path; 204 elsewhere. */
const answers = new Map();

before(async () => {
  origin = await startOrigin();
  origin.respond = (r) => (answers.get(r.url) ?? (() => ({ status: 204 })))(r);
});
after(async () => {
  for (const e of edges) await e.dispose();
  await origin.close();
});

/** An edge with the outbox and the admin API, on its own origin path. */
async function adminEdge(bindings = {}, options = {}) {
  const route = `/admin-origin${++path}`;
  const e = await startEdge(
    { WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}${route}`, RETRY_BASE_SECONDS: "1", ORDER_HOLD_SECONDS: "0", ADMIN_TOKEN: TOKEN, ...bindings },
    { worker: OUTBOX, ...options },
  );
  e.route = route;
  edges.push(e);
  return e;
}

const takenAt = (route) => origin.received.filter((r) => r.url === route && r.status >= 200 && r.status < 300);
const deadList = async (e, query = "") => (await e.send(`/admin/dead${query}`, bearer)).json;
const chatOf = (id, n = 0) => sampleChat({ id, operator: { id: n, name: "Оператор" } });

describe("the admin API without the token", () => {
  test("401 on every route, with a Bearer challenge and never a Basic one", async () => {
    // INBOUND_BASIC_AUTH is set, and still the admin routes challenge for their own token.
    const e = await adminEdge({ INBOUND_BASIC_AUTH: "webim:basic-password" });
    const routes = [
      ["GET", "/admin/status"], ["GET", "/admin/dead"], ["GET", "/admin/origins"], ["GET", "/admin/chats/1"],
      ["POST", "/admin/events/evt_1/replay"], ["POST", "/admin/replay"],
    ];
    for (const [method, route] of routes) {
      for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "Basic d2ViaW06YmFzaWMtcGFzc3dvcmQ=" }]) {
        const r = await e.send(route, { method, headers });
        const what = `${method} ${route} ${JSON.stringify(headers)}`;
        assert.equal(r.status, 401, what);
        assert.equal(r.json.error.code, "unauthorized", what);
        assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="webim-edge"', what);
      }
    }
  });
});

describe("chat ids of any kind can be looked up and replayed (contract §12)", () => {
  const LONG = "чат/%?# +" + "0123456789".repeat(9) + "x"; // 100 characters, several of which need encoding
  for (const [what, chatId] of [["the empty chat id", ""], ["a chat id of 100 characters", LONG]]) {
    test(`${what}: its dead event is listed with it, its chat is looked up, and the replay is delivered`, async () => {
      assert.equal([...chatId].length, chatId === "" ? 0 : 100);
      const e = await adminEdge({ MAX_ATTEMPTS: "1" });
      let down = true;
      answers.set(e.route, () => ({ status: down ? 500 : 204 }));
      const chat = chatOf(chatId);
      const id = eventId("chat_started", chat);
      assert.equal((await e.deliver("chat_started", chat)).status, 202);
      const dead = await eventually(async () => (await deadList(e)).dead?.[0], 10000, "the event to die");
      assert.deepEqual({ id: dead.id, chat_id: dead.chat_id, attempts: dead.attempts, last_status: dead.last_status }, { id, chat_id: chatId, attempts: 1, last_status: "500" });
      const view = await e.send(`/admin/chats/${encodeURIComponent(chatId)}`, bearer);
      assert.equal(view.status, 200, view.text);
      assert.equal(view.json.chat_id, chatId);
      assert.deepEqual(view.json.events.map((v) => [v.id, v.state]), [[id, "dead"]]);
      down = false;
      const replay = await e.send(`/admin/events/${id}/replay`, { method: "POST", ...bearer });
      assert.equal(replay.status, 200, replay.text);
      assert.deepEqual(replay.json, { status: "pending", id });
      const [got] = await eventually(() => takenAt(e.route).length === 1 && takenAt(e.route), 10000, "the replayed event");
      assert.equal(got.headers["webhook-id"], id);
      assert.equal(JSON.parse(got.body).chat.id, chatId);
      assert.equal((await deadList(e)).total, 0);
      const after = await e.send(`/admin/chats/${encodeURIComponent(chatId)}`, bearer);
      assert.deepEqual(after.json.events.map((v) => v.state), ["delivered"]);
    });
  }
});

/** Runs tools/admin.mjs with `args`; `input` is written to its stdin. */
function admin(args, { token = TOKEN, input = "" } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["tools/admin.mjs", ...args], { env: { ...process.env, ADMIN_TOKEN: token } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Raw control characters other than the line breaks of the tool's own output. */
const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

describe("npm run admin: where it sends the token", () => {
  let server;
  const requests = [];
  before(async () => {
    server = http.createServer((req, res) => {
      requests.push({ url: req.url, authorization: req.headers.authorization });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ total: 0, dead: [] }));
    });
    await new Promise((resolve) => server.listen(0, "0.0.0.0", resolve));
  });
  after(() => new Promise((resolve) => server.close(resolve)));
  const port = () => server.address().port;
  // An address of this machine that is not loopback, so that a request would arrive.
  const external = Object.values(networkInterfaces()).flat().find((a) => a?.family === "IPv4" && !a.internal)?.address;

  test("plain http:// to a host that is not this machine is refused, and nothing is sent", async () => {
    for (const url of [`http://${external ?? "192.0.2.1"}:${port()}`, "http://edge.example.com", "http://[2001:db8::1]:8787"]) {
      const r = await admin(["dead", "--url", url]);
      assert.equal(r.code, 2, url);
      assert.match(r.stderr, /^refusing to send the admin token in clear over http:\/\/ to .+: use https:\/\/, or add --insecure/, url);
      assert.equal(r.stdout, "");
    }
    assert.deepEqual(requests, []);
  });

  test("--insecure sends it anyway; loopback needs no flag", { skip: !external && "this machine has no address but loopback" }, async () => {
    const r = await admin(["dead", "--url", `http://${external}:${port()}`, "--insecure"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no dead events/);
    for (const host of ["127.0.0.2", "localhost"]) {
      const local = await admin(["dead", "--url", `http://${host}:${port()}`]);
      assert.equal(local.code, 0, `${host}: ${local.stderr}`);
    }
    assert.deepEqual(requests.map((q) => [q.url, q.authorization]), Array(3).fill(["/admin/dead", `Bearer ${TOKEN}`]));
  });
});

describe("npm run admin against a served worker", () => {
  let e;
  const run = (...args) => admin([...args, "--url", e.url]);
  before(async () => {
    e = await adminEdge({ MAX_ATTEMPTS: "1" }, { listen: true });
  });

  test("a hostile chat id cannot drive the terminal: every control character is shown escaped", async () => {
    const hostile = "4242\u001b]0;owned\u0007\u001b[2J\u009b31m\u007f\r\nnext\\";
    answers.set(e.route, () => ({ status: 500 }));
    const chat = chatOf(hostile);
    const id = eventId("chat_started", chat);
    assert.equal((await e.deliver("chat_started", chat)).status, 202);
    await eventually(async () => (await deadList(e)).dead?.some((d) => d.id === id), 10000, "the event to die");
    const shown = "4242\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\x7f\\r\\nnext\\\\";
    const outputs = {
      dead: await run("dead"),
      chat: await run("chat", hostile),
      json: await run("dead", "--json"),
      unknown: await run("replay", "evt_\u001b[31mred\u009b"),
    };
    for (const [name, r] of Object.entries(outputs)) {
      assert.doesNotMatch(r.stdout + r.stderr, RAW_CONTROLS, `${name}: ${JSON.stringify(r.stdout + r.stderr)}`);
    }
    assert.match(outputs.dead.stdout, new RegExp(`${id}\\s+chat_started\\s+${shown.replace(/[\\[\]]/g, "\\$&")}\\s+1\\s+500`));
    assert.ok(outputs.chat.stdout.startsWith(`chat ${shown}: 1 event(s)`), outputs.chat.stdout);
    assert.ok(JSON.parse(outputs.json.stdout).dead.some((d) => d.chat_id === hostile), "the JSON still reads as the chat id");
    assert.equal(outputs.unknown.code, 1);
    assert.match(outputs.unknown.stderr, /no dead event has the id evt_\\x1b\[31mred\\x9b$/m);
    answers.delete(e.route);
    assert.equal((await run("replay", id)).code, 0);
    await eventually(async () => (await deadList(e)).total === 0, 10000, "the replay");
  });

  test("status and origins print the edge at a glance", async () => {
    const status = await run("status");
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^webim-edge \d+\.\d+\.\d+, delivering in outbox mode/);
    assert.match(status.stdout, /^dead events\s+\d+$/m);
    assert.match(status.stdout, /^origins down\s+0$/m);
    assert.match(status.stdout, /^events waiting\s+\d+$/m);
    const origins = await run("origins");
    assert.equal(origins.code, 0, origins.stderr);
    assert.match(origins.stdout, /^name\s+state\s+since\s+failures in row\s+last status\s+last probe\s+waiting$/m);
    assert.match(origins.stdout, /^ORIGIN_URL\s+up\s/m);
    const json = await run("origins", "--json");
    assert.deepEqual(JSON.parse(json.stdout).origins.map((o) => [o.name, o.state]), [["ORIGIN_URL", "up"]]);
  });

  test("replay --dead shows how many match, asks, and replays them all, 200 at a time", { timeout: 120_000 }, async () => {
    // A 4xx kills each event at its one attempt without marking the origin down.
    answers.set(e.route, () => ({ status: 422 }));
    // 203 dead chat_started events and one dead chat_closed, each in a chat of its own.
    const started = Array.from({ length: 203 }, (_, i) => chatOf(9000 + i));
    for (let i = 0; i < started.length; i += 20) {
      await Promise.all(started.slice(i, i + 20).map(async (chat) => assert.equal((await e.deliver("chat_started", chat)).status, 202)));
    }
    assert.equal((await e.deliver("chat_closed", chatOf(9500))).status, 202);
    await eventually(async () => (await deadList(e)).total === 204, 60000, "204 dead events");

    const declined = await admin(["replay", "--dead", "--type", "chat_closed", "--url", e.url], { input: "n\n" });
    assert.equal(declined.code, 0, declined.stderr);
    assert.match(declined.stderr, /^1 dead event match \(chat_closed, dead before .+\)\. Replay it\? \[y\/N\] /);
    assert.match(declined.stdout, /nothing replayed/);
    const noAnswer = await admin(["replay", "--dead", "--url", e.url]);
    assert.match(noAnswer.stdout, /nothing replayed/, "no answer is no");
    assert.equal((await deadList(e)).total, 204);

    answers.delete(e.route);
    const before = takenAt(e.route).length;
    const all = await run("replay", "--dead", "--type", "chat_started", "--since", "1h", "--yes");
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^203 dead events match \(chat_started, dead since .+, dead before .+\)$/m);
    assert.match(all.stdout, /^replayed 200 of 203…$/m);
    assert.match(all.stdout, /^replayed 203 of 203: each is pending again/m);
    assert.equal((await deadList(e, "?type=chat_started")).total, 0);
    assert.equal((await deadList(e)).total, 1);
    await eventually(() => takenAt(e.route).length - before === 203, 60000, "203 replayed deliveries");

    const last = await admin(["replay", "--dead", "--chat", "9500", "--url", e.url], { input: "y\n" });
    assert.equal(last.code, 0, last.stderr);
    assert.match(last.stdout, /^replayed 1 of 1: /m);
    const none = await run("replay", "--dead", "--yes");
    assert.match(none.stdout, /^no dead events match/);
    await eventually(() => takenAt(e.route).length - before === 204, 10000, "the chat_closed");
  });

  test("a filter that is not understood is a usage error, and nothing is sent", async () => {
    for (const args of [["replay", "--dead", "--since", "yesterday"], ["dead", "--type", "chat_ended"], ["chat", "1", "--since", "2h"], ["status", "--yes"]]) {
      const r = await run(...args);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.stdout, "");
    }
  });
});
