#!/usr/bin/env node
// The demo origin of `npm start`: receives webim-edge's clean events, prints each one and
// whether its Standard Webhooks signature verifies.
// usage: node scripts/demo-origin.mjs [--port 8788] [--secret whsec_...]
import http from "node:http";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8788" },
    secret: { type: "string", default: process.env.ORIGIN_SIGNING_SECRET ?? "" },
  },
});
const webhook = values.secret ? new Webhook(values.secret) : null;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
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
