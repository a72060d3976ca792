#!/usr/bin/env node
// npm run bench: the runtime benchmark. Each worker is served by workerd (through Miniflare)
// on loopback in front of a fast local origin, and driven with the same signed 4 KB deliveries
// at a fixed concurrency. Reports workerd's CPU time per request (from /proc schedstat),
// requests per second and p50/p99 latency, then the sizes of the built bundle.
// Each worker is measured in several rounds, interleaved, and the median round is reported;
// the ratios are also given as the median of each round's own ratio. Rounds vary by 10-30 % on
// a shared machine, so read differences under about 5 % as noise.
// --baseline DIR adds an earlier build of webim-edge (DIR holds its worker/shim.mjs), measured
// in the same rounds, to compare two versions.
//   usage: node bench/run.mjs [--requests 3000] [--concurrency 8] [--rounds 7] [--baseline DIR]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { BENCH_CHAT, WASM_WORKER, drive, fastOrigin, jsWorker, serve } from "./workerd.mjs";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "3000" },
    concurrency: { type: "string", default: "8" },
    rounds: { type: "string", default: "7" },
    baseline: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
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

async function measure(worker) {
  const served = await serve(worker.options, origin.bindings, { pin: true });
  await drive(served.url, WARMUP, CONCURRENCY);
  const before = served.cpuMicros();
  const run = await drive(served.url, REQUESTS, CONCURRENCY);
  const cpu = (served.cpuMicros() - before) / REQUESTS;
  await served.dispose();
  return { cpu, ...run };
}

const rounds = workers.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, worker] of workers.entries()) rounds[i].push(await measure(worker));
}
origin.close();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = workers.map((worker, i) => ({
  name: worker.name,
  cpu: median(rounds[i].map((r) => r.cpu)),
  cpus: rounds[i].map((r) => r.cpu),
  rps: median(rounds[i].map((r) => r.rps)),
  p50: median(rounds[i].map((r) => r.p50)),
  p99: median(rounds[i].map((r) => r.p99)),
  failures: rounds[i].reduce((n, r) => n + r.failures, 0),
}));

const [floor, forward, js, edge, baseline] = results;
// Within a round the workers run back to back, so a round's own ratio cancels slow drift.
const paired = (a, b) => median(rounds[a].map((r, i) => r.cpu / rounds[b][i].cpu));
console.log(`\nRuntime: ${REQUESTS} signed ${BENCH_CHAT.length}-byte deliveries at concurrency ${CONCURRENCY}, workerd via Miniflare, loopback origin; median of ${ROUNDS} interleaved rounds\n`);
console.log("| worker | CPU µs/request (rounds) | requests/s | p50 ms | p99 ms | non-200 |");
console.log("|---|---|---|---|---|---|");
for (const r of results) {
  const each = r.cpus.map((c) => c.toFixed(0)).join(", ");
  console.log(`| ${r.name} | ${r.cpu.toFixed(0)} (${each}) | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.name.startsWith("pass") ? "—" : r.failures} |`);
}
console.log(`\nCPU ratios (of the medians; median of the rounds' own ratios in brackets):`);
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
