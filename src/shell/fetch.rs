//! The `fetch` handler: one HTTP request through routing, intake and delivery, in the spec's
//! order, answered with the core's [`Outcome`] and logged as one line.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use worker::js_sys::Uint8Array;
use worker::js_sys::{Object, Promise, Reflect};
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Date, Env};

use crate::core::delivery::{self, Fallback, Lookup, Mode};
use crate::core::error::EdgeError;
use crate::core::event::{Event, EventType};
use crate::core::intake;
use crate::core::log_line::LogLine;
use crate::core::outbox;
use crate::core::outcome::Outcome;
use crate::core::route::{self, Route};
use crate::core::settings::Settings;
use crate::shell::admin;
use crate::shell::environment;
use crate::shell::forward::forward;
use crate::shell::http::{header, read_body, response, url};
use crate::shell::node_crypto::NodeCrypto;
use crate::shell::outbox as shell_outbox;

// The entry point is written out rather than with `#[event]`: that wrapper reads `request.cf`
// and parses the URL again on every request. worker-build wires an export named `fetch` as the
// handler; src/shell/entry.mjs calls it.

/// HTTP requests: Webim deliveries, `/healthz` and the admin API.
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
    let mut line = LogLine::new("other");
    let outcome = handle(&req, &env, started_ms, &mut line)
        .await
        .unwrap_or_else(Outcome::from);
    let reply = outcome.reply();
    line.outcome(&outcome, reply.status);
    log(line.line(started_ms, Date::now().as_millis()));
    response(reply)
}

/// Writes one log line.
pub fn log(line: String) {
    web_sys::console::log_1(&JsValue::from(line));
}

async fn handle(
    req: &web_sys::Request,
    env: &Env,
    now_ms: u64,
    line: &mut LogLine,
) -> Result<Outcome, EdgeError> {
    let url = url(req);
    let (path, query) = route::path_and_query(&url);
    let route = route::route(&req.method(), path)?;
    let loaded = environment::settings(env);
    let event_type = match route {
        Route::Health => {
            line.route = "/healthz";
            let problems = loaded.as_ref().as_ref().err().cloned().unwrap_or_default();
            return Ok(Outcome::Health { problems });
        }
        Route::Admin(admin_route) => {
            line.route = "/admin";
            let settings = configured(&loaded, line)?;
            return admin::handle(req, env, settings, admin_route).await;
        }
        Route::Event(event_type) => event_type,
    };
    line.route = event_type.route();
    let settings = configured(&loaded, line)?;
    deliver(req, env, settings, event_type, query, now_ms, line).await
}

/// The settings, or `misconfigured` with the names of the bad ones on the log line.
fn configured<'a>(
    loaded: &'a environment::Loaded,
    line: &mut LogLine,
) -> Result<&'a Settings, EdgeError> {
    loaded.as_ref().map_err(|problems| {
        line.problems.clone_from(problems);
        EdgeError::Misconfigured
    })
}

/// Intake, then the delivery mode the bindings choose.
async fn deliver(
    req: &web_sys::Request,
    env: &Env,
    settings: &Settings,
    event_type: EventType,
    query: &[u8],
    now_ms: u64,
    line: &mut LogLine,
) -> Result<Outcome, EdgeError> {
    let content_length = header(req, "content-length").and_then(|len| len.trim().parse().ok());
    intake::admit(
        settings,
        header(req, "authorization").as_deref(),
        content_length,
    )?;
    let body = read_body(req, settings.max_body_bytes, content_length)
        .await
        .map_err(|()| EdgeError::PayloadTooLarge)?;
    let accepted = intake::accept(
        &NodeCrypto,
        settings,
        event_type,
        query,
        header(req, "content-type").as_deref(),
        &body,
        now_ms,
    )?;
    accepted.note(line);
    let event = &accepted.event;

    let mode = delivery::mode(environment::bindings(env));
    let dedup = kv(env, "DEDUP").filter(|_| mode != Mode::Outbox);
    if let Some(kv) = &dedup {
        let lookup = match kv_text(kv, &event.id).await {
            Ok(Some(_)) => Lookup::Seen,
            Ok(None) => Lookup::Unseen,
            Err(_) => Lookup::Failed,
        };
        if delivery::is_duplicate(lookup) {
            return Ok(Outcome::Duplicate {
                id: event.id.clone(),
            });
        }
    }
    let outcome = match mode {
        Mode::Queue => match enqueue(env, event).await {
            Ok(()) => Outcome::Queued {
                id: event.id.clone(),
            },
            Err(fallback) => {
                line.fallback = Some(fallback.as_str());
                direct(settings, event, line).await
            }
        },
        Mode::Outbox => store(env, &accepted).await,
        Mode::Direct => direct(settings, event, line).await,
    };
    if let Some(kv) = dedup.filter(|_| delivery::remember(&outcome)) {
        record(&kv, &event.id, outcome.code(), settings.dedup_ttl_seconds).await;
    }
    Ok(outcome)
}

/// Outbox delivery: the event is stored in its chat's object before Webim is answered; the
/// object says whether it is new (202 queued) or held already (200 duplicate).
async fn store(env: &Env, accepted: &intake::Accepted) -> Outcome {
    let event = &accepted.event;
    let object = outbox::object_name(accepted.chat_id.as_deref(), &event.id);
    let path = match &accepted.chat_id {
        Some(chat) => format!(
            "/events?chat={}",
            utf8_percent_encode(chat, NON_ALPHANUMERIC)
        ),
        None => "/events".to_string(),
    };
    let id = || event.id.clone();
    match shell_outbox::call(env, &object, "POST", &path, Some(event.body.clone())).await {
        Ok((202, _)) => Outcome::Queued { id: id() },
        Ok((200, _)) => Outcome::Duplicate { id: id() },
        _ => Outcome::Failed(EdgeError::StorageUnavailable),
    }
}

/// Direct delivery: the origin's answer decides the reply.
async fn direct(settings: &Settings, event: &Event, line: &mut LogLine) -> Outcome {
    let answer = forward(settings, event).await;
    line.origin_status = answer.status;
    delivery::after_direct(&event.id, &answer)
}

/// Puts the event on the queue, or says why it must go directly.
async fn enqueue(env: &Env, event: &Event) -> Result<(), Fallback> {
    delivery::fits_queue(event.body.len())?;
    let queue = binding(env, "EVENTS").ok_or(Fallback::EnqueueFailed)?;
    let body = Uint8Array::from(event.body.as_slice());
    let options = Object::new();
    Reflect::set(&options, &"contentType".into(), &"v8".into())
        .map_err(|_| Fallback::EnqueueFailed)?;
    let sent = queue
        .unchecked_into::<QueueBinding>()
        .send(&body, &options)
        .map_err(|_| Fallback::EnqueueFailed)?;
    JsFuture::from(sent)
        .await
        .map(|_| ())
        .map_err(|_| Fallback::EnqueueFailed)
}

/// Remembers a delivered or queued id for the dedup window. A failed write only means a
/// later retry of the same call may be delivered again.
async fn record(kv: &Kv, id: &str, outcome: &str, ttl_seconds: u64) {
    let options = Object::new();
    if Reflect::set(
        &options,
        &"expirationTtl".into(),
        &JsValue::from_f64(ttl_seconds as f64),
    )
    .is_err()
    {
        return;
    }
    if let Ok(put) = kv.put(id, outcome, &options) {
        let _ = JsFuture::from(put).await;
    }
}

// KV and the queue are called directly: worker's wrappers serialize their options (and a
// stored string) through serde-wasm-bindgen, which brought that serializer and float
// formatting into the wasm.
#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
extern "C" {
    /// A KV namespace binding.
    #[wasm_bindgen(extends = Object)]
    type Kv;
    #[wasm_bindgen(method, catch)]
    fn get(this: &Kv, key: &str, options: &Object) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn put(this: &Kv, key: &str, value: &str, options: &Object) -> Result<Promise, JsValue>;

    /// A queue producer binding.
    #[wasm_bindgen(extends = Object)]
    type QueueBinding;
    #[wasm_bindgen(method, catch)]
    fn send(this: &QueueBinding, body: &Uint8Array, options: &Object) -> Result<Promise, JsValue>;
}

/// A binding that is defined.
fn binding(env: &Env, name: &str) -> Option<JsValue> {
    Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(|value| !value.is_undefined())
}

/// A KV binding: defined, and one whose properties can be read (as worker's wrapper required).
fn kv(env: &Env, name: &str) -> Option<Kv> {
    let kv = binding(env, name)?;
    Reflect::get(&kv, &JsValue::from_str("get")).ok()?;
    Some(kv.unchecked_into())
}

/// `kv.get(key, {type: "text"})`: the stored text, if any.
async fn kv_text(kv: &Kv, key: &str) -> Result<Option<String>, JsValue> {
    let options = Object::new();
    Reflect::set(&options, &"type".into(), &"text".into())?;
    Ok(JsFuture::from(kv.get(key, &options)?).await?.as_string())
}
