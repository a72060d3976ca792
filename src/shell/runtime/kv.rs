//! A KV namespace (the `DEDUP` binding): read a key as text, write one with a time to live.
//! `worker` declares no raw KV type (its wrapper serializes options through serde, which would
//! add a serializer to the wasm for two calls), so the two calls are declared here.

use worker::js_sys::{Object, Promise, Reflect};
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::Env;

use super::binding;

#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
extern "C" {
    /// A KV namespace binding.
    #[wasm_bindgen(extends = Object)]
    pub type Kv;
    #[wasm_bindgen(method, catch, js_name = get)]
    fn get_with(this: &Kv, key: &str, options: &Object) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = put)]
    fn put_with(this: &Kv, key: &str, value: &str, options: &Object) -> Result<Promise, JsValue>;
}

/// An object of `{name: value}`.
fn options(name: &str, value: &JsValue) -> Result<Object, JsValue> {
    let options = Object::new();
    Reflect::set(&options, &JsValue::from_str(name), value)?;
    Ok(options)
}

impl Kv {
    /// The KV namespace bound as `name`, when it is present.
    pub fn bound(env: &Env, name: &str) -> Option<Kv> {
        binding(env, name).map(JsCast::unchecked_into)
    }

    /// The text stored under `key`, if any.
    pub async fn text(&self, key: &str) -> Result<Option<String>, JsValue> {
        let read = self.get_with(key, &options("type", &"text".into())?)?;
        Ok(JsFuture::from(read).await?.as_string())
    }

    /// Stores `value` under `key` for `ttl_seconds`.
    pub async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), JsValue> {
        let ttl = JsValue::from_f64(ttl_seconds as f64);
        let written = self.put_with(key, value, &options("expirationTtl", &ttl)?)?;
        JsFuture::from(written).await.map(drop)
    }
}
