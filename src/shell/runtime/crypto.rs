//! The runtime's native hashing (`node:crypto` under the `nodejs_compat` flag) as the core's
//! [`Hashing`], each digest one call into helpers.mjs. Should a call ever fail, a MAC or an MD5
//! is `None`, which the core treats as no match (nothing is accepted or sent on it), and
//! SHA-256 (the event id, which cannot be refused) falls back to [`RustCrypto`]. The wasm
//! therefore carries no HMAC or MD5 code of its own. How much native hashing saves is measured
//! in docs/performance.md.

use std::borrow::Cow;

use worker::wasm_bindgen::{prelude::wasm_bindgen, JsValue};

use crate::logic::hashing::{Hashing, RustCrypto};

#[wasm_bindgen(module = "/src/shell/runtime/helpers.mjs", wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    #[wasm_bindgen(catch, js_name = sha256)]
    fn native_sha256(data: &[u8]) -> Result<Vec<u8>, JsValue>;
    #[wasm_bindgen(catch, js_name = md5)]
    fn native_md5(data: &[u8]) -> Result<Vec<u8>, JsValue>;
    #[wasm_bindgen(catch, js_name = hmacSha256)]
    fn native_hmac_sha256(key: &[u8], data: &[u8]) -> Result<Vec<u8>, JsValue>;
}

/// `node:crypto`, with [`RustCrypto`] behind its SHA-256.
pub struct NodeCrypto;

/// `parts` as one buffer: a call per part would cost more than copying the few kilobytes of a
/// delivery here.
fn joined<'a>(parts: &[&'a [u8]]) -> Cow<'a, [u8]> {
    match parts {
        [one] => Cow::Borrowed(one),
        _ => Cow::Owned(parts.concat()),
    }
}

impl Hashing for NodeCrypto {
    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        native_sha256(&joined(parts))
            .ok()
            .and_then(|digest| digest.try_into().ok())
            .unwrap_or_else(|| RustCrypto.sha256(parts))
    }

    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
        native_hmac_sha256(key, &joined(parts))
            .ok()?
            .try_into()
            .ok()
    }

    fn md5(&self, parts: &[&[u8]]) -> Option<[u8; 16]> {
        native_md5(&joined(parts)).ok()?.try_into().ok()
    }
}
