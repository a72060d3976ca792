//! The origin (contract §5, §13): parses an origin URL, moves embedded `user:pass@` credentials
//! into an `Authorization: Basic` value (percent-decoded first, as curl and browsers do), and
//! builds one delivery attempt — URL, headers and body — as data, in the JSON event format or
//! in Webim's own form.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use percent_encoding::percent_decode_str;

use crate::logic::event::Event;
use crate::logic::hashing::Hashing;
use crate::logic::standard_webhooks::SigningKey;
use crate::logic::version::VERSION;
use crate::logic::webim_signature::{self, Scheme};
/// Where clean events go. `Debug` hides the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Origin {
    /// The URL without userinfo.
    pub url: String,
    /// `Basic <base64(user:pass)>` when the configured URL embedded credentials.
    pub authorization: Option<String>,
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Origin")
            .field("url", &self.url)
            .field("authorization", &self.authorization.is_some())
            .finish()
    }
}

/// `host[:port]`: a DNS name or IPv4 address, or a bracketed IPv6 address, and an optional
/// decimal port.
fn valid_host_port(authority: &str) -> bool {
    let (host, port) = match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => {
            (&authority[..colon], Some(&authority[colon + 1..]))
        }
        _ => (authority, None),
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    host_ok && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok())
}

impl Origin {
    /// An absolute `http` or `https` URL with a host; `None` otherwise.
    pub fn parse(raw: &str) -> Option<Origin> {
        let (scheme, rest) = raw.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        let (userinfo, host_port) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        if !valid_host_port(host_port)
            || tail
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return None;
        }
        let authorization = userinfo.map(|userinfo| {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let mut pair: Vec<u8> = percent_decode_str(user).collect();
            pair.push(b':');
            pair.extend(percent_decode_str(pass));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        Some(Origin {
            url: format!("{scheme}://{host_port}{tail}"),
            authorization,
        })
    }
}

/// What the origin receives (contract §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginFormat {
    /// The JSON event of contract §5.
    Event,
    /// What Webim would have sent, clean and signed again: `chat=…&signature=…` (or `crc`).
    Webim,
}

impl OriginFormat {
    /// `event` or `webim`.
    pub fn parse(raw: &str) -> Option<OriginFormat> {
        match raw {
            "event" => Some(OriginFormat::Event),
            "webim" => Some(OriginFormat::Webim),
            _ => None,
        }
    }
}

/// How one attempt is signed: the outbound secrets and format, borrowed from the settings.
#[derive(Clone, Copy)]
pub struct Signing<'a> {
    /// What the origin receives.
    pub format: OriginFormat,
    /// Standard Webhooks `webhook-signature`, when set.
    pub standard_webhooks: Option<&'a SigningKey>,
    /// `webim` format: the receiver's key and the scheme it expects.
    pub webim_key: &'a [u8],
    /// `webim` format: `signature` (HMAC-SHA256) or `crc` (MD5).
    pub webim_scheme: Scheme,
}

/// One outbound POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRequest<'a> {
    /// The origin URL, without credentials.
    pub url: &'a str,
    /// Every header sent.
    pub headers: Vec<(&'static str, String)>,
    /// The body sent.
    pub body: Cow<'a, [u8]>,
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Every byte but ASCII letters and digits is escaped: what any form parser decodes, and
/// nothing a receiver could read two ways (`+`, `&`, `=`, `%`, newlines, non-ASCII).
const FORM_VALUE: &percent_encoding::AsciiSet = percent_encoding::NON_ALPHANUMERIC;

/// `chat=<chat>&<signature|crc>=<hex mac>`, urlencoded; `None` when the MAC fails.
pub fn webim_form(
    crypto: &dyn Hashing,
    chat: &[u8],
    key: &[u8],
    scheme: Scheme,
) -> Option<Vec<u8>> {
    let mac = webim_signature::mac(crypto, scheme, chat, key)?;
    let mut body = Vec::with_capacity(chat.len() * 2 + 80);
    body.extend_from_slice(b"chat=");
    for piece in percent_encoding::percent_encode(chat, FORM_VALUE) {
        body.extend_from_slice(piece.as_bytes());
    }
    body.push(b'&');
    body.extend_from_slice(scheme.parameter().as_bytes());
    body.push(b'=');
    body.extend_from_slice(hex::encode(mac).as_bytes());
    Some(body)
}

impl Origin {
    /// The request for one delivery attempt at `now_secs` (unix seconds): the spec's headers
    /// and body, and nothing of the inbound request. `None` when a signature could not be
    /// computed: the attempt fails rather than going out unsigned.
    pub fn request<'a>(
        &'a self,
        crypto: &dyn Hashing,
        event: &'a Event,
        signing: Signing<'_>,
        now_secs: u64,
    ) -> Option<OriginRequest<'a>> {
        let timestamp = now_secs.to_string();
        let (content_type, body) = match signing.format {
            OriginFormat::Event => ("application/json", Cow::Borrowed(event.body.as_slice())),
            OriginFormat::Webim => (
                FORM,
                Cow::Owned(webim_form(
                    crypto,
                    event.chat_json(),
                    signing.webim_key,
                    signing.webim_scheme,
                )?),
            ),
        };
        let mut headers = vec![
            ("content-type", content_type.to_string()),
            ("user-agent", format!("webim-edge/{VERSION}")),
            ("x-webim-event", event.event_type.as_str().to_string()),
            ("webhook-id", event.id.clone()),
            ("webhook-timestamp", timestamp.clone()),
        ];
        if let Some(key) = signing.standard_webhooks {
            headers.push((
                "webhook-signature",
                key.sign(crypto, &event.id, &timestamp, &body)?,
            ));
        }
        Some(self.post(headers, body))
    }

    /// A POST of the JSON `body` (the outbox's dead-event alert), with this URL's credentials
    /// and nothing else.
    pub fn json(&self, body: Vec<u8>) -> OriginRequest<'_> {
        let headers = vec![("content-type", "application/json".to_string())];
        self.post(headers, Cow::Owned(body))
    }

    /// `headers` and `body` to this URL, with the `authorization` its credentials make.
    fn post<'a>(
        &'a self,
        mut headers: Vec<(&'static str, String)>,
        body: Cow<'a, [u8]>,
    ) -> OriginRequest<'a> {
        if let Some(auth) = &self.authorization {
            headers.push(("authorization", auth.clone()));
        }
        OriginRequest {
            url: &self.url,
            headers,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::event::EventType;
    use crate::logic::hashing::RustCrypto;

    fn decoded(auth: &str) -> String {
        let token = auth.strip_prefix("Basic ").unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(token)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn plain_url_has_no_authorization() {
        let o = Origin::parse("https://crm.internal.example/hooks/webim?x=1").unwrap();
        assert_eq!(o.url, "https://crm.internal.example/hooks/webim?x=1");
        assert!(o.authorization.is_none());
    }

    #[test]
    fn a_json_post_carries_the_urls_credentials_and_only_its_body() {
        let o = Origin::parse("https://ops:s%3Acret@alerts.example/hook").unwrap();
        let request = o.json(b"{}".to_vec());
        assert_eq!(request.url, "https://alerts.example/hook");
        assert_eq!(request.body.as_ref(), b"{}");
        let names: Vec<_> = request.headers.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["content-type", "authorization"]);
        assert_eq!(decoded(&request.headers[1].1), "ops:s:cret");
        let plain = Origin::parse("https://alerts.example/hook").unwrap();
        assert_eq!(plain.json(Vec::new()).headers.len(), 1);
    }

    #[test]
    fn credentials_move_to_authorization_percent_decoded() {
        let o = Origin::parse("https://edge:p%40ss@crm.example/in").unwrap();
        assert_eq!(o.url, "https://crm.example/in");
        assert_eq!(decoded(o.authorization.as_deref().unwrap()), "edge:p@ss");
        assert!(!format!("{o:?}").contains("edge"));
    }

    #[test]
    fn ports_ipv6_and_scheme_case() {
        assert_eq!(
            Origin::parse("HTTP://127.0.0.1:8788/events").unwrap().url,
            "HTTP://127.0.0.1:8788/events"
        );
        assert_eq!(
            Origin::parse("https://[::1]:8443").unwrap().url,
            "https://[::1]:8443"
        );
        let o = Origin::parse("https://a:b:c@[fe80::1]/x?y#z").unwrap();
        assert_eq!(o.url, "https://[fe80::1]/x?y#z");
        assert_eq!(decoded(o.authorization.as_deref().unwrap()), "a:b:c");
    }

    #[test]
    fn user_without_password() {
        let o = Origin::parse("http://only@127.0.0.1:9000/").unwrap();
        assert_eq!(o.url, "http://127.0.0.1:9000/");
        assert_eq!(decoded(o.authorization.as_deref().unwrap()), "only:");
    }

    fn event() -> Event {
        let chat = "{\"id\":1,\"m\":\"a+b&c=d%e\\n ж 👋\"}";
        Event::new(
            &RustCrypto,
            EventType::ChatClosed,
            chat.as_bytes(),
            chat.as_bytes(),
            Scheme::HmacSha256,
            0,
        )
    }

    fn signing(format: OriginFormat, scheme: Scheme) -> Signing<'static> {
        Signing {
            format,
            standard_webhooks: None,
            webim_key: b"receiver-key",
            webim_scheme: scheme,
        }
    }

    #[test]
    fn the_event_format_sends_the_event_body_as_json() {
        let origin = Origin::parse("https://u:p@crm.example/in").unwrap();
        let event = event();
        let request = origin
            .request(
                &RustCrypto,
                &event,
                signing(OriginFormat::Event, Scheme::HmacSha256),
                7,
            )
            .unwrap();
        assert_eq!(request.url, "https://crm.example/in");
        assert_eq!(request.body, event.body.as_slice());
        let header = |name| {
            request
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("content-type"), Some("application/json"));
        assert_eq!(header("webhook-timestamp"), Some("7"));
        assert_eq!(header("x-webim-event"), Some("chat_closed"));
        assert!(header("webhook-signature").is_none());
        assert_eq!(decoded(header("authorization").unwrap()), "u:p");
    }

    #[test]
    fn the_webim_format_is_a_form_an_independent_parser_reads_back() {
        let origin = Origin::parse("https://crm.example/in").unwrap();
        let event = event();
        for scheme in [Scheme::HmacSha256, Scheme::Md5] {
            let request = origin
                .request(&RustCrypto, &event, signing(OriginFormat::Webim, scheme), 7)
                .unwrap();
            let fields: Vec<(String, String)> = form_urlencoded::parse(&request.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(fields.len(), 2);
            assert_eq!(fields[0].0, "chat");
            assert_eq!(fields[0].1.as_bytes(), event.chat_json());
            assert_eq!(fields[1].0, scheme.parameter());
            let expected =
                webim_signature::mac(&RustCrypto, scheme, event.chat_json(), b"receiver-key")
                    .unwrap();
            assert_eq!(fields[1].1, hex::encode(expected));
            assert!(request
                .headers
                .contains(&("content-type", FORM.to_string())));
        }
    }

    #[test]
    fn rejects_what_is_not_an_http_origin() {
        for bad in [
            "",
            "crm.example/in",
            "ftp://crm.example/",
            "mailto:a@b.c",
            "https://",
        ] {
            assert!(Origin::parse(bad).is_none(), "{bad}");
        }
    }
}
