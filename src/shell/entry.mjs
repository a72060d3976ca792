// The worker's module entry (scripts/build.sh copies it to build/entry.mjs, beside
// wasm-bindgen's output). It instantiates the wasm through wasm-bindgen's public `initSync`,
// runs its warm-up while the worker loads, hands each request, queue batch and outbox call to
// the wasm's exports, and recovers from a wasm trap. It decides nothing: each next step of a
// request is the wasm's answer.
//
// A request goes first to the wasm's synchronous `start` (src/shell/handlers/fetch.rs), which
// takes a delivery up to its one request (the origin's POST in direct mode, the store in its
// chat's object in the outbox) without awaiting in the wasm; this entry does the waiting (for
// the body, for that request's answer) and goes back to the wasm with what it waited for. A
// body of declared length within the wasm's `readAhead` is read before that first call, and a
// request without a body passes an empty one.
// Whatever `start` cannot finish alone goes to the general `fetch` handler whole, with the body
// when it was read already (a body is never read twice).
//
// A trap (WebAssembly.RuntimeError) may leave the wasm's memory in any state, so the call that
// trapped fails and the instance is replaced at once (`__wbg_reset_state`, which wasm-bindgen
// generates for --experimental-reset-state-function): every later request, queue batch and
// object call, also of a Durable Object already in memory, runs on the fresh instance.
import wasmModule from "./index_bg.wasm";
import * as wasm from "./index.js";

wasm.initSync({ module: wasmModule });

/** How many times the instance was replaced; a Durable Object rebuilds its wasm side when this moves. */
let generation = 0;

/**
 * How each call still waiting on the instance is ended, by rejecting, when the instance is
 * replaced. A trap inside a future of the wasm (after an await) unwinds from a microtask of
 * wasm-bindgen's executor, not through the call that started it, whose promise would otherwise
 * never settle. Each call makes its own promise for this, in its own request's context: the
 * runtime cancels the continuations of a promise made in a request that has ended, so one
 * promise shared by every call (made during whichever request last replaced the instance)
 * would leave the calls of a later replacement waiting for ever.
 */
const waiting = new Set();

/** Traps already recovered from (one may reach a caller and the rejection handler both). */
const recovered = new WeakSet();

/** After a trap, a fresh instance for whatever comes next. */
function reset(error) {
  if (error instanceof WebAssembly.RuntimeError && !recovered.has(error)) {
    recovered.add(error);
    wasm.__wbg_reset_state();
    generation += 1;
    console.log(JSON.stringify({ time: new Date().toISOString(), route: "runtime", outcome: "wasm_reinitialized" }));
    for (const end of waiting) end(error);
    waiting.clear();
  }
}

// A trap in a microtask of the wasm's executor arrives here, not at any caller.
addEventListener("unhandledrejection", (event) => reset(event.reason));
addEventListener("error", (event) => reset(event.error));

/** `reset`, then the error goes on. */
function recover(error) {
  reset(error);
  throw error;
}

// A direct delivery's functions compiled now, while the worker loads, rather than in the
// isolate's first request (src/logic/warm_up.rs): V8 compiles a wasm function when it is first
// called. Whatever becomes of it, requests go on.
try {
  wasm.warmUp();
} catch {
  // Anything thrown through the wasm may have left it half way: nothing has used it yet, so a
  // fresh instance costs nothing.
  wasm.__wbg_reset_state();
}

/** `f()`, with a trap inside it (thrown, or a rejected promise) recovered from. */
function guarded(f) {
  try {
    const result = f();
    if (!(result instanceof Promise)) return result;
    let end;
    const replaced = new Promise((_, reject) => {
      end = reject;
    });
    waiting.add(end);
    return Promise.race([result, replaced])
      .finally(() => waiting.delete(end))
      .catch(recover);
  } catch (error) {
    return recover(error);
  }
}

// `start`'s answers besides a response and a request in flight (fetch.rs).
const GENERAL = 0;
const READ_BODY = 1;

// The longest body read before the first call into the wasm: the wasm's `readAhead` (the
// core's limit, 0 when basic auth or another delivery mode must come first), asked once per
// isolate as the wasm reads its settings once.
let readAhead;

function fetch(request, env) {
  if (readAhead === undefined) {
    try {
      readAhead = wasm.readAhead(env);
    } catch (error) {
      // Nothing is read ahead in this isolate.
      readAhead = 0;
      reset(error);
    }
  }
  const declared = readAhead ? Number(request.headers.get("content-length")) : 0;
  if (declared > 0 && declared <= readAhead) return readThenStart(request, env);
  // A request without a body (Webim's query-string POST, whether or not it says
  // `Content-Length: 0`) has nothing to wait for: its empty body goes with the first call.
  if (request.body === null) return start(request, env, NO_BODY);
  return start(request, env);
}

const NO_BODY = new Uint8Array(0);

/** Reads the body whole, then goes on with it. */
function readThenStart(request, env) {
  return request.arrayBuffer().then((bytes) => start(request, env, new Uint8Array(bytes)));
}

function start(request, env, body) {
  const step = guarded(() => wasm.start(request, env, body));
  if (step === GENERAL) return guarded(() => wasm.fetch(request, env, body));
  if (step === READ_BODY) return readThenStart(request, env);
  if (step instanceof Response) return step;
  // The delivery waits here, with its request in flight; a fresh instance (after a trap)
  // refuses a delivery that the instance it replaced made, and the request fails.
  const [waiting, sent] = step;
  return sent.then((answer) => guarded(() => wasm.answered(waiting, answer)));
}

/**
 * The outbox's Durable Object class (src/shell/outbox/object.rs) as the runtime sees it. It
 * keeps the object's state and environment, so that after a trap anywhere in the isolate it
 * builds its wasm side again on the fresh instance. A store (of a new event, or a duplicate)
 * is followed, in the same invocation, by a run of the object's plan, which delivers without
 * waiting for the alarm. Neither a run nor an alarm ever fails: a trap in one leaves a wake-up
 * set, as an error inside the wasm does (logic/outbox.rs, AFTER_ERROR_MS).
 */
export class ChatOutbox {
  constructor(state, env) {
    this.state = state;
    this.env = env;
    this.built = -1;
  }

  /** The wasm side, built for the current instance. */
  object() {
    if (this.built !== generation) {
      this.inner = new wasm.ChatOutbox(this.state, this.env);
      this.built = generation;
    }
    return this.inner;
  }

  async fetch(request) {
    // Only a store carries a body: read here, the wasm takes the store without awaiting.
    const body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
    let response;
    try {
      // A store's answer waits here for its wake-up's write, which fails it if it failed.
      response = await (this.receive(request, body) ?? guarded(() => this.object().fetch(request)));
    } catch (error) {
      // A store may have written its event before this: it gets its wake-up all the same.
      await this.wakeLater(false);
      throw error;
    }
    // The answer goes out once the store is durable; the run goes on after it.
    if (this.built === generation && this.inner.runWanted()) this.state.waitUntil(this.run());
    return response;
  }

  /**
   * The answer to a call that needs no waiting in the wasm (a response, or the promise of a
   * store's); undefined for the others, which `fetch` takes.
   */
  receive(request, body) {
    return guarded(() => this.object().receive(request, body));
  }

  run() {
    return this.settled(() => this.object().run());
  }

  alarm() {
    return this.settled(() => this.object().alarm());
  }

  /**
   * Runs `f` (a run or the alarm, which never reject of their own accord); a trap or an
   * exception thrown through the wasm, which may have left its side of the object half changed
   * (a run marked as under way for ever), has that side built afresh for the next call, and
   * leaves a wake-up set instead of a rejection.
   */
  async settled(f) {
    try {
      await guarded(f);
    } catch {
      this.built = -1;
      await this.wakeLater(true);
    }
  }

  /** Sets a wake-up `AFTER_ERROR_MS` ahead: `always`, or unless one is due sooner. */
  async wakeLater(always) {
    const at = Date.now() + wasm.outboxRetryAfterErrorMs();
    const set = always ? null : await this.state.storage.getAlarm();
    if (set === null || set > at) await this.state.storage.setAlarm(at);
  }
}

export default {
  fetch,
  queue: (batch, env, ctx) => guarded(() => wasm.queue(batch, env, ctx)),
};
