#!/usr/bin/env node
// What one digest costs in workerd, candidate by candidate, side by side in one isolate
// (lab/hashing-worker.mjs) with webim-edge's compatibility date and flags (wrangler.toml): SHA-256 by
// node:crypto's one-shot hash(), by createHash, by WebCrypto's subtle.digest (awaited) and by
// the native handle webim-edge used before; HMAC-SHA256 by createHmac, by RFC 2104 on hash(),
// by WebCrypto's subtle.sign (its key imported once) and by the native handle; MD5 by hash(),
// createHash and the native handle. The inputs are a delivery's sizes: the chat of a real
// delivery (about 7 KB) and 1 KB; HMAC keys are the Webim key and the origin's signing secret.
// Each request has the candidate hash the same bytes N times in a row, and its figure is
// workerd's CPU for it (all threads, from /proc), less that of the same request doing no
// hashing (`none`) in the same round, over N. Each round takes every (candidate, size) once, in
// a fresh random order. Reported: the median over rounds, and the 10th–90th percentiles over
// rounds as its noise; then a delivery's hashing (one SHA-256 and two HMACs of the chat's size)
// by the current helpers, by the previous path and by the cheapest public candidates.
//   usage: node lab/hashing.mjs [--rounds 31] [--iterations 1000] [--sizes 7168,1024]
import { createHash, createHmac } from "node:crypto";
import { parseArgs } from "node:util";
import { KEY, SIGNING_SECRET } from "../tests/e2e/harness.mjs";
import { BENCH_CHAT, WASM_WORKER, jsWorker, serve, usage } from "./workerd.mjs";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "31" },
    iterations: { type: "string", default: "1000" },
    sizes: { type: "string", default: "7168,1024" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) usage(import.meta.url);
const ROUNDS = Number(values.rounds);
const N = Number(values.iterations);
const SIZES = values.sizes.split(",").map(Number);

/** `size` bytes of the benchmark's chat (Cyrillic, emoji, URLs), repeated as needed. */
function chatBytes(size) {
  const chat = Buffer.from(BENCH_CHAT);
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; at += chat.length) chat.copy(out, at, 0, Math.min(chat.length, size - at));
  return out;
}
// The Webim key and the origin's secret (the bytes whsec_ encodes), sent in base64.
const WEBIM_KEY = Buffer.from(KEY).toString("base64");
const SECRET_KEY = SIGNING_SECRET.slice("whsec_".length);

const CANDIDATES = [
  "none",
  "sha256 hash()",
  "sha256 createHash",
  "sha256 subtle.digest",
  "sha256 before (native handle)",
  "hmac createHmac",
  "hmac on hash() (RFC 2104)",
  "hmac subtle.sign",
  "hmac before (native handle)",
  "md5 hash()",
  "md5 createHash",
  "md5 before (native handle)",
];

const worker = await serve({ ...jsWorker("lab/hashing-worker.mjs"), compatibilityDate: WASM_WORKER.compatibilityDate, compatibilityFlags: WASM_WORKER.compatibilityFlags }, {}, { pin: true });
const call = (path, params, body) => fetch(`${worker.url.origin}${path}?${new URLSearchParams(params)}`, { method: "POST", body });

// Every candidate must give the same digest as Node's own.
const check = await (await call("/check", { key: WEBIM_KEY }, chatBytes(SIZES[0]))).json();
const expected = {
  sha256: createHash("sha256").update(chatBytes(SIZES[0])).digest("hex"),
  hmac: createHmac("sha256", KEY).update(chatBytes(SIZES[0])).digest("hex"),
  md5: createHash("md5").update(chatBytes(SIZES[0])).digest("hex"),
};
for (const [name, digest] of Object.entries(check.digests)) {
  if (digest !== expected[name.split(" ")[0]]) throw new Error(`${name} disagrees: ${digest}`);
}
const candidates = CANDIDATES.filter((name) => name === "none" || name in check.digests);
if (!check.before) console.log("The previous native-handle path cannot be reached in this runtime: left out.");

const cases = SIZES.flatMap((size) => candidates.map((name) => ({ name, size })));
let turn = 0;
async function measure({ name, size }, n) {
  // Half the HMACs under each key, as a delivery has one of each.
  const key = name.startsWith("hmac") && turn++ % 2 ? SECRET_KEY : WEBIM_KEY;
  const before = worker.cpuMicros();
  const res = await call("/run", { candidate: name, n, key }, chatBytes(size));
  if (!res.ok) throw new Error(`${name}: ${res.status} ${await res.text()}`);
  await res.text();
  return worker.cpuMicros() - before;
}

for (const c of cases) await measure(c, N);
const raw = cases.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  const order = cases.map((_, i) => i).sort(() => Math.random() - 0.5);
  const cpu = new Array(cases.length);
  for (const i of order) cpu[i] = await measure(cases[i], N);
  for (const [i, c] of cases.entries()) {
    const none = cases.findIndex((x) => x.name === "none" && x.size === c.size);
    raw[i].push((cpu[i] - cpu[none]) / N);
  }
}
await worker.dispose();

const at = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))];
const stats = new Map();
for (const [i, c] of cases.entries()) {
  const xs = raw[i].slice().sort((a, b) => a - b);
  stats.set(`${c.name}@${c.size}`, { median: at(xs, 0.5), p10: at(xs, 0.1), p90: at(xs, 0.9) });
}
const cell = (name, size) => {
  const s = stats.get(`${name}@${size}`);
  return `${s.median.toFixed(2)} (${s.p10.toFixed(2)}–${s.p90.toFixed(2)})`;
};

console.log(`\nCPU µs per call in workerd (compatibility ${WASM_WORKER.compatibilityDate}, ${WASM_WORKER.compatibilityFlags.join(", ")}), ${N} calls per request, ${ROUNDS} rounds: median (10th–90th percentile over rounds), above a request that hashes nothing\n`);
console.log(`| candidate | ${SIZES.map((s) => `${(s / 1024).toFixed(0)} KB`).join(" | ")} |`);
console.log(`|---|${SIZES.map(() => "---").join("|")}|`);
for (const name of candidates.filter((x) => x !== "none")) console.log(`| ${name} | ${SIZES.map((s) => cell(name, s)).join(" | ")} |`);

// A delivery: one SHA-256 (the event id) and two HMACs (Webim's signature, the origin's), each
// of about the chat's size.
const median = (name, size) => stats.get(`${name}@${size}`)?.median;
const delivery = (sha, hmac, size) => median(sha, size) + 2 * median(hmac, size);
console.log("\nA delivery's hashing (one SHA-256 and two HMACs of the size), µs:\n");
console.log(`| path | ${SIZES.map((s) => `${(s / 1024).toFixed(0)} KB`).join(" | ")} |`);
console.log(`|---|${SIZES.map(() => "---").join("|")}|`);
const paths = [
  ["today's helpers: hash() + createHmac", "sha256 hash()", "hmac createHmac"],
  ["hash() + HMAC on hash()", "sha256 hash()", "hmac on hash() (RFC 2104)"],
  ["createHash + createHmac (streams)", "sha256 createHash", "hmac createHmac"],
  ["WebCrypto digest + sign", "sha256 subtle.digest", "hmac subtle.sign"],
  ["before: native handles", "sha256 before (native handle)", "hmac before (native handle)"],
];
for (const [label, sha, hmac] of paths) {
  if (median(sha, SIZES[0]) === undefined || median(hmac, SIZES[0]) === undefined) continue;
  console.log(`| ${label} | ${SIZES.map((s) => delivery(sha, hmac, s).toFixed(1)).join(" | ")} |`);
}
