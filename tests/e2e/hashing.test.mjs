// The wasm's hashing helpers (src/shell/runtime.mjs): in the Workers runtime they reach the
// native hashes without node:crypto's stream objects; anywhere those cannot be reached or give
// other digests, the public API hashes. Either way the digests are the published known answers.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, test } from "node:test";
import { chooseHashing, hmacSha256, md5, sha256 } from "../../src/shell/runtime.mjs";
import { startEdge } from "./harness.mjs";

const bytes = (text) => new TextEncoder().encode(text);
const hex = (digest) => Buffer.from(digest).toString("hex");

// FIPS 180-2 appendix B.1, RFC 1321 appendix A.5, RFC 4231 test case 2.
const KNOWN = {
  sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  md5: "f96b697d7cb7938d525a2f31aaf161d0",
  hmac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
};
const answers = (h) => ({
  sha256: hex(h.digest("sha256", bytes("abc"))),
  md5: hex(h.digest("md5", bytes("message digest"))),
  hmac: hex(h.mac(bytes("Jefe"), bytes("what do ya want for nothing?"))),
});

/**
 * A node:crypto shaped like the Workers runtime's: each object holds its native handle under
 * a `kHandle` symbol. `fault` names what its handles get wrong: one algorithm's digests (a bit
 * flipped), their construction (it throws) or an update (it reports failure).
 */
function workersLike(fault) {
  const kHandle = Symbol("kHandle");
  const handle = (algorithm, inner) => {
    if (fault === "construct") throw new TypeError("another signature");
    return {
      update(data) {
        inner.update(data);
        return fault !== "update";
      },
      digest() {
        const digest = new Uint8Array(inner.digest());
        if (fault === algorithm) digest[0] ^= 1;
        return digest;
      },
    };
  };
  const HashHandle = class HashHandle {
    constructor(algorithm) { return handle(algorithm, crypto.createHash(algorithm)); }
  };
  const HmacHandle = class HmacHandle {
    constructor(algorithm, key) { return handle("hmac", crypto.createHmac(algorithm, key)); }
  };
  // The public objects hash through node:crypto and carry a handle, as the runtime's do; the
  // handle is built lazily, as only the direct path uses it.
  const object = (inner, make) => ({
    get [kHandle]() { return { constructor: make }; },
    update(data) { inner.update(data); return this; },
    digest: () => inner.digest(),
  });
  return [
    (algorithm) => object(crypto.createHash(algorithm), HashHandle),
    (algorithm, key) => object(crypto.createHmac(algorithm, key), HmacHandle),
  ];
}

describe("hashing outside the Workers runtime", () => {
  test("Node takes the public API and gives the known answers", () => {
    assert.equal(chooseHashing().direct, false);
    assert.equal(hex(sha256(bytes("abc"))), KNOWN.sha256);
    assert.equal(hex(md5(bytes("message digest"))), KNOWN.md5);
    assert.equal(hex(hmacSha256(bytes("Jefe"), bytes("what do ya want for nothing?"))), KNOWN.hmac);
  });

  describe("with the Workers runtime's user agent", () => {
    let navigator;
    before(() => {
      navigator = Object.getOwnPropertyDescriptor(globalThis, "navigator");
      Object.defineProperty(globalThis, "navigator", { value: { userAgent: "Cloudflare-Workers" }, configurable: true });
    });
    after(() => {
      delete globalThis.navigator;
      if (navigator) Object.defineProperty(globalThis, "navigator", navigator);
    });

    test("native handles that agree with the public API are used directly", () => {
      const chosen = chooseHashing(...workersLike());
      assert.equal(chosen.direct, true);
      assert.deepEqual(answers(chosen), KNOWN);
    });

    const FAULTS = {
      sha256: "their SHA-256 disagrees",
      md5: "their MD5 disagrees",
      hmac: "their HMAC disagrees",
      construct: "their construction fails",
      update: "an update fails",
    };
    for (const [fault, what] of Object.entries(FAULTS)) {
      test(`native handles are not used when ${what}`, () => {
        const chosen = chooseHashing(...workersLike(fault));
        assert.equal(chosen.direct, false);
        assert.deepEqual(answers(chosen), KNOWN);
      });
    }

    test("Node's own objects, whose handles are of other classes, leave the public API", () => {
      const chosen = chooseHashing(crypto.createHash, crypto.createHmac);
      assert.equal(chosen.direct, false);
      assert.deepEqual(answers(chosen), KNOWN);
    });
  });
});

describe("hashing in the Workers runtime", () => {
  test("the native hashes are reached directly and give the known answers", async () => {
    const e = await startEdge({}, { worker: { scriptPath: "tests/fixtures/hashing-entry.mjs", modulesRoot: "." } });
    try {
      const r = await e.send("/");
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { direct: true, ...KNOWN });
    } finally {
      await e.dispose();
    }
  });
});
