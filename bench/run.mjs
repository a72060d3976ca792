#!/usr/bin/env node
// npm run bench: the runtime benchmark. Each worker is served by a workerd of its own (through
// Miniflare) on loopback in front of a fast local origin, and driven with the same signed 4 KB
// deliveries at a fixed concurrency. Reports workerd's CPU time per request (from /proc
// schedstat), requests per second and p50/p99 latency, then the sizes of the built bundle.
// All workers are served at once and measured in short batches taken in turn, so that the
// machine's slow swings (10-30 % on a shared VM) fall on every worker alike; the ratios are
// given of the totals and as the median of the batches' own ratios.
// --baseline DIR adds an earlier build of webim-edge (DIR, inside this project, holds its
// worker/shim.mjs), measured in the same batches, to compare two versions.
//   usage: node bench/run.mjs [--requests 6000] [--batch 200] [--concurrency 8] [--baseline DIR]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { BENCH_CHAT, WASM_WORKER, drive, fastOrigin, jsWorker, percentile, serve } from "./workerd.mjs";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "6000" },
    batch: { type: "string", default: "200" },
    concurrency: { type: "string", default: "8" },
    baseline: { type: "string" },
  },
});
const REQUESTS = Number(values.requests);
const BATCH = Number(values.batch);
const BATCHES = Math.max(1, Math.round(REQUESTS / BATCH));
const CONCURRENCY = Number(values.concurrency);
// Enough for V8 to optimize the JavaScript and the wasm before the clock starts.
const WARMUP = 1000;

const origin = await fastOrigin();

const workers = [
  { name: "pass-through (floor)", options: jsWorker("bench/passthrough.mjs") },
  { name: "forward only (forward floor)", options: jsWorker("bench/forward-only.mjs") },
  { name: "JavaScript + WebCrypto", options: jsWorker("bench/js-reference.mjs") },
  { name: "webim-edge (Rust/wasm)", options: WASM_WORKER },
];
if (values.baseline) {
  workers.push({ name: `webim-edge baseline (${values.baseline})`, options: { ...WASM_WORKER, scriptPath: `${values.baseline}/worker/shim.mjs` } });
}

for (const worker of workers) {
  worker.served = await serve(worker.options, origin.bindings, { pin: true });
  await drive(worker.served.url, WARMUP, CONCURRENCY);
  worker.batches = [];
}
for (let b = 0; b < BATCHES; b++) {
  for (const worker of workers) {
    const before = worker.served.cpuMicros();
    const run = await drive(worker.served.url, BATCH, CONCURRENCY);
    worker.batches.push({ cpu: (worker.served.cpuMicros() - before) / BATCH, ...run });
  }
}
for (const worker of workers) await worker.served.dispose();
origin.close();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const results = workers.map(({ name, batches }) => {
  const latencies = batches.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    name,
    cpu: sum(batches.map((r) => r.cpu)) / batches.length,
    spread: [percentile(batches.map((r) => r.cpu).sort((a, b) => a - b), 10), percentile(batches.map((r) => r.cpu).sort((a, b) => a - b), 90)],
    rps: (batches.length * BATCH) / sum(batches.map((r) => r.seconds)),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures: sum(batches.map((r) => r.failures)),
  };
});

const [floor, forward, js, edge, baseline] = results;
const paired = (a, b) => median(workers[a].batches.map((r, i) => r.cpu / workers[b].batches[i].cpu));
console.log(`\nRuntime: ${BATCHES} batches of ${BATCH} signed ${BENCH_CHAT.length}-byte deliveries per worker at concurrency ${CONCURRENCY}, workers taking turns batch by batch; workerd via Miniflare, loopback origin\n`);
console.log("| worker | CPU µs/request | batches 10th–90th pct | requests/s | p50 ms | p99 ms | non-200 |");
console.log("|---|---|---|---|---|---|---|");
for (const r of results) {
  console.log(`| ${r.name} | ${r.cpu.toFixed(0)} | ${r.spread.map((c) => c.toFixed(0)).join("–")} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.name.startsWith("pass") ? "—" : r.failures} |`);
}
console.log(`\nCPU ratios (of the totals; median of the batches' own ratios in brackets):`);
console.log(`- webim-edge ÷ JavaScript = ${(edge.cpu / js.cpu).toFixed(2)} (${paired(3, 2).toFixed(2)}); target ≤ 1.0`);
console.log(`- webim-edge ÷ pass-through floor = ${(edge.cpu / floor.cpu).toFixed(2)} (${paired(3, 0).toFixed(2)}); target ≤ 1.5`);
console.log(`- webim-edge ÷ forward floor = ${(edge.cpu / forward.cpu).toFixed(2)} (${paired(3, 1).toFixed(2)})`);
if (baseline) console.log(`- webim-edge ÷ baseline = ${(edge.cpu / baseline.cpu).toFixed(2)} (${paired(3, 4).toFixed(2)}); baseline ÷ JavaScript = ${(baseline.cpu / js.cpu).toFixed(2)} (${paired(4, 2).toFixed(2)})`);
console.log("\nBundle (budget: 200 KB gzipped for the wasm)\n");
console.log("| file | raw bytes | gzipped bytes |");
console.log("|---|---|---|");
for (const file of ["build/index_bg.wasm", "build/index.js"]) {
  const bytes = readFileSync(file);
  console.log(`| ${file} | ${bytes.length} | ${gzipSync(bytes, { level: 9 }).length} |`);
}
