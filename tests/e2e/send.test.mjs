// `npm run send`: its signing against Python-made vectors, and the command itself against the
// built worker served on a loopback port.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { crc, request, signature } from "../../tools/webim.mjs";
import { KEY, eventId, startEdge, startOrigin } from "./harness.mjs";

const run = promisify(execFile);
const vectors = JSON.parse(readFileSync(new URL("../fixtures/signatures.json", import.meta.url), "utf8"));
const sampleFile = new URL("../../tools/sample-chat.json", import.meta.url).pathname;
const sampleChat = JSON.stringify(JSON.parse(readFileSync(sampleFile, "utf8")));

describe("sender signing", () => {
  test("matches the vectors written by Python's hmac and hashlib", () => {
    for (const v of vectors) {
      assert.equal(signature(v.chat, v.key), v.hmac_sha256);
      assert.equal(crc(v.chat, v.key), v.md5_crc);
    }
  });

  test("moves URL credentials to Authorization and encodes form or query", () => {
    const form = request("https://webim:p%40ss@edge.example/webim/chat_started", '{"id":1}', { key: "k" });
    assert.equal(form.url, "https://edge.example/webim/chat_started");
    assert.equal(form.init.headers.authorization, "Basic " + Buffer.from("webim:p@ss").toString("base64"));
    assert.equal(new URLSearchParams(form.init.body).get("chat"), '{"id":1}');
    const query = request("http://edge.example/x", '{"id":1}', { key: "k", legacy: true, query: true });
    assert.equal(query.init.body, undefined);
    assert.equal(new URL(query.url).searchParams.get("crc"), crc('{"id":1}', "k"));
  });
});

describe("npm run send against a served worker", () => {
  let origin, edge;
  before(async () => {
    origin = await startOrigin();
    edge = await startEdge(
      { WEBIM_PRIVATE_KEYS: KEY, ORIGIN_URL: `${origin.url}/events`, WEBIM_API_VERSION: "3", INBOUND_BASIC_AUTH: "webim:s3cret" },
      { listen: true },
    );
  });
  after(async () => {
    await edge.dispose();
    await origin.close();
  });

  const send = (...args) => run(process.execPath, ["tools/send.mjs", ...args]).catch((err) => err);
  const withAuth = () => edge.url.replace("http://", "http://webim:s3cret@");

  for (const [name, flags, scheme] of [
    ["form body", [], "hmac-sha256"],
    ["query string", ["--query"], "hmac-sha256"],
    ["legacy crc", ["--legacy"], "md5"],
  ]) {
    test(`${name}: the sample chat is accepted and forwarded`, async () => {
      origin.received.length = 0;
      const { stdout } = await send("chat_closed", "--url", withAuth(), "--key", KEY, ...flags);
      assert.match(stdout, /^200 OK/);
      assert.deepEqual(JSON.parse(stdout.split("\n")[1]), { status: "forwarded", id: eventId("chat_closed", sampleChat) });
      assert.equal(JSON.parse(origin.received[0].body).signature_scheme, scheme);
    });
  }

  test("a wrong key or missing credentials are reported with the edge's answer and a failing exit code", async () => {
    const wrongKey = await send("chat_started", "--url", withAuth(), "--key", "nope");
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stdout, /^401 Unauthorized\n.*bad_signature/);
    const noAuth = await send("chat_started", "--url", edge.url, "--key", KEY);
    assert.match(noAuth.stdout, /"unauthorized"/);
  });

  test("an unknown event type prints the usage", async () => {
    const bad = await send("chat_reopened");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /usage: npm run send/);
  });
});
