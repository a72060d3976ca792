//! The forwarded event (contract §5): the event type, the deterministic event id and the JSON body
//! sent to the origin around the clean chat.

use crate::logic::hashing::Hashing;
use crate::logic::times;
use crate::logic::webim_signature::Scheme;

/// Webim's three chat events; the event is known only by the URL called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Once per chat, when it is created.
    ChatStarted,
    /// Each time the chat is assigned to an operator.
    ChatAssigned,
    /// Once per chat, when it is finally closed.
    ChatClosed,
}

impl EventType {
    /// The three events, in a chat's order.
    pub const ALL: [EventType; 3] = [
        EventType::ChatStarted,
        EventType::ChatAssigned,
        EventType::ChatClosed,
    ];

    /// The event's name, as in `type` and `x-webim-event`.
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
pub fn event_id(crypto: &dyn Hashing, event_type: EventType, signed_chat: &[u8]) -> String {
    let digest = crypto.sha256(&[event_type.as_str().as_bytes(), b"\n", signed_chat]);
    format!("evt_{}", hex::encode(&digest[..16]))
}

const CHAT_FIELD: &[u8] = br#","chat":"#;

/// An event ready to forward or enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Which event this is.
    pub event_type: EventType,
    /// `evt_…`, the same for every retry of the same delivery.
    pub id: String,
    /// The JSON body sent to the origin.
    pub body: Vec<u8>,
}

impl Event {
    /// Builds the event from the signed chat bytes (for the id) and the clean chat's JSON.
    pub fn new(
        crypto: &dyn Hashing,
        event_type: EventType,
        signed_chat: &[u8],
        clean_chat: &[u8],
        scheme: Scheme,
        received_at_ms: u64,
    ) -> Event {
        let id = event_id(crypto, event_type, signed_chat);
        // Every piece but the chat is plain ASCII that needs no escaping.
        let head = format!(
            r#"{{"type":"{}","id":"{}","received_at":"{}","signature_scheme":"{}","chat":"#,
            event_type.as_str(),
            id,
            times::format_millis(received_at_ms),
            scheme.as_str()
        );
        let mut body = Vec::with_capacity(head.len() + clean_chat.len() + 1);
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(clean_chat);
        body.push(b'}');
        Event {
            event_type,
            id,
            body,
        }
    }

    /// The clean chat's JSON inside the body: what follows the fixed opening's `"chat":`, less
    /// the closing brace (every field before it is plain ASCII without that text).
    pub fn chat_json(&self) -> &[u8] {
        let start =
            memchr::memmem::find(&self.body, CHAT_FIELD).map_or(0, |at| at + CHAT_FIELD.len());
        self.body
            .get(start..self.body.len().saturating_sub(1))
            .unwrap_or_default()
    }

    /// Reads an event back from its body (a queue message). The body is one that
    /// [`Event::new`] wrote, so its type and id are read from its fixed opening.
    pub fn from_body(body: Vec<u8>) -> Option<Event> {
        let (event_type, id) = {
            let text = std::str::from_utf8(body.get(..128.min(body.len()))?).ok()?;
            let (name, rest) = text.strip_prefix(r#"{"type":""#)?.split_once('"')?;
            let id = rest.strip_prefix(r#","id":""#)?.split_once('"')?.0;
            let valid_id = id.len() == 36
                && id.starts_with("evt_")
                && id[4..].bytes().all(|b| b.is_ascii_hexdigit());
            let event_type = EventType::ALL.into_iter().find(|t| t.as_str() == name)?;
            (event_type, valid_id.then(|| id.to_string())?)
        };
        Some(Event {
            event_type,
            id,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::hashing::RustCrypto;

    #[test]
    fn id_matches_an_independent_sha256() {
        // python3 -c "import hashlib; print('evt_' + hashlib.sha256(b'chat_started\\n{\"id\":1}').hexdigest()[:32])"
        let id = event_id(&RustCrypto, EventType::ChatStarted, br#"{"id":1}"#);
        assert_eq!(id, "evt_9781966ee91858ba120e7640bbd89b0a");
        assert_ne!(
            id,
            event_id(&RustCrypto, EventType::ChatClosed, br#"{"id":1}"#)
        );
        assert_ne!(
            id,
            event_id(&RustCrypto, EventType::ChatStarted, br#"{"id": 1}"#)
        );
    }

    #[test]
    fn body_has_the_spec_shape() {
        let chat = r#"{"id":7,"big":123456789012345678901234567890,"f":1.0,"m":"Привет 👋"}"#;
        let e = Event::new(
            &RustCrypto,
            EventType::ChatClosed,
            b"raw",
            chat.as_bytes(),
            Scheme::Md5,
            1_795_550_400_123,
        );
        let v: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(v["type"], "chat_closed");
        assert_eq!(v["id"], e.id.as_str());
        assert_eq!(v["received_at"], "2026-11-24T20:00:00.123Z");
        assert_eq!(v["signature_scheme"], "md5");
        assert_eq!(v["chat"]["m"], "Привет 👋");
        let text = String::from_utf8(e.body.clone()).unwrap();
        assert!(text.starts_with(r#"{"type":"chat_closed","id":"evt_"#));
        assert!(text.ends_with(
            r#","chat":{"id":7,"big":123456789012345678901234567890,"f":1.0,"m":"Привет 👋"}}"#
        ));
        assert_eq!(e.chat_json(), chat.as_bytes());
        assert_eq!(Event::from_body(e.body.clone()), Some(e));
        assert_eq!(
            Event::from_body(br#"{"type":"chat_x","id":"evt_1"}"#.to_vec()),
            None
        );
    }
}
