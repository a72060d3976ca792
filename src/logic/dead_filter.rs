//! Which dead events an operator means (contract §12): `since` and `until` on the time of death
//! (RFC 3339), `type` and `chat_id`, each optional, read from `/admin/dead`'s query or
//! `POST /admin/replay`'s JSON body.

use serde::Deserialize;

use crate::logic::error::EdgeError;
use crate::logic::event::EventType;
use crate::logic::params;
use crate::logic::times;

/// A filter on dead events; an empty one matches every dead event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadFilter {
    /// Died at or after (unix ms).
    pub since_ms: Option<u64>,
    /// Died at or before (unix ms).
    pub until_ms: Option<u64>,
    /// Of this event type.
    pub event_type: Option<EventType>,
    /// Of this chat (`""` is a chat id).
    pub chat_id: Option<String>,
}

/// The filter as an operator writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Written {
    since: Option<String>,
    until: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    chat_id: Option<String>,
}

impl DeadFilter {
    fn from_written(w: Written) -> Option<DeadFilter> {
        let time = |t: Option<String>| match t {
            Some(t) => times::parse_millis(&t).map(Some),
            None => Some(None),
        };
        let event_type = match w.event_type {
            Some(name) => Some(Some(
                EventType::ALL.into_iter().find(|t| t.as_str() == name)?,
            )),
            None => Some(None),
        }?;
        Some(DeadFilter {
            since_ms: time(w.since)?,
            until_ms: time(w.until)?,
            event_type,
            chat_id: w.chat_id,
        })
    }

    /// The filter of a query string (`since`, `until`, `type`, `chat_id`); a value that does
    /// not read is `bad_filter`.
    pub fn from_query(query: &[u8]) -> Result<DeadFilter, EdgeError> {
        let text = |name: &str| {
            params::value(query, name.as_bytes())
                .map(|v| String::from_utf8(v.into_owned()).map_err(|_| EdgeError::BadFilter))
                .transpose()
        };
        let written = Written {
            since: text("since")?,
            until: text("until")?,
            event_type: text("type")?,
            chat_id: text("chat_id")?,
        };
        DeadFilter::from_written(written).ok_or(EdgeError::BadFilter)
    }

    /// The filter of a JSON body (empty: every dead event).
    pub fn from_json(body: &[u8]) -> Result<DeadFilter, EdgeError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(DeadFilter::default());
        }
        let written: Written = serde_json::from_slice(body).map_err(|_| EdgeError::BadFilter)?;
        DeadFilter::from_written(written).ok_or(EdgeError::BadFilter)
    }

    /// Whether a dead event of `event_type` in chat `chat_id` that died at `died_at_ms`
    /// matches.
    pub fn matches(&self, event_type: &str, chat_id: Option<&str>, died_at_ms: u64) -> bool {
        self.since_ms.is_none_or(|since| died_at_ms >= since)
            && self.until_ms.is_none_or(|until| died_at_ms <= until)
            && self.event_type.is_none_or(|t| t.as_str() == event_type)
            && self.chat_id.as_deref().is_none_or(|c| chat_id == Some(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_reads_from_a_query_or_json_and_matches_each_field() {
        let f = DeadFilter::from_query(
            b"since=2026-11-24T20:00:00Z&until=2026-11-24T21:00:00Z&type=chat_closed&chat_id=42",
        )
        .unwrap();
        let at = 1_795_550_400_000;
        assert!(f.matches("chat_closed", Some("42"), at));
        assert!(f.matches("chat_closed", Some("42"), at + 3_600_000));
        assert!(!f.matches("chat_closed", Some("42"), at - 1));
        assert!(!f.matches("chat_closed", Some("42"), at + 3_600_001));
        assert!(!f.matches("chat_started", Some("42"), at));
        assert!(!f.matches("chat_closed", Some("43"), at));
        assert!(!f.matches("chat_closed", None, at));
        let json = DeadFilter::from_json(
            br#"{"since":"2026-11-24T20:00:00Z","until":"2026-11-24T21:00:00Z","type":"chat_closed","chat_id":"42"}"#,
        )
        .unwrap();
        assert_eq!(json, f);
        assert_eq!(DeadFilter::from_json(b"").unwrap(), DeadFilter::default());
        assert!(DeadFilter::default().matches("chat_started", None, 0));
        let empty_chat = DeadFilter::from_json(br#"{"chat_id":""}"#).unwrap();
        assert!(empty_chat.matches("chat_started", Some(""), 0));
        assert!(!empty_chat.matches("chat_started", None, 0));
    }

    #[test]
    fn what_does_not_read_is_a_bad_filter() {
        for query in [&b"since=yesterday"[..], b"type=chat_other", b"until=%FF"] {
            assert_eq!(DeadFilter::from_query(query), Err(EdgeError::BadFilter));
        }
        for json in [
            &br#"{"since":1}"#[..],
            br#"{"kind":"x"}"#,
            b"[",
            br#"{"type":"x"}"#,
        ] {
            assert_eq!(DeadFilter::from_json(json), Err(EdgeError::BadFilter));
        }
    }
}
