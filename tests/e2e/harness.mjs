// Test harness for webim-edge end to end: the built wasm worker in Miniflare, a real HTTP origin
// on loopback that records what it receives, and Webim-style signing done with Node's crypto
// (independent of the Rust code under test).
import crypto from "node:crypto";
import http from "node:http";
import { readFileSync } from "node:fs";
import { Miniflare } from "miniflare";

export const KEY = "demo-private-key";
export const OLD_KEY = "previous-key";
export const SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
export const VERSION = readFileSync(new URL("../../Cargo.toml", import.meta.url), "utf8").match(/^version = "(.+)"/m)[1];
const WRANGLER_TOML = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
const COMPATIBILITY_DATE = WRANGLER_TOML.match(/^compatibility_date = "(.+)"/m)[1];
const COMPATIBILITY_FLAGS = JSON.parse(WRANGLER_TOML.match(/^compatibility_flags = (\[.*\])/m)[1]);

export const hmacHex = (chat, key = KEY) => crypto.createHmac("sha256", key).update(chat).digest("hex");
export const crcHex = (chat, key = KEY) => crypto.createHash("md5").update(Buffer.concat([Buffer.from(chat), Buffer.from(key)])).digest("hex");
/** The spec's event id, computed here independently. */
export const eventId = (type, chat) => "evt_" + crypto.createHash("sha256").update(`${type}\n`).update(chat).digest("hex").slice(0, 32);

/** A realistic chat with Cyrillic, emoji, credentials in URLs and Webim's odd timestamp. */
export function sampleChat(overrides = {}) {
  return JSON.stringify({
    id: 4242,
    created_at: "2019-07-05T16:28:20 Z",
    locale: "ru",
    department_key: "sales",
    start_page: { url: "https://bob:pw@crm.example.com/x" },
    visitor: { id: "v-1", fields: { name: "Анна Петрова", email: "anna@example.ru", phone: "+7 900 000-00-00" } },
    operator: { id: 7, email: "op@example.com", name: "Оператор" },
    messages: [
      { created_at: "2019-07-05 19:28:21+03:00", kind: "visitor", message: "Здравствуйте! 👋 Мой логин https://anna:tajna@shop.example.ru/cart" },
      { created_at: "2019-07-05T16:29:00.250Z", kind: "operator", message: "Пишите на support@example.com 🙂" },
    ],
    visit_session: { ip: "203.0.113.7", landing_page: { url: "https://example.ru/?utm=1" } },
    ...overrides,
  });
}

/** Request init for a Webim delivery of `chat`, as query string or form body. */
export function delivery(chat, { key = KEY, legacy = false, form = true, extra = "" } = {}) {
  const params = new URLSearchParams({ chat });
  params.set(legacy ? "crc" : "signature", legacy ? crcHex(chat, key) : hmacHex(chat, key));
  const encoded = params.toString() + extra;
  return form
    ? { query: "", init: { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded; charset=UTF-8" }, body: encoded } }
    : { query: "?" + encoded, init: { method: "POST" } };
}

/** A recording HTTP origin on loopback. `respond(record)` decides each answer. */
export async function startOrigin() {
  const origin = {
    received: [],
    respond: () => ({ status: 204 }),
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const record = { at: Date.now(), method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      origin.received.push(record);
      const answer = await origin.respond(record);
      record.status = answer.status;
      if (answer.hang) return;
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? "");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin.url = `http://127.0.0.1:${server.address().port}`;
  origin.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  };
  return origin;
}

/** Miniflare options that load the built wasm worker. */
export const WASM_WORKER = {
  scriptPath: "build/entry.mjs",
  modules: true,
  modulesRules: [
    { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: COMPATIBILITY_DATE,
  compatibilityFlags: COMPATIBILITY_FLAGS,
};

/**
 * The built worker in Miniflare with `bindings`; `logs` collects its stdout lines.
 * `options.worker` adds per-worker options (queues, KV, Durable Objects); `options.workers` adds
 * other workers; `options.shared` adds Miniflare's shared options (`durableObjectsPersist`).
 */
export async function startEdge(bindings, options = {}) {
  const logs = [];
  const edgeWorker = {
    name: "webim-edge",
    ...WASM_WORKER,
    bindings,
    ...options.worker,
  };
  const mf = new Miniflare({
    ...(options.listen ? { host: "127.0.0.1", port: 0 } : {}),
    ...options.shared,
    workers: [edgeWorker, ...(options.workers ?? [])],
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        let rest = "";
        stream.on("data", (chunk) => {
          const lines = (rest + chunk).split("\n");
          rest = lines.pop();
          logs.push(...lines.filter(Boolean));
        });
      }
    },
  });
  const url = await mf.ready;
  const edge = {
    mf,
    /** The edge's base URL on loopback, when started with `listen`. */
    url: options.listen ? url.origin : undefined,
    logs,
    /** Sends a request to the edge; resolves to { status, headers, text, json }. */
    async send(path, init = {}) {
      const res = await mf.dispatchFetch("http://edge.test" + path, { redirect: "manual", ...init });
      const text = await res.text();
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      return { status: res.status, headers: res.headers, text, json };
    },
    /** Sends a signed Webim delivery of `chat` for `type`. */
    deliver(type, chat, how = {}) {
      const { query, init } = delivery(chat, how);
      return edge.send(`/webim/${type}${query}`, init);
    },
    /**
     * Log lines parsed as JSON (the worker's own lines) that `match`, waiting until at least `n`
     * of them exist. A line is written once the origin has answered, so an attempt the origin
     * has seen may not be logged yet.
     */
    async logLines(n = 1, timeoutMs = 2000, match = () => true) {
      const parsed = () => logs.flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } }).filter(match);
      for (let i = 0; i < timeoutMs / 20 && parsed().length < n; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      return parsed();
    },
    dispose: () => mf.dispose(),
  };
  return edge;
}

/** Waits until `check()` returns a truthy value, polling; fails after `timeoutMs`. */
export async function eventually(check, timeoutMs, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
