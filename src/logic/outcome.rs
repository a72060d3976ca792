//! The outcome of a request (contract §2–§7, §11–§12): one value that the reply, the log line's
//! `outcome` and `status` all read, so what Webim is answered and what an operator reads can
//! never disagree.

use serde::Serialize;

use crate::logic::error::EdgeError;
use crate::logic::reply::Reply;
use crate::logic::version::VERSION;

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `/healthz`: healthy when `problems` is empty.
    Health {
        /// Names of the bad settings.
        problems: Vec<&'static str>,
    },
    /// Direct delivery: the origin took the event.
    Forwarded {
        /// The event id.
        id: String,
    },
    /// The event is durably queued (queue or outbox).
    Queued {
        /// The event id.
        id: String,
    },
    /// The event was delivered, queued or stored before.
    Duplicate {
        /// The event id.
        id: String,
    },
    /// An admin API answer (contract §12), already rendered.
    Admin(Reply),
    /// The request failed with a spec error; nothing was forwarded.
    Failed(EdgeError),
}

impl From<EdgeError> for Outcome {
    fn from(error: EdgeError) -> Outcome {
        Outcome::Failed(error)
    }
}

impl Outcome {
    /// The log's `outcome` field: a status word or the spec's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Health { problems } if problems.is_empty() => "ok",
            Outcome::Health { .. } => "misconfigured",
            Outcome::Forwarded { .. } => "forwarded",
            Outcome::Queued { .. } => "queued",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Admin(_) => "admin",
            Outcome::Failed(error) => error.code(),
        }
    }

    /// The answer to the caller.
    pub fn reply(&self) -> Reply {
        #[derive(Serialize)]
        struct Health<'a> {
            status: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            version: Option<&'static str>,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            problems: &'a [&'static str],
        }
        match self {
            Outcome::Health { problems } => {
                let healthy = problems.is_empty();
                let body = Health {
                    status: self.code(),
                    version: healthy.then_some(VERSION),
                    problems,
                };
                Reply::json(if healthy { 200 } else { 503 }, &body)
            }
            Outcome::Forwarded { id } => Reply::delivery(200, "forwarded", id),
            Outcome::Queued { id } => Reply::delivery(202, "queued", id),
            Outcome::Duplicate { id } => Reply::delivery(200, "duplicate", id),
            Outcome::Admin(reply) => reply.clone(),
            Outcome::Failed(error) => error.reply(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(outcome: &Outcome) -> (u16, serde_json::Value) {
        let reply = outcome.reply();
        (reply.status, serde_json::from_slice(&reply.body).unwrap())
    }

    #[test]
    fn delivery_answers_follow_the_spec() {
        let id = || "evt_1".to_string();
        assert_eq!(
            json(&Outcome::Forwarded { id: id() }),
            (
                200,
                serde_json::json!({"status": "forwarded", "id": "evt_1"})
            )
        );
        assert_eq!(
            json(&Outcome::Queued { id: id() }),
            (202, serde_json::json!({"status": "queued", "id": "evt_1"}))
        );
        assert_eq!(
            json(&Outcome::Duplicate { id: id() }),
            (
                200,
                serde_json::json!({"status": "duplicate", "id": "evt_1"})
            )
        );
        assert_eq!(Outcome::Queued { id: id() }.code(), "queued");
        let failed = Outcome::from(EdgeError::BadSignature);
        assert_eq!(failed.code(), "bad_signature");
        assert_eq!(failed.reply(), EdgeError::BadSignature.reply());
    }

    #[test]
    fn health_names_problems_without_values() {
        let (status, body) = json(&Outcome::Health { problems: vec![] });
        assert_eq!(status, 200);
        assert_eq!(
            body,
            serde_json::json!({"status": "ok", "version": VERSION})
        );
        let bad = Outcome::Health {
            problems: vec!["WEBIM_PRIVATE_KEYS", "ORIGIN_URL"],
        };
        assert_eq!(bad.code(), "misconfigured");
        assert_eq!(
            json(&bad),
            (
                503,
                serde_json::json!({"status": "misconfigured", "problems": ["WEBIM_PRIVATE_KEYS", "ORIGIN_URL"]})
            )
        );
    }
}
