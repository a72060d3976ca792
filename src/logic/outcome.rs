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
    /// An admin answer (contract §12), the API's or the console's, already rendered, or the
    /// error it ended with; answered as [`Reply::private`] either way.
    Admin(Result<Reply, EdgeError>),
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
            Outcome::Admin(Ok(_)) => "admin",
            Outcome::Admin(Err(error)) => error.code(),
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
            Outcome::Admin(answer) => answer.clone().unwrap_or_else(|e| e.reply()).private(),
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
    fn admin_answers_and_their_errors_are_private() {
        let private = |reply: &Reply| {
            ["cache-control", "referrer-policy"]
                .iter()
                .all(|name| reply.headers.iter().any(|(n, _)| n == name))
        };
        let listed = Outcome::Admin(Ok(Reply::json(200, &serde_json::json!({"total": 0}))));
        assert_eq!(listed.code(), "admin");
        assert!(private(&listed.reply()));
        let refused = Outcome::Admin(Err(EdgeError::AdminUnauthorized));
        assert_eq!(refused.code(), "unauthorized");
        let reply = refused.reply();
        assert_eq!(reply.status, 401);
        assert!(private(&reply));
        assert!(reply
            .headers
            .iter()
            .any(|(n, v)| *n == "www-authenticate" && v.starts_with("Bearer")));
        // Any other failure is answered as it always was.
        assert!(!private(&Outcome::from(EdgeError::NotFound).reply()));
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
