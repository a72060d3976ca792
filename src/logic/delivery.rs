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

/// Whether an event goes straight to the origin with nothing consulted first: direct mode and
/// no dedup lookup.
pub fn straight_to_origin(bindings: Bindings) -> bool {
    mode(bindings) == Mode::Direct && !looks_up_dedup(bindings)
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
    fn dedup_is_looked_up_outside_the_outbox_and_only_nothing_bound_goes_straight_through() {
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
            assert_eq!(
                straight_to_origin(bindings),
                bindings == Bindings::default(),
                "{bindings:?}"
            );
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
