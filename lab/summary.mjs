#!/usr/bin/env node
// Prints criterion's latest estimates (target/criterion, the median of each benchmark, which a
// busy machine skews less than the mean) as a table: µs per event and MB/s,
// per chat size and stage, and the per-byte cost of each stage at 1 MB relative to 4 KB.
import { existsSync, readFileSync, readdirSync } from "node:fs";

const root = "target/criterion";
const sizes = ["1KB", "4KB", "64KB", "1MB"].filter((s) => existsSync(`${root}/${s}`));
const read = (path) => JSON.parse(readFileSync(path, "utf8"));
const rows = new Map();
for (const size of sizes) {
  for (const stage of readdirSync(`${root}/${size}`).filter((d) => existsSync(`${root}/${size}/${d}/new/estimates.json`)).sort()) {
    const ns = read(`${root}/${size}/${stage}/new/estimates.json`).median.point_estimate;
    const bytes = read(`${root}/${size}/${stage}/new/benchmark.json`).throughput?.Bytes ?? 0;
    if (!rows.has(stage)) rows.set(stage, {});
    rows.get(stage)[size] = { us: ns / 1000, mbps: bytes / 1e6 / (ns / 1e9), nsPerByte: ns / bytes };
  }
}
const cell = (r) => (r ? `${r.us < 100 ? r.us.toFixed(1) : Math.round(r.us)} µs · ${Math.round(r.mbps)} MB/s` : "—");
console.log(`| stage | ${sizes.join(" | ")} | ns/byte 1 MB ÷ 4 KB |`);
console.log(`|---|${sizes.map(() => "---").join("|")}|---|`);
for (const [stage, bySize] of rows) {
  const ratio = bySize["1MB"] && bySize["4KB"] ? (bySize["1MB"].nsPerByte / bySize["4KB"].nsPerByte).toFixed(2) : "—";
  console.log(`| ${stage} | ${sizes.map((s) => cell(bySize[s])).join(" | ")} | ${ratio} |`);
}
