//! One delivery attempt to the origin: the core's [`OriginRequest`] for the attempt, sent with
//! the runtime's `fetch` under `ORIGIN_TIMEOUT_MS`, and the answer read back as an
//! [`OriginAnswer`].

use worker::wasm_bindgen_futures::JsFuture;

use crate::logic::event::Event;
use crate::logic::log_line::LogLine;
use crate::logic::notices::ALERT_TIMEOUT_MS;
use crate::logic::origin::OriginRequest;
use crate::logic::retry::OriginAnswer;
use crate::logic::settings::Settings;
use crate::shell::runtime::crypto::NodeCrypto;
use crate::shell::runtime::{http, log, now_ms};

/// Delivers `event` once, signed afresh for this attempt; `verified_by` is the index of the
/// Webim key that verified its delivery. `status` is `None` when the origin could not be
/// reached or did not answer in time.
pub async fn forward(
    settings: &Settings,
    event: &Event,
    verified_by: Option<usize>,
) -> OriginAnswer {
    match prepare(settings, event, verified_by) {
        Some(request) => send(&request, settings.origin_timeout_ms).await,
        None => OriginAnswer::default(),
    }
}

/// The request of one attempt, signed now. `None` when the event's type has no origin or a
/// signature could not be computed: the attempt fails rather than going out unsigned.
#[inline(never)]
pub fn prepare<'a>(
    settings: &'a Settings,
    event: &'a Event,
    verified_by: Option<usize>,
) -> Option<OriginRequest<'a>> {
    let origin = settings.origin_for(event.event_type)?;
    origin.request(
        &NodeCrypto,
        event,
        settings.signing(verified_by),
        now_ms() / 1000,
    )
}

/// POSTs `request`. Redirects are not followed, so the event and its headers never go
/// anywhere but the configured URL; the runtime's own timer aborts the attempt, reading the
/// response included.
pub async fn send(request: &OriginRequest<'_>, timeout_ms: u32) -> OriginAnswer {
    match post(request, timeout_ms) {
        Some(posted) => answer(
            JsFuture::from(posted)
                .await
                .ok()
                .and_then(|v| v.as_string()),
        ),
        None => OriginAnswer::default(),
    }
}

/// Sends a notice (a dead event, an origin down or up) to `ALERT_URL` and logs it on `line`:
/// whether the endpoint took it (`false` without `ALERT_URL`).
pub async fn alert(settings: &Settings, body: Vec<u8>, mut line: LogLine) -> bool {
    let Some(url) = &settings.alert_url else {
        return false;
    };
    let started = now_ms();
    let timeout = settings.origin_timeout_ms.min(ALERT_TIMEOUT_MS);
    let answer = send(&url.json(body), timeout).await;
    line.origin_status = answer.status;
    line.outcome = if answer.accepted() {
        "alerted"
    } else {
        "alert_failed"
    };
    log(line.line(started, now_ms()));
    answer.accepted()
}

/// Starts the POST of `request`: a promise of what [`answer`] reads. `None` when a header
/// cannot be passed on (it holds a line break).
pub fn post(request: &OriginRequest<'_>, timeout_ms: u32) -> Option<worker::js_sys::Promise> {
    let head = http::head(&request.headers)?;
    Some(http::post(request.url, &head, &request.body, timeout_ms))
}

/// What the POST helper resolved to: `status\nretry-after`, or nothing when no answer came.
#[inline(never)]
pub fn answer(answer: Option<String>) -> OriginAnswer {
    let Some(answer) = answer else {
        return OriginAnswer::default();
    };
    let (status, retry_after) = answer.split_once('\n').unwrap_or((&answer, ""));
    OriginAnswer {
        status: status.parse().ok(),
        retry_after: Some(retry_after)
            .filter(|value| !value.is_empty())
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::answer;

    #[test]
    fn an_answer_reads_as_its_status_and_retry_after() {
        let read = |text: &str| answer(Some(text.to_string()));
        assert_eq!(read("503\n120").status, Some(503));
        assert_eq!(read("503\n120").retry_after.as_deref(), Some("120"));
        assert_eq!(read("204\n").retry_after, None);
        assert_eq!(answer(None).status, None);
    }
}
