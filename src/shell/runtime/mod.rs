//! The runtime boundary: every binding to the Workers runtime lives below this module, and
//! nothing else in the crate names a runtime type. It uses the declarations `worker` and
//! `worker-sys` provide (Durable Object state, storage, SQL, namespaces and stubs, queues) and
//! declares only what they do not: the JavaScript helpers of `helpers.mjs` (the request's head,
//! the origin POST, the reply, hashing) and KV's two calls.
//!
//! One rule says whether an optional binding is present: [`binding`].

pub mod crypto;
pub mod durable;
pub mod http;
pub mod kv;
pub mod queue;

use worker::js_sys::{Date, Reflect};
use worker::wasm_bindgen::JsValue;
use worker::Env;

/// The binding `name` of the environment, when it is present: an object (a Durable Object
/// namespace, a queue producer, a KV namespace). Absent, `undefined`, `null`, a string or a
/// number is no binding.
pub fn binding(env: &Env, name: &str) -> Option<JsValue> {
    Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(JsValue::is_object)
}

/// A variable or secret of the environment as the runtime holds it: `None` when unset, else the
/// value (a string, or a TOML number or list in `[vars]`).
pub fn variable(env: &Env, name: &str) -> Option<JsValue> {
    Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(|value| !value.is_undefined() && !value.is_null())
}

/// The clock, in Unix milliseconds: the shell reads it and hands the value to the core.
pub fn now_ms() -> u64 {
    Date::now() as u64
}

/// Writes one log line (the core's [`crate::logic::log_line`]).
pub fn log(line: String) {
    worker::web_sys::console::log_1(&JsValue::from(line));
}
