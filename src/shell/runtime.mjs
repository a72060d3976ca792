// Runtime calls that take several steps in JavaScript, made by the wasm in one call each
// (src/shell/http.rs). Written out in Rust, every step (a Headers object, each header, each
// init field, the timer, the status) crosses the boundary on its own and converts its strings
// there; docs/performance.md measures what one call saves. The helpers decide nothing: what is
// sent, where, with which headers and timeout, and what an answer means are the core's.

/** `name\nvalue\n…` (the wasm's one-string form of a header list) as Headers. */
function headers(head) {
  const list = new Headers();
  const parts = head.split("\n");
  for (let i = 0; i + 1 < parts.length; i += 2) list.set(parts[i], parts[i + 1]);
  return list;
}

/**
 * POSTs `body` to `url` with redirects not followed, aborted after `timeoutMs`. Resolves to
 * the status and the `retry-after` header, or to null when no answer came.
 */
export function post(url, head, body, timeoutMs) {
  // `body` is a view of the wasm's memory, which the next allocation may move: copy it now.
  const init = { method: "POST", headers: headers(head), body: body.slice(), redirect: "manual", signal: AbortSignal.timeout(timeoutMs) };
  return fetch(url, init).then(
    (res) => [res.status, res.headers.get("retry-after")],
    () => null,
  );
}

/** A response of `status` with the headers `head` and a copy of `body`. */
export function respond(status, head, body) {
  return new Response(body.slice(), { status, headers: headers(head) });
}
