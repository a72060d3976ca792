//! The one error type of a request (contract §2–§3, §7, §11–§12). Each variant is declared once with
//! its spec code, HTTP status and human sentence, so the three can never drift apart; the
//! variant also knows the extra header the spec requires with it.

use std::fmt;

use crate::logic::reply::Reply;

/// Declares [`EdgeError`] from one line per variant: `Variant = ("code", status, "message")`.
macro_rules! edge_errors {
    ($($variant:ident = ($code:literal, $status:literal, $message:literal),)*) => {
        /// Every way a request can fail; one variant per error code of the spec.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum EdgeError {
            $(#[doc = concat!("`", $code, "` (", $status, "): ", $message)] $variant,)*
        }

        impl EdgeError {
            /// Every variant, in declaration order.
            pub const ALL: &'static [EdgeError] = &[$(EdgeError::$variant,)*];

            /// The spec's machine-readable code.
            pub fn code(self) -> &'static str {
                match self { $(EdgeError::$variant => $code,)* }
            }

            /// The HTTP status answered with this code.
            pub fn status(self) -> u16 {
                match self { $(EdgeError::$variant => $status,)* }
            }

            /// A sentence for the caller. Never holds anything from the request or the settings.
            pub fn message(self) -> &'static str {
                match self { $(EdgeError::$variant => $message,)* }
            }
        }
    };
}

edge_errors! {
    NotFound = ("not_found", 404, "No such route."),
    MethodNotAllowed = ("method_not_allowed", 405, "Webim event handlers accept POST only."),
    Unauthorized = ("unauthorized", 401, "Valid credentials are required."),
    AdminUnauthorized = ("unauthorized", 401, "A valid admin bearer token is required."),
    PayloadTooLarge = ("payload_too_large", 413, "The request body exceeds the configured limit."),
    UnsupportedMediaType = ("unsupported_media_type", 415,
        "A non-empty body must be application/x-www-form-urlencoded."),
    DuplicateParameter = ("duplicate_parameter", 400,
        "The chat, signature or crc parameter appears more than once."),
    MissingChat = ("missing_chat", 400, "The chat parameter is missing."),
    BadFilter = ("bad_filter", 400,
        "A filter takes since and until as RFC 3339 times, type as an event type, chat_id as text."),
    MissingSignature = ("missing_signature", 401, "Neither a signature nor a crc parameter was sent."),
    BadSignature = ("bad_signature", 401,
        "The signature does not match the chat for any configured key."),
    LegacySignatureRejected = ("legacy_signature_rejected", 401,
        "MD5 crc signatures are not accepted for handler API version 4 and later; send signature."),
    InvalidChatJson = ("invalid_chat_json", 400, "The chat parameter is not a UTF-8 JSON object."),
    OriginUnavailable = ("origin_unavailable", 502, "The origin did not accept the event; retry later."),
    StorageUnavailable = ("storage_unavailable", 503,
        "The event could not be stored; retry later."),
    OutboxNotConfigured = ("outbox_not_configured", 501,
        "The admin API needs the outbox (an OUTBOX binding)."),
    Misconfigured = ("misconfigured", 500,
        "The edge is misconfigured; the operator has been told which setting."),
}

impl fmt::Display for EdgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for EdgeError {}

impl EdgeError {
    /// The whole response: JSON body `{"error":{"code","message"}}` plus the header the spec
    /// requires with this code.
    pub fn reply(self) -> Reply {
        #[derive(serde::Serialize)]
        struct Detail {
            code: &'static str,
            message: &'static str,
        }
        #[derive(serde::Serialize)]
        struct Body {
            error: Detail,
        }
        let body = Body {
            error: Detail {
                code: self.code(),
                message: self.message(),
            },
        };
        let mut reply = Reply::json(self.status(), &body);
        match self {
            EdgeError::MethodNotAllowed => reply.headers.push(("allow", "POST".into())),
            EdgeError::Unauthorized => reply
                .headers
                .push(("www-authenticate", r#"Basic realm="webim-edge""#.into())),
            EdgeError::AdminUnauthorized => reply
                .headers
                .push(("www-authenticate", r#"Bearer realm="webim-edge""#.into())),
            _ => {}
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error code of docs/contract.md with its status, read from the spec's own text.
    const SPEC: [(&str, u16); 15] = [
        ("not_found", 404),
        ("method_not_allowed", 405),
        ("unauthorized", 401),
        ("payload_too_large", 413),
        ("unsupported_media_type", 415),
        ("duplicate_parameter", 400),
        ("missing_chat", 400),
        ("missing_signature", 401),
        ("bad_signature", 401),
        ("legacy_signature_rejected", 401),
        ("invalid_chat_json", 400),
        ("origin_unavailable", 502),
        ("storage_unavailable", 503),
        ("outbox_not_configured", 501),
        ("misconfigured", 500),
    ];

    #[test]
    fn every_spec_code_has_its_status_and_nothing_else_exists() {
        // `unauthorized` is two variants: the Basic challenge of the event routes and the
        // Bearer challenge of the admin API. `bad_filter` is the admin API's own (a dead-event
        // filter that does not read), where the contract names no code.
        assert_eq!(EdgeError::ALL.len(), SPEC.len() + 2);
        for error in EdgeError::ALL {
            let known = SPEC.iter().any(|(code, _)| *code == error.code());
            assert!(known || error.code() == "bad_filter", "{error:?}");
        }
        for (code, status) in SPEC {
            let error = EdgeError::ALL
                .iter()
                .find(|e| e.code() == code)
                .unwrap_or_else(|| panic!("no variant for {code}"));
            assert_eq!(error.status(), status, "{code}");
        }
    }

    #[test]
    fn bodies_carry_code_and_message() {
        for &e in EdgeError::ALL {
            let reply = e.reply();
            assert_eq!(reply.status, e.status());
            let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(v["error"]["code"], e.code());
            assert_eq!(v["error"]["message"], e.message());
            assert!(!e.message().is_empty());
            assert_eq!(e.to_string(), format!("{}: {}", e.code(), e.message()));
        }
    }

    #[test]
    fn required_headers() {
        let r = EdgeError::MethodNotAllowed.reply();
        assert!(r.headers.contains(&("allow", "POST".into())));
        let r = EdgeError::Unauthorized.reply();
        assert!(r
            .headers
            .contains(&("www-authenticate", r#"Basic realm="webim-edge""#.into())));
        let r = EdgeError::AdminUnauthorized.reply();
        assert_eq!(r.status, 401);
        assert!(r
            .headers
            .contains(&("www-authenticate", r#"Bearer realm="webim-edge""#.into())));
    }
}
