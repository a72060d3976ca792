#!/usr/bin/env node
// The demo origin of `npm start`: receives webim-edge's clean events, prints each one and
// whether its signature verifies — the Standard Webhooks signature of the JSON event, or, with
// --webim KEY, the `signature`/`crc` of Webim's own form, checked as Webim's receivers do.
// It also prints the notices webim-edge sends to ALERT_URL (POST /alerts), and can be told to
// fail, so that an outage or a dead event can be tried by hand:
//   curl -X POST http://127.0.0.1:8788/demo/down     every event answered 503 (the origin is down)
//   curl -X POST http://127.0.0.1:8788/demo/reject   every event answered 422 (events die)
//   curl -X POST http://127.0.0.1:8788/demo/ok       back to normal
// usage: node tools/demo-origin.mjs [--port 8788] [--secret whsec_...] [--webim KEY]
import crypto from "node:crypto";
import http from "node:http";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8788" },
    secret: { type: "string", default: process.env.ORIGIN_SIGNING_SECRET ?? "" },
    webim: { type: "string" },
  },
});

/** Webim's form as its receivers read it: `chat` and its `signature` (HMAC-SHA256) or `crc` (MD5). */
function checkWebimForm(body, key) {
  const form = new URLSearchParams(body);
  const chat = form.get("chat") ?? "";
  const signature = form.get("signature");
  const expected = signature !== null
    ? crypto.createHmac("sha256", key).update(chat).digest("hex")
    : crypto.createHash("md5").update(chat + key).digest("hex");
  const valid = expected === (signature ?? form.get("crc"));
  const scheme = signature !== null ? "signature" : "crc";
  return { check: valid ? `${scheme} verified` : `${scheme.toUpperCase()} INVALID`, valid, chat };
}
const webhook = values.secret ? new Webhook(values.secret) : null;

/** How events are answered: normally, 503 (down) or 422 (rejected). */
let mode = "ok";
const MODES = { ok: null, down: 503, reject: 422 };

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const demo = req.method === "POST" && req.url.match(/^\/demo\/(ok|down|reject)$/);
    if (demo) {
      mode = demo[1];
      console.log(`\n[demo-origin] now answering events ${MODES[mode] ?? "normally"}`);
      res.writeHead(204);
      return res.end();
    }
    if (req.url === "/alerts") {
      let text;
      try {
        text = JSON.parse(body).text;
      } catch {
        text = "(not JSON)";
      }
      console.log(`\n[demo-origin] ALERT: ${text}`);
      res.writeHead(204);
      return res.end();
    }
    if (MODES[mode]) {
      console.log(`\n[demo-origin] ${req.method} ${req.url} ${req.headers["webhook-id"] ?? "?"} — answered ${MODES[mode]} (${mode})`);
      res.writeHead(MODES[mode]);
      return res.end();
    }
    if (values.webim !== undefined) {
      const { check, valid, chat } = checkWebimForm(body, values.webim);
      console.log(`\n[demo-receiver] ${req.method} ${req.url} ${req.headers["x-webim-event"] ?? "?"} — ${check}`);
      try {
        console.log(JSON.stringify(JSON.parse(chat), null, 2));
      } catch {
        console.log("(chat is not JSON)");
      }
      res.writeHead(valid ? 200 : 403);
      return res.end();
    }
    let check = "unsigned (no ORIGIN_SIGNING_SECRET)";
    if (webhook) {
      try {
        webhook.verify(body, req.headers);
        check = "signature verified";
      } catch (err) {
        check = `SIGNATURE INVALID: ${err.message}`;
      }
    }
    let event;
    try {
      event = JSON.parse(body);
    } catch {
      event = body;
    }
    console.log(`\n[demo-origin] ${req.method} ${req.url} ${req.headers["x-webim-event"] ?? "?"} ${req.headers["webhook-id"] ?? "?"} — ${check}`);
    console.log(JSON.stringify(event, null, 2));
    res.writeHead(webhook && check !== "signature verified" ? 401 : 204);
    res.end();
  });
});
server.listen(Number(values.port), "127.0.0.1", () => {
  console.log(`[demo-origin] listening on http://127.0.0.1:${values.port}/events`);
});
