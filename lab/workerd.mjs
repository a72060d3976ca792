// What the runtime benchmark and the profiler share: the signed 4 KB delivery, a fast origin,
// serving a worker with a workerd of its own through Miniflare on loopback (its CPU time and
// resident memory read from /proc), and driving it at a fixed concurrency.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import http from "node:http";
import { availableParallelism } from "node:os";
import { Miniflare } from "miniflare";
import { KEY, SIGNING_SECRET, WASM_WORKER, delivery, sampleChat } from "../tests/e2e/harness.mjs";

/**
 * For --help: prints the leading comment of the lab script at `url` (its import.meta.url),
 * which says what it measures and how it is called, and exits.
 */
export function usage(url) {
  const lines = readFileSync(new URL(url), "utf8").split("\n");
  const start = lines[0].startsWith("#!") ? 1 : 0;
  const comment = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith("//")) break;
    comment.push(line.replace(/^\/\/ ?/, ""));
  }
  console.log(comment.join("\n"));
  process.exit(0);
}

/** The benchmarks' delivery: one signed chat of about 4 KB (Cyrillic, emoji, URLs with credentials). */
export const BENCH_CHAT = (() => {
  let chat = sampleChat();
  for (let i = 0; chat.length < 4096; i++) chat = sampleChat({ note: "Комментарий оператора 🙂 ".repeat(i) });
  return chat;
})();
/**
 * The two ways Webim can hand over a delivery's parameters: in the query string with an empty
 * body (what Webim's documentation describes), or as an urlencoded form body. Both declare the
 * body's length (`Content-Length: 0` for the query string).
 */
export const TRANSPORTS = ["query", "form"];
/**
 * Every transport the lab knows: the two above, and `query-bare`, the query string with no
 * `Content-Length` at all (a body of undeclared length, which webim-edge leaves to its general
 * handler). Named with --transports.
 */
export const ALL_TRANSPORTS = ["query", "query-bare", "form"];
/** The request for `chat` over `transport`; `bare` when it declares no length. */
function request(chat, transport) {
  const { query, init } = delivery(chat, { form: transport === "form" });
  return { path: `/webim/chat_started${query}`, headers: init.headers ?? {}, body: init.body ?? "", bare: transport === "query-bare" };
}
/** The benchmark request of each transport: path, headers, body and `bare`. */
export const REQUESTS = Object.fromEntries(ALL_TRANSPORTS.map((transport) => [transport, request(BENCH_CHAT, transport)]));
let distinctEvents = 0;
/**
 * A new event of the benchmark chat, signed: what the outbox must store anew. Every
 * `perChat` events share a chat (so its object), as a chat's events do.
 */
function distinctRequest(transport, perChat) {
  const n = distinctEvents++;
  const chat = BENCH_CHAT.replace('"id":4242', `"id":"bench-${process.pid}-${Math.floor(n / perChat)}","event":${n}`);
  return request(chat, transport);
}

/**
 * A loopback origin that answers 204 at once, and the bindings that point a worker at it.
 * `received(path)` counts the requests it took at `/events/<path>` (`bindingsFor(path)` points
 * a worker there), so that a benchmark can tell how many events each worker delivered.
 */
export async function fastOrigin() {
  const counts = new Map();
  const server = http.createServer((req, res) => {
    counts.set(req.url, (counts.get(req.url) ?? 0) + 1);
    req.resume();
    req.on("end", () => res.writeHead(204).end());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = (path) => `http://127.0.0.1:${server.address().port}/events${path ? `/${path}` : ""}`;
  const bindingsFor = (path) => ({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: url(path), ORIGIN_SIGNING_SECRET: SIGNING_SECRET });
  const received = (path) => counts.get(new URL(url(path)).pathname) ?? 0;
  return { bindings: bindingsFor(""), bindingsFor, received, close: () => server.close() };
}

/**
 * Sends the delivery `count` times to `url`'s /webim/chat_started over `concurrency` keep-alive
 * connections, its parameters carried by `transport` ("query" or "form"); with `distinct: N`,
 * each request is a new event, N to a chat (for the outbox, which answers repeats as duplicates). The
 * seconds it took, every latency in ms (unsorted), and how many were not 2xx.
 */
export async function drive(url, count, concurrency, transport = "form", { distinct = 0 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  let failures = 0;
  let next = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const { path, headers, body, bare } = distinct ? distinctRequest(transport, distinct) : REQUESTS[transport];
      const started = process.hrtime.bigint();
      const req = http.request(new URL(path, url), { method: "POST", agent, headers }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode < 200 || res.statusCode > 299) failures++;
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          resolve();
        });
      });
      req.on("error", reject);
      // Without a body, neither Content-Length nor chunked encoding: a length left undeclared.
      if (bare) req.useChunkedEncodingByDefault = false;
      if (bare) req.end();
      else req.end(body);
    });
  const lane = async () => {
    while (next < count) {
      next++;
      await one();
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return { seconds, latencies, failures };
}

/** Options for a plain JavaScript worker of lab/. */
export const jsWorker = (scriptPath) => ({ scriptPath, modules: true, modulesRoot: ".", compatibilityDate: WASM_WORKER.compatibilityDate });
/** webim-edge from `dir`, build/ or a copy of it inside the project (entry.mjs beside index.js). */
export const edgeFrom = (dir) => ({ ...WASM_WORKER, modulesRoot: ".", scriptPath: `${dir.replace(/\/+$/, "")}/entry.mjs` });
/**
 * The build the lab measures as webim-edge: build/, or the directory in EDGE_BUILD (a copy of
 * build/ inside the project, such as lab/build-rev.sh makes, which builds of the tree by others
 * do not replace while it is measured).
 */
export const EDGE_BUILD = process.env.EDGE_BUILD || "build";
/**
 * webim-edge as built: the module entry entry.mjs, which imports ./index.js and
 * ./index_bg.wasm, and index.js its snippets under snippets/. The project's root is the
 * modules' root, so that it holds all of them.
 */
export const EDGE_WORKER = edgeFrom(EDGE_BUILD);
export { WASM_WORKER };

/**
 * Every configuration the benchmark knows. `bindings` are added to the origin's (so a
 * configuration can set ORIGIN_FORMAT, or bind an outbox through `options`); `floor` marks the
 * empty worker that the others are reported above. Configurations not in DEFAULT_WORKERS run
 * when named with --workers.
 */
export const CONFIGS = {
  empty: { name: "empty worker (answers {} at once)", options: jsWorker("lab/empty.mjs"), floor: true },
  "empty-flags": { name: "empty worker with webim-edge's compatibility flags", options: { ...jsWorker("lab/empty.mjs"), compatibilityFlags: WASM_WORKER.compatibilityFlags } },
  forward: { name: "forwarding alone", options: jsWorker("lab/forward-only.mjs") },
  floor: { name: "the job's floor (its runtime calls, none of its logic)", options: { ...jsWorker("lab/floor.mjs"), compatibilityFlags: ["nodejs_compat"] } },
  js: { name: "JavaScript + WebCrypto", options: jsWorker("lab/js-reference.mjs") },
  edge: { name: "webim-edge (Rust/wasm)", options: EDGE_WORKER },
  "edge-webim": { name: "webim-edge, Webim format to the origin", options: EDGE_WORKER, bindings: { ORIGIN_FORMAT: "webim" } },
  // Each request a new event, five to a chat, stored in its chat's outbox and delivered from
  // the object's alarm in the same workerd process: its CPU per request is accepting and
  // delivering one event, and a fifth of creating a chat's object.
  "edge-outbox": {
    name: "webim-edge, outbox (accept + deliver)",
    options: { ...EDGE_WORKER, durableObjects: { OUTBOX: { className: "ChatOutbox", useSQLite: true } } },
    distinct: 5,
  },
  // The same job as a plain JavaScript Worker with a SQLite Durable Object per chat
  // (lab/js-outbox.mjs), bound and driven as edge-outbox is: what edge-outbox is compared with.
  "js-outbox": {
    name: "JavaScript outbox (accept + deliver)",
    options: { ...jsWorker("lab/js-outbox.mjs"), durableObjects: { OUTBOX: { className: "JsChatOutbox", useSQLite: true } } },
    distinct: 5,
  },
  // The outbox's floor (lab/outbox-floor.mjs): one request to the chat's object, one insert,
  // one delivery, one update per event, and none of the job's logic.
  "outbox-floor": {
    name: "the outbox's floor (its runtime calls, none of its logic)",
    options: { ...jsWorker("lab/outbox-floor.mjs"), compatibilityFlags: ["nodejs_compat"], durableObjects: { OUTBOX: { className: "FloorOutbox", useSQLite: true } } },
    distinct: 5,
  },
};
/**
 * The configurations named by `workers` (keys of CONFIGS, comma-separated), then earlier builds
 * of webim-edge given as `baseline` (`DIR[,DIR…]`, each DIR inside this project a copy of
 * build/ holding its entry.mjs, index.js, index_bg.wasm and snippets/), to compare versions in
 * one run; `outbox:DIR` measures DIR with the outbox, as edge-outbox.
 */
export function configurations(workers, baseline) {
  const named = workers.split(",").map((key) => {
    if (!CONFIGS[key]) throw new Error(`unknown worker ${key}; known: ${Object.keys(CONFIGS).join(", ")}`);
    return { key, ...CONFIGS[key] };
  });
  const builds = (baseline?.split(",") ?? []).map((given) => {
    // `outbox:DIR` measures the build in DIR with the outbox, as edge-outbox is measured.
    const dir = given.replace(/^outbox:/, "");
    const outbox = dir !== given;
    return {
      key: `baseline ${given}`,
      name: `webim-edge baseline (${given})`,
      options: outbox ? { ...edgeFrom(dir), durableObjects: CONFIGS["edge-outbox"].options.durableObjects } : edgeFrom(dir),
      distinct: outbox ? CONFIGS["edge-outbox"].distinct : undefined,
    };
  });
  return [...named, ...builds];
}

// Counted before anything is pinned: once this process is pinned to fewer CPUs,
// availableParallelism() counts only those, and every workerd served after the first would be
// left on this process's CPUs.
const CPUS = availableParallelism();

/**
 * Keeps the measured workerd and this process (the load generator and the origin) on separate
 * CPUs, where there are two or more and `taskset` exists, so that they do not compete for one.
 */
function pinApart(workerdPid) {
  if (CPUS < 2) return;
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(CPUS - 1), String(workerdPid)], { stdio: "ignore" });
    execFileSync("taskset", ["-a", "-p", "-c", `0-${CPUS - 2}`, String(process.pid)], { stdio: "ignore" });
  } catch {
    // No taskset: the figures are only noisier.
  }
}

/** The pids of this process's workerd children. */
function workerdChildren() {
  let ps = "";
  try {
    ps = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
  } catch {
    // ps exits 1 when there is no child.
  }
  return ps
    .split("\n")
    .filter((l) => l.includes("workerd"))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/**
 * Serves `worker` (Miniflare options) with `bindings`; its log lines are read and discarded.
 * `pin` puts workerd on a CPU of its own.
 */
export async function serve(worker, bindings, { pin = false } = {}) {
  const before = new Set(workerdChildren());
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    // Miniflare otherwise passes every outbound fetch through a JavaScript worker of its own
    // that strips cf-connecting-ip, in the same process: a cost that exists only locally and
    // that would be counted as every forwarding worker's own (docs/performance.md).
    stripCfConnectingIp: false,
    bindings,
    handleRuntimeStdio: (stdout, stderr) => {
      stdout.resume();
      stderr.resume();
    },
    ...worker,
  });
  const url = await mf.ready;
  // Several workers may be served at once, each by a workerd of its own: this one is new.
  const pid = workerdChildren().find((p) => !before.has(p));
  if (!pid) throw new Error("workerd process not found");
  if (pin) pinApart(pid);
  return {
    url,
    /** CPU time in µs of every thread of the workerd process. */
    cpuMicros() {
      let ns = 0;
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
      }
      return ns / 1000;
    },
    /**
     * The CPU µs of workerd's main thread (where the isolate runs and requests are handled:
     * what the platform's per-request limit counts) and of its other threads (V8's background
     * compilation and garbage collection, I/O) apart.
     */
    cpuByThread() {
      const split = { main: 0, others: 0 };
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const ns = Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
        split[task === String(pid) ? "main" : "others"] += ns / 1000;
      }
      return split;
    },
    /** Resident memory of the workerd process in MiB. */
    rssMiB: () => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]) / 1024,
    dispose: () => mf.dispose(),
  };
}
