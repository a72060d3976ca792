//! The worker↔object protocol of the outbox (contract §11, §12): every request the worker (or
//! one object) makes of an outbox object, as one typed value, encoded to a method and a URL
//! path and parsed back in this one place. The shell sends [`Call::encode`]'s request to the
//! object named by [`Call::object`] and the object acts on [`Call::parse`]'s value.
//!
//! Every string travels percent-encoded in the query (all but ASCII letters and digits), so an
//! id or chat id of any length and any characters, `""` included, arrives as it was sent; an
//! absent chat id and an empty one stay apart.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::logic::dead_filter::DeadFilter;
use crate::logic::event::EventType;
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

/// The object that keeps the health of the origin named by the setting `origin`
/// (`ORIGIN_URL`, `ORIGIN_URL_CHAT_CLOSED`, …) and the chats waiting for it.
pub fn origin_object(origin: &str) -> String {
    format!("origin:{origin}")
}

/// The most dead events one `POST /admin/replay` replays; the answer says how many remain.
pub const REPLAYED_PER_CALL: u32 = 200;

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
    /// The dead events of every chat that match, newest first.
    IndexList(DeadFilter),
    /// At most `limit` matching dead events, oldest first, to replay; the answer is
    /// [`encode_taken`]'s.
    IndexTake {
        /// Which.
        filter: DeadFilter,
        /// How many at most.
        limit: u32,
    },
    /// A chat tells its origin's object of an attempt: an availability failure, or an answer
    /// that shows the origin up after this event had failed (successes otherwise cost nothing).
    /// The answer is the origin's state afterwards, `up` or `down`.
    Report {
        /// The origin's setting name.
        origin: String,
        /// The event attempted.
        event_id: String,
        /// The chat's object, which waits while the origin is down.
        chat: String,
        /// The attempt's status word.
        status: String,
        /// How many of the chat's events wait for the origin (shown while it is down).
        pending: u32,
    },
    /// A chat that found its origin down without trying it (or that wakes while waiting)
    /// registers as waiting; the answer is the origin's state, `up` or `down`.
    Wait {
        /// The origin's setting name.
        origin: String,
        /// The chat's object.
        chat: String,
        /// How many of the chat's events wait for the origin.
        pending: u32,
    },
    /// The origin's health and how many chats wait for it (JSON, for `/admin/origins`).
    OriginView {
        /// The origin's setting name.
        origin: String,
    },
    /// The origin's object asks a waiting chat to attempt its front event now, as a probe; the
    /// answer is the attempt's status word, or `none` when the chat has nothing for it.
    Probe {
        /// The origin's setting name.
        origin: String,
    },
    /// The origin is up again: the chat stops waiting for it and goes on.
    Resume {
        /// The origin's setting name.
        origin: String,
    },
}

/// [`Call::IndexTake`]'s answer: how many more match, then each entry taken, one line each in
/// [`Call::IndexPut`]'s encoding.
pub fn encode_taken(remaining: u64, entries: &[DeadEntry]) -> String {
    let mut text = remaining.to_string();
    for entry in entries {
        text.push('\n');
        text.push_str(&Call::IndexPut(entry.clone()).encode().path_and_query);
    }
    text
}

/// Reads [`encode_taken`]'s answer back.
pub fn decode_taken(text: &str) -> Option<(u64, Vec<DeadEntry>)> {
    let mut lines = text.split('\n');
    let remaining = lines.next()?.parse().ok()?;
    let entries = lines
        .map(|line| match Call::parse("POST", line) {
            Some(Call::IndexPut(entry)) => Some(entry),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some((remaining, entries))
}

impl Query {
    fn filter(self, f: &DeadFilter) -> Query {
        self.maybe("since", f.since_ms.map(|n| n.to_string()).as_deref())
            .maybe("until", f.until_ms.map(|n| n.to_string()).as_deref())
            .maybe("type", f.event_type.map(EventType::as_str))
            .maybe("chat", f.chat_id.as_deref())
    }
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
            Call::IndexList(filter) => ("GET", Query("/index/dead".into()).filter(filter)),
            Call::IndexTake { filter, limit } => (
                "POST",
                Query("/index/take".into())
                    .filter(filter)
                    .with("limit", &limit.to_string()),
            ),
            Call::Report {
                origin,
                event_id,
                chat,
                status,
                pending,
            } => (
                "POST",
                Query("/origin/report".into())
                    .with("origin", origin)
                    .with("id", event_id)
                    .with("chat", chat)
                    .with("status", status)
                    .with("pending", &pending.to_string()),
            ),
            Call::Wait {
                origin,
                chat,
                pending,
            } => (
                "POST",
                Query("/origin/wait".into())
                    .with("origin", origin)
                    .with("chat", chat)
                    .with("pending", &pending.to_string()),
            ),
            Call::OriginView { origin } => ("GET", Query("/origin".into()).with("origin", origin)),
            Call::Probe { origin } => ("POST", Query("/probe".into()).with("origin", origin)),
            Call::Resume { origin } => ("POST", Query("/resume".into()).with("origin", origin)),
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
        /// `Some(None)` when absent, `None` when present but not a number.
        fn optional(text: Option<String>) -> Option<Option<u64>> {
            match text {
                Some(text) => text.parse().ok().map(Some),
                None => Some(None),
            }
        }
        let filter = || {
            let event_type = match text("type") {
                Some(name) => Some(EventType::ALL.into_iter().find(|t| t.as_str() == name)?),
                None => None,
            };
            Some(DeadFilter {
                since_ms: optional(text("since"))?,
                until_ms: optional(text("until"))?,
                event_type,
                chat_id: text("chat"),
            })
        };
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
            ("GET", "/index/dead") => Call::IndexList(filter()?),
            ("POST", "/index/take") => Call::IndexTake {
                filter: filter()?,
                limit: number(text("limit"))?,
            },
            ("POST", "/origin/report") => Call::Report {
                origin: text("origin")?,
                event_id: text("id")?,
                chat: text("chat")?,
                status: text("status")?,
                pending: number(text("pending"))?,
            },
            ("POST", "/origin/wait") => Call::Wait {
                origin: text("origin")?,
                chat: text("chat")?,
                pending: number(text("pending"))?,
            },
            ("GET", "/origin") => Call::OriginView {
                origin: text("origin")?,
            },
            ("POST", "/probe") => Call::Probe {
                origin: text("origin")?,
            },
            ("POST", "/resume") => Call::Resume {
                origin: text("origin")?,
            },
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
                ..entry.clone()
            }),
            Call::IndexFind { id: "evt_1".into() },
            Call::IndexRemove {
                id: "evt_1".into(),
                died_at_ms: 7,
            },
            Call::IndexList(DeadFilter::default()),
            Call::IndexList(DeadFilter {
                since_ms: Some(1),
                until_ms: Some(2),
                event_type: Some(EventType::ChatClosed),
                chat_id: Some(String::new()),
            }),
            Call::IndexTake {
                filter: DeadFilter::default(),
                limit: 200,
            },
            Call::Report {
                origin: "ORIGIN_URL".into(),
                event_id: "evt_1".into(),
                chat: "chat:42".into(),
                status: "no_answer".into(),
                pending: 3,
            },
            Call::Wait {
                origin: "ORIGIN_URL_CHAT_CLOSED".into(),
                chat: "chat:".into(),
                pending: 1,
            },
            Call::OriginView {
                origin: "ORIGIN_URL".into(),
            },
            Call::Probe {
                origin: "ORIGIN_URL".into(),
            },
            Call::Resume {
                origin: "ORIGIN_URL".into(),
            },
        ] {
            assert_eq!(roundtrip(&call).as_ref(), Some(&call));
        }
        let taken = vec![
            entry.clone(),
            DeadEntry {
                chat_id: None,
                ..entry.clone()
            },
        ];
        assert_eq!(decode_taken(&encode_taken(7, &taken)), Some((7, taken)));
        assert_eq!(decode_taken("0"), Some((0, vec![])));
        assert_eq!(decode_taken("x"), None);
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
