//! The runtime's native hashing (`node:crypto` under the `nodejs_compat` flag) as the core's
//! [`Hashing`]. Should a call ever fail, a MAC or an MD5 is `None`, which the core treats as no
//! match (nothing is accepted or sent on it), and SHA-256 (the event id, which cannot be
//! refused) falls back to [`RustCrypto`]. The wasm therefore carries no HMAC or MD5 code of its
//! own. How much native hashing saves is measured in docs/performance.md.

use worker::wasm_bindgen::{prelude::wasm_bindgen, JsValue};

use crate::core::hashing::{Hashing, RustCrypto};

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

/// `node:crypto`, with [`RustCrypto`] behind its SHA-256.
pub struct NodeCrypto;

impl NodeCrypto {
    /// Feeds `parts` in one `update`: each call into the module wraps its argument in a
    /// `Buffer` and goes through its stream machinery, which costs more than copying the few
    /// kilobytes of a delivery into one buffer here.
    fn finish(hasher: Result<Hasher, JsValue>, parts: &[&[u8]]) -> Option<Vec<u8>> {
        let hasher = hasher.ok()?;
        match parts {
            [one] => hasher.update(one).ok()?,
            _ => hasher.update(&parts.concat()).ok()?,
        }
        hasher.digest().ok()
    }
}

impl Hashing for NodeCrypto {
    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        Self::finish(create_hash("sha256"), parts)
            .and_then(|digest| digest.try_into().ok())
            .unwrap_or_else(|| RustCrypto.sha256(parts))
    }

    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
        Self::finish(create_hmac("sha256", key), parts)?
            .try_into()
            .ok()
    }

    fn md5(&self, parts: &[&[u8]]) -> Option<[u8; 16]> {
        Self::finish(create_hash("md5"), parts)?.try_into().ok()
    }
}
