//! Delivery mode (contract §6–§7, §11): from the bindings present, where an accepted event goes;
//! when the queue cannot take it, why it goes directly instead; what a dedup lookup means; and
//! what the origin's answer to a direct delivery makes of the request.

use crate::logic::error::EdgeError;
use crate::logic::outcome::Outcome;
use crate::logic::retry::OriginAnswer;

/// Cloudflare Queues accept messages up to 128 KB; the rest is headroom for the message's own
/// serialization. Larger events are delivered directly.
pub const QUEUE_BODY_LIMIT: usize = 120 * 1024;

/// Which optional bindings the worker has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bindings {
    /// An `OUTBOX` Durable Object namespace is bound.
    pub outbox: bool,
    /// An `EVENTS` queue producer is bound.
    pub queue: bool,
    /// A `DEDUP` KV namespace is bound.
    pub dedup: bool,
}

/// Where an accepted event goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwarded at once; the origin's answer is the reply.
    Direct,
    /// Onto the queue, answered 202.
    Queue,
    /// Into its chat's outbox, answered 202; takes precedence over the queue.
    Outbox,
}

impl Mode {
    /// The mode's name, as `/admin/status` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Queue => "queue",
            Mode::Outbox => "outbox",
        }
    }
}

/// Why a queued-mode event was delivered directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The event is larger than a queue message may be.
    TooLarge,
    /// The queue refused the message.
    EnqueueFailed,
}

impl Fallback {
    /// The log's `fallback` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::TooLarge => "too_large",
            Fallback::EnqueueFailed => "enqueue_failed",
        }
    }
}

/// The mode for the bindings present.
pub fn mode(bindings: Bindings) -> Mode {
    if bindings.outbox {
        Mode::Outbox
    } else if bindings.queue {
        Mode::Queue
    } else {
        Mode::Direct
    }
}

/// Whether an accepted event is first looked up in the `DEDUP` namespace (contract §6). The
/// outbox's own dedup is strict, so the namespace is not consulted in outbox mode.
pub fn looks_up_dedup(bindings: Bindings) -> bool {
    bindings.dedup && mode(bindings) != Mode::Outbox
}

/// The mode of an event that needs one request and nothing consulted before it: direct mode
/// with no dedup lookup (the origin's POST), or the outbox (the store in the chat's object).
/// The shell sends that request without awaiting in the wasm. `None` for the queue, whose
/// refusal falls back to the origin, and for a dedup lookup.
pub fn in_one_request(bindings: Bindings) -> Option<Mode> {
    match mode(bindings) {
        Mode::Direct if !looks_up_dedup(bindings) => Some(Mode::Direct),
        Mode::Outbox => Some(Mode::Outbox),
        _ => None,
    }
}

/// Whether the queue can take an event body of `len` bytes.
pub fn fits_queue(len: usize) -> Result<(), Fallback> {
    if len <= QUEUE_BODY_LIMIT {
        Ok(())
    } else {
        Err(Fallback::TooLarge)
    }
}

/// What the best-effort KV dedup lookup (contract §6) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The id was delivered or queued before.
    Seen,
    /// The id is new.
    Unseen,
    /// KV could not be read.
    Failed,
}

/// Whether the event is a duplicate. A failed lookup delivers: a duplicate at the origin is
/// better than a lost event.
pub fn is_duplicate(lookup: Lookup) -> bool {
    lookup == Lookup::Seen
}

/// Whether an outcome is one the dedup window should remember: an id is recorded only after
/// its forward or enqueue succeeded.
pub fn remember(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Forwarded { .. } | Outcome::Queued { .. })
}

/// contract §11: the chat's object answers a store 202 when the event is new and stored, 200
/// when it holds the id already; anything else, or no answer (`None`), is 503
/// `storage_unavailable`, so that Webim retries.
pub fn after_store(id: &str, status: Option<u16>) -> Outcome {
    let id = id.to_string();
    match status {
        Some(202) => Outcome::Queued { id },
        Some(200) => Outcome::Duplicate { id },
        _ => Outcome::Failed(EdgeError::StorageUnavailable),
    }
}

/// contract §7 direct delivery: origin 2xx is 200 `forwarded`; anything else 502
/// `origin_unavailable`, so Webim's retry is not lost.
pub fn after_direct(id: &str, answer: &OriginAnswer) -> Outcome {
    if answer.accepted() {
        Outcome::Forwarded { id: id.to_string() }
    } else {
        Outcome::Failed(EdgeError::OriginUnavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_takes_precedence_over_the_queue() {
        let modes: Vec<Mode> = [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .map(|(outbox, queue)| {
                mode(Bindings {
                    outbox,
                    queue,
                    dedup: false,
                })
            })
            .collect();
        assert_eq!(
            modes,
            [Mode::Direct, Mode::Queue, Mode::Outbox, Mode::Outbox]
        );
    }

    #[test]
    fn dedup_outside_the_outbox_and_the_queue_are_what_take_more_than_one_request() {
        let all = [false, true].into_iter().flat_map(|outbox| {
            [false, true].into_iter().flat_map(move |queue| {
                [false, true].map(move |dedup| Bindings {
                    outbox,
                    queue,
                    dedup,
                })
            })
        });
        for bindings in all {
            assert_eq!(
                looks_up_dedup(bindings),
                bindings.dedup && !bindings.outbox,
                "{bindings:?}"
            );
            let one = if bindings.outbox {
                Some(Mode::Outbox)
            } else if bindings == Bindings::default() {
                Some(Mode::Direct)
            } else {
                None
            };
            assert_eq!(in_one_request(bindings), one, "{bindings:?}");
        }
    }

    #[test]
    fn queue_size_limit() {
        assert_eq!(fits_queue(QUEUE_BODY_LIMIT), Ok(()));
        assert_eq!(fits_queue(QUEUE_BODY_LIMIT + 1), Err(Fallback::TooLarge));
    }

    #[test]
    fn a_failed_lookup_delivers_and_only_successes_are_remembered() {
        assert!(is_duplicate(Lookup::Seen));
        assert!(!is_duplicate(Lookup::Unseen));
        assert!(!is_duplicate(Lookup::Failed));
        assert!(remember(&Outcome::Queued { id: "evt_1".into() }));
        assert!(remember(&Outcome::Forwarded { id: "evt_1".into() }));
        assert!(!remember(&Outcome::Failed(EdgeError::OriginUnavailable)));
    }

    #[test]
    fn only_the_objects_202_and_200_are_answers_of_a_store() {
        assert_eq!(
            after_store("evt_1", Some(202)),
            Outcome::Queued { id: "evt_1".into() }
        );
        assert_eq!(
            after_store("evt_1", Some(200)),
            Outcome::Duplicate { id: "evt_1".into() }
        );
        for status in [None, Some(201), Some(204), Some(404), Some(500), Some(503)] {
            assert_eq!(
                after_store("evt_1", status),
                Outcome::Failed(EdgeError::StorageUnavailable),
                "{status:?}"
            );
        }
    }

    #[test]
    fn direct_answers() {
        let answer = |status| OriginAnswer {
            status,
            retry_after: None,
        };
        assert_eq!(
            after_direct("evt_1", &answer(Some(204))),
            Outcome::Forwarded { id: "evt_1".into() }
        );
        for status in [None, Some(301), Some(404), Some(500), Some(503)] {
            assert_eq!(
                after_direct("evt_1", &answer(status)),
                Outcome::Failed(EdgeError::OriginUnavailable)
            );
        }
    }
}
