#!/usr/bin/env node
// npm run profile: where the worker isolate's time goes. Serves one worker as the runtime
// benchmark does, drives it with the same signed 4 KB deliveries, records V8's sampling
// profile of the isolate through the inspector, and prints the functions with the most self
// time, in µs per request. Build with `npm run build -- --keep-names` first to see Rust names.
// The profiler slows the isolate (wasm most of all), so read the shares, not the totals.
// --cold profiles the first requests of a fresh isolate instead (no warm-up; say how many
// with --requests, e.g. 1): where a cold start's CPU goes.
//   usage: node lab/profile.mjs [--worker edge] [--transport query|form] [--requests 3000]
//                               [--top 30] [--cold]
// --worker is a key of the benchmark's configurations (lab/workerd.mjs), as for lab/run.mjs.
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { configurations, drive, fastOrigin, serve, usage } from "./workerd.mjs";

const { values } = parseArgs({
  options: {
    worker: { type: "string", default: "edge" },
    transport: { type: "string", default: "query" },
    requests: { type: "string", default: "3000" },
    top: { type: "string", default: "30" },
    cold: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) usage(import.meta.url);
const [config] = configurations(values.worker);
const TRANSPORT = values.transport;
const REQUESTS = Number(values.requests);
const INSPECTOR_PORT = 9329;

const origin = await fastOrigin();
const served = await serve({ ...config.options, inspectorPort: INSPECTOR_PORT }, { ...origin.bindings, ...config.bindings });

// The inspector: one WebSocket to the user worker's isolate, one pending promise per call.
const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json();
const ws = new WebSocket(targets.find((t) => t.title.includes("core:user")).webSocketDebuggerUrl);
await new Promise((r) => ws.on("open", r));
const pending = new Map();
let lastId = 0;
ws.on("message", (data) => {
  const msg = JSON.parse(data);
  pending.get(msg.id)?.(msg.result);
  pending.delete(msg.id);
});
const call = (method, params = {}) =>
  new Promise((resolve) => {
    pending.set(++lastId, resolve);
    ws.send(JSON.stringify({ id: lastId, method, params }));
  });

if (!values.cold) await drive(served.url, 300, 8, TRANSPORT, { distinct: config.distinct });
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: values.cold ? 10 : 50 });
await call("Profiler.start");
const cpuBefore = served.cpuMicros();
await drive(served.url, REQUESTS, values.cold ? 1 : 8, TRANSPORT, { distinct: config.distinct });
const cpu = (served.cpuMicros() - cpuBefore) / REQUESTS;
const { profile } = await call("Profiler.stop");
ws.close();
await served.dispose();
origin.close();

// Self time per function name, summed over the nodes of the call tree.
const samplesPerNode = new Map();
for (const id of profile.samples) samplesPerNode.set(id, (samplesPerNode.get(id) ?? 0) + 1);
const selfSamples = new Map();
for (const node of profile.nodes) {
  const file = node.callFrame.url.split("/").pop();
  const name = `${node.callFrame.functionName || "(anonymous)"}${file ? ` [${file}]` : ""}`;
  selfSamples.set(name, (selfSamples.get(name) ?? 0) + (samplesPerNode.get(node.id) ?? 0));
}
const total = profile.samples.length;
const usPerSample = (profile.endTime - profile.startTime) / total / REQUESTS;
const busy = total - (selfSamples.get("(idle)") ?? 0);
console.log(`\n${values.worker}, ${TRANSPORT}: ${REQUESTS} deliveries; workerd CPU ${cpu.toFixed(0)} µs/request; isolate thread busy ${(busy * usPerSample).toFixed(0)} µs/request\n`);
console.log("| µs/request | % of busy | function |");
console.log("|---|---|---|");
for (const [name, n] of [...selfSamples].filter(([name]) => name !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`| ${(n * usPerSample).toFixed(1)} | ${((100 * n) / busy).toFixed(1)} | ${name.slice(0, 100)} |`);
}
