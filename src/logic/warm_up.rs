//! The warm-up a fresh isolate runs while the worker loads: a built-in delivery, signed with a
//! built-in key, for the shell to take through a direct delivery's own functions (the request's
//! head, the route, intake, the signed origin request, the reply and its log line) with
//! nothing sent and nothing logged. V8 compiles a wasm function the first time it is called,
//! so without it the first delivery of every isolate pays for compiling its path inside the
//! platform's CPU limit per request; start-up has a limit of its own (docs/performance.md,
//! "Start-up"). It never touches the worker's own settings or state.

use crate::logic::hashing::Hashing;
use crate::logic::settings::{Raw, Settings};

/// The built-in Webim key: it verifies the built-in delivery and nothing else.
const KEY: &str = "webim-edge-warm-up";

/// A chat shaped like a real one: a URL with credentials, Cyrillic, emoji, zoned times.
const CHAT: &str = r#"{"id":"warm-up","created_at":"2026-01-01 12:00:00+03:00","visitor":{"fields":{"name":"Гость 🙂"}},"messages":[{"kind":"visitor","text":"см. https://user:pass@example.invalid/x","created_at":"2026-01-01T12:00:01.5+03:00"}]}"#;

/// The settings the warm-up runs with: its own key, and an origin it never calls.
pub fn settings() -> Option<Settings> {
    Settings::from_raw(|name| match name {
        "WEBIM_PRIVATE_KEYS" => Raw::Text(KEY.to_string()),
        "ORIGIN_URL" => Raw::Text("https://user:pass@origin.invalid/events".to_string()),
        "ORIGIN_SIGNING_SECRET" => Raw::Text("whsec_d2FybS11cCBzaWduaW5nIGtleQ==".to_string()),
        _ => Raw::Unset,
    })
    .ok()
}

/// The built-in delivery's URL, as Webim sends it (the parameters in the query string), signed
/// with `crypto`.
pub fn url(crypto: &dyn Hashing) -> Option<String> {
    let mac = crypto.hmac_sha256(KEY.as_bytes(), &[CHAT.as_bytes()])?;
    let chat = percent_encoding::utf8_percent_encode(CHAT, percent_encoding::NON_ALPHANUMERIC);
    Some(format!(
        "https://warm-up.invalid/webim/chat_started?chat={chat}&signature={}",
        hex::encode(mac)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::event::EventType;
    use crate::logic::hashing::RustCrypto;
    use crate::logic::intake;
    use crate::logic::route;

    /// Intake of the built-in delivery with `crypto`, as the shell takes it.
    fn accepted(crypto: &dyn Hashing) -> bool {
        let (Some(settings), Some(url)) = (settings(), url(crypto)) else {
            return false;
        };
        let (_, query) = route::path_and_query(url.as_bytes());
        let accepted = intake::accept(
            crypto,
            &settings,
            EventType::ChatStarted,
            query,
            None,
            &[],
            1_767_268_800_000,
        );
        accepted.is_ok_and(|a| {
            settings
                .origin_for(EventType::ChatStarted)
                .and_then(|o| o.request(crypto, &a.event, settings.signing(Some(0)), 0))
                .is_some()
        })
    }

    #[test]
    fn the_built_in_delivery_goes_all_the_way_to_a_signed_origin_request() {
        assert!(accepted(&RustCrypto));
    }

    #[test]
    fn a_delivery_signed_otherwise_would_stop_at_the_signature() {
        // The check above can fail: when the first MAC (the one that signs the delivery) is
        // not the key's, verification refuses it.
        struct WrongFirstMac(std::cell::Cell<bool>);
        impl Hashing for WrongFirstMac {
            fn sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
                RustCrypto.sha256(parts)
            }
            fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
                if self.0.replace(false) {
                    return Some([0; 32]);
                }
                RustCrypto.hmac_sha256(key, parts)
            }
            fn md5(&self, parts: &[&[u8]]) -> Option<[u8; 16]> {
                RustCrypto.md5(parts)
            }
        }
        assert!(!accepted(&WrongFirstMac(std::cell::Cell::new(true))));
    }
}
