//! The one JSON log line per request (SPEC §8). It holds only what is safe to log: no secret,
//! signature, password, message text, visitor field, e-mail or IP address can be put in it,
//! because it has no field for them.

use serde::Serialize;

use crate::event::Event;
use crate::pipeline::Accepted;
use crate::timestamp;

/// What is known about a request so far; the shell fills it in as the request proceeds.
#[derive(Debug, Default, Serialize)]
pub struct Trace {
    /// When the request arrived, RFC 3339 UTC; set by [`Trace::line`].
    time: String,
    /// `/healthz`, `/webim/<event>`, `queue` for a queued delivery attempt, or `other` for
    /// unknown paths (which are not logged).
    pub route: &'static str,
    /// `forwarded`, `queued`, `duplicate`, `ok` or an error code for requests; `delivered`,
    /// `origin_unavailable`, `origin_rejected` or `malformed_message` for queue attempts.
    pub outcome: &'static str,
    /// The HTTP status answered (requests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_status: Option<u16>,
    /// Why a queued-mode request was delivered directly: `too_large` or `enqueue_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<&'static str>,
    /// Which delivery of a queue message this was (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Seconds until the next attempt of a queue message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_s: Option<u32>,
    /// Names of bad settings, when the request failed as `misconfigured`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<&'static str>,
    /// Set by [`Trace::line`].
    duration_ms: u64,
}

impl Trace {
    pub fn new(route: &'static str) -> Trace {
        Trace {
            route,
            ..Trace::default()
        }
    }

    /// Records which event this is about.
    pub fn event(&mut self, event: &Event) {
        self.event = Some(event.event_type.as_str());
        self.id = Some(event.id.clone());
    }

    /// Records an accepted delivery.
    pub fn accepted(&mut self, accepted: &Accepted) {
        self.event(&accepted.event);
        self.chat_id.clone_from(&accepted.chat_id);
        self.scheme = Some(accepted.verified.scheme.as_str());
        self.key_index = Some(accepted.verified.key_index);
    }

    /// The log line, stamped with the request's start and end (unix milliseconds).
    pub fn line(mut self, started_ms: u64, ended_ms: u64) -> String {
        self.time = timestamp::format_millis(started_ms);
        self.duration_ms = ended_ms.saturating_sub(started_ms);
        serde_json::to_string(&self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_the_spec_fields_and_omits_unknowns() {
        let trace = Trace {
            route: "/webim/chat_started",
            outcome: "forwarded",
            status: Some(200),
            event: Some("chat_started"),
            id: Some("evt_1".into()),
            chat_id: Some("42".into()),
            scheme: Some("hmac-sha256"),
            key_index: Some(1),
            origin_status: Some(204),
            problems: vec![],
            ..Trace::default()
        };
        let v: serde_json::Value = serde_json::from_str(&trace.line(1_000, 1_250)).unwrap();
        assert_eq!(v["time"], "1970-01-01T00:00:01.000Z");
        assert_eq!(v["route"], "/webim/chat_started");
        assert_eq!(v["outcome"], "forwarded");
        assert_eq!(v["status"], 200);
        assert_eq!(v["key_index"], 1);
        assert_eq!(v["duration_ms"], 250);
        assert!(v.get("problems").is_none());
        let empty: serde_json::Value = serde_json::from_str(&Trace::default().line(0, 0)).unwrap();
        assert!(empty.get("id").is_none() && empty.get("scheme").is_none());
    }
}
