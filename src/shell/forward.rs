//! One delivery attempt to the origin: the core's [`OriginRequest`] sent with the runtime's
//! `fetch`, under `ORIGIN_TIMEOUT_MS`, and the answer read back as an [`OriginAnswer`].

use worker::js_sys::Array;
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::Date;

use crate::core::event::Event;
use crate::core::origin::OriginRequest;
use crate::core::retry::OriginAnswer;
use crate::core::settings::Settings;
use crate::shell::http;
use crate::shell::node_crypto::NodeCrypto;

/// Delivers `event` once, signed afresh for this attempt. `status` is `None` when the origin
/// could not be reached or did not answer in time.
pub async fn forward(settings: &Settings, event: &Event) -> OriginAnswer {
    let Some(origin) = settings.origin_for(event.event_type) else {
        return OriginAnswer::default();
    };
    let now_secs = Date::now().as_millis() / 1000;
    match origin.request(&NodeCrypto, event, settings.signing(), now_secs) {
        Some(request) => send(&request, settings.origin_timeout_ms).await,
        None => OriginAnswer::default(),
    }
}

/// POSTs `request`. Redirects are not followed, so the event and its headers never go
/// anywhere but the configured URL; the runtime's own timer aborts the attempt, reading the
/// response included.
pub async fn send(request: &OriginRequest<'_>, timeout_ms: u32) -> OriginAnswer {
    let Some(head) = http::head(&request.headers) else {
        return OriginAnswer::default();
    };
    let posted = http::post(request.url, &head, &request.body, timeout_ms);
    // Null (no answer) is not an array.
    let Ok(Ok(answer)) = JsFuture::from(posted).await.map(JsCast::dyn_into::<Array>) else {
        return OriginAnswer::default();
    };
    OriginAnswer {
        status: answer.get(0).as_f64().map(|status| status as u16),
        retry_after: answer.get(1).as_string(),
    }
}
