//! The `queue` handler: forwards each queued event, acknowledging or retrying each message on
//! its own with the delay the core's retry policy chooses.

use futures_util::future::join_all;
use worker::js_sys::{Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::worker_sys::{Message, MessageBatch};
use worker::Env;

use crate::logic::event::Event;
use crate::logic::log_line::LogLine;
use crate::logic::retry::{self, Next};
use crate::shell::environment::{self, now_ms};
use crate::shell::fetch::log;
use crate::shell::forward::forward;

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
    let Ok(messages) = batch.messages() else {
        return Ok(());
    };
    let attempts = messages
        .iter()
        .map(|message| attempt(&env, message.unchecked_into()));
    join_all(attempts).await;
    Ok(())
}

/// One attempt at one queued event, logged as one line.
async fn attempt(env: &Env, message: Message) {
    let started_ms = now_ms();
    // `attempts` counts deliveries of this message, starting at 1.
    let attempt = Reflect::get(&message, &JsValue::from_str("attempts"))
        .ok()
        .and_then(|n| n.as_f64())
        .map_or(1, |n| n as u32);
    let mut line = LogLine::new("queue");
    line.attempt = Some(attempt);
    let event = message
        .body()
        .ok()
        .filter(|body| body.is_instance_of::<Uint8Array>())
        .and_then(|body| Event::from_body(Uint8Array::new(&body).to_vec()));
    if let Some(event) = &event {
        line.event(event);
    }
    let settings = environment::settings(env);
    let next = match (settings.as_ref(), &event) {
        (Err(problems), _) => {
            line.problems.clone_from(problems);
            retry::after_misconfigured(attempt)
        }
        (Ok(settings), Some(event)) => {
            let answer = forward(settings, event).await;
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
        Next::Done => {
            let _ = message.ack();
        }
        Next::Retry { delay_seconds, .. } => {
            line.retry_in_s = Some(delay_seconds);
            let options = Object::new();
            let _ = Reflect::set(
                &options,
                &JsValue::from_str("delaySeconds"),
                &JsValue::from(delay_seconds),
            );
            let _ = message.retry(options.into());
        }
    }
    log(line.line(started_ms, now_ms()));
}
