// Runtime calls that take several steps in JavaScript, made by the wasm in one call each
// (src/shell/runtime/http.rs, crypto.rs and durable.rs). Only public APIs: the Fetch API and
// node:crypto's documented functions. Written out in Rust, every step (a Headers
// object, each header, each init field, the timer, the status, each hashing step) crosses the
// boundary on its own and converts its strings there; docs/performance.md says what one call
// saved and where it saved nothing measurable. The helpers decide nothing: what is read, sent,
// where, with which headers and timeout, and what an answer means are the core's.
import { createHmac, hash } from "node:crypto";

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

/** The status of a Durable Object's answer in flight, as text, or null when the call failed. */
export function statusOf(answer) {
  return answer.then(
    (res) => String(res.status),
    () => null,
  );
}

/** `response` once `written` (a storage write's promise) has settled, or the write's failure. */
export function afterWrite(written, response) {
  return written.then(() => response);
}

/** A response of `status` with the headers `head` and a copy of `body`. */
export function respond(status, head, body) {
  return new Response(body.slice(), { status, headers: headers(head) });
}

/** SHA-256 of `data` (bytes, as every helper here takes): node:crypto's public one-shot hash. */
export function sha256(data) {
  return hash("sha256", data, "buffer");
}

/** MD5 of `data`. */
export function md5(data) {
  return hash("md5", data, "buffer");
}

/** HMAC-SHA256 of `data` under `key`. */
export function hmacSha256(key, data) {
  return createHmac("sha256", key).update(data).digest();
}
