//! HTTP plumbing: request headers, the request body read under a byte limit, and a core
//! [`Reply`] copied into a runtime response.

use worker::js_sys::{Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys;

use crate::core::reply::Reply;

#[wasm_bindgen(module = "/src/shell/runtime.mjs", wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    /// `fetch(url, {method: "POST", headers, body, redirect: "manual", signal})` under a
    /// timeout: resolves to `[status, retry-after]`, or to null when no answer came.
    pub fn post(url: &str, head: &str, body: &[u8], timeout_ms: u32) -> Promise;
    /// `new Response(body, {status, headers})`.
    fn respond(status: u16, head: &str, body: &[u8]) -> web_sys::Response;
}

#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    /// The runtime's `TextEncoder`, which encodes natively.
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    #[wasm_bindgen(method)]
    fn encode(this: &TextEncoder, input: &JsValue) -> Uint8Array;
    /// A request, seen only for its `url`.
    type UrlOf;
    /// `request.url`, left a JavaScript string.
    #[wasm_bindgen(method, getter)]
    fn url(this: &UrlOf) -> JsValue;
}

thread_local! {
    static ENCODER: TextEncoder = TextEncoder::new();
}

/// The request URL as UTF-8 bytes. A delivery's parameters can make it 12 KB long, and
/// `Request::url()` copies a string into the wasm one UTF-16 unit at a time in the bindings'
/// JavaScript loop; the runtime's `TextEncoder` encodes it natively, and one copy brings the
/// bytes in.
pub fn url(req: &web_sys::Request) -> Vec<u8> {
    ENCODER.with(|encoder| encoder.encode(&req.unchecked_ref::<UrlOf>().url()).to_vec())
}

/// A request header's value.
pub fn header(req: &web_sys::Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// The body, never held beyond `limit` + 1 bytes: `Err(())` when it is longer than `limit` or
/// cannot be read. `declared` is the request's `content-length`, already checked against
/// `limit` (intake step 2). A body declared empty is not read. A body of declared length is read
/// in one call: the runtime's HTTP server reads exactly that many bytes, and one call costs less
/// than a reader's round trip per chunk. Any other body is read chunk by chunk, and the rest is
/// cancelled unread once `limit` is passed.
pub async fn read_body(
    req: &web_sys::Request,
    limit: u64,
    declared: Option<u64>,
) -> Result<Vec<u8>, ()> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match declared {
        Some(0) => Ok(Vec::new()),
        Some(len) if len <= limit as u64 => {
            let buffer = JsFuture::from(req.array_buffer().map_err(|_| ())?)
                .await
                .map_err(|_| ())?;
            let body = Uint8Array::new(&buffer);
            // A length the runtime did not hold the body to is refused all the same.
            if body.length() as usize > limit {
                return Err(());
            }
            Ok(body.to_vec())
        }
        _ => read_chunks(req, limit).await,
    }
}

/// The body read chunk by chunk; `Err(())` as soon as it passes `limit`.
async fn read_chunks(req: &web_sys::Request, limit: usize) -> Result<Vec<u8>, ()> {
    let Some(stream) = req.body() else {
        return Ok(Vec::new());
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|_| ())?;
        if Reflect::get(&chunk, &JsValue::from_str("done"))
            .map_err(|_| ())?
            .is_truthy()
        {
            return Ok(body);
        }
        let value = Reflect::get(&chunk, &JsValue::from_str("value")).map_err(|_| ())?;
        let bytes: Uint8Array = value.dyn_into().map_err(|_| ())?;
        let len = bytes.length() as usize;
        if body.len().saturating_add(len) > limit {
            // Stop here: the rest is never read into this isolate.
            let _ = reader.cancel();
            return Err(());
        }
        let start = body.len();
        body.resize(start + len, 0);
        bytes.copy_to(&mut body[start..]);
    }
}

/// Copies a [`Reply`] into a runtime response.
pub fn response(reply: Reply) -> Result<web_sys::Response, JsValue> {
    let head = head(&reply.headers).ok_or_else(|| JsValue::from_str("bad header"))?;
    Ok(respond(reply.status, &head, &reply.body))
}

/// A header list as the one string the helpers in runtime.mjs read: names and values on lines
/// of their own. `None` if one holds a line break, which no header may.
pub fn head<N: AsRef<str>, V: AsRef<str>>(headers: &[(N, V)]) -> Option<String> {
    let mut head = String::new();
    for (name, value) in headers {
        let (name, value) = (name.as_ref(), value.as_ref());
        if name.contains('\n') || value.contains('\n') {
            return None;
        }
        head.extend([name, "\n", value, "\n"]);
    }
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::head;

    #[test]
    fn a_header_list_is_one_line_per_name_and_per_value() {
        let list = [
            ("content-type", "application/json"),
            ("webhook-id", "evt_1"),
        ];
        assert_eq!(
            head(&list).as_deref(),
            Some("content-type\napplication/json\nwebhook-id\nevt_1\n")
        );
        assert_eq!(head::<&str, &str>(&[]).as_deref(), Some(""));
    }

    #[test]
    fn a_line_break_in_a_name_or_value_refuses_the_list() {
        assert_eq!(head(&[("x-a", "1\nx-b: 2")]), None);
        assert_eq!(head(&[("x-a\nx-b", "1")]), None);
    }
}
