//! HTTP plumbing: the request's head (method, URL and the headers intake reads), its body read
//! under a byte limit, and a core [`Reply`] copied into a runtime response.

use worker::js_sys::{Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys;

use crate::logic::reply::Reply;
use crate::logic::route;

#[wasm_bindgen(module = "/src/shell/runtime/helpers.mjs", wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    /// The request's method, URL and the headers [`RequestHead`] holds, as UTF-8 in one buffer.
    fn describe(request: &web_sys::Request) -> Vec<u8>;
    /// `fetch(url, {method: "POST", headers, body, redirect: "manual", signal})` under a
    /// timeout: resolves to `status\nretry-after`, or to null when no answer came.
    pub fn post(url: &str, head: &str, body: &[u8], timeout_ms: u32) -> Promise;
    /// `new Response(body, {status, headers})`.
    fn respond(status: u16, head: &str, body: &[u8]) -> web_sys::Response;
}

/// What routing and intake read of a request, taken in one call: each of these read on its
/// own crosses the boundary twice or more and converts a string each time, and a delivery's
/// URL can be 20 KB long.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: String,
    /// The URL, as UTF-8 bytes.
    pub url: Vec<u8>,
    /// `content-length`.
    pub content_length: Option<String>,
    /// `authorization`.
    pub authorization: Option<String>,
    /// `content-type`.
    pub content_type: Option<String>,
}

impl RequestHead {
    /// The URL's path.
    pub fn path(&self) -> &str {
        route::path_and_query(&self.url).0
    }

    /// The URL's raw query, without `?`.
    pub fn query(&self) -> &[u8] {
        route::path_and_query(&self.url).1
    }

    /// The declared `content-length`, when it is a number.
    pub fn declared_length(&self) -> Option<u64> {
        self.content_length.as_deref()?.trim().parse().ok()
    }

    /// The head of `req`.
    pub fn of(req: &web_sys::Request) -> RequestHead {
        RequestHead::read(&describe(req))
    }

    /// Reads helpers.mjs's `describe`: the method and the URL on a line each, then each header
    /// as `=value` or nothing on a line of its own. Neither a URL nor a header value can hold a
    /// line break; what does not read is left empty.
    fn read(described: &[u8]) -> RequestHead {
        let mut lines = described.split(|&byte| byte == b'\n');
        let mut text = || String::from_utf8(lines.next().unwrap_or_default().to_vec()).ok();
        let method = text().unwrap_or_default();
        let url = text().unwrap_or_default().into_bytes();
        let mut header = || text().and_then(|line| line.strip_prefix('=').map(str::to_string));
        RequestHead {
            method,
            url,
            content_length: header(),
            authorization: header(),
            content_type: header(),
        }
    }
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

/// A header list as the one string the helpers in helpers.mjs read: names and values on lines
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
    use super::{head, RequestHead};

    #[test]
    fn a_described_request_reads_back_with_absent_and_empty_headers_apart() {
        let head =
            RequestHead::read(b"POST\nhttps://e.example/webim/chat_started?a=%D0%B0\n=12\n\n=\n");
        assert_eq!(
            head,
            RequestHead {
                method: "POST".into(),
                url: b"https://e.example/webim/chat_started?a=%D0%B0".to_vec(),
                content_length: Some("12".into()),
                authorization: None,
                content_type: Some(String::new()),
            }
        );
        assert_eq!(RequestHead::read(b""), RequestHead::default());
    }

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
