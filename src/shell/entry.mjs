// The worker's module entry: scripts/build.sh copies it over build/worker/shim.mjs, the file
// wrangler and the tests load. It hands each request and queue batch to the wasm handlers.
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
function noteCritical(error) {
  if (error instanceof WebAssembly.RuntimeError) state.criticalError = true;
  throw error;
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
  fetch: (request, env, ctx) => call("fetch", request, env, ctx),
  queue: (batch, env, ctx) => call("queue", batch, env, ctx),
};
