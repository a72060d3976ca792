//! The request path's one error type. Each variant is one error code of the contract
//! (SPEC §2–§3, §7); this module owns the code, the HTTP status and the human sentence, and
//! turns an error into a response described as data, so the shell only copies it out.

use crate::reply::Reply;

/// Every way a request can fail. Variants map 1:1 to the spec's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeError {
    NotFound,
    MethodNotAllowed,
    Unauthorized,
    PayloadTooLarge,
    UnsupportedMediaType,
    DuplicateParameter,
    MissingChat,
    MissingSignature,
    BadSignature,
    LegacySignatureRejected,
    InvalidChatJson,
    OriginUnavailable,
    Misconfigured,
}

impl EdgeError {
    /// The spec's machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            EdgeError::NotFound => "not_found",
            EdgeError::MethodNotAllowed => "method_not_allowed",
            EdgeError::Unauthorized => "unauthorized",
            EdgeError::PayloadTooLarge => "payload_too_large",
            EdgeError::UnsupportedMediaType => "unsupported_media_type",
            EdgeError::DuplicateParameter => "duplicate_parameter",
            EdgeError::MissingChat => "missing_chat",
            EdgeError::MissingSignature => "missing_signature",
            EdgeError::BadSignature => "bad_signature",
            EdgeError::LegacySignatureRejected => "legacy_signature_rejected",
            EdgeError::InvalidChatJson => "invalid_chat_json",
            EdgeError::OriginUnavailable => "origin_unavailable",
            EdgeError::Misconfigured => "misconfigured",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            EdgeError::NotFound => 404,
            EdgeError::MethodNotAllowed => 405,
            EdgeError::Unauthorized
            | EdgeError::MissingSignature
            | EdgeError::BadSignature
            | EdgeError::LegacySignatureRejected => 401,
            EdgeError::PayloadTooLarge => 413,
            EdgeError::UnsupportedMediaType => 415,
            EdgeError::DuplicateParameter | EdgeError::MissingChat | EdgeError::InvalidChatJson => {
                400
            }
            EdgeError::OriginUnavailable => 502,
            EdgeError::Misconfigured => 500,
        }
    }

    /// A sentence for the caller. Never contains anything from the request or the settings.
    pub fn message(self) -> &'static str {
        match self {
            EdgeError::NotFound => "No such route.",
            EdgeError::MethodNotAllowed => "Webim event handlers accept POST only.",
            EdgeError::Unauthorized => "Valid basic-auth credentials are required.",
            EdgeError::PayloadTooLarge => "The request body exceeds the configured limit.",
            EdgeError::UnsupportedMediaType => {
                "A non-empty body must be application/x-www-form-urlencoded."
            }
            EdgeError::DuplicateParameter => {
                "The chat, signature or crc parameter appears more than once."
            }
            EdgeError::MissingChat => "The chat parameter is missing.",
            EdgeError::MissingSignature => "Neither a signature nor a crc parameter was sent.",
            EdgeError::BadSignature => "The signature does not match the chat for any configured key.",
            EdgeError::LegacySignatureRejected => {
                "MD5 crc signatures are not accepted for handler API version 4 and later; send signature."
            }
            EdgeError::InvalidChatJson => "The chat parameter is not a UTF-8 JSON object.",
            EdgeError::OriginUnavailable => "The origin did not accept the event; retry later.",
            EdgeError::Misconfigured => "The edge is misconfigured; the operator has been told which setting.",
        }
    }

    /// The whole response: JSON body `{"error":{"code","message"}}` plus the headers the spec
    /// requires for this code.
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
            _ => {}
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [EdgeError; 13] = [
        EdgeError::NotFound,
        EdgeError::MethodNotAllowed,
        EdgeError::Unauthorized,
        EdgeError::PayloadTooLarge,
        EdgeError::UnsupportedMediaType,
        EdgeError::DuplicateParameter,
        EdgeError::MissingChat,
        EdgeError::MissingSignature,
        EdgeError::BadSignature,
        EdgeError::LegacySignatureRejected,
        EdgeError::InvalidChatJson,
        EdgeError::OriginUnavailable,
        EdgeError::Misconfigured,
    ];

    #[test]
    fn codes_are_unique_and_bodies_carry_them() {
        let mut codes: Vec<_> = ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        for e in ALL {
            let reply = e.reply();
            assert_eq!(reply.status, e.status());
            let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(v["error"]["code"], e.code());
            assert!(v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }
    }

    #[test]
    fn statuses_follow_the_spec() {
        assert_eq!(EdgeError::BadSignature.status(), 401);
        assert_eq!(EdgeError::PayloadTooLarge.status(), 413);
        assert_eq!(EdgeError::UnsupportedMediaType.status(), 415);
        assert_eq!(EdgeError::MissingChat.status(), 400);
        assert_eq!(EdgeError::OriginUnavailable.status(), 502);
        assert_eq!(EdgeError::Misconfigured.status(), 500);
    }

    #[test]
    fn required_headers() {
        let r = EdgeError::MethodNotAllowed.reply();
        assert!(r.headers.contains(&("allow", "POST".into())));
        let r = EdgeError::Unauthorized.reply();
        assert!(r
            .headers
            .contains(&("www-authenticate", r#"Basic realm="webim-edge""#.into())));
    }
}
