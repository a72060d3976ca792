// Start-up of a cold isolate: what it costs to load a worker (for webim-edge: compile and
// instantiate the wasm) and answer its first request, against the JavaScript reference.
// Each start is a fresh workerd process (through Miniflare); its CPU time once it is ready, less
// that of the same start with the empty worker, is the worker's own load cost; then one delivery
// (query string) is timed from the client, with the CPU workerd spent on it, and a second one
// for comparison. Starts of the three workers are taken in turn, in a fresh random order.
//   usage: node lab/cold.mjs [--starts 6]   (npm run bench runs it with the default)
import { parseArgs } from "node:util";
import { configurations, drive, fastOrigin, serve, usage } from "./workerd.mjs";

const WORKERS = configurations("empty,js,edge");

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One cold start of `worker`: load CPU, then the first and second requests' latency and CPU. */
async function once(worker, bindings) {
  const served = await serve(worker.options, bindings, { pin: true });
  const loaded = served.cpuByThread();
  const first = await drive(served.url, 1, 1, "query");
  const afterFirst = served.cpuByThread();
  const second = await drive(served.url, 1, 1, "query");
  const afterSecond = served.cpuByThread();
  await served.dispose();
  if (first.failures || second.failures) throw new Error(`${worker.name}: cold request failed`);
  const all = (t) => t.main + t.others;
  return {
    loadCpu: all(loaded) / 1000,
    loadMain: loaded.main / 1000,
    firstMs: first.latencies[0],
    firstCpu: (all(afterFirst) - all(loaded)) / 1000,
    firstMain: (afterFirst.main - loaded.main) / 1000,
    secondMs: second.latencies[0],
    secondCpu: (all(afterSecond) - all(afterFirst)) / 1000,
    secondMain: (afterSecond.main - afterFirst.main) / 1000,
  };
}

/** Measures `starts` cold starts of each worker and prints a table (figures in ms, medians). */
export async function coldStarts(bindings, starts = 6, baseline = undefined) {
  const WORKERS = configurations("empty,js,edge", baseline);
  const runs = new Map(WORKERS.map((w) => [w.key, []]));
  for (let i = 0; i < starts; i++) {
    for (const worker of [...WORKERS].sort(() => Math.random() - 0.5)) runs.get(worker.key).push(await once(worker, bindings));
  }
  const med = (key, field) => median(runs.get(key).map((r) => r[field]));
  /** The median of `field` over the starts of `key`, less `minus`, and its range over the starts. */
  const cell = (key, field, minus = 0) => {
    const xs = runs.get(key).map((r) => r[field] - minus);
    return `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
  };
  console.log(`\nStart-up of a cold isolate: ${starts} fresh workerd processes per worker, taken in turn; ms, as median (range over the starts). "Load CPU" is workerd's CPU until ready, less the empty worker's median (${med("empty", "loadCpu").toFixed(1)} ms)\n`);
  console.log("| worker | load CPU above empty | 1st request: latency | 1st request: CPU | 2nd request: latency | 2nd request: CPU |");
  console.log("|---|---|---|---|---|---|");
  for (const w of WORKERS) {
    const load = w.key === "empty" ? "—" : cell(w.key, "loadCpu", med("empty", "loadCpu"));
    console.log(`| ${w.name} | ${load} | ${cell(w.key, "firstMs")} | ${cell(w.key, "firstCpu")} | ${cell(w.key, "secondMs")} | ${cell(w.key, "secondCpu")} |`);
  }
  // The request's own thread: workerd's main thread, where the isolate runs (what the
  // platform's CPU limit per request counts); the rest is V8's background threads (compiling,
  // collecting garbage) and I/O.
  console.log(`\nThe same starts, workerd's main thread only (the isolate's thread), ms, median (range); "above empty" less the empty worker's median\n`);
  console.log("| worker | load, main thread, above empty | 1st request: main thread | above empty | 2nd request: main thread | above empty |");
  console.log("|---|---|---|---|---|---|");
  for (const w of WORKERS) {
    const empty = w.key === "empty";
    const load = empty ? "—" : cell(w.key, "loadMain", med("empty", "loadMain"));
    const above = (field) => (empty ? "—" : cell(w.key, field, med("empty", field)));
    console.log(`| ${w.name} | ${load} | ${cell(w.key, "firstMain")} | ${above("firstMain")} | ${cell(w.key, "secondMain")} | ${above("secondMain")} |`);
  }
  // The ratios: each request's CPU above the empty worker's, webim-edge over JavaScript.
  for (const w of WORKERS.filter((w) => w.key !== "empty" && w.key !== "js")) {
    const ratio = (field) => ((med(w.key, field) - med("empty", field)) / (med("js", field) - med("empty", field))).toFixed(2);
    console.log(`\n${w.name} ÷ JavaScript, CPU above the empty worker (medians): 1st request ${ratio("firstCpu")} (main thread ${ratio("firstMain")}), 2nd request ${ratio("secondCpu")} (main thread ${ratio("secondMain")})`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { starts: { type: "string", default: "6" }, baseline: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) usage(import.meta.url);
  const origin = await fastOrigin();
  await coldStarts(origin.bindings, Number(values.starts), values.baseline);
  origin.close();
}
