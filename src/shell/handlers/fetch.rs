//! The `fetch` handler: one HTTP request through routing, intake and delivery, in the spec's
//! order, answered with the core's [`Outcome`] and logged as one line.
//!
//! A delivery that takes one request (direct with no dedup lookup: the origin's POST; the
//! outbox: the store in its chat's object) runs without awaiting in the wasm: the module entry
//! (entry.mjs) calls [`start`], which does everything up to that request's answer and hands back
//! the request in flight, then [`answered`] with the answer. Every `await` of a
//! JavaScript promise from Rust goes through the futures bridge (closures, a microtask to wake
//! the task), which costs more per delivery than the wasm's own work on it (docs/performance.md).
//! Every other request goes through the general, async [`handle_fetch`]. Both paths share the
//! steps below; only the waiting differs.

use worker::js_sys::{Array, Promise};
use worker::wasm_bindgen;
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{web_sys, Env};

use crate::logic::delivery::{self, Fallback, Lookup, Mode};
use crate::logic::error::EdgeError;
use crate::logic::event::EventType;
use crate::logic::intake;
use crate::logic::log_line::LogLine;
use crate::logic::outcome::Outcome;
use crate::logic::reply::Reply;
use crate::logic::retry::OriginAnswer;
use crate::logic::route::{self, Route};
use crate::logic::settings::Settings;
use crate::logic::warm_up;
use crate::shell::environment::{self, DEDUP, QUEUE};
use crate::shell::forward::{self, forward};
use crate::shell::handlers::admin;
use crate::shell::outbox::client;
use crate::shell::runtime::crypto::NodeCrypto;
use crate::shell::runtime::http::{self, read_body, response, RequestHead};
use crate::shell::runtime::kv::Kv;
use crate::shell::runtime::{log, now_ms, queue};

// The entry points are plain exports rather than `#[event]`: that wrapper reads `request.cf`
// and parses the URL again on every request. The module entry (src/shell/entry.mjs) calls them.

/// HTTP requests: Webim deliveries, `/healthz` and the admin API. `body` is the request's body
/// when the module entry has read it already (it is never read twice).
#[wasm_bindgen(
    js_name = fetch,
    wasm_bindgen = worker::wasm_bindgen,
    wasm_bindgen_futures = worker::wasm_bindgen_futures,
    js_sys = worker::js_sys
)]
pub async fn handle_fetch(
    req: web_sys::Request,
    env: Env,
    body: Option<Vec<u8>>,
) -> Result<web_sys::Response, JsValue> {
    let started_ms = now_ms();
    let mut line = LogLine::new("other");
    let outcome = handle(&req, &env, body, started_ms, &mut line)
        .await
        .unwrap_or_else(Outcome::from);
    finish(line, &outcome, started_ms)
}

/// What [`start`] answers when the module entry must go on: a response, a request in flight
/// (`[waiting, promise]`, for [`answered`]), or one of these numbers.
const GENERAL: u32 = 0;
/// Read the body (its length is declared and allowed), then call [`start`] again with it.
const READ_BODY: u32 = 1;

/// A delivery up to its one request (to the origin, or to its chat's object), without awaiting:
/// the module entry passes the body once [`READ_BODY`] asked for it. Any request this cannot
/// finish alone is [`GENERAL`]: the entry hands it to [`handle_fetch`] whole.
#[wasm_bindgen(js_name = start, wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
pub fn start(req: web_sys::Request, env: Env, body: Option<Vec<u8>>) -> Result<JsValue, JsValue> {
    let started_ms = now_ms();
    let mut line = LogLine::new("other");
    let (id, mode, posted) = match begin(&req, &env, body, started_ms, &mut line) {
        Ok(Begun::General) => return Ok(GENERAL.into()),
        Ok(Begun::ReadBody) => return Ok(READ_BODY.into()),
        Ok(Begun::Sent(id, mode, posted)) => (id, mode, posted),
        Ok(Begun::Done(outcome)) => return finish(line, &outcome, started_ms).map(Into::into),
        Err(error) => return finish(line, &Outcome::from(error), started_ms).map(Into::into),
    };
    let waiting = Waiting {
        line,
        id,
        started_ms,
        mode,
    };
    Ok(Array::of2(&JsValue::from(waiting), &posted).into())
}

/// The warm-up ([`warm_up`]): the module entry calls this once while the worker loads. The
/// built-in delivery goes through the functions [`begin`] and [`finish`] call for a direct
/// delivery, on the warm-up's own settings, short of sending it, of making its `Response` and
/// of writing its log line: whether it got as far as a signed origin request. It makes no call
/// the runtime refuses at global scope (I/O, timers, random values, a `Response`).
#[wasm_bindgen(js_name = warmUp, wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
pub fn warm_up() -> Result<bool, JsValue> {
    let started_ms = now_ms();
    let (Some(settings), Some(url)) = (warm_up::settings(), warm_up::url(&NodeCrypto)) else {
        return Ok(false);
    };
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let req = web_sys::Request::new_with_str_and_init(&url, &init)?;
    let mut line = LogLine::new("other");
    let head = RequestHead::of(&req);
    let outcome = route_of(&head, &mut line).and_then(|route| {
        let Route::Event(event_type) = route else {
            return Err(EdgeError::NotFound);
        };
        admitted(&head, &settings)?;
        let accepted = accept(&head, &settings, event_type, &[], started_ms, &mut line)?;
        forward::prepare(
            &settings,
            &accepted.event,
            Some(accepted.verified.key_index),
        )
        .map(|_| Outcome::Forwarded {
            id: accepted.event.id.clone(),
        })
        .ok_or(EdgeError::OriginUnavailable)
    });
    let outcome = outcome.unwrap_or_else(Outcome::from);
    let (reply, _) = closed(line, &outcome, started_ms);
    // The reply's headers as `response` writes them; the runtime makes no `Response` at load.
    Ok(http::head(&reply.headers).is_some() && matches!(outcome, Outcome::Forwarded { .. }))
}

/// The longest body the module entry may read before calling [`start`]: the core's
/// [`intake::read_ahead_limit`], asked once per isolate; 0 when the settings are bad.
#[wasm_bindgen(js_name = readAhead, wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
pub fn read_ahead(env: Env) -> f64 {
    let one = delivery::in_one_request(environment::bindings(&env)).is_some();
    let loaded = environment::settings(&env);
    let limit = loaded
        .as_ref()
        .as_ref()
        .map_or(0, |settings| intake::read_ahead_limit(settings, one));
    // Exact below 2^53 bytes; `accept` measures the body again in any case.
    limit as f64
}

/// The answer to the request [`start`] sent for `waiting` (the origin's, or the chat's
/// object's): the reply, logged.
#[wasm_bindgen(js_name = answered, wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
pub fn answered(waiting: Waiting, answer: Option<String>) -> Result<web_sys::Response, JsValue> {
    let Waiting {
        mut line,
        id,
        started_ms,
        mode,
    } = waiting;
    let outcome = match mode {
        Mode::Outbox => delivery::after_store(&id, answer.and_then(|a| a.parse().ok())),
        _ => settle(&id, &forward::answer(answer), &mut line),
    };
    finish(line, &outcome, started_ms)
}

/// A delivery between [`start`] and [`answered`], held by the module entry while it waits:
/// when the request ends without an answer, the runtime collects it. A fresh wasm instance
/// refuses one that an instance it replaced made.
#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen)]
pub struct Waiting {
    line: LogLine,
    id: String,
    started_ms: u64,
    /// Where its request went: the origin (direct) or its chat's object (the outbox).
    mode: Mode,
}

/// How far [`begin`] got.
enum Begun {
    /// The general handler must take the request.
    General,
    /// The body must be read first.
    ReadBody,
    /// Answered without the origin.
    Done(Outcome),
    /// The event (by id) is on its way to the origin, or to its chat's object.
    Sent(String, Mode, Promise),
}

/// Routing, intake and the one request of a delivery ([`delivery::in_one_request`]), or where
/// it must stop.
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
    let (event_type, mode) = match route {
        Route::Event(event_type) => match delivery::in_one_request(environment::bindings(env)) {
            Some(mode) => (event_type, mode),
            None => return Ok(Begun::General),
        },
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
    if mode == Mode::Outbox {
        return Ok(match client::store_sent(env, &accepted) {
            Some(sent) => Begun::Sent(accepted.event.id, mode, sent),
            None => Begun::Done(delivery::after_store(&accepted.event.id, None)),
        });
    }
    let event = accepted.event;
    let posted = forward::prepare(settings, &event, Some(accepted.verified.key_index))
        .and_then(|request| forward::post(&request, settings.origin_timeout_ms));
    Ok(match posted {
        Some(posted) => Begun::Sent(event.id, mode, posted),
        None => Begun::Done(settle(&event.id, &OriginAnswer::default(), line)),
    })
}

/// Answers with `outcome` and writes the request's log line.
#[inline(never)]
fn finish(line: LogLine, outcome: &Outcome, started_ms: u64) -> Result<web_sys::Response, JsValue> {
    let (reply, logged) = closed(line, outcome, started_ms);
    log(logged);
    response(reply)
}

/// The reply to `outcome` and the request's log line, as [`finish`] sends and writes them.
#[inline(never)]
fn closed(mut line: LogLine, outcome: &Outcome, started_ms: u64) -> (Reply, String) {
    let reply = outcome.reply();
    line.outcome(outcome, reply.status);
    let logged = line.line(started_ms, now_ms());
    (reply, logged)
}

async fn handle(
    req: &web_sys::Request,
    env: &Env,
    body: Option<Vec<u8>>,
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
            // Read only by a route that takes a body (a dead-event filter).
            let declared = head.declared_length();
            let body = body_of(req, body, crate::logic::admin::MAX_BODY_BYTES, declared);
            return admin::handle(&head, body, env, settings, admin_route).await;
        }
        Route::Event(event_type) => event_type,
    };
    let settings = configured(&loaded, line)?;
    deliver(req, body, &head, env, settings, event_type, now_ms, line).await
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
    let content_length = head.declared_length();
    intake::admit(settings, head.authorization.as_deref(), content_length)?;
    Ok(content_length)
}

/// The body: `given` when the module entry has read it, else read here up to `limit` bytes.
async fn body_of(
    req: &web_sys::Request,
    given: Option<Vec<u8>>,
    limit: u64,
    declared: Option<u64>,
) -> Result<Vec<u8>, EdgeError> {
    match given {
        Some(body) => Ok(body),
        None => read_body(req, limit, declared)
            .await
            .map_err(|()| EdgeError::PayloadTooLarge),
    }
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
#[allow(clippy::too_many_arguments)]
async fn deliver(
    req: &web_sys::Request,
    given: Option<Vec<u8>>,
    head: &RequestHead,
    env: &Env,
    settings: &Settings,
    event_type: EventType,
    now_ms: u64,
    line: &mut LogLine,
) -> Result<Outcome, EdgeError> {
    let content_length = admitted(head, settings)?;
    let body = body_of(req, given, settings.max_body_bytes, content_length).await?;
    let accepted = accept(head, settings, event_type, &body, now_ms, line)?;
    let event = &accepted.event;

    let bindings = environment::bindings(env);
    let mode = delivery::mode(bindings);
    let dedup = delivery::looks_up_dedup(bindings)
        .then(|| Kv::bound(env, DEDUP))
        .flatten();
    if let Some(kv) = &dedup {
        let lookup = match kv.text(&event.id).await {
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
        Mode::Queue => match enqueue(env, &accepted).await {
            Ok(()) => Outcome::Queued {
                id: event.id.clone(),
            },
            Err(fallback) => {
                line.fallback = Some(fallback.as_str());
                direct(settings, &accepted, line).await
            }
        },
        Mode::Outbox => client::store(env, &accepted).await,
        Mode::Direct => direct(settings, &accepted, line).await,
    };
    if let Some(kv) = dedup.filter(|_| delivery::remember(&outcome)) {
        // A failed write only means a later retry of the same call may be delivered again.
        let _ = kv
            .put(&event.id, outcome.code(), settings.dedup_ttl_seconds)
            .await;
    }
    Ok(outcome)
}

/// Direct delivery: the origin's answer decides the reply.
async fn direct(settings: &Settings, accepted: &intake::Accepted, line: &mut LogLine) -> Outcome {
    let event = &accepted.event;
    let answer = forward(settings, event, Some(accepted.verified.key_index)).await;
    settle(&event.id, &answer, line)
}

/// The outcome of a direct delivery of the event `id`, with the origin's status on the line.
#[inline(never)]
fn settle(id: &str, answer: &OriginAnswer, line: &mut LogLine) -> Outcome {
    line.origin_status = answer.status;
    delivery::after_direct(id, answer)
}

/// Puts the event on the queue, or says why it must go directly.
async fn enqueue(env: &Env, accepted: &intake::Accepted) -> Result<(), Fallback> {
    // The message is the event's body, as a dead-letter queue shows it. It does not carry the
    // key that verified the delivery: with the Webim format, a queued event is signed with
    // ORIGIN_WEBIM_KEY, else the first key (README, "Modes").
    let body = &accepted.event.body;
    delivery::fits_queue(body.len())?;
    queue::send(env, QUEUE, body)
        .await
        .map_err(|_| Fallback::EnqueueFailed)
}
