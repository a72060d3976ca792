//! webim-edge: a Cloudflare Worker that authenticates Webim chat event webhooks and forwards
//! clean, signed JSON events to an internal origin.
//!
//! Everything but [`runtime`] is a pure core with no `worker` import, tested natively; the
//! `#[event]` entry points below and `runtime` are the shell that does the I/O.

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

use worker::{event, Context, Date, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let started_ms = Date::now().as_millis();
    let mut trace = log::Trace::default();
    let reply = runtime::handle(req, &env, started_ms, &mut trace)
        .await
        .unwrap_or_else(|err| {
            trace.outcome = err.code();
            err.reply()
        });
    trace.status = reply.status;
    worker::console_log!("{}", trace.line(started_ms, Date::now().as_millis()));
    runtime::response(reply)
}
