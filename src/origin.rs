//! The origin (SPEC §5): parses `ORIGIN_URL`, moves embedded `user:pass@` credentials into an
//! `Authorization: Basic` value (percent-decoded first, as curl and browsers do), and builds the
//! outbound request — URL, headers and body — as data.

use std::fmt;

use base64::Engine as _;
use percent_encoding::percent_decode_str;

use crate::crypto::Crypto;
use crate::event::Event;
use crate::webhook::SigningKey;

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

    /// The request for one delivery attempt at `now_secs` (unix seconds): the spec's headers,
    /// and nothing of the inbound request.
    pub fn request(
        &self,
        crypto: &dyn Crypto,
        event: &Event,
        signing_key: Option<&SigningKey>,
        now_secs: u64,
    ) -> OriginRequest {
        let timestamp = now_secs.to_string();
        let mut headers = vec![
            ("content-type", "application/json".to_string()),
            ("user-agent", format!("webim-edge/{}", crate::VERSION)),
            ("x-webim-event", event.event_type.as_str().to_string()),
            ("webhook-id", event.id.clone()),
            ("webhook-timestamp", timestamp.clone()),
        ];
        if let Some(key) = signing_key {
            headers.push((
                "webhook-signature",
                key.sign(crypto, &event.id, &timestamp, &event.body),
            ));
        }
        if let Some(auth) = &self.authorization {
            headers.push(("authorization", auth.clone()));
        }
        OriginRequest {
            url: self.url.clone(),
            headers,
        }
    }
}

/// One outbound POST; its body is the event's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
