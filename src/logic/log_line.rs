//! The one JSON log line per request or delivery attempt (contract §8). It holds only what is safe
//! to log: no secret, signature, password, message text, visitor field, e-mail or IP address can
//! be put in it, because it has no field for them.

use serde::Serialize;

use crate::logic::event::Event;
use crate::logic::outcome::Outcome;
use crate::logic::times;

/// The longest part of a chat id a log line keeps.
pub const LOGGED_CHAT_ID_CHARS: usize = 64;

/// What is known about a request or a delivery attempt so far; the shell fills it in as it
/// proceeds, and writes it once at the end.
#[derive(Debug, Default, Serialize)]
pub struct LogLine {
    /// When the request arrived, RFC 3339 UTC; set by [`LogLine::line`].
    time: String,
    /// `/healthz`, `/webim/<event>`, `/admin`, `queue` or `outbox` for a delivery attempt, or
    /// `other` for unknown paths.
    pub route: &'static str,
    /// [`Outcome::code`] for requests; [`crate::logic::retry::Next::outcome`] for attempts.
    pub outcome: &'static str,
    /// The HTTP status answered (requests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The origin an outage line or a notice is about, by its setting's name (never its URL).
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The event type.
    pub event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The event id.
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The chat's id.
    pub chat_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `hmac-sha256` or `md5`.
    pub scheme: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Which configured Webim key matched (0 is the current one).
    pub key_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The origin's HTTP status, when it answered.
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
    /// Set by [`LogLine::line`].
    duration_ms: u64,
}

impl LogLine {
    /// An empty line for `route`.
    pub fn new(route: &'static str) -> LogLine {
        LogLine {
            route,
            ..LogLine::default()
        }
    }

    /// Records how a request ended.
    pub fn outcome(&mut self, outcome: &Outcome, status: u16) {
        self.outcome = outcome.code();
        self.status = Some(status);
    }

    /// Records the chat's id: its first [`LOGGED_CHAT_ID_CHARS`] characters.
    pub fn chat(&mut self, chat_id: Option<&str>) {
        self.chat_id = chat_id.map(|id| id.chars().take(LOGGED_CHAT_ID_CHARS).collect());
    }

    /// Records which event this is about.
    pub fn event(&mut self, event: &Event) {
        self.event = Some(event.event_type.as_str());
        self.id = Some(event.id.clone());
    }

    /// The log line, stamped with the request's start and end (unix milliseconds).
    pub fn line(mut self, started_ms: u64, ended_ms: u64) -> String {
        self.time = times::format_millis(started_ms);
        self.duration_ms = ended_ms.saturating_sub(started_ms);
        serde_json::to_string(&self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_the_spec_fields_and_omits_unknowns() {
        let line = LogLine {
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
            ..LogLine::default()
        };
        let v: serde_json::Value = serde_json::from_str(&line.line(1_000, 1_250)).unwrap();
        assert_eq!(v["time"], "1970-01-01T00:00:01.000Z");
        assert_eq!(v["route"], "/webim/chat_started");
        assert_eq!(v["outcome"], "forwarded");
        assert_eq!(v["status"], 200);
        assert_eq!(v["key_index"], 1);
        assert_eq!(v["duration_ms"], 250);
        assert!(v.get("problems").is_none());
        let empty: serde_json::Value =
            serde_json::from_str(&LogLine::default().line(0, 0)).unwrap();
        assert!(empty.get("id").is_none() && empty.get("scheme").is_none());
    }
}
