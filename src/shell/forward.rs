//! One delivery attempt to the origin: the core's [`OriginRequest`] sent with the runtime's
//! `fetch`, under `ORIGIN_TIMEOUT_MS`, and the answer read back as an [`OriginAnswer`].

use worker::js_sys::{self, Uint8Array};
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Date};

use crate::core::event::Event;
use crate::core::origin::OriginRequest;
use crate::core::retry::OriginAnswer;
use crate::core::settings::Settings;
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
    // web_sys' Headers: worker's wrapper converts errors through its own error type, which
    // adds that code to the wasm.
    let Ok(headers) = web_sys::Headers::new() else {
        return OriginAnswer::default();
    };
    for (name, value) in &request.headers {
        if headers.set(name, value).is_err() {
            return OriginAnswer::default();
        }
    }
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_body(&Uint8Array::from(request.body.as_ref()));
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(timeout_ms)));
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let Ok(response) = JsFuture::from(global.fetch_with_str_and_init(request.url, &init)).await
    else {
        return OriginAnswer::default();
    };
    let response: web_sys::Response = response.unchecked_into();
    OriginAnswer {
        status: Some(response.status()),
        retry_after: response.headers().get("retry-after").ok().flatten(),
    }
}
