// The warm-up the module entry runs while the worker loads (src/logic/warm_up.rs): in the
// Workers runtime, at global scope, it takes the built-in delivery all the way to a signed
// origin request, and it sends nothing, logs nothing, and leaves the worker's own settings
// alone (a real delivery after it goes to the configured origin; its built-in key verifies
// nothing the worker receives).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { KEY, eventId, eventually, sampleChat, startEdge, startOrigin } from "./harness.mjs";

let origin;
before(async () => {
  origin = await startOrigin();
});
after(() => origin.close());

/** What the origin received on `path`. */
const at = (path) => origin.received.filter((r) => r.url === path);

test("the warm-up runs the whole direct path at global scope and in a request, sending and logging nothing", async () => {
  const w = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/warm` }, { worker: { scriptPath: "tests/fixtures/warm-up-entry.mjs", modulesRoot: "." } });
  try {
    const r = await w.send("/");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { atLoad: true, inRequest: true });
    assert.deepEqual(w.logs, [], "no log line from the warm-up");
    assert.equal(origin.received.length, 0, "nothing sent");
  } finally {
    await w.dispose();
  }
});

test("after the warm-up a real delivery uses the worker's own settings", async () => {
  const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/after-warm-up` });
  try {
    const chat = sampleChat({ id: 9100 });
    const r = await e.deliver("chat_started", chat);
    assert.equal(r.status, 200, r.text);
    const [got] = await eventually(() => at("/after-warm-up").length === 1 && at("/after-warm-up"), 5000, "the delivery");
    assert.equal(got.headers["webhook-id"], eventId("chat_started", chat));
    assert.equal(e.logs.length, 1, e.logs.join("\n"));
  } finally {
    await e.dispose();
  }
});

test("a delivery signed with the warm-up's built-in key is refused and reaches nobody", async () => {
  const e = await startEdge({ WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/warm-up-key` });
  try {
    const chat = sampleChat({ id: 9200 });
    const r = await e.deliver("chat_started", chat, { key: "webim-edge-warm-up" });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error.code, "bad_signature");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(at("/warm-up-key").length, 0);
  } finally {
    await e.dispose();
  }
});
