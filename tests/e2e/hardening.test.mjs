// Findings of the outside security review, each end to end in the built worker: a protection
// that a bad value could turn off fails closed instead, and a chunked body far over the limit
// is refused without the isolate's memory growing with it.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { KEY, delivery, sampleChat, startEdge, startOrigin } from "./harness.mjs";

let origin;
const edges = [];
before(async () => {
  origin = await startOrigin();
});
after(async () => {
  for (const e of edges) await e.dispose();
  await origin.close();
});

async function edgeWith(bindings, options) {
  const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/events`, ...bindings }, options);
  edges.push(e);
  return e;
}

describe("settings that would turn a protection off fail closed", () => {
  for (const value of [",", " , \n", "  "]) {
    test(`INBOUND_BASIC_AUTH set to ${JSON.stringify(value)} is misconfigured, never open`, async () => {
      const e = await edgeWith({ INBOUND_BASIC_AUTH: value });
      const health = await e.send("/healthz");
      assert.equal(health.status, 503);
      assert.deepEqual(health.json.problems, ["INBOUND_BASIC_AUTH"]);
      const before = origin.received.length;
      const r = await e.deliver("chat_started", sampleChat({ id: "no-auth" }));
      assert.equal(r.status, 500);
      assert.equal(r.json.error.code, "misconfigured");
      assert.equal(origin.received.length, before);
    });
  }

  test("settings that are not strings (a TOML number or list) are problems, never the default", async () => {
    const e = await edgeWith({ MAX_BODY_BYTES: 100, INBOUND_BASIC_AUTH: ["a:b"], RETRY_BASE_SECONDS: 5 });
    const health = await e.send("/healthz");
    assert.equal(health.status, 503);
    assert.deepEqual(health.json.problems, ["INBOUND_BASIC_AUTH", "MAX_BODY_BYTES", "RETRY_BASE_SECONDS"]);
    const r = await e.deliver("chat_started", sampleChat({ id: "typed" }));
    assert.equal(r.json.error.code, "misconfigured");
  });
});

describe("limits named by /healthz (contract §9)", () => {
  const OUTBOX = { worker: { durableObjects: { OUTBOX: { className: "ChatOutbox", useSQLite: true } } } };
  for (const [what, bindings, options, problems] of [
    ["ORIGIN_TIMEOUT_MS of 120001 ms, longer than an attempt may take", { ORIGIN_TIMEOUT_MS: "120001" }, {}, ["ORIGIN_TIMEOUT_MS"]],
    ["ORIGIN_TIMEOUT_MS of 0", { ORIGIN_TIMEOUT_MS: "0" }, {}, ["ORIGIN_TIMEOUT_MS"]],
    ["ORIGIN_TIMEOUT_MS of 120000", { ORIGIN_TIMEOUT_MS: "120000" }, {}, []],
    ["MAX_BODY_BYTES of 2000001 with the outbox, more than its row holds", { MAX_BODY_BYTES: "2000001" }, OUTBOX, ["MAX_BODY_BYTES"]],
    ["MAX_BODY_BYTES of 2000000 with the outbox", { MAX_BODY_BYTES: "2000000" }, OUTBOX, []],
    ["MAX_BODY_BYTES of 2000001 without the outbox", { MAX_BODY_BYTES: "2000001" }, {}, []],
    ["an ADMIN_TOKEN of 31 characters", { ADMIN_TOKEN: "t".repeat(31) }, {}, ["ADMIN_TOKEN"]],
    ["an ADMIN_TOKEN of 32 characters", { ADMIN_TOKEN: "t".repeat(32) }, {}, []],
  ]) {
    test(`${what}: ${problems.length ? `a problem, ${problems.join(", ")}` : "fine"}`, async () => {
      const e = await edgeWith(bindings, options);
      const health = await e.send("/healthz");
      if (problems.length) {
        assert.equal(health.status, 503, health.text);
        assert.deepEqual(health.json, { status: "misconfigured", problems });
        const r = await e.deliver("chat_started", sampleChat({ id: "limits" }));
        assert.deepEqual([r.status, r.json.error.code], [500, "misconfigured"]);
      } else {
        assert.equal(health.status, 200, health.text);
        assert.equal(health.json.status, "ok");
      }
    });
  }
});

/** The workerd processes Miniflare runs for this test process, with their resident memory. */
function workerdRss() {
  const rss = {};
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const ppid = Number(status.match(/^PPid:\s+(\d+)/m)[1]);
      if (ppid === process.pid && /^Name:\s+workerd/m.test(status)) rss[pid] = Number(status.match(/^VmRSS:\s+(\d+)/m)[1]) * 1024;
    } catch {
      // the process ended while it was read
    }
  }
  return rss;
}

/** A chunked (no content-length) form body of `total` bytes in 64 KiB chunks. */
function chunkedBody(total) {
  const chunk = new TextEncoder().encode("chat=" + "x".repeat(65536 - 5));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      controller.enqueue(chunk);
      sent += chunk.length;
    },
  });
}

describe("a chunked body is never held beyond MAX_BODY_BYTES + 1 bytes", () => {
  test("64 MiB bodies without content-length are refused, nothing is forwarded, and workerd's memory does not grow with them", async () => {
    const e = await edgeWith({ MAX_BODY_BYTES: "1048576" });
    // The answer is 413, or, when the worker answers while the client is still uploading, the
    // connection closed under the upload: either way a refusal.
    const send = async () => {
      try {
        const r = await e.mf.dispatchFetch("http://edge.test/webim/chat_started", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: chunkedBody(64 * 1024 * 1024),
          duplex: "half",
        });
        await r.arrayBuffer();
        return r.status;
      } catch (error) {
        assert.equal(error.message, "fetch failed");
        return "closed";
      }
    };
    // Warm up with a genuine delivery and one refusal, so the isolate has its working memory.
    assert.equal((await e.deliver("chat_started", sampleChat({ id: "warm" }))).status, 200);
    await send();
    const before = Object.values(workerdRss()).reduce((a, b) => a + b, 0);
    const forwarded = origin.received.length;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await send());
    const grown = Object.values(workerdRss()).reduce((a, b) => a + b, 0) - before;
    console.log(`# workerd resident memory after 4 × 64 MiB chunked bodies: ${grown >= 0 ? "+" : ""}${(grown / 1048576).toFixed(1)} MiB`);
    for (const status of statuses) assert.ok(status === 413 || status === "closed", `refused: ${status}`);
    assert.equal(origin.received.length, forwarded);
    assert.ok(before > 0, "workerd's memory was read");
    // Reading one such body whole would hold 64 MiB in JavaScript and again in wasm memory,
    // which never shrinks.
    assert.ok(grown < 32 * 1024 * 1024, `workerd grew by ${grown} bytes`);
    // And the edge still serves.
    const { init } = delivery(sampleChat({ id: "after-chunked" }));
    assert.equal((await e.send("/webim/chat_started", init)).status, 200);
  });
});
