import { Miniflare } from "miniflare";
import http from "node:http";
import WebSocket from "ws";
import { KEY, SIGNING_SECRET, delivery, sampleChat } from "../tests/e2e/harness.mjs";
let chat = sampleChat();
for (let i = 0; chat.length < 4096; i++) chat = sampleChat({ note: "Комментарий оператора 🙂 ".repeat(i) });
const { init } = delivery(chat);
const origin = http.createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(204).end()); });
await new Promise((r) => origin.listen(0, "127.0.0.1", r));
const script = process.argv[2] ?? "build/worker/shim.mjs";
const mf = new Miniflare({
  host: "127.0.0.1", port: 0, inspectorPort: 9333, compatibilityDate: "2026-04-20",
  bindings: { WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `http://127.0.0.1:${origin.address().port}/events`, ORIGIN_SIGNING_SECRET: SIGNING_SECRET },
  handleRuntimeStdio: (o, e) => { o.resume(); e.resume(); },
  scriptPath: script, modules: true,
  modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
});
const url = await mf.ready;
const targets = await (await fetch("http://127.0.0.1:9333/json")).json();
const target = targets.find((t) => t.title.includes("core:user"));
console.error(targets.map((t) => t.title));
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((r) => ws.on("open", r));
let id = 0; const pending = new Map();
ws.on("message", (m) => { const msg = JSON.parse(m); if (pending.has(msg.id)) { pending.get(msg.id)(msg.result); pending.delete(msg.id); } });
const send = (method, params = {}) => new Promise((r) => { pending.set(++id, r); ws.send(JSON.stringify({ id, method, params })); });
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const one = () => new Promise((resolve) => { const req = http.request(new URL("/webim/chat_started", url), { method: "POST", agent, headers: init.headers }, (res) => { res.resume(); res.on("end", resolve); }); req.end(init.body); });
const load = async (n) => { let k = 0; await Promise.all(Array.from({ length: 8 }, async () => { while (k++ < n) await one(); })); };
await load(300);
await send("Profiler.enable"); await send("Profiler.setSamplingInterval", { interval: 50 }); await send("Profiler.start");
await load(3000);
const { profile } = await send("Profiler.stop");
const self = new Map(); let total = 0;
const dt = profile.timeDeltas; const counts = new Map();
for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
for (const node of profile.nodes) {
  const n = counts.get(node.id) ?? 0; total += n;
  const name = `${node.callFrame.functionName || "(anon)"} ${node.callFrame.url.split("/").pop()}`;
  self.set(name, (self.get(name) ?? 0) + n);
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, 45);
for (const [name, n] of rows) console.log(((100 * n) / total).toFixed(1).padStart(5), "%", name.slice(0, 110));
ws.close(); await mf.dispose(); origin.close();
