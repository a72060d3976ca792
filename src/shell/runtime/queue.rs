//! Cloudflare Queues, with `worker-sys`'s declarations: sending an event's body to the `EVENTS`
//! producer, and a consumed message's body, attempt count, acknowledgement and retry.

use worker::js_sys::{Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::{Message, Queue};
use worker::Env;

use super::binding;

/// Sends `body` (as bytes, structured-clone encoded) to the queue bound as `name`.
pub async fn send(env: &Env, name: &str, body: &[u8]) -> Result<(), JsValue> {
    let queue: Queue = binding(env, name)
        .ok_or_else(|| JsValue::from_str("no queue bound"))?
        .unchecked_into();
    let options = Object::new();
    Reflect::set(&options, &"contentType".into(), &"v8".into())?;
    let sent = queue.send(Uint8Array::from(body).into(), options.into())?;
    JsFuture::from(sent).await.map(drop)
}

/// A consumed message.
pub struct Consumed(Message);

impl Consumed {
    /// The messages of a batch.
    pub fn all(batch: &worker::worker_sys::MessageBatch) -> Vec<Consumed> {
        batch
            .messages()
            .map(|messages| {
                messages
                    .iter()
                    .map(|message| Consumed(message.unchecked_into()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many times it has been delivered to a consumer, this time included (1 when the
    /// runtime does not say).
    pub fn attempts(&self) -> u32 {
        Reflect::get(&self.0, &JsValue::from_str("attempts"))
            .ok()
            .and_then(|n| n.as_f64())
            .map_or(1, |n| n as u32)
    }

    /// Its body, when it is bytes.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        self.0
            .body()
            .ok()
            .filter(|body| body.is_instance_of::<Uint8Array>())
            .map(|body| Uint8Array::new(&body).to_vec())
    }

    /// Done with: it is not delivered again.
    pub fn ack(&self) {
        let _ = self.0.ack();
    }

    /// Delivered again after `delay_seconds`.
    pub fn retry(&self, delay_seconds: u32) {
        let options = Object::new();
        let _ = Reflect::set(
            &options,
            &JsValue::from_str("delaySeconds"),
            &JsValue::from(delay_seconds),
        );
        let _ = self.0.retry(options.into());
    }
}
