//! The Workers-runtime side of webim-edge: turns a `web_sys::Request` and `Env` into the core's
//! inputs, and the core's decisions into origin fetches (with their timeout), queue sends,
//! KV reads and writes, queue acknowledgements and responses. Nothing here decides; it carries.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::future::join_all;
use worker::js_sys::{self, Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys;
use worker::{Date, Env, Headers, KvStore, Queue, QueueContentType, RawMessageBuilder};

use crate::crypto::{Crypto, RustCrypto};
use crate::delivery::{self, Next, OriginAnswer};
use crate::error::EdgeError;
use crate::event::Event;
use crate::log::Trace;
use crate::pipeline::{self, Route};
use crate::reply::Reply;
use crate::settings::Settings;

type SettingsResult = Result<Settings, Vec<&'static str>>;

thread_local! {
    /// An isolate's bindings never change (a new version or secret starts new isolates), so
    /// settings are read and validated once per isolate.
    static SETTINGS: RefCell<Option<Rc<SettingsResult>>> = const { RefCell::new(None) };
}

/// Every setting from the environment (vars and secrets are both string bindings).
fn settings(env: &Env) -> Rc<SettingsResult> {
    SETTINGS.with(|cached| {
        cached
            .borrow_mut()
            .get_or_insert_with(|| {
                Rc::new(Settings::from_lookup(|name| {
                    env.var(name).ok().map(|value| value.to_string())
                }))
            })
            .clone()
    })
}

// workerd's `node:crypto` (the `nodejs_compat` flag): inside workerd an HMAC over 4.4 KB costs
// 13-16 µs this way and 30-38 µs as wasm, and a delivery hashes three times.
#[wasm_bindgen(module = "node:crypto", wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    /// A `Hash` or `Hmac` object.
    type Hasher;
    #[wasm_bindgen(catch, js_name = createHash)]
    fn create_hash(algorithm: &str) -> Result<Hasher, JsValue>;
    #[wasm_bindgen(catch, js_name = createHmac)]
    fn create_hmac(algorithm: &str, key: &[u8]) -> Result<Hasher, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn update(this: &Hasher, data: &[u8]) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn digest(this: &Hasher) -> Result<Vec<u8>, JsValue>;
}

/// The runtime's native SHA-256, falling back to [`RustCrypto`] should a call ever fail.
struct NodeCrypto;

impl NodeCrypto {
    fn finish(hasher: Result<Hasher, JsValue>, parts: &[&[u8]]) -> Option<[u8; 32]> {
        let hasher = hasher.ok()?;
        for part in parts {
            hasher.update(part).ok()?;
        }
        hasher.digest().ok()?.try_into().ok()
    }
}

impl Crypto for NodeCrypto {
    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        Self::finish(create_hash("sha256"), parts).unwrap_or_else(|| RustCrypto.sha256(parts))
    }

    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        Self::finish(create_hmac("sha256", key), parts)
            .unwrap_or_else(|| RustCrypto.hmac_sha256(key, parts))
    }
}

fn header(req: &web_sys::Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Writes one log line.
pub fn log(line: String) {
    web_sys::console::log_1(&JsValue::from(line));
}

fn now_secs() -> u64 {
    Date::now().as_millis() / 1000
}

/// Runs one request through the pipeline, noting in `trace` what the log may say.
pub async fn handle(
    req: &web_sys::Request,
    env: &Env,
    now_ms: u64,
    trace: &mut Trace,
) -> Result<Reply, EdgeError> {
    let url = req.url();
    let (path, query) = pipeline::path_and_query(&url);
    let event_type = match pipeline::route(&req.method(), path)? {
        Route::Health => {
            trace.route = "/healthz";
            trace.outcome = "ok";
            return Ok(pipeline::health(&settings(env)));
        }
        Route::Event(event_type) => event_type,
    };
    trace.route = event_type.route();
    let settings = settings(env);
    let settings = settings.as_ref().as_ref().map_err(|problems| {
        trace.problems.clone_from(problems);
        EdgeError::Misconfigured
    })?;
    let content_length = header(req, "content-length").and_then(|len| len.trim().parse().ok());
    pipeline::admit(
        settings,
        header(req, "authorization").as_deref(),
        content_length,
    )?;
    // A body that cannot be read is treated like one that is too large to hold.
    let body = read_body(req).await.ok_or(EdgeError::PayloadTooLarge)?;
    let accepted = pipeline::accept(
        &NodeCrypto,
        settings,
        event_type,
        query.as_bytes(),
        header(req, "content-type").as_deref(),
        &body,
        now_ms,
    )?;
    trace.accepted(&accepted);
    let event = &accepted.event;

    let dedup = env.kv("DEDUP").ok();
    if let Some(kv) = &dedup {
        // A failed lookup delivers: a duplicate at the origin is better than a lost event.
        if matches!(kv.get(&event.id).text().await, Ok(Some(_))) {
            trace.outcome = "duplicate";
            return Ok(pipeline::duplicate(&event.id));
        }
    }
    let reply = deliver(env, settings, event, trace).await?;
    if let Some(kv) = &dedup {
        record(kv, &event.id, trace.outcome, settings.dedup_ttl_seconds).await;
    }
    Ok(reply)
}

async fn read_body(req: &web_sys::Request) -> Option<Vec<u8>> {
    let buffer = JsFuture::from(req.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&buffer).to_vec())
}

/// Enqueues the event when a queue is bound and it fits; otherwise, or when the enqueue
/// fails, forwards it directly.
async fn deliver(
    env: &Env,
    settings: &Settings,
    event: &Event,
    trace: &mut Trace,
) -> Result<Reply, EdgeError> {
    if let Ok(queue) = env.queue("EVENTS") {
        if !delivery::fits_queue(event.body.len()) {
            trace.fallback = Some("too_large");
        } else if enqueue(&queue, event).await.is_ok() {
            trace.outcome = "queued";
            return Ok(pipeline::queued(&event.id));
        } else {
            trace.fallback = Some("enqueue_failed");
        }
    }
    let answer = forward(settings, event).await;
    trace.origin_status = answer.status;
    let reply = pipeline::delivered(&event.id, &answer)?;
    trace.outcome = "forwarded";
    Ok(reply)
}

async fn enqueue(queue: &Queue, event: &Event) -> worker::Result<()> {
    let body = Uint8Array::from(event.body.as_slice());
    queue
        .send_raw(RawMessageBuilder::new(body.into()).build_with_content_type(QueueContentType::V8))
        .await
}

/// Remembers a delivered or queued id for the dedup window. A failed write only means a
/// later retry of the same call may be delivered again.
async fn record(kv: &KvStore, id: &str, outcome: &str, ttl_seconds: u64) {
    if let Ok(put) = kv.put(id, outcome) {
        let _ = put.expiration_ttl(ttl_seconds).execute().await;
    }
}

/// One delivery attempt to the origin. `status` is `None` when it could not be reached or did
/// not answer within `ORIGIN_TIMEOUT_MS`. Redirects are not followed, so the event and its
/// headers never go anywhere but `ORIGIN_URL`.
pub async fn forward(settings: &Settings, event: &Event) -> OriginAnswer {
    let outbound = settings.origin.request(
        &NodeCrypto,
        event,
        settings.signing_key.as_ref(),
        now_secs(),
    );
    let headers = Headers::new();
    for (name, value) in &outbound.headers {
        if headers.set(name, value).is_err() {
            return OriginAnswer::default();
        }
    }
    // One fetch(url, init) on the global scope: no intermediate Request to copy, and the
    // runtime's own timer aborts it, reading the response included.
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(headers.as_ref());
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_body(&Uint8Array::from(event.body.as_slice()));
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(
        settings.origin_timeout_ms,
    )));
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let Ok(response) = JsFuture::from(global.fetch_with_str_and_init(&outbound.url, &init)).await
    else {
        return OriginAnswer::default();
    };
    let response: web_sys::Response = response.unchecked_into();
    OriginAnswer {
        status: Some(response.status()),
        retry_after: response.headers().get("retry-after").ok().flatten(),
    }
}

/// Forwards every message of a queue batch, concurrently, acknowledging or retrying each
/// one on its own so one bad event never holds back or re-sends the rest.
pub async fn consume(batch: worker::worker_sys::MessageBatch, env: &Env) {
    let Ok(messages) = batch.messages() else {
        return;
    };
    let settings = settings(env);
    let settings = match settings.as_ref() {
        Ok(settings) => settings,
        Err(problems) => {
            let mut trace = Trace::new("queue");
            trace.outcome = "misconfigured";
            trace.problems.clone_from(problems);
            let now = Date::now().as_millis();
            log(trace.line(now, now));
            let _ = batch.retry_all(JsValue::NULL);
            return;
        }
    };
    let attempts = messages
        .iter()
        .map(|message| attempt(settings, message.unchecked_into()));
    join_all(attempts).await;
}

/// One attempt at one queued event, logged as one line.
async fn attempt(settings: &Settings, message: worker::worker_sys::Message) {
    let started_ms = Date::now().as_millis();
    // `attempts` counts deliveries of this message, starting at 1.
    let attempt = Reflect::get(&message, &JsValue::from_str("attempts"))
        .ok()
        .and_then(|n| n.as_f64())
        .map_or(1, |n| n as u32);
    let mut trace = Trace::new("queue");
    trace.attempt = Some(attempt);
    let event = message
        .body()
        .ok()
        .filter(|body| body.is_instance_of::<Uint8Array>())
        .and_then(|body| Event::from_body(Uint8Array::new(&body).to_vec()));
    let next = match &event {
        Some(event) => {
            trace.event(event);
            let answer = forward(settings, event).await;
            trace.origin_status = answer.status;
            delivery::after_attempt(&answer, attempt, now_secs(), settings.retry_base_seconds)
        }
        None => delivery::after_unreadable(attempt, settings.retry_base_seconds),
    };
    trace.outcome = next.outcome();
    match next {
        Next::Done => {
            let _ = message.ack();
        }
        Next::Retry { delay_seconds, .. } => {
            trace.retry_in_s = Some(delay_seconds);
            let options = Object::new();
            let _ = Reflect::set(
                &options,
                &JsValue::from_str("delaySeconds"),
                &JsValue::from(delay_seconds),
            );
            let _ = message.retry(options.into());
        }
    }
    log(trace.line(started_ms, Date::now().as_millis()));
}

/// Copies a [`Reply`] into a runtime response.
pub fn response(reply: Reply) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    let mut body = reply.body;
    web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut body), &init)
}
