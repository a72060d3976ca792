// Runtime calls that take several steps in JavaScript, made by the wasm in one call each
// (src/shell/http.rs, src/shell/node_crypto.rs). Written out in Rust, every step (a Headers
// object, each header, each init field, the timer, the status, each hashing step) crosses the
// boundary on its own and converts its strings there; docs/performance.md says what one call
// saved and where it saved nothing measurable. The helpers decide nothing: what is read, sent,
// where, with which headers and timeout, and what an answer means are the core's.
import { createHash, createHmac } from "node:crypto";

const encoder = new TextEncoder();

/** A header's value after `=`, or nothing when it is absent, on a line of its own. */
function line(headers, name) {
  const value = headers.get(name);
  return value === null ? "\n" : `=${value}\n`;
}

/**
 * What the wasm reads of a request, as UTF-8 in one buffer: the method and the URL on a line
 * each, then `content-length`, `authorization` and `content-type` as `line` writes them.
 */
export function describe(request) {
  const { headers } = request;
  return encoder.encode(
    `${request.method}\n${request.url}\n${line(headers, "content-length")}${line(headers, "authorization")}${line(headers, "content-type")}`,
  );
}

/**
 * `name\nvalue\n…` (the wasm's one-string form of a header list) as a plain object, which the
 * runtime reads in one step where a Headers object takes a call per header. The names are the
 * core's, lowercase, each once; without a prototype, every name is an ordinary key.
 */
function headers(head) {
  const list = Object.create(null);
  const parts = head.split("\n");
  for (let i = 0; i + 1 < parts.length; i += 2) list[parts[i]] = parts[i + 1];
  return list;
}

/**
 * POSTs `body` to `url` with redirects not followed, aborted after `timeoutMs`. Resolves to
 * the status and the `retry-after` header as `status\nretry-after` (the header left empty when
 * absent), or to null when no answer came.
 */
export function post(url, head, body, timeoutMs) {
  // `body` is a view of the wasm's memory, which the next allocation may move: copy it now.
  const init = { method: "POST", headers: headers(head), body: body.slice(), redirect: "manual", signal: AbortSignal.timeout(timeoutMs) };
  return fetch(url, init).then(
    (res) => `${res.status}\n${res.headers.get("retry-after") ?? ""}`,
    () => null,
  );
}

/** A response of `status` with the headers `head` and a copy of `body`. */
export function respond(status, head, body) {
  return new Response(body.slice(), { status, headers: headers(head) });
}

/**
 * `node:crypto` without a stream per digest. Every `createHash` and `createHmac` object is a
 * node stream (a Transform) around the runtime's native hash, and building that stream costs
 * more than hashing a delivery (docs/performance.md). In the Workers runtime, whose bindings
 * check their arguments and throw, the native hash and HMAC behind the first such object are
 * used directly once they give the public API's digests for the same inputs. Anywhere else,
 * or when they cannot be reached or do not agree, the public API hashes. `direct` says which.
 */
export function chooseHashing(hash = createHash, hmac = createHmac) {
  const viaStreams = {
    digest: (algorithm, data) => hash(algorithm).update(data).digest(),
    mac: (key, data) => hmac("sha256", key).update(data).digest(),
    direct: false,
  };
  if (globalThis.navigator?.userAgent !== "Cloudflare-Workers") return viaStreams;
  try {
    const probe = hash("sha256");
    const handle = Object.getOwnPropertySymbols(probe).find((symbol) => symbol.description === "kHandle");
    const NativeHash = probe[handle].constructor;
    const NativeHmac = hmac("sha256", "key")[handle].constructor;
    if (NativeHash.name !== "HashHandle" || NativeHmac.name !== "HmacHandle") return viaStreams;
    const finish = (native, data) => {
      // As the public API does, a failed update is an error, never a digest of less.
      if (!native.update(data)) throw new Error("hash update failed");
      return new Uint8Array(native.digest());
    };
    const direct = {
      digest: (algorithm, data) => finish(new NativeHash(algorithm, undefined), data),
      mac: (key, data) => finish(new NativeHmac("sha256", key), data),
      direct: true,
    };
    // Views at an offset, as the wasm's are; an empty message; keys shorter and longer than a
    // SHA-256 block.
    const bytes = Uint8Array.from({ length: 140 }, (_, i) => i);
    const [data, empty] = [bytes.subarray(3), bytes.subarray(7, 7)];
    const same = (a, b) => a.length === b.length && a.every((byte, i) => byte === b[i]);
    const agree =
      [data, empty].every((input) =>
        ["sha256", "md5"].every((algorithm) => same(direct.digest(algorithm, input), viaStreams.digest(algorithm, input))),
      ) &&
      [bytes.subarray(1, 6), bytes.subarray(5, 105)].every((key) =>
        [data, empty].every((input) => same(direct.mac(key, input), viaStreams.mac(key, input))),
      );
    if (agree) return direct;
  } catch {
    // Not the node:crypto this was written against: the public API below.
  }
  return viaStreams;
}

let hashing;
const hashed = () => (hashing ??= chooseHashing());

/** SHA-256 of `data` (bytes, as every helper here takes). */
export function sha256(data) {
  return hashed().digest("sha256", data);
}

/** MD5 of `data`. */
export function md5(data) {
  return hashed().digest("md5", data);
}

/** HMAC-SHA256 of `data` under `key`. */
export function hmacSha256(key, data) {
  return hashed().mac(key, data);
}
