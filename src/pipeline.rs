//! The request path as pure decisions (SPEC §2–§3, §7): routing, admission (basic auth and the
//! declared size, before the body is read), acceptance (parameters, signature, parsing,
//! cleaning, the event) and the answer to a delivery. The shell calls these in order and does
//! only the I/O between them.

use serde::Serialize;

use crate::clean;
use crate::crypto::Crypto;
use crate::delivery::OriginAnswer;
use crate::error::EdgeError;
use crate::event::{Event, EventType};
use crate::params;
use crate::reply::Reply;
use crate::settings::Settings;
use crate::signature::{self, Verified};

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    Event(EventType),
}

/// SPEC §2: `GET /healthz`, `POST /webim/<event>`; other methods on the event paths are 405,
/// everything else 404.
pub fn route(method: &str, path: &str) -> Result<Route, EdgeError> {
    if path == "/healthz" && method == "GET" {
        return Ok(Route::Health);
    }
    match EventType::from_route(path) {
        Some(event_type) if method == "POST" => Ok(Route::Event(event_type)),
        Some(_) => Err(EdgeError::MethodNotAllowed),
        None => Err(EdgeError::NotFound),
    }
}

/// The path and query (without `?`) of an absolute request URL; the fragment is dropped.
pub fn path_and_query(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let target = url[after_scheme..]
        .find('/')
        .map_or("/", |at| &url[after_scheme + at..]);
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    target.split_once('?').unwrap_or((target, ""))
}

/// The `/healthz` answer: 200 with the version, or 503 naming every bad setting.
pub fn health(settings: &Result<Settings, Vec<&'static str>>) -> Reply {
    #[derive(Serialize)]
    struct Health<'a> {
        status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        problems: Option<&'a [&'static str]>,
    }
    match settings {
        Ok(_) => Reply::json(
            200,
            &Health {
                status: "ok",
                version: Some(crate::VERSION),
                problems: None,
            },
        ),
        Err(problems) => Reply::json(
            503,
            &Health {
                status: "misconfigured",
                version: None,
                problems: Some(problems),
            },
        ),
    }
}

/// Steps 1–2 before the body is read: basic auth, then the declared `content-length`.
pub fn admit(
    settings: &Settings,
    authorization: Option<&str>,
    content_length: Option<u64>,
) -> Result<(), EdgeError> {
    if !settings.basic_auth_ok(authorization) {
        return Err(EdgeError::Unauthorized);
    }
    if content_length.is_some_and(|len| len > settings.max_body_bytes) {
        return Err(EdgeError::PayloadTooLarge);
    }
    Ok(())
}

/// A delivery that passed every check, with what the log may say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub event: Event,
    pub verified: Verified,
    /// The chat's `id`, for the log; at most 64 characters.
    pub chat_id: Option<String>,
}

/// Steps 2–6 on the read body: size, parameters, signature, parsing, cleaning, the event.
pub fn accept(
    crypto: &dyn Crypto,
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
    let verified = signature::verify(
        crypto,
        &params.chat,
        params.signature.as_deref(),
        params.crc.as_deref(),
        &settings.keys,
        settings.api_version,
    )?;
    let clean = clean::clean(&params.chat).map_err(|_| EdgeError::InvalidChatJson)?;
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

/// SPEC §7 direct delivery: the origin's answer decides between 200 `forwarded` and 502
/// `origin_unavailable`.
pub fn delivered(id: &str, answer: &OriginAnswer) -> Result<Reply, EdgeError> {
    if answer.accepted() {
        Ok(Reply::delivery(200, "forwarded", id))
    } else {
        Err(EdgeError::OriginUnavailable)
    }
}

/// SPEC §7 queued delivery: 202 `queued`.
pub fn queued(id: &str) -> Reply {
    Reply::delivery(202, "queued", id)
}

/// SPEC §6: an id delivered or queued before is answered 200 `duplicate`.
pub fn duplicate(id: &str) -> Reply {
    Reply::delivery(200, "duplicate", id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RustCrypto;
    use crate::signature::Scheme;
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
    fn routes() {
        assert_eq!(route("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(
            route("POST", "/webim/chat_closed"),
            Ok(Route::Event(EventType::ChatClosed))
        );
        assert_eq!(
            route("GET", "/webim/chat_started"),
            Err(EdgeError::MethodNotAllowed)
        );
        assert_eq!(
            route("HEAD", "/webim/chat_assigned"),
            Err(EdgeError::MethodNotAllowed)
        );
        assert_eq!(route("POST", "/webim/chat_other"), Err(EdgeError::NotFound));
        assert_eq!(
            route("POST", "/webim/chat_started/"),
            Err(EdgeError::NotFound)
        );
        assert_eq!(route("GET", "/"), Err(EdgeError::NotFound));
        assert_eq!(route("POST", "/healthz"), Err(EdgeError::NotFound));
    }

    #[test]
    fn request_targets() {
        assert_eq!(
            path_and_query("https://edge.example/webim/chat_started?chat=1&b"),
            ("/webim/chat_started", "chat=1&b")
        );
        assert_eq!(
            path_and_query("http://127.0.0.1:8787/healthz"),
            ("/healthz", "")
        );
        assert_eq!(path_and_query("https://edge.example"), ("/", ""));
        assert_eq!(
            path_and_query("https://edge.example/a?x=%3F?y#frag"),
            ("/a", "x=%3F?y")
        );
        assert_eq!(path_and_query("https://edge.example/a#f?x"), ("/a", ""));
    }

    #[test]
    fn health_names_problems_without_values() {
        let bad = Settings::from_lookup(|name| {
            (name == "ORIGIN_URL").then(|| "s3cret-not-a-url".to_string())
        });
        let reply = health(&bad);
        assert_eq!(reply.status, 503);
        let text = String::from_utf8(reply.body).unwrap();
        assert!(text.contains("WEBIM_PRIVATE_KEYS") && text.contains("ORIGIN_URL"));
        assert!(!text.contains("s3cret"));
        assert_eq!(health(&Ok(settings(&[]))).status, 200);
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
            crate::event::event_id(&RustCrypto, EventType::ChatStarted, chat.as_bytes())
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

    #[test]
    fn delivery_answers() {
        let answer = |status| OriginAnswer {
            status,
            retry_after: None,
        };
        assert_eq!(delivered("evt_1", &answer(Some(204))).unwrap().status, 200);
        for status in [None, Some(301), Some(404), Some(500), Some(503)] {
            assert_eq!(
                delivered("evt_1", &answer(status)),
                Err(EdgeError::OriginUnavailable)
            );
        }
        assert_eq!(queued("evt_1").status, 202);
        let dup: serde_json::Value = serde_json::from_slice(&duplicate("evt_1").body).unwrap();
        assert_eq!(
            dup,
            serde_json::json!({"status": "duplicate", "id": "evt_1"})
        );
    }
}
