#!/usr/bin/env node
// The workers' own CPU per delivery without the HTTP around it. Each worker runs in a workerd of
// its own behind a wrapper module that, inside one request, hands the worker's fetch handler
// the benchmark's delivery again and again, the origin's fetch answered at once and the log
// lines kept. Measuring whole HTTP deliveries (lab/run.mjs) adds the runtime's receiving and
// sending, which moves by more than a change to the worker's own path is worth on a shared VM.
// Each round runs every worker once, in a fresh random order; each worker's figure in a round
// is paired with the first worker's in the same round, and the median of those differences is
// reported, so that the machine's swings between rounds cancel out.
//   usage: node lab/loop.mjs [--workers floor,edge] [--transport form|query|query-bare]
//                            [--iterations 600] [--rounds 31] [--baseline DIR[,DIR…]]
//                            [--evict KB] [--against KEY]
// --workers are keys of the benchmark's configurations (lab/workerd.mjs); --baseline adds
// earlier builds of webim-edge (each DIR a copy of build/ with its entry.mjs), as for
// lab/run.mjs. query-bare is the query string without Content-Length. --evict writes over KB
// kilobytes of memory before each delivery, as the runtime's own work between two HTTP
// requests may, so that the worker's data is no longer in the CPU's caches. --against KEY adds
// each worker's paired differences from that one (e.g. edge, to compare probes with it).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { REQUESTS, configurations, fastOrigin, serve, usage } from "./workerd.mjs";

const { values } = parseArgs({
  options: {
    workers: { type: "string", default: "floor,edge" },
    transport: { type: "string", default: "form" },
    iterations: { type: "string", default: "600" },
    rounds: { type: "string", default: "31" },
    baseline: { type: "string" },
    evict: { type: "string", default: "0" },
    against: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) usage(import.meta.url);
const delivery = REQUESTS[values.transport];
if (!delivery) throw new Error(`unknown transport ${values.transport}; known: ${Object.keys(REQUESTS).join(", ")}`);
// As an HTTP client sends it: with the body's length declared, except over query-bare.
const headers = delivery.bare ? delivery.headers : { ...delivery.headers, "content-length": String(Buffer.byteLength(delivery.body)) };
const SCRATCH = "target/bench-loop";

// The wrapper: `n` deliveries through the worker's handler, each a new Request (a body can be
// read once), with `fetch` answering 204 at once for the duration, and `evictBytes` written
// over before each.
const WRAPPER = (module) => `import worker from "${module}";
const answered = () => Promise.resolve(new Response(null, { status: 204 }));
let scratch;
function evict(bytes) {
  if (!bytes) return;
  if (scratch?.length !== bytes) scratch = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 64) scratch[i]++;
}
export default {
  async fetch(request, env, ctx) {
    const { n, url, headers, body, evictBytes } = await request.json();
    const realFetch = globalThis.fetch;
    globalThis.fetch = answered;
    let ok = 0;
    try {
      for (let i = 0; i < n; i++) {
        evict(evictBytes);
        const init = { method: "POST", headers, body: body === "" ? undefined : body };
        if ((await worker.fetch(new Request(url, init), env, ctx)).status === 200) ok++;
      }
    } finally {
      globalThis.fetch = realFetch;
    }
    return new Response(String(ok));
  },
};
`;

/**
 * The worker's Miniflare options with the wrapper as its entry, importing the worker's module
 * where it is (paths from the project's root, the modules' root).
 */
function wrapped(key, options) {
  const file = join(SCRATCH, `${key.replace(/[^\w-]/g, "_")}.mjs`);
  mkdirSync(SCRATCH, { recursive: true });
  writeFileSync(file, WRAPPER(relative(SCRATCH, options.scriptPath)));
  return { ...options, modulesRoot: ".", scriptPath: file };
}

const configs = configurations(values.workers, values.baseline);
const origin = await fastOrigin();
const served = [];
for (const config of configs) {
  served.push(await serve(wrapped(config.key, config.options), { ...origin.bindings, ...config.bindings }, { pin: true }));
}

/** CPU per delivery of `n` deliveries in one request. */
async function run(worker, n) {
  const before = worker.cpuMicros();
  const res = await fetch(worker.url, {
    method: "POST",
    body: JSON.stringify({ n, url: `http://127.0.0.1${delivery.path}`, headers, body: delivery.body, evictBytes: Number(values.evict) * 1024 }),
  });
  const ok = await res.text();
  if (ok !== String(n)) throw new Error(`${n} deliveries, ${ok} answered 200`);
  return (worker.cpuMicros() - before) / n;
}

const n = Number(values.iterations);
for (const worker of served) await run(worker, n);
const figures = configs.map(() => []);
for (let round = 0; round < Number(values.rounds); round++) {
  // A fresh order each round: whichever runs right after another is not always the same one.
  const order = served.map((_, i) => i).sort(() => Math.random() - 0.5);
  for (const i of order) figures[i].push(await run(served[i], n));
}
for (const worker of served) await worker.dispose();
origin.close();

const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
/** The median of the paired differences of worker `i` from worker `j`, with their 10th–90th percentiles. */
function paired(i, j) {
  if (i === j) return "—";
  const d = figures[i].map((x, r) => x - figures[j][r]).sort((a, b) => a - b);
  const at = (p) => d[Math.round(p * (d.length - 1))].toFixed(1);
  return `${at(0.5)} (${at(0.1)} to ${at(0.9)})`;
}
const against = values.against === undefined ? -1 : configs.findIndex((c) => c.key === values.against);
if (values.against !== undefined && against < 0) throw new Error(`--against ${values.against} is not among the workers`);
console.log(`\n${n} deliveries (${values.transport}) per request, ${values.rounds} rounds; CPU µs per delivery; paired differences as median (10th to 90th percentile over rounds)\n`);
const extra = against < 0 ? "" : ` paired differences from ${configs[against].key} |`;
console.log(`| worker | median | spread over rounds | paired differences from ${configs[0].key} |${extra}`);
console.log(`|---|---|---|---|${against < 0 ? "" : "---|"}`);
for (const [i, config] of configs.entries()) {
  const xs = figures[i].slice().sort((a, b) => a - b);
  const more = against < 0 ? "" : ` ${paired(i, against)} |`;
  console.log(`| ${config.key} | ${median(xs).toFixed(1)} | ${xs[0].toFixed(0)}–${xs[xs.length - 1].toFixed(0)} | ${paired(i, 0)} |${more}`);
}
