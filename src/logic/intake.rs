//! Intake (contract §3): the checks of one delivery in the spec's order. Admission (basic auth and
//! the declared size) before the body is read; acceptance (parameters, signature, parsing,
//! cleaning, the event) on the read body. The shell calls these in order and does only the
//! I/O between them.

use crate::logic::clean_chat;
use crate::logic::error::EdgeError;
use crate::logic::event::{Event, EventType};
use crate::logic::hashing::Hashing;
use crate::logic::log_line::LogLine;
use crate::logic::params;
use crate::logic::settings::Settings;
use crate::logic::webim_signature::{self, Verified};

/// Steps 1–2 before the body is read: basic auth, then the declared `content-length`.
pub fn admit(
    settings: &Settings,
    authorization: Option<&str>,
    content_length: Option<u64>,
) -> Result<(), EdgeError> {
    if let Some(auth) = &settings.inbound_auth {
        if !auth.allows(authorization) {
            return Err(EdgeError::Unauthorized);
        }
    }
    if content_length.is_some_and(|len| len > settings.max_body_bytes) {
        return Err(EdgeError::PayloadTooLarge);
    }
    Ok(())
}

/// The longest body the shell may read before calling [`admit`]: `max_body_bytes` when admission
/// checks nothing but the declared size (no basic auth, so reading first keeps contract §3's order)
/// and the event goes on in one request (`in_one_request`: the path that takes a body read
/// ahead); otherwise 0. Reading a form body first saves entering the core twice. The shell still
/// calls [`admit`], then [`accept`], which measures the body again.
pub fn read_ahead_limit(settings: &Settings, in_one_request: bool) -> u64 {
    if settings.inbound_auth.is_none() && in_one_request {
        settings.max_body_bytes
    } else {
        0
    }
}

/// A delivery that passed every check, with what the log may say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The event to deliver.
    pub event: Event,
    /// How the delivery was authenticated.
    pub verified: Verified,
    /// The chat's `id`, whole (the log line keeps a part of a long one).
    pub chat_id: Option<String>,
}

impl Accepted {
    /// Notes on the log line what may be logged about this delivery.
    pub fn note(&self, line: &mut LogLine) {
        line.event(&self.event);
        line.chat(self.chat_id.as_deref());
        line.scheme = Some(self.verified.scheme.as_str());
        line.key_index = Some(self.verified.key_index);
    }
}

/// Steps 2–6 on the read body: size, parameters, signature, parsing, cleaning, the event.
pub fn accept(
    crypto: &dyn Hashing,
    settings: &Settings,
    event_type: EventType,
    query: &[u8],
    content_type: Option<&str>,
    body: &[u8],
    now_ms: u64,
) -> Result<Accepted, EdgeError> {
    if u64::try_from(body.len()).map_or(true, |len| len > settings.max_body_bytes) {
        return Err(EdgeError::PayloadTooLarge);
    }
    let params = params::read(query, content_type, body)?;
    let verified = webim_signature::verify(
        crypto,
        &params.chat,
        params.signature.as_deref(),
        params.crc.as_deref(),
        &settings.keys,
        settings.api_version,
    )?;
    let clean = clean_chat::clean(&params.chat).map_err(|_| EdgeError::InvalidChatJson)?;
    let event = Event::new(
        crypto,
        event_type,
        &params.chat,
        &clean.json,
        verified.scheme,
        now_ms,
    );
    Ok(Accepted {
        event,
        verified,
        chat_id: clean.chat_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::hashing::RustCrypto;
    use crate::logic::webim_signature::Scheme;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    const KEY: &str = "demo-private-key";

    fn settings(extra: &[(&str, &str)]) -> Settings {
        let mut vars = vec![
            ("WEBIM_PRIVATE_KEYS", KEY),
            ("ORIGIN_URL", "https://origin.example/in"),
        ];
        vars.extend_from_slice(extra);
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    fn sign(chat: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(chat.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn enc(s: &str) -> String {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    #[test]
    fn admission_checks_auth_then_declared_size() {
        let s = settings(&[("INBOUND_BASIC_AUTH", "u:p"), ("MAX_BODY_BYTES", "10")]);
        assert_eq!(admit(&s, None, Some(1)), Err(EdgeError::Unauthorized));
        assert_eq!(
            admit(&s, Some("Basic dTpw"), Some(11)),
            Err(EdgeError::PayloadTooLarge)
        );
        assert_eq!(admit(&s, Some("Basic dTpw"), Some(10)), Ok(()));
        assert_eq!(admit(&s, Some("Basic dTpw"), None), Ok(()));
    }

    #[test]
    fn a_body_is_read_ahead_only_without_basic_auth_on_the_direct_path() {
        let open = settings(&[("MAX_BODY_BYTES", "2048")]);
        assert_eq!(read_ahead_limit(&open, true), 2048);
        assert_eq!(read_ahead_limit(&open, false), 0);
        let guarded = settings(&[("INBOUND_BASIC_AUTH", "webim:pw")]);
        assert_eq!(read_ahead_limit(&guarded, true), 0);
    }

    #[test]
    fn a_genuine_delivery_becomes_a_clean_event() {
        let chat = r#"{"id":"c1","start_page":{"url":"https://u:p@crm.example/x"}}"#;
        let query = format!("chat={}&signature={}", enc(chat), sign(chat));
        let a = accept(
            &RustCrypto,
            &settings(&[]),
            EventType::ChatStarted,
            query.as_bytes(),
            None,
            b"",
            0,
        )
        .unwrap();
        assert_eq!(a.verified.scheme, Scheme::HmacSha256);
        assert_eq!(a.chat_id.as_deref(), Some("c1"));
        assert_eq!(
            a.event.id,
            crate::logic::event::event_id(&RustCrypto, EventType::ChatStarted, chat.as_bytes())
        );
        let body = String::from_utf8(a.event.body).unwrap();
        assert!(body.contains("https://crm.example/x") && !body.contains("u:p@"));
    }

    #[test]
    fn authentication_comes_before_parsing() {
        let s = settings(&[]);
        let run = |q: String| {
            accept(
                &RustCrypto,
                &s,
                EventType::ChatStarted,
                q.as_bytes(),
                None,
                b"",
                0,
            )
            .map(|_| ())
        };
        assert_eq!(
            run(format!("chat={}&signature=00", enc("not json"))),
            Err(EdgeError::BadSignature)
        );
        assert_eq!(
            run(format!(
                "chat={}&signature={}",
                enc("not json"),
                sign("not json")
            )),
            Err(EdgeError::InvalidChatJson)
        );
        assert_eq!(
            run(format!("chat={}&signature={}", enc("[1]"), sign("[1]"))),
            Err(EdgeError::InvalidChatJson)
        );
        let bom = "\u{feff}{}";
        assert_eq!(
            run(format!("chat={}&signature={}", enc(bom), sign(bom))),
            Err(EdgeError::InvalidChatJson)
        );
    }

    #[test]
    fn the_read_body_is_measured_too() {
        let s = settings(&[("MAX_BODY_BYTES", "4")]);
        let got = accept(
            &RustCrypto,
            &s,
            EventType::ChatStarted,
            b"",
            Some("application/x-www-form-urlencoded"),
            b"chat=",
            0,
        );
        assert_eq!(got.map(|_| ()), Err(EdgeError::PayloadTooLarge));
    }
}
