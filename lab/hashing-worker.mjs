// The hashing candidates of lab/hashing.mjs, side by side in one isolate with webim-edge's
// compatibility date and flags. A request names a candidate, a size and a count, and the
// candidate hashes that many bytes that many times, one call after another (an asynchronous one
// awaited each time, as a delivery would); the driver reads workerd's CPU around it. The key
// comes in base64 in the URL, the data as the body. /check answers every candidate's digest of the same inputs, to show they agree.
//
// `before-*` is the path webim-edge took before it hashed through public APIs only: the native
// hash and HMAC behind node:crypto's stream objects, reached through the stream's kHandle
// symbol, as `chooseHashing` did (git show dbec727:src/shell/runtime.mjs). It exists here only
// as the comparison; it is not a public API and may be gone in any runtime release.
import { createHash, createHmac, hash } from "node:crypto";

const BLOCK = 64;

/** HMAC-SHA256 per RFC 2104 on node:crypto's one-shot `hash()`: two digests and one copy. */
function hmacOnHash(key, data) {
  let k = key.length > BLOCK ? hash("sha256", key, "buffer") : key;
  const inner = new Uint8Array(BLOCK + data.length);
  const outer = new Uint8Array(BLOCK + 32);
  for (let i = 0; i < BLOCK; i++) {
    const byte = i < k.length ? k[i] : 0;
    inner[i] = byte ^ 0x36;
    outer[i] = byte ^ 0x5c;
  }
  inner.set(data, BLOCK);
  outer.set(hash("sha256", inner, "buffer"), BLOCK);
  return hash("sha256", outer, "buffer");
}

/** The previous path's native constructors, or null where they cannot be reached. */
const before = (() => {
  try {
    const probe = createHash("sha256");
    const handle = Object.getOwnPropertySymbols(probe).find((symbol) => symbol.description === "kHandle");
    const NativeHash = probe[handle].constructor;
    const NativeHmac = createHmac("sha256", "key")[handle].constructor;
    if (NativeHash.name !== "HashHandle" || NativeHmac.name !== "HmacHandle") return null;
    const finish = (native, data) => {
      native.update(data);
      return new Uint8Array(native.digest());
    };
    return {
      digest: (algorithm, data) => finish(new NativeHash(algorithm, undefined), data),
      mac: (key, data) => finish(new NativeHmac("sha256", key), data),
    };
  } catch {
    return null;
  }
})();

// WebCrypto's HMAC key, imported once per key (the best case for `subtle.sign`).
const importedKeys = new Map();
async function subtleKey(key) {
  let imported = importedKeys.get(key);
  if (!imported) {
    imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    importedKeys.set(key, imported);
  }
  return imported;
}

/**
 * Every candidate: `(key, data) => digest` (the key is ignored by the plain digests), and
 * whether it returns a promise. `none` does nothing but touch the data: the request's own cost,
 * which the driver subtracts.
 */
const CANDIDATES = {
  none: { run: (key, data) => data.subarray(0, 1) },
  "sha256 hash()": { run: (key, data) => hash("sha256", data, "buffer") },
  "sha256 createHash": { run: (key, data) => createHash("sha256").update(data).digest() },
  "sha256 subtle.digest": { run: (key, data) => crypto.subtle.digest("SHA-256", data), async: true },
  "sha256 before (native handle)": { run: (key, data) => before.digest("sha256", data), needs: "before" },
  "hmac createHmac": { run: (key, data) => createHmac("sha256", key).update(data).digest() },
  "hmac on hash() (RFC 2104)": { run: (key, data) => hmacOnHash(key, data) },
  "hmac subtle.sign": { run: async (key, data) => crypto.subtle.sign("HMAC", await subtleKey(key), data), async: true },
  "hmac before (native handle)": { run: (key, data) => before.mac(key, data), needs: "before" },
  "md5 hash()": { run: (key, data) => hash("md5", data, "buffer") },
  "md5 createHash": { run: (key, data) => createHash("md5").update(data).digest() },
  "md5 before (native handle)": { run: (key, data) => before.digest("md5", data), needs: "before" },
};

const hex = (digest) => Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const key = Uint8Array.from(atob(url.searchParams.get("key") ?? ""), (c) => c.charCodeAt(0));
    const data = new Uint8Array(await request.arrayBuffer());
    if (url.pathname === "/check") {
      const digests = {};
      for (const [name, candidate] of Object.entries(CANDIDATES)) {
        if (name === "none" || (candidate.needs === "before" && !before)) continue;
        digests[name] = hex(await candidate.run(key, data));
      }
      return Response.json({ before: Boolean(before), digests });
    }
    const candidate = CANDIDATES[url.searchParams.get("candidate")];
    const n = Number(url.searchParams.get("n"));
    if (!candidate || (candidate.needs === "before" && !before)) return new Response("no such candidate", { status: 404 });
    let touched = 0;
    if (candidate.async) {
      for (let i = 0; i < n; i++) touched ^= new Uint8Array(await candidate.run(key, data))[0];
    } else {
      for (let i = 0; i < n; i++) touched ^= candidate.run(key, data)[0];
    }
    return new Response(String(touched));
  },
};
