//! The worker↔object protocol of the outbox (contract §11, §12): every request the worker (or
//! one object) makes of an outbox object, as one typed value, encoded to a method and a URL
//! path and parsed back in this one place. The shell sends [`Call::encode`]'s request to the
//! object named by [`Call::object`] and the object acts on [`Call::parse`]'s value.
//!
//! Every string travels percent-encoded in the query (all but ASCII letters and digits), so an
//! id or chat id of any length and any characters, `""` included, arrives as it was sent; an
//! absent chat id and an empty one stay apart.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::logic::params;
use crate::logic::route;

/// The one object that lists dead events of every chat (written only when an event dies or is
/// replayed).
pub const DEAD_INDEX: &str = "index:dead";

/// The Durable Object that holds a chat's events: `chat:<chat id>`, or `event:<event id>` for
/// an event whose chat has no id.
pub fn object_name(chat_id: Option<&str>, event_id: &str) -> String {
    match chat_id {
        Some(chat) => format!("chat:{chat}"),
        None => format!("event:{event_id}"),
    }
}

/// A dead event as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadEntry {
    /// The event id.
    pub id: String,
    /// The event type's name.
    pub event_type: String,
    /// The chat's id; `None` for an event whose chat has none.
    pub chat_id: Option<String>,
    /// When it died (unix ms).
    pub died_at_ms: u64,
    /// Attempts made.
    pub attempts: u32,
    /// The origin's last status word.
    pub last_status: String,
}

impl DeadEntry {
    /// The object that holds the event itself.
    pub fn object(&self) -> String {
        object_name(self.chat_id.as_deref(), &self.id)
    }
}

/// One request to an outbox object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Stores the event carried as the request's body, unless its id is there already
    /// (answers 202 stored, 200 duplicate).
    Store {
        /// The chat's id, when the chat has one.
        chat_id: Option<String>,
        /// Which of `WEBIM_PRIVATE_KEYS` verified the delivery (the Webim format signs with
        /// it, contract §13), kept for every retry and replay.
        key_index: Option<usize>,
    },
    /// The chat's events in order with their attempts (the admin view).
    View,
    /// Puts a dead event back to pending, its attempts from zero.
    Replay {
        /// The event id.
        id: String,
    },
    /// Lists (or refreshes) a dead event in the index.
    IndexPut(DeadEntry),
    /// The index's entry of one dead event (JSON: its chat id and time of death), or 404.
    IndexFind {
        /// The event id.
        id: String,
    },
    /// Takes the entry of one death off the index: only if the event died at `died_at_ms`,
    /// so that a later death of the same event, listed meanwhile, stays listed.
    IndexRemove {
        /// The event id.
        id: String,
        /// The time of the death that was replayed.
        died_at_ms: u64,
    },
    /// Every dead event of every chat, newest first.
    IndexList,
}

/// The request a [`Call`] is sent as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path and query, starting with `/`.
    pub path_and_query: String,
}

/// Builds a query one `name=value` at a time.
struct Query(String);

impl Query {
    fn with(mut self, name: &str, value: &str) -> Query {
        self.0.push(if self.0.contains('?') { '&' } else { '?' });
        self.0.push_str(name);
        self.0.push('=');
        self.0.extend(utf8_percent_encode(value, NON_ALPHANUMERIC));
        self
    }

    fn maybe(self, name: &str, value: Option<&str>) -> Query {
        match value {
            Some(value) => self.with(name, value),
            None => self,
        }
    }
}

impl Call {
    /// The method and path this call is sent as.
    pub fn encode(&self) -> Request {
        let (method, query) = match self {
            Call::Store { chat_id, key_index } => (
                "POST",
                Query("/events".into())
                    .maybe("chat", chat_id.as_deref())
                    .maybe("key", key_index.map(|k| k.to_string()).as_deref()),
            ),
            Call::View => ("GET", Query("/events".into())),
            Call::Replay { id } => ("POST", Query("/replay".into()).with("id", id)),
            Call::IndexPut(entry) => (
                "POST",
                Query("/index/dead".into())
                    .with("id", &entry.id)
                    .with("type", &entry.event_type)
                    .maybe("chat", entry.chat_id.as_deref())
                    .with("died_at", &entry.died_at_ms.to_string())
                    .with("attempts", &entry.attempts.to_string())
                    .with("last_status", &entry.last_status),
            ),
            Call::IndexFind { id } => ("GET", Query("/index/entry".into()).with("id", id)),
            Call::IndexRemove { id, died_at_ms } => (
                "POST",
                Query("/index/remove".into())
                    .with("id", id)
                    .with("died_at", &died_at_ms.to_string()),
            ),
            Call::IndexList => ("GET", Query("/index/dead".into())),
        };
        Request {
            method,
            path_and_query: query.0,
        }
    }

    /// The call a request from [`Call::encode`] carries (`url` absolute or a path); `None` for
    /// anything else.
    pub fn parse(method: &str, url: &str) -> Option<Call> {
        let (path, query) = route::path_and_query(url.as_bytes());
        let text = |name: &str| {
            params::value(query, name.as_bytes())
                .and_then(|value| String::from_utf8(value.into_owned()).ok())
        };
        fn number<T: std::str::FromStr>(text: Option<String>) -> Option<T> {
            text?.parse().ok()
        }
        Some(match (method, path) {
            ("POST", "/events") => Call::Store {
                chat_id: text("chat"),
                key_index: number(text("key")),
            },
            ("GET", "/events") => Call::View,
            ("POST", "/replay") => Call::Replay { id: text("id")? },
            ("POST", "/index/dead") => Call::IndexPut(DeadEntry {
                id: text("id")?,
                event_type: text("type")?,
                chat_id: text("chat"),
                died_at_ms: number(text("died_at"))?,
                attempts: number(text("attempts"))?,
                last_status: text("last_status")?,
            }),
            ("GET", "/index/entry") => Call::IndexFind { id: text("id")? },
            ("POST", "/index/remove") => Call::IndexRemove {
                id: text("id")?,
                died_at_ms: number(text("died_at"))?,
            },
            ("GET", "/index/dead") => Call::IndexList,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(call: &Call) -> Option<Call> {
        let request = call.encode();
        Call::parse(
            request.method,
            &format!("https://outbox{}", request.path_and_query),
        )
    }

    #[test]
    fn every_call_reads_back_as_itself() {
        let entry = DeadEntry {
            id: "evt_1".into(),
            event_type: "chat_closed".into(),
            chat_id: Some(String::new()),
            died_at_ms: 1_795_550_400_123,
            attempts: 20,
            last_status: "no_answer".into(),
        };
        for call in [
            Call::Store {
                chat_id: None,
                key_index: None,
            },
            Call::Store {
                chat_id: Some(String::new()),
                key_index: Some(1),
            },
            Call::Store {
                chat_id: Some("a&b=c%d+e/f?g#h".into()),
                key_index: Some(0),
            },
            Call::View,
            Call::Replay { id: "evt_1".into() },
            Call::IndexPut(entry.clone()),
            Call::IndexPut(DeadEntry {
                chat_id: None,
                ..entry
            }),
            Call::IndexFind { id: "evt_1".into() },
            Call::IndexRemove {
                id: "evt_1".into(),
                died_at_ms: 7,
            },
            Call::IndexList,
        ] {
            assert_eq!(roundtrip(&call).as_ref(), Some(&call));
        }
    }

    #[test]
    fn the_requests_are_the_ones_the_objects_expect() {
        let store = Call::Store {
            chat_id: Some("ч 1".into()),
            key_index: Some(0),
        };
        assert_eq!(
            store.encode(),
            Request {
                method: "POST",
                path_and_query: "/events?chat=%D1%87%201&key=0".into()
            }
        );
        assert_eq!(Call::View.encode().path_and_query, "/events");
        assert_eq!(Call::parse("GET", "/replay?id=x"), None);
        assert_eq!(Call::parse("POST", "/replay"), None);
        assert_eq!(Call::parse("POST", "/elsewhere"), None);
        assert_eq!(Call::parse("POST", "/index/remove?id=x&died_at=soon"), None);
    }

    #[test]
    fn objects_are_named_by_chat_or_by_event() {
        assert_eq!(object_name(Some("4242"), "evt_1"), "chat:4242");
        assert_eq!(object_name(Some(""), "evt_1"), "chat:");
        assert_eq!(object_name(None, "evt_1"), "event:evt_1");
    }

    proptest! {
        #[test]
        fn any_strings_survive_the_trip(
            chat in proptest::option::of(any::<String>()),
            id in any::<String>(),
            status in any::<String>(),
            died_at_ms in any::<u64>(),
            attempts in any::<u32>(),
        ) {
            let calls = [
                Call::Store { chat_id: chat.clone(), key_index: Some(attempts as usize) },
                Call::Replay { id: id.clone() },
                Call::IndexFind { id: id.clone() },
                Call::IndexRemove { id: id.clone(), died_at_ms },
                Call::IndexPut(DeadEntry {
                    id,
                    event_type: "chat_started".into(),
                    chat_id: chat,
                    died_at_ms,
                    attempts,
                    last_status: status,
                }),
            ];
            for call in calls {
                prop_assert_eq!(roundtrip(&call), Some(call));
            }
        }
    }
}
