//! The `fetch` handler: one HTTP request through routing, intake and delivery, in the spec's
//! order, answered with the core's [`Outcome`] and logged as one line.
//!
//! A direct delivery (no queue, outbox or dedup bound) runs without awaiting in the wasm: the
//! module entry (entry.mjs) calls [`start`], which does everything up to the origin's answer and
//! hands back the POST in flight, then [`answered`] with the answer. Every `await` of a
//! JavaScript promise from Rust goes through the futures bridge (closures, a microtask to wake
//! the task), which costs more per delivery than the wasm's own work on it (docs/performance.md).
//! Every other request goes through the general, async [`handle_fetch`]. Both paths share the
//! steps below; only the waiting differs.

use std::cell::RefCell;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use worker::js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Env};

use crate::logic::delivery::{self, Fallback, Lookup, Mode};
use crate::logic::error::EdgeError;
use crate::logic::event::{Event, EventType};
use crate::logic::intake;
use crate::logic::log_line::LogLine;
use crate::logic::outbox;
use crate::logic::outcome::Outcome;
use crate::logic::retry::OriginAnswer;
use crate::logic::route::{self, Route};
use crate::logic::settings::Settings;
use crate::shell::admin;
use crate::shell::environment::{self, now_ms};
use crate::shell::forward::{self, forward};
use crate::shell::http::{read_body, response, RequestHead};
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
    let started_ms = now_ms();
    let mut line = LogLine::new("other");
    let outcome = handle(&req, &env, started_ms, &mut line)
        .await
        .unwrap_or_else(Outcome::from);
    finish(line, &outcome, started_ms)
}

/// What [`start`] answers when the module entry must go on: a response, an origin request in
/// flight (`[token, promise]`, for [`answered`]), or one of these numbers.
const GENERAL: u32 = 0;
/// Read the body (its length is declared and allowed), then call [`start`] again with it.
const READ_BODY: u32 = 1;

/// A direct delivery up to its origin request, without awaiting: the module entry passes the
/// body once [`READ_BODY`] asked for it. Any request this cannot finish alone is [`GENERAL`]:
/// the entry hands it to [`handle_fetch`] whole.
#[wasm_bindgen(js_name = start, wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
pub fn start(req: web_sys::Request, env: Env, body: Option<Vec<u8>>) -> Result<JsValue, JsValue> {
    let started_ms = now_ms();
    let mut line = LogLine::new("other");
    let (id, posted) = match begin(&req, &env, body, started_ms, &mut line) {
        Ok(Begun::General) => return Ok(GENERAL.into()),
        Ok(Begun::ReadBody) => return Ok(READ_BODY.into()),
        Ok(Begun::Posted(id, posted)) => (id, posted),
        Ok(Begun::Done(outcome)) => return finish(line, &outcome, started_ms).map(Into::into),
        Err(error) => return finish(line, &Outcome::from(error), started_ms).map(Into::into),
    };
    let token = wait(Waiting {
        line,
        id,
        started_ms,
    });
    Ok(Array::of2(&JsValue::from(token), &posted).into())
}

/// The longest body the module entry may read before calling [`start`]: the core's
/// [`intake::read_ahead_limit`], asked once per isolate; 0 when the settings are bad.
#[wasm_bindgen(js_name = readAhead, wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
pub fn read_ahead(env: Env) -> f64 {
    let straight = delivery::straight_to_origin(environment::bindings(&env));
    let loaded = environment::settings(&env);
    let limit = loaded
        .as_ref()
        .as_ref()
        .map_or(0, |settings| intake::read_ahead_limit(settings, straight));
    // Exact below 2^53 bytes; `accept` measures the body again in any case.
    limit as f64
}

/// The origin's answer to the request [`start`] sent as `token`: the reply, logged.
#[wasm_bindgen(js_name = answered, wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
pub fn answered(token: u32, answer: Option<String>) -> Result<web_sys::Response, JsValue> {
    let waiting = PENDING.with(|pending| {
        pending
            .borrow_mut()
            .get_mut(token as usize)
            .and_then(Option::take)
    });
    let Some(Waiting {
        mut line,
        id,
        started_ms,
    }) = waiting
    else {
        return Err(JsValue::from_str("no delivery waits under this token"));
    };
    let outcome = settle(&id, &forward::answer(answer), &mut line);
    finish(line, &outcome, started_ms)
}

/// A direct delivery between [`start`] and [`answered`].
struct Waiting {
    line: LogLine,
    id: String,
    started_ms: u64,
}

thread_local! {
    /// Direct deliveries waiting for their origin, by token (index); freed slots are reused.
    static PENDING: RefCell<Vec<Option<Waiting>>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `waiting` until its answer, under the token returned.
fn wait(waiting: Waiting) -> u32 {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        let slot = match pending.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                pending.push(None);
                pending.len() - 1
            }
        };
        pending[slot] = Some(waiting);
        u32::try_from(slot).unwrap_or(u32::MAX)
    })
}

/// How far [`begin`] got.
enum Begun {
    /// The general handler must take the request.
    General,
    /// The body must be read first.
    ReadBody,
    /// Answered without the origin.
    Done(Outcome),
    /// The event (by id) is on its way to the origin.
    Posted(String, Promise),
}

/// Routing, intake and the origin request of a direct delivery, or where it must stop.
fn begin(
    req: &web_sys::Request,
    env: &Env,
    given: Option<Vec<u8>>,
    now_ms: u64,
    line: &mut LogLine,
) -> Result<Begun, EdgeError> {
    let head = RequestHead::of(req);
    let route = route_of(&head, line)?;
    let loaded = environment::settings(env);
    let event_type = match route {
        Route::Event(event_type) if delivery::straight_to_origin(environment::bindings(env)) => {
            event_type
        }
        Route::Health => return Ok(Begun::Done(health(&loaded))),
        _ => return Ok(Begun::General),
    };
    let settings = configured(&loaded, line)?;
    let body = match (admitted(&head, settings)?, given) {
        // Read by the entry: within `read_ahead`'s limit, or after `ReadBody` asked for it.
        (_, Some(body)) => body,
        (Some(0), None) => Vec::new(),
        (Some(_), None) => return Ok(Begun::ReadBody),
        // A body of undeclared length is read by the general handler, chunk by chunk.
        (None, None) => return Ok(Begun::General),
    };
    let accepted = accept(&head, settings, event_type, &body, now_ms, line)?;
    let event = accepted.event;
    let posted = forward::prepare(settings, &event)
        .and_then(|request| forward::post(&request, settings.origin_timeout_ms));
    Ok(match posted {
        Some(posted) => Begun::Posted(event.id, posted),
        None => Begun::Done(settle(&event.id, &OriginAnswer::default(), line)),
    })
}

/// Answers with `outcome` and writes the request's log line.
#[inline(never)]
fn finish(
    mut line: LogLine,
    outcome: &Outcome,
    started_ms: u64,
) -> Result<web_sys::Response, JsValue> {
    let reply = outcome.reply();
    line.outcome(outcome, reply.status);
    log(line.line(started_ms, now_ms()));
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
    let head = RequestHead::of(req);
    let route = route_of(&head, line)?;
    let loaded = environment::settings(env);
    let event_type = match route {
        Route::Health => return Ok(health(&loaded)),
        Route::Admin(admin_route) => {
            let settings = configured(&loaded, line)?;
            return admin::handle(&head, env, settings, admin_route).await;
        }
        Route::Event(event_type) => event_type,
    };
    let settings = configured(&loaded, line)?;
    deliver(req, &head, env, settings, event_type, now_ms, line).await
}

/// The request's route, also put on the log line.
#[inline(never)]
fn route_of(head: &RequestHead, line: &mut LogLine) -> Result<Route, EdgeError> {
    let route = route::route(&head.method, head.path())?;
    line.route = match route {
        Route::Health => "/healthz",
        Route::Admin(_) => "/admin",
        Route::Event(event_type) => event_type.route(),
    };
    Ok(route)
}

/// `/healthz`: ok, or the names of the bad settings.
#[inline(never)]
fn health(loaded: &environment::Loaded) -> Outcome {
    let problems = loaded.as_ref().err().cloned().unwrap_or_default();
    Outcome::Health { problems }
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

/// Intake steps 1–2, before the body is read: the declared `content-length`, once admitted.
#[inline(never)]
fn admitted(head: &RequestHead, settings: &Settings) -> Result<Option<u64>, EdgeError> {
    let content_length = head
        .content_length
        .as_deref()
        .and_then(|len| len.trim().parse().ok());
    intake::admit(settings, head.authorization.as_deref(), content_length)?;
    Ok(content_length)
}

/// The rest of intake, on the read body; what may be logged of it goes on the line.
#[inline(never)]
fn accept(
    head: &RequestHead,
    settings: &Settings,
    event_type: EventType,
    body: &[u8],
    now_ms: u64,
    line: &mut LogLine,
) -> Result<intake::Accepted, EdgeError> {
    let accepted = intake::accept(
        &NodeCrypto,
        settings,
        event_type,
        head.query(),
        head.content_type.as_deref(),
        body,
        now_ms,
    )?;
    accepted.note(line);
    Ok(accepted)
}

/// Intake, then the delivery mode the bindings choose.
async fn deliver(
    req: &web_sys::Request,
    head: &RequestHead,
    env: &Env,
    settings: &Settings,
    event_type: EventType,
    now_ms: u64,
    line: &mut LogLine,
) -> Result<Outcome, EdgeError> {
    let content_length = admitted(head, settings)?;
    let body = read_body(req, settings.max_body_bytes, content_length)
        .await
        .map_err(|()| EdgeError::PayloadTooLarge)?;
    let accepted = accept(head, settings, event_type, &body, now_ms, line)?;
    let event = &accepted.event;

    let bindings = environment::bindings(env);
    let mode = delivery::mode(bindings);
    let dedup = delivery::looks_up_dedup(bindings)
        .then(|| kv(env, "DEDUP"))
        .flatten();
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
    settle(&event.id, &answer, line)
}

/// The outcome of a direct delivery of the event `id`, with the origin's status on the line.
#[inline(never)]
fn settle(id: &str, answer: &OriginAnswer, line: &mut LogLine) -> Outcome {
    line.origin_status = answer.status;
    delivery::after_direct(id, answer)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(id: &str) -> Waiting {
        Waiting {
            line: LogLine::new("/webim/chat_started"),
            id: id.to_string(),
            started_ms: 0,
        }
    }

    fn take(token: u32) -> Option<String> {
        PENDING.with(|pending| pending.borrow_mut()[token as usize].take().map(|w| w.id))
    }

    #[test]
    fn a_token_finds_its_own_delivery_and_its_slot_is_reused_once_answered() {
        let (a, b) = (wait(waiting("evt_a")), wait(waiting("evt_b")));
        assert_ne!(a, b);
        assert_eq!(take(b).as_deref(), Some("evt_b"));
        assert_eq!(take(b), None, "answered once only");
        assert_eq!(wait(waiting("evt_c")), b);
        assert_eq!(take(a).as_deref(), Some("evt_a"));
        assert_eq!(take(b).as_deref(), Some("evt_c"));
        PENDING.with(|pending| assert!(pending.borrow().iter().all(Option::is_none)));
    }
}
