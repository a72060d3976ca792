//! The forwarded event (SPEC §4–§5): the event type, the deterministic event id, the clean chat
//! (credentials stripped, timestamps normalized) and the JSON body sent to the origin.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::sanitize::sanitize;
use crate::signature::Scheme;
use crate::timestamp;

/// Webim's three chat events; the event is known only by the URL called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    ChatStarted,
    ChatAssigned,
    ChatClosed,
}

impl EventType {
    pub const ALL: [EventType; 3] = [
        EventType::ChatStarted,
        EventType::ChatAssigned,
        EventType::ChatClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ChatStarted => "chat_started",
            EventType::ChatAssigned => "chat_assigned",
            EventType::ChatClosed => "chat_closed",
        }
    }

    /// The path Webim calls for this event.
    pub fn route(self) -> &'static str {
        match self {
            EventType::ChatStarted => "/webim/chat_started",
            EventType::ChatAssigned => "/webim/chat_assigned",
            EventType::ChatClosed => "/webim/chat_closed",
        }
    }

    /// The event whose route is `path`.
    pub fn from_route(path: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.route() == path)
    }
}

/// `evt_` + the first 32 hex digits of SHA-256(type + "\n" + chat bytes): the same for every
/// retry of the same delivery.
pub fn event_id(event_type: EventType, signed_chat: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(event_type.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(signed_chat);
    let digest = hash.finalize();
    format!("evt_{}", hex::encode(&digest[..16]))
}

/// Cleans a parsed chat in place: credentials out of every string, `created_at` of the chat
/// and of each message normalized to RFC 3339 UTC.
pub fn clean_chat(chat: &mut Value) {
    sanitize(chat);
    normalize_created_at(chat);
    if let Some(Value::Array(messages)) = chat.get_mut("messages") {
        messages.iter_mut().for_each(normalize_created_at);
    }
}

fn normalize_created_at(object: &mut Value) {
    if let Some(Value::String(at)) = object.get_mut("created_at") {
        if let Some(utc) = timestamp::normalize(at) {
            *at = utc;
        }
    }
}

/// An event ready to forward or enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event_type: EventType,
    pub id: String,
    /// The JSON body sent to the origin.
    pub body: Vec<u8>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    event_type: EventType,
    id: &'a str,
    received_at: String,
    signature_scheme: &'static str,
    chat: &'a Value,
}

impl Event {
    /// Builds the event from the signed chat bytes (for the id) and the clean chat.
    pub fn new(
        event_type: EventType,
        signed_chat: &[u8],
        clean_chat: &Value,
        scheme: Scheme,
        received_at_ms: u64,
    ) -> Event {
        let id = event_id(event_type, signed_chat);
        let body = Body {
            event_type,
            id: &id,
            received_at: timestamp::format_millis(received_at_ms),
            signature_scheme: scheme.as_str(),
            chat: clean_chat,
        };
        // A `Value` with string keys always serializes.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        Event {
            event_type,
            id,
            body,
        }
    }

    /// Reads an event back from its body (a queue message), taking the type and id from it.
    pub fn from_body(body: Vec<u8>) -> Option<Event> {
        #[derive(Deserialize)]
        struct Head {
            #[serde(rename = "type")]
            event_type: EventType,
            id: String,
        }
        let head: Head = serde_json::from_slice(&body).ok()?;
        Some(Event {
            event_type: head.event_type,
            id: head.id,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_matches_an_independent_sha256() {
        // python3 -c "import hashlib; print('evt_' + hashlib.sha256(b'chat_started\\n{\"id\":1}').hexdigest()[:32])"
        let id = event_id(EventType::ChatStarted, br#"{"id":1}"#);
        assert_eq!(id, "evt_9781966ee91858ba120e7640bbd89b0a");
        assert_ne!(id, event_id(EventType::ChatClosed, br#"{"id":1}"#));
        assert_ne!(id, event_id(EventType::ChatStarted, br#"{"id": 1}"#));
    }

    #[test]
    fn body_has_the_spec_shape() {
        let mut chat: Value = serde_json::from_str(
            r#"{"id":7,"created_at":"2019-07-05T16:28:20 Z","x":{"u":"https://a:b@h/p"},
                "messages":[{"created_at":"2019-07-05 19:28:20+03:00","message":"Привет 👋","kind":"visitor"}],
                "big":123456789012345678901234567890,"f":1.0}"#,
        )
        .unwrap();
        clean_chat(&mut chat);
        let e = Event::new(
            EventType::ChatClosed,
            b"raw",
            &chat,
            Scheme::Md5,
            1_795_550_400_123,
        );
        let v: Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(v["type"], "chat_closed");
        assert_eq!(v["id"], e.id.as_str());
        assert_eq!(v["received_at"], "2026-11-24T20:00:00.123Z");
        assert_eq!(v["signature_scheme"], "md5");
        assert_eq!(v["chat"]["created_at"], "2019-07-05T16:28:20Z");
        assert_eq!(
            v["chat"]["messages"][0]["created_at"],
            "2019-07-05T16:28:20Z"
        );
        assert_eq!(v["chat"]["messages"][0]["message"], "Привет 👋");
        assert_eq!(v["chat"]["x"]["u"], "https://h/p");
        assert_eq!(Event::from_body(e.body.clone()), Some(e.clone()));
        assert_eq!(
            Event::from_body(b"{\"type\":\"chat_x\",\"id\":\"evt_1\"}".to_vec()),
            None
        );
        let text = String::from_utf8(e.body).unwrap();
        assert!(
            text.contains("123456789012345678901234567890"),
            "big numbers keep every digit"
        );
        assert!(text.contains(r#""f":1.0"#), "numbers keep their form");
    }
}
