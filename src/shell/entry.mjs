// The worker's module entry: scripts/build.sh copies it over build/worker/shim.mjs, the file
// wrangler and the tests load. It hands each request and queue batch to the wasm handlers.
//
// A request goes first to the wasm's synchronous `start` (src/shell/fetch.rs), which finishes a
// direct delivery up to the origin's answer without awaiting in the wasm; this entry does the
// waiting (for the body, for the origin) and goes back to the wasm with what it waited for. A
// body of declared length within the wasm's `readAhead` is read before that first call.
// Whatever `start` cannot finish alone goes to the general `fetch` handler whole. The entry
// decides nothing: each next step, and how long a body may be read first, is the wasm's answer.
//
// worker-build exports those handlers as a WorkerEntrypoint class behind a Proxy which, on
// every call, constructs an instance, wraps it and its method in two more Proxies, and checks
// whether the wasm must be reinitialized after a critical error (a trap); docs/performance.md
// measures what that costs. This entry calls the same handlers directly, and goes through
// worker-build's class once a critical error has been recorded, so that the call after a trap
// still reinitializes the wasm. scripts/check-entry.mjs fails the build if the generated module
// no longer has the two things used here (the class's handlers and its error record).
import Entrypoint from "../index.js";

// The outbox's Durable Object class (src/shell/outbox.rs): wrangler and Miniflare find the
// class a binding names among the entry's exports.
export { ChatOutbox } from "../index.js";

const handlers = Entrypoint.prototype;
// worker-build's record of a critical error. Should a later worker-build not keep it, every
// call takes worker-build's own path: slower, never less safe.
const state = globalThis.__worker_init_state ?? { criticalError: true };

/** Records a trap as worker-build's wrapper does, so that the next call reinitializes. */
function recordTrap(error) {
  if (error instanceof WebAssembly.RuntimeError) state.criticalError = true;
}

/** Records a trap, then rethrows. */
function noteCritical(error) {
  recordTrap(error);
  throw error;
}

// `start`'s answers besides a response and an origin request in flight (fetch.rs).
const GENERAL = 0;
const READ_BODY = 1;

// The longest body read before the first call into the wasm: the wasm's `readAhead` (the
// core's limit, 0 when basic auth or another delivery mode must come first), asked once per
// isolate as the wasm reads its settings once. Within it, a form body costs one call, not two.
let readAhead;

function fetchFirst(request, env, ctx) {
  if (readAhead === undefined && !state.criticalError) {
    try {
      readAhead = handlers.readAhead(env);
    } catch (error) {
      // Nothing is read ahead in this isolate.
      readAhead = 0;
      recordTrap(error);
    }
  }
  const declared = readAhead ? Number(request.headers.get("content-length")) : 0;
  if (declared > 0 && declared <= readAhead) {
    return readThenFetch(request, env, ctx);
  }
  return fetchRequest(request, env, ctx);
}

/** Reads the body whole, then goes on with it. */
function readThenFetch(request, env, ctx) {
  return request.arrayBuffer().then((bytes) => fetchRequest(request, env, ctx, new Uint8Array(bytes)));
}

function fetchRequest(request, env, ctx, body) {
  if (state.criticalError) return call("fetch", request, env, ctx);
  let step;
  try {
    step = handlers.start(request, env, body);
  } catch (error) {
    noteCritical(error);
  }
  if (step === GENERAL) return call("fetch", request, env, ctx);
  if (step === READ_BODY) {
    return readThenFetch(request, env, ctx);
  }
  if (step instanceof Response) return step;
  const [token, posted] = step;
  return posted.then((answer) => handlers.answered(token, answer)).catch(noteCritical);
}

function call(method, arg, env, ctx) {
  if (state.criticalError) return new Entrypoint(ctx, env)[method](arg);
  try {
    return handlers[method].call({ env, ctx }, arg).catch(noteCritical);
  } catch (error) {
    noteCritical(error);
  }
}

export default {
  fetch: fetchFirst,
  queue: (batch, env, ctx) => call("queue", batch, env, ctx),
};
