// The wasm's hashing helpers (src/shell/runtime/helpers.mjs) through node:crypto's public API,
// as the Workers runtime runs them and in Node: the published known answers, also for views at
// an offset into a larger buffer (as the wasm's memory views are) and for an empty message.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { hmacSha256, md5, sha256 } from "../../src/shell/runtime/helpers.mjs";
import { startEdge } from "./harness.mjs";

const hex = (digest) => Buffer.from(digest).toString("hex");
const bytes = (text) => new TextEncoder().encode(text);

// FIPS 180-2 appendix B.1, RFC 1321 appendix A.5, RFC 4231 test case 2; SHA-256 and MD5 of "".
const KNOWN = {
  sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  md5: "f96b697d7cb7938d525a2f31aaf161d0",
  hmac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  empty: ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "d41d8cd98f00b204e9800998ecf8427e"],
};

let worker;
before(async () => {
  worker = await startEdge({}, { worker: { scriptPath: "tests/fixtures/hashing-entry.mjs", modulesRoot: "." } });
});
after(() => worker.dispose());

test("in the Workers runtime the helpers give the published digests, at any offset and for an empty message", async () => {
  const r = await worker.send("/");
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {
    sha256: KNOWN.sha256,
    md5: KNOWN.md5,
    hmac: KNOWN.hmac,
    offset: [KNOWN.sha256, KNOWN.md5, KNOWN.hmac],
    empty: KNOWN.empty,
  });
});

test("in Node the same helpers give the same digests", () => {
  assert.equal(hex(sha256(bytes("abc"))), KNOWN.sha256);
  assert.equal(hex(md5(bytes("message digest"))), KNOWN.md5);
  assert.equal(hex(hmacSha256(bytes("Jefe"), bytes("what do ya want for nothing?"))), KNOWN.hmac);
});
