#!/usr/bin/env node
// npm run bench: the runtime benchmark. Each worker is served by workerd (through Miniflare) on
// loopback in front of a fast local origin, and driven with the same signed 4 KB deliveries at
// a fixed concurrency, once with the parameters in the query string (empty body, as Webim's
// documentation describes) and once as an urlencoded form body. Reports workerd's CPU time per
// request (from /proc schedstat) and that CPU above an empty worker's for the same transport,
// requests per second and p50/p99 latency; then start-up (lab/cold.mjs) and the bundle's sizes.
// On a shared VM the machine's speed swings by 10-30 % over seconds, and one workerd process
// can run a few % faster or slower than another serving the same build for its whole life.
// So every (worker, transport) is served by several processes at once, and all processes are
// measured in short batches taken in turn, in a fresh random order each turn: the swings fall on
// every worker alike, and each figure is the mean over its processes. Identical builds measured
// this way agree within about 2 % on a quiet machine; read smaller differences as noise.
// --workers picks configurations from CONFIGS by key (comma-separated); --transports picks
// query, form or both (the default), or adds query-bare: the query string without
// Content-Length. --baseline DIR[,DIR…] adds earlier builds of webim-edge (each DIR, inside
// this project, is a copy of build/ with its entry.mjs; outbox:DIR measures it with the
// outbox), to compare versions. EDGE_BUILD=DIR measures DIR (a copy of build/, e.g. from
// lab/build-rev.sh) as webim-edge instead of build/.
//   usage: node lab/run.mjs [--requests 6000] [--processes 2] [--batch 200] [--concurrency 8]
//                           [--workers empty,forward,floor,js,edge,edge-webim,edge-outbox[,js-outbox]]
//                           [--transports query,form[,query-bare]]
//                           [--baseline DIR[,DIR…]] [--no-cold]
import { readFileSync, readdirSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { coldStarts } from "./cold.mjs";
import { ALL_TRANSPORTS, BENCH_CHAT, EDGE_BUILD, TRANSPORTS, configurations, drive, fastOrigin, serve, usage } from "./workerd.mjs";

const DEFAULT_WORKERS = "empty,forward,floor,js,edge,edge-webim,edge-outbox";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "6000" },
    processes: { type: "string", default: "2" },
    batch: { type: "string", default: "200" },
    concurrency: { type: "string", default: "8" },
    workers: { type: "string", default: DEFAULT_WORKERS },
    transports: { type: "string", default: TRANSPORTS.join(",") },
    baseline: { type: "string" },
    "no-cold": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) usage(import.meta.url);
const REQUESTS = Number(values.requests);
const PROCESSES = Number(values.processes);
const BATCH = Number(values.batch);
// Batches per process, so that each worker handles about REQUESTS in all per transport.
const BATCHES = Math.max(1, Math.round(REQUESTS / BATCH / PROCESSES));
const CONCURRENCY = Number(values.concurrency);
// Enough for V8 to optimize the JavaScript and the wasm before the clock starts.
const WARMUP = 1000;

const configs = configurations(values.workers, values.baseline);
const transports = values.transports.split(",");
for (const t of transports) if (!ALL_TRANSPORTS.includes(t)) throw new Error(`unknown transport ${t}; known: ${ALL_TRANSPORTS.join(", ")}`);

const origin = await fastOrigin();

/** A copy of `xs` in random order (Fisher–Yates). */
function shuffled(xs) {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const cases = transports.flatMap((transport) => configs.map((config) => ({ config, transport })));
const instances = cases.flatMap((c) => Array.from({ length: PROCESSES }, () => ({ case: c, batches: [] })));
for (const [n, instance] of instances.entries()) {
  const { config, transport } = instance.case;
  instance.path = String(n);
  instance.served = await serve(config.options, { ...origin.bindingsFor(instance.path), ...config.bindings }, { pin: true });
  await drive(instance.served.url, WARMUP, CONCURRENCY, transport, { distinct: config.distinct });
}
// Each turn takes the processes in a fresh random order, after a pause that lets the last
// one's background work settle, so that none always follows the same one.
for (let b = 0; b < BATCHES; b++) {
  for (const instance of shuffled(instances)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = instance.served.cpuMicros();
    const run = await drive(instance.served.url, BATCH, CONCURRENCY, instance.case.transport, { distinct: instance.case.config.distinct });
    instance.batches.push({ cpu: (instance.served.cpuMicros() - before) / BATCH, ...run });
  }
}
// What each process delivered, once the outboxes had a moment to finish: every request a new
// event for the outbox, so this is how many of its events reached the origin.
await new Promise((resolve) => setTimeout(resolve, 2000));
for (const instance of instances) instance.delivered = origin.received(instance.path);
for (const instance of instances) await instance.served.dispose();

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
/** The `p`th percentile of ascending `sorted`. */
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const mean = (xs) => sum(xs) / xs.length;
const results = cases.map((c) => {
  const own = instances.filter((p) => p.case === c);
  const batches = own.flatMap((p) => p.batches);
  const latencies = batches.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    ...c,
    cpu: mean(batches.map((r) => r.cpu)),
    perProcess: own.map((p) => mean(p.batches.map((r) => r.cpu))),
    // The mean of its processes' batches in each turn, which the ratios' ranges resample.
    perTurn: own[0].batches.map((_, b) => mean(own.map((p) => p.batches[b].cpu))),
    rps: (batches.length * BATCH) / sum(batches.map((r) => r.seconds)),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures: sum(batches.map((r) => r.failures)),
    // Of the requests it was sent, warm-up included, the share that reached the origin.
    delivered: sum(own.map((p) => p.delivered)) / (own.length * (WARMUP + BATCHES * BATCH)),
  };
});
const find = (key, transport) => results.find((r) => r.config.key === key && r.transport === transport);
const emptyOf = (r) => results.find((f) => f.config.floor && f.transport === r.transport);
/** CPU above the empty worker's for the same transport (the absolute figure without one). */
const above = (r) => r.cpu - (emptyOf(r)?.cpu ?? 0);
/**
 * `r` over `base`, both above the empty worker, over the run; then the range that holds 90 % of
 * the same ratio over 2,000 resamplings of the run's turns (drawn with replacement), which is
 * how far the turns' noise alone could move it.
 */
function ratio(r, base) {
  const inTurn = (x, b) => x.perTurn[b] - (emptyOf(x)?.perTurn[b] ?? 0);
  const resampled = Array.from({ length: 2000 }, () => {
    let [num, den] = [0, 0];
    for (let i = 0; i < BATCHES; i++) {
      const b = Math.floor(Math.random() * BATCHES);
      [num, den] = [num + inTurn(r, b), den + inTurn(base, b)];
    }
    return num / den;
  }).sort((a, b) => a - b);
  const at = (p) => resampled[Math.floor(p * resampled.length)].toFixed(2);
  return `${(above(r) / above(base)).toFixed(2)} (${at(0.05)}–${at(0.95)})`;
}

const requests = BATCHES * BATCH * PROCESSES;
console.log(`\nRuntime: ${requests} signed ${BENCH_CHAT.length}-byte deliveries per worker and transport at concurrency ${CONCURRENCY}, over ${PROCESSES} workerd processes each taking ${BATCHES} batches of ${BATCH} in turn with all others; workerd via Miniflare, loopback origin\n`);
console.log("| worker | transport | CPU µs/request | above empty | per process | requests/s | p50 ms | p99 ms | non-200 | reached the origin |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  const reached = r.config.floor ? "—" : `${(100 * r.delivered).toFixed(1)} %`;
  console.log(`| ${r.config.name} | ${r.transport} | ${r.cpu.toFixed(0)} | ${r.config.floor ? "—" : above(r).toFixed(0)} | ${r.perProcess.map((c) => c.toFixed(0)).join(", ")} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.config.floor ? "—" : r.failures} | ${reached} |`);
}
console.log(`\nCPU above the empty worker, as ratios over the run, each with the range that holds 90 % of it over resamplings of the ${BATCHES} turns (targets: ≤ 0.75 of JavaScript, the outbox ≤ 0.75 of the JavaScript outbox, ≤ 1.5 of forwarding alone):`);
for (const transport of transports) {
  for (const r of results.filter((x) => x.transport === transport && !x.config.floor && x.config.key !== "js" && x.config.key !== "forward")) {
    const js = find("js", transport);
    const forward = find("forward", transport);
    const parts = [];
    if (js) parts.push(`÷ JavaScript = ${ratio(r, js)}`);
    if (forward) parts.push(`÷ forwarding alone = ${ratio(r, forward)}`);
    const jsOutbox = find("js-outbox", transport);
    const outboxFloor = find("outbox-floor", transport);
    const isOutbox = r.config.key === "edge-outbox" || r.config.key.startsWith("baseline outbox:");
    if (jsOutbox && isOutbox) parts.push(`÷ JavaScript outbox = ${ratio(r, jsOutbox)}`);
    if (outboxFloor && (isOutbox || r.config.key === "js-outbox")) parts.push(`÷ the outbox's floor = ${ratio(r, outboxFloor)}`);
    if (parts.length) console.log(`- ${transport}: ${r.config.name} ${parts.join("; ")}`);
  }
}

if (!values["no-cold"]) await coldStarts(origin.bindings);
origin.close();

// Sizes as scripts/build.sh prints them (gzip -9; Node's zlib compresses the wasm about 1 %
// less). There is no size budget: the sizes are reported, the wasm and its generated glue
// summed, and the module entry (entry.mjs) and wasm-bindgen's snippets listed apart.
const gzipped = (file) => execFileSync("gzip", ["-9c", file], { maxBuffer: 1 << 26 }).length;
console.log(`\nBundle (${EDGE_BUILD}/, gzip -9)\n`);
console.log("| file | raw bytes | gzipped bytes |");
console.log("|---|---|---|");
let summed = 0;
const snippets = readdirSync(`${EDGE_BUILD}/snippets`, { recursive: true })
  .map((f) => `snippets/${f}`)
  .filter((f) => statSync(`${EDGE_BUILD}/${f}`).isFile());
for (const file of ["index_bg.wasm", "index.js", "entry.mjs", ...snippets]) {
  const gz = gzipped(`${EDGE_BUILD}/${file}`);
  if (file === "index_bg.wasm" || file === "index.js") summed += gz;
  console.log(`| ${file} | ${readFileSync(`${EDGE_BUILD}/${file}`).length} | ${gz} |`);
}
console.log(`| index_bg.wasm + index.js | | ${summed} |`);
