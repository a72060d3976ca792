#!/usr/bin/env node
// npm run load: a bounded load test of the built worker served by workerd on loopback. Several
// hundred concurrent connections send distinct signed deliveries for a fixed time to a local
// origin; it reports errors, whether every acknowledged event reached the origin, and the
// workerd process's resident memory over the run. Loopback only; stops by itself.
//   usage: node lab/load.mjs [--seconds 30] [--concurrency 300] [--script lab/js-reference.mjs]
import http from "node:http";
import { parseArgs } from "node:util";
import { KEY, SIGNING_SECRET, delivery, eventId, sampleChat } from "../tests/e2e/harness.mjs";
import { EDGE_WORKER, jsWorker, serve, usage } from "./workerd.mjs";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "30" },
    concurrency: { type: "string", default: "300" },
    script: { type: "string", default: EDGE_WORKER.scriptPath },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) usage(import.meta.url);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);

const seen = new Set();
const origin = http.createServer((req, res) => {
  seen.add(req.headers["webhook-id"]);
  req.resume();
  req.on("end", () => res.writeHead(204).end());
});
await new Promise((r) => origin.listen(0, "127.0.0.1", r));
const bindings = { WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `http://127.0.0.1:${origin.address().port}/events`, ORIGIN_SIGNING_SECRET: SIGNING_SECRET };
const served = await serve(values.script === EDGE_WORKER.scriptPath ? EDGE_WORKER : jsWorker(values.script), bindings);
const { url, rssMiB } = served;

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const target = new URL("/webim/chat_assigned", url);
const statuses = new Map();
const acknowledged = new Set();
const latencies = [];
let sent = 0;
let networkErrors = 0;
const one = (n) =>
  new Promise((resolve) => {
    const chat = sampleChat({ id: `load-${n}` });
    const { init } = delivery(chat);
    const started = performance.now();
    const req = http.request(target, { method: "POST", agent, headers: init.headers }, (res) => {
      res.resume();
      res.on("end", () => {
        latencies.push(performance.now() - started);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode === 200) acknowledged.add(eventId("chat_assigned", chat));
        resolve();
      });
    });
    req.on("error", () => {
      networkErrors++;
      resolve();
    });
    req.end(init.body);
  });

const rss = [rssMiB()];
const sampler = setInterval(() => rss.push(rssMiB()), 1000);
const timeline = [];
const marker = setInterval(() => timeline.push(rssMiB().toFixed(0)), 5000);
const deadline = Date.now() + SECONDS * 1000;
const started = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < deadline) await one(sent++);
  }),
);
const elapsed = (performance.now() - started) / 1000;
clearInterval(sampler);
clearInterval(marker);
rss.push(rssMiB());
agent.destroy();
await served.dispose();
origin.close();

latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1);
const missing = [...acknowledged].filter((id) => !seen.has(id)).length;
const third = Math.max(1, Math.floor(rss.length / 3));
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`load: ${values.script}, ${CONCURRENCY} concurrent connections for ${SECONDS} s on loopback`);
console.log(`  requests ${sent}, ${(sent / elapsed).toFixed(0)}/s, statuses ${JSON.stringify(Object.fromEntries(statuses))}, network errors ${networkErrors}`);
console.log(`  latency p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
console.log(`  acknowledged ${acknowledged.size} events, origin saw ${seen.size}, acknowledged but missing at the origin ${missing}`);
console.log(`  workerd RSS MiB every 5 s: ${timeline.join(", ")}`);
console.log(`  workerd RSS MiB: start ${rss[0].toFixed(0)}, first third mean ${mean(rss.slice(0, third)).toFixed(0)}, last third mean ${mean(rss.slice(-third)).toFixed(0)}, peak ${Math.max(...rss).toFixed(0)}`);
// The pass-through floor forwards nothing, so only errors count for it.
const forwards = !values.script.includes("empty");
const ok = networkErrors === 0 && (!forwards || missing === 0) && [...statuses.keys()].every((s) => s === 200);
console.log(ok ? "load: no errors, every acknowledged event reached the origin" : "load: FAILURES above");
process.exit(ok ? 0 : 1);
