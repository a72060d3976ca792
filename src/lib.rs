//! webim-edge: a Cloudflare Worker that authenticates Webim chat event webhooks and forwards
//! clean, signed JSON events to an internal origin, directly or through a queue.
//!
//! Everything but [`runtime`] is a pure core with no `worker` import, tested natively; the
//! entry points below and `runtime` are the shell that does the I/O.

pub mod clean;
pub mod crypto;
pub mod delivery;
pub mod error;
pub mod event;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod log;
pub mod origin;
pub mod params;
pub mod pipeline;
pub mod reply;
pub mod sanitize;
pub mod settings;
pub mod signature;
pub mod timestamp;
pub mod webhook;

mod runtime;

/// The crate version, reported by `/healthz` and in `user-agent`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

use worker::wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{web_sys, Date, Env};

// Both entry points are written out rather than with `#[event]`: the fetch wrapper's request
// conversion reads `request.cf` and parses the URL on every request (measured: 4% of the
// isolate's CPU), and the queue wrapper hides a message's `attempts`, which the backoff needs.
// worker-build wires any export named `fetch` or `queue` as that handler.

/// HTTP requests: Webim deliveries and `/healthz`.
#[wasm_bindgen(
    js_name = fetch,
    wasm_bindgen = worker::wasm_bindgen,
    wasm_bindgen_futures = worker::wasm_bindgen_futures,
    js_sys = worker::js_sys
)]
pub async fn handle_fetch(
    req: web_sys::Request,
    env: Env,
    _ctx: JsValue,
) -> Result<web_sys::Response, JsValue> {
    let started_ms = Date::now().as_millis();
    let mut trace = log::Trace::new("other");
    let reply = runtime::handle(&req, &env, started_ms, &mut trace)
        .await
        .unwrap_or_else(|err| {
            trace.outcome = err.code();
            err.reply()
        });
    trace.status = Some(reply.status);
    runtime::log(trace.line(started_ms, Date::now().as_millis()));
    runtime::response(reply)
}

/// The queue consumer: forwards queued events, retrying each on its own.
#[wasm_bindgen(
    js_name = queue,
    wasm_bindgen = worker::wasm_bindgen,
    wasm_bindgen_futures = worker::wasm_bindgen_futures,
    js_sys = worker::js_sys
)]
pub async fn handle_queue(
    batch: worker::worker_sys::MessageBatch,
    env: Env,
    _ctx: JsValue,
) -> Result<(), JsValue> {
    runtime::consume(batch, &env).await;
    Ok(())
}
