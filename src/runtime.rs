//! The Workers-runtime side of webim-edge: turns a `worker::Request` and `Env` into the core's
//! inputs, performs the origin fetch with its timeout, and copies a [`Reply`] into a
//! `worker::Response`. Nothing here decides; it only carries.

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::js_sys::Uint8Array;
use worker::{
    AbortController, Date, Delay, Env, Fetch, Headers, Method, Request, RequestInit,
    RequestRedirect, Response,
};

use crate::error::EdgeError;
use crate::event::Event;
use crate::log::Trace;
use crate::pipeline::{self, Route};
use crate::reply::Reply;
use crate::settings::Settings;

/// Reads every setting from the environment (vars and secrets are both string bindings).
fn settings(env: &Env) -> Result<Settings, Vec<&'static str>> {
    Settings::from_lookup(|name| env.var(name).ok().map(|value| value.to_string()))
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Runs one request through the pipeline, noting in `trace` what the log may say.
pub async fn handle(
    mut req: Request,
    env: &Env,
    now_ms: u64,
    trace: &mut Trace,
) -> Result<Reply, EdgeError> {
    let url = req.url().map_err(|_| EdgeError::NotFound)?;
    trace.route = "other";
    let route = pipeline::route(req.method().as_ref(), url.path())?;
    let event_type = match route {
        Route::Health => {
            trace.route = "/healthz";
            trace.outcome = "ok";
            return Ok(pipeline::health(&settings(env)));
        }
        Route::Event(event_type) => event_type,
    };
    trace.route = event_type.route();
    let settings = settings(env).map_err(|problems| {
        trace.problems = problems;
        EdgeError::Misconfigured
    })?;
    let content_length = header(&req, "content-length").and_then(|len| len.trim().parse().ok());
    pipeline::admit(
        &settings,
        header(&req, "authorization").as_deref(),
        content_length,
    )?;
    // A body that cannot be read is treated like one that is too large to hold.
    let body = req.bytes().await.map_err(|_| EdgeError::PayloadTooLarge)?;
    let accepted = pipeline::accept(
        &settings,
        event_type,
        url.query().unwrap_or("").as_bytes(),
        header(&req, "content-type").as_deref(),
        &body,
        now_ms,
    )?;
    trace.accepted(&accepted);
    let origin_status = forward(&settings, &accepted.event).await;
    trace.origin_status = origin_status;
    let reply = pipeline::delivered(&accepted.event.id, origin_status)?;
    trace.outcome = "forwarded";
    Ok(reply)
}

/// One delivery attempt to the origin: the origin's status, or `None` when it could not be
/// reached or did not answer within `ORIGIN_TIMEOUT_MS`. Redirects are not followed, so the
/// event and its headers never go anywhere but `ORIGIN_URL`.
pub async fn forward(settings: &Settings, event: &Event) -> Option<u16> {
    let now_secs = Date::now().as_millis() / 1000;
    let outbound = settings
        .origin
        .request(event, settings.signing_key.as_ref(), now_secs);
    let headers = Headers::new();
    for (name, value) in &outbound.headers {
        headers.set(name, value).ok()?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(Uint8Array::from(event.body.as_slice()).into()));
    let request = Request::new_with_init(&outbound.url, &init).ok()?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let send = std::pin::pin!(fetch.send_with_signal(&signal));
    let timeout = std::pin::pin!(Delay::from(Duration::from_millis(
        settings.origin_timeout_ms.into()
    )));
    match select(send, timeout).await {
        Either::Left((Ok(response), _)) => Some(response.status_code()),
        Either::Left((Err(_), _)) => None,
        Either::Right(((), _)) => {
            controller.abort();
            None
        }
    }
}

/// Copies a [`Reply`] into a runtime response.
pub fn response(reply: Reply) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    Ok(Response::from_bytes(reply.body)?
        .with_status(reply.status)
        .with_headers(headers))
}
