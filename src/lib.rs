//! webim-edge: a Cloudflare Worker that authenticates Webim chat event webhooks and forwards
//! clean, signed JSON events to an internal origin, directly or through a queue.
//!
//! Everything but [`runtime`] is a pure core with no `worker` import, tested natively; the
//! entry points below and `runtime` are the shell that does the I/O.

pub mod clean;
pub mod delivery;
pub mod error;
pub mod event;
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
use worker::{event, Context, Date, Env, Request, Response, Result};

/// HTTP requests: Webim deliveries and `/healthz`.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let started_ms = Date::now().as_millis();
    let mut trace = log::Trace::new("other");
    let reply = runtime::handle(req, &env, started_ms, &mut trace)
        .await
        .unwrap_or_else(|err| {
            trace.outcome = err.code();
            err.reply()
        });
    trace.status = Some(reply.status);
    worker::console_log!("{}", trace.line(started_ms, Date::now().as_millis()));
    runtime::response(reply)
}

/// The queue consumer. Written out rather than with `#[event(queue)]` because the wrapper
/// does not expose a message's `attempts`, which the backoff needs; worker-build wires any
/// export named `queue` as the handler.
#[wasm_bindgen(
    js_name = queue,
    wasm_bindgen = worker::wasm_bindgen,
    wasm_bindgen_futures = worker::wasm_bindgen_futures,
    js_sys = worker::js_sys
)]
pub async fn consume_queue(
    batch: worker::worker_sys::MessageBatch,
    env: Env,
    _ctx: JsValue,
) -> std::result::Result<(), JsValue> {
    runtime::consume(batch, &env).await;
    Ok(())
}
