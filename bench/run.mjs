#!/usr/bin/env node
// npm run bench: the runtime benchmark. Each worker is served by workerd (through Miniflare) on
// loopback in front of a fast local origin, and driven with the same signed 4 KB deliveries at
// a fixed concurrency. Reports workerd's CPU time per request (from /proc schedstat), requests
// per second and p50/p99 latency, then the sizes of the built bundle.
// On a shared VM the machine's speed swings by 10-30 % over seconds, and one workerd process
// can run a few % faster or slower than another serving the same build for its whole life.
// So every worker is served by several processes at once, and all processes are measured in
// short batches taken in turn, in a fresh random order each turn: the swings fall on every
// worker alike, and each worker's figure is the mean over its processes. Identical builds
// measured this way agree within about 2 %; read smaller differences as noise.
// --baseline DIR adds an earlier build of webim-edge (DIR, inside this project, holds its
// worker/shim.mjs), to compare two versions.
//   usage: node bench/run.mjs [--requests 6000] [--processes 2] [--batch 200] [--concurrency 8]
//                             [--baseline DIR]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { BENCH_CHAT, WASM_WORKER, drive, fastOrigin, jsWorker, serve } from "./workerd.mjs";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "6000" },
    processes: { type: "string", default: "2" },
    batch: { type: "string", default: "200" },
    concurrency: { type: "string", default: "8" },
    baseline: { type: "string" },
  },
});
const REQUESTS = Number(values.requests);
const PROCESSES = Number(values.processes);
const BATCH = Number(values.batch);
// Batches per process, so that each worker handles about REQUESTS in all.
const BATCHES = Math.max(1, Math.round(REQUESTS / BATCH / PROCESSES));
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

/** A copy of `xs` in random order (Fisher–Yates). */
function shuffled(xs) {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const instances = workers.flatMap((worker) => Array.from({ length: PROCESSES }, () => ({ worker, batches: [] })));
for (const instance of instances) {
  instance.served = await serve(instance.worker.options, origin.bindings, { pin: true });
  await drive(instance.served.url, WARMUP, CONCURRENCY);
}
// Each turn takes the processes in a fresh random order, after a pause that lets the last
// one's background work settle, so that none always follows the same one.
for (let b = 0; b < BATCHES; b++) {
  for (const instance of shuffled(instances)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = instance.served.cpuMicros();
    const run = await drive(instance.served.url, BATCH, CONCURRENCY);
    instance.batches.push({ cpu: (instance.served.cpuMicros() - before) / BATCH, ...run });
  }
}
for (const instance of instances) await instance.served.dispose();
origin.close();

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
/** The `p`th percentile of ascending `sorted`. */
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const mean = (xs) => sum(xs) / xs.length;
const results = workers.map((worker) => {
  const own = instances.filter((p) => p.worker === worker);
  const batches = own.flatMap((p) => p.batches);
  const latencies = batches.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    name: worker.name,
    cpu: mean(batches.map((r) => r.cpu)),
    perProcess: own.map((p) => mean(p.batches.map((r) => r.cpu))),
    rps: (batches.length * BATCH) / sum(batches.map((r) => r.seconds)),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures: sum(batches.map((r) => r.failures)),
  };
});

const [floor, forward, js, edge, baseline] = results;
const requests = BATCHES * BATCH * PROCESSES;
console.log(`\nRuntime: ${requests} signed ${BENCH_CHAT.length}-byte deliveries per worker at concurrency ${CONCURRENCY}, over ${PROCESSES} workerd processes each taking ${BATCHES} batches of ${BATCH} in turn with all others; workerd via Miniflare, loopback origin\n`);
console.log("| worker | CPU µs/request | per process | requests/s | p50 ms | p99 ms | non-200 |");
console.log("|---|---|---|---|---|---|---|");
for (const r of results) {
  console.log(`| ${r.name} | ${r.cpu.toFixed(0)} | ${r.perProcess.map((c) => c.toFixed(0)).join(", ")} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.name.startsWith("pass") ? "—" : r.failures} |`);
}
console.log(`\nCPU ratios:`);
console.log(`- webim-edge ÷ JavaScript = ${(edge.cpu / js.cpu).toFixed(2)}; target ≤ 1.0`);
console.log(`- webim-edge ÷ pass-through floor = ${(edge.cpu / floor.cpu).toFixed(2)}; target ≤ 1.5`);
console.log(`- webim-edge ÷ forward floor = ${(edge.cpu / forward.cpu).toFixed(2)}; forward floor ÷ pass-through floor = ${(forward.cpu / floor.cpu).toFixed(2)}`);
if (baseline) console.log(`- webim-edge ÷ baseline = ${(edge.cpu / baseline.cpu).toFixed(2)}; baseline ÷ JavaScript = ${(baseline.cpu / js.cpu).toFixed(2)}`);
console.log("\nBundle (budget: 200 KB gzipped for the wasm)\n");
console.log("| file | raw bytes | gzipped bytes |");
console.log("|---|---|---|");
for (const file of ["build/index_bg.wasm", "build/index.js"]) {
  const bytes = readFileSync(file);
  console.log(`| ${file} | ${bytes.length} | ${gzipSync(bytes, { level: 9 }).length} |`);
}
