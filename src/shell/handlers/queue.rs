//! The `queue` handler: forwards each queued event, acknowledging or retrying each message on
//! its own with the delay the core's retry policy chooses.

use futures_util::future::join_all;
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::worker_sys::MessageBatch;
use worker::Env;

use crate::logic::event::Event;
use crate::logic::log_line::LogLine;
use crate::logic::retry::{self, Next};
use crate::shell::environment;
use crate::shell::forward::forward;
use crate::shell::runtime::queue::Consumed;
use crate::shell::runtime::{log, now_ms};

// Written out rather than with `#[event]`, whose wrapper hides a message's `attempts`, which
// the backoff needs.

/// The queue consumer: forwards queued events, retrying each on its own.
#[wasm_bindgen(
    js_name = queue,
    wasm_bindgen = worker::wasm_bindgen,
    wasm_bindgen_futures = worker::wasm_bindgen_futures,
    js_sys = worker::js_sys
)]
pub async fn handle_queue(batch: MessageBatch, env: Env, _ctx: JsValue) -> Result<(), JsValue> {
    join_all(Consumed::all(&batch).iter().map(|m| attempt(&env, m))).await;
    Ok(())
}

/// One attempt at one queued event, logged as one line.
async fn attempt(env: &Env, message: &Consumed) {
    let started_ms = now_ms();
    let attempt = message.attempts();
    let mut line = LogLine::new("queue");
    line.attempt = Some(attempt);
    let queued = message.bytes().and_then(Event::from_body);
    if let Some(event) = &queued {
        line.event(event);
    }
    let settings = environment::settings(env);
    let next = match (settings.as_ref(), &queued) {
        (Err(problems), _) => {
            line.problems.clone_from(problems);
            retry::after_misconfigured(attempt)
        }
        (Ok(settings), Some(event)) => {
            // A queued event does not say which key verified it (fetch.rs, `enqueue`).
            let answer = forward(settings, event, None).await;
            line.origin_status = answer.status;
            retry::after_attempt(
                &answer,
                attempt,
                now_ms() / 1000,
                settings.retry_base_seconds,
            )
        }
        (Ok(settings), None) => retry::after_unreadable(attempt, settings.retry_base_seconds),
    };
    line.outcome = next.outcome();
    match next {
        Next::Done => message.ack(),
        Next::Retry { delay_seconds, .. } => {
            line.retry_in_s = Some(delay_seconds);
            message.retry(delay_seconds);
        }
    }
    log(line.line(started_ms, now_ms()));
}
