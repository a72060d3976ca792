//! Retry policy (contract §7, §11): what an origin's answer to one attempt means, and how long to
//! wait before the next one (exponential backoff, `Retry-After` honoured, capped at 12 hours).

/// The longest delay a queue retry may ask for (12 hours).
pub const MAX_RETRY_DELAY_SECONDS: u64 = 12 * 3600;

/// The cap of the exponential backoff alone.
const MAX_BACKOFF_SECONDS: u64 = 900;

/// What the origin said to one attempt: its status and `Retry-After`, or nothing at all
/// (unreachable, reset, timed out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginAnswer {
    /// The HTTP status; `None` when nothing answered.
    pub status: Option<u16>,
    /// The `Retry-After` header, as sent.
    pub retry_after: Option<String>,
}

impl OriginAnswer {
    /// Whether the origin took the event (2xx).
    pub fn accepted(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    /// The answer as stored and shown: its status (`503`), or `no_answer`.
    pub fn status_word(&self) -> String {
        self.status
            .map_or_else(|| "no_answer".to_string(), |s| s.to_string())
    }

    /// An answer read back from its [`OriginAnswer::status_word`] (without `Retry-After`).
    pub fn from_status_word(word: &str) -> OriginAnswer {
        OriginAnswer {
            status: word.parse().ok(),
            retry_after: None,
        }
    }
}

/// Why a queued event is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No answer, a timeout, a redirect, 408, 429 or 5xx.
    Unavailable,
    /// Another 4xx: the origin refused this event. Retried all the same, so that the
    /// dead-letter queue keeps it for an operator.
    Rejected,
    /// The message is not an event webim-edge wrote; retried until the dead-letter queue.
    Unreadable,
    /// The settings are invalid, so nothing can be sent; retried until an operator fixes them.
    Misconfigured,
}

/// What to do with a queued event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The origin took it: acknowledge the message.
    Done,
    /// Retry after `delay_seconds`.
    Retry {
        /// Seconds until the next attempt.
        delay_seconds: u32,
        /// Why.
        reason: Reason,
    },
}

impl Next {
    /// The log's outcome for this attempt.
    pub fn outcome(self) -> &'static str {
        match self {
            Next::Done => "delivered",
            Next::Retry {
                reason: Reason::Unavailable,
                ..
            } => "origin_unavailable",
            Next::Retry {
                reason: Reason::Rejected,
                ..
            } => "origin_rejected",
            Next::Retry {
                reason: Reason::Unreadable,
                ..
            } => "malformed_message",
            Next::Retry {
                reason: Reason::Misconfigured,
                ..
            } => "misconfigured",
        }
    }
}

/// The wait before retry `n` (1-based): `min(base · 2^(n−1), 900)` seconds.
pub fn backoff_seconds(retry: u32, base_seconds: u64) -> u64 {
    let doublings = retry.saturating_sub(1).min(32);
    base_seconds
        .saturating_mul(1u64 << doublings)
        .min(MAX_BACKOFF_SECONDS)
}

/// `Retry-After` as seconds from `now_secs`: delta-seconds (any number of digits; too many
/// for an integer reads as the cap) or an HTTP date in any of RFC 9110's three forms.
pub fn retry_after_seconds(value: &str, now_secs: u64) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.parse::<u64>().unwrap_or(MAX_RETRY_DELAY_SECONDS));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(at.saturating_sub(now_secs))
}

/// The decision after attempt number `attempt` (1-based, as the queue counts deliveries).
pub fn after_attempt(
    answer: &OriginAnswer,
    attempt: u32,
    now_secs: u64,
    base_seconds: u64,
) -> Next {
    if answer.accepted() {
        return Next::Done;
    }
    let mut delay = backoff_seconds(attempt.max(1), base_seconds);
    if matches!(answer.status, Some(429 | 503)) {
        if let Some(asked) = answer
            .retry_after
            .as_deref()
            .and_then(|v| retry_after_seconds(v, now_secs))
        {
            delay = delay.max(asked);
        }
    }
    let rejected =
        matches!(answer.status, Some(400..=499)) && !matches!(answer.status, Some(408 | 429));
    Next::Retry {
        delay_seconds: seconds(delay.min(MAX_RETRY_DELAY_SECONDS)),
        reason: if rejected {
            Reason::Rejected
        } else {
            Reason::Unavailable
        },
    }
}

/// The decision for a message that holds no readable event.
pub fn after_unreadable(attempt: u32, base_seconds: u64) -> Next {
    Next::Retry {
        delay_seconds: seconds(backoff_seconds(attempt.max(1), base_seconds)),
        reason: Reason::Unreadable,
    }
}

/// The first retry delay when the settings cannot say (`RETRY_BASE_SECONDS`' default).
pub const DEFAULT_BASE_SECONDS: u64 = 5;

/// The decision for a message that arrives while the settings are invalid: back off as for an
/// origin failure, so that the retries last until an operator can fix the settings.
pub fn after_misconfigured(attempt: u32) -> Next {
    Next::Retry {
        delay_seconds: seconds(backoff_seconds(attempt.max(1), DEFAULT_BASE_SECONDS)),
        reason: Reason::Misconfigured,
    }
}

fn seconds(delay: u64) -> u32 {
    u32::try_from(delay).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: Option<u16>, retry_after: Option<&str>) -> OriginAnswer {
        OriginAnswer {
            status,
            retry_after: retry_after.map(str::to_string),
        }
    }

    fn delay(next: Next) -> u32 {
        match next {
            Next::Retry { delay_seconds, .. } => delay_seconds,
            Next::Done => panic!("expected a retry"),
        }
    }

    #[test]
    fn a_status_word_reads_back_as_its_answer() {
        for status in [None, Some(204), Some(503)] {
            let answer = OriginAnswer {
                status,
                retry_after: None,
            };
            assert_eq!(
                OriginAnswer::from_status_word(&answer.status_word()),
                answer
            );
        }
        assert_eq!(OriginAnswer::default().status_word(), "no_answer");
    }

    #[test]
    fn backoff_doubles_from_five_seconds_and_caps_at_fifteen_minutes() {
        let delays: Vec<u64> = (1..=10).map(|n| backoff_seconds(n, 5)).collect();
        assert_eq!(delays, vec![5, 10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(backoff_seconds(u32::MAX, 5), 900);
        assert_eq!(backoff_seconds(3, 1), 4);
    }

    #[test]
    fn success_is_done_and_every_failure_is_retried() {
        assert_eq!(after_attempt(&answer(Some(200), None), 1, 0, 5), Next::Done);
        assert_eq!(after_attempt(&answer(Some(204), None), 3, 0, 5), Next::Done);
        for status in [None, Some(301), Some(408), Some(429), Some(500), Some(503)] {
            let next = after_attempt(&answer(status, None), 2, 0, 5);
            let expected = Next::Retry {
                delay_seconds: 10,
                reason: Reason::Unavailable,
            };
            assert_eq!(next, expected, "{status:?}");
            assert_eq!(next.outcome(), "origin_unavailable");
        }
        for status in [400, 401, 404, 422] {
            let next = after_attempt(&answer(Some(status), None), 1, 0, 5);
            assert_eq!(
                next,
                Next::Retry {
                    delay_seconds: 5,
                    reason: Reason::Rejected
                }
            );
            assert_eq!(next.outcome(), "origin_rejected");
        }
    }

    #[test]
    fn retry_after_lengthens_the_wait_on_429_and_503_only() {
        assert_eq!(
            delay(after_attempt(&answer(Some(503), Some("120")), 1, 0, 5)),
            120
        );
        assert_eq!(
            delay(after_attempt(&answer(Some(429), Some("1")), 3, 0, 5)),
            20
        );
        assert_eq!(
            delay(after_attempt(&answer(Some(500), Some("120")), 1, 0, 5)),
            5
        );
        assert_eq!(
            delay(after_attempt(&answer(Some(503), Some("999999")), 1, 0, 5)),
            43_200
        );
        assert_eq!(
            delay(after_attempt(&answer(Some(503), Some("soon")), 1, 0, 5)),
            5
        );
        // 1994-11-06T08:49:37Z is 784111777; asked for 300 s later.
        assert_eq!(
            delay(after_attempt(
                &answer(Some(503), Some("Sun, 06 Nov 1994 08:54:37 GMT")),
                1,
                784_111_777,
                5
            )),
            300
        );
        assert_eq!(
            delay(after_attempt(
                &answer(Some(503), Some("Sun, 06 Nov 1994 08:49:37 GMT")),
                1,
                784_111_800,
                5
            )),
            5
        );
    }

    #[test]
    fn retry_after_reads_every_rfc_9110_form_and_caps_huge_numbers() {
        // 1994-11-06T08:49:37Z is 784111777.
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                retry_after_seconds(form, 784_111_777 - 60),
                Some(60),
                "{form}"
            );
        }
        assert_eq!(
            retry_after_seconds("99999999999999999999999", 0),
            Some(MAX_RETRY_DELAY_SECONDS)
        );
        assert_eq!(
            delay(after_attempt(
                &answer(Some(429), Some("184467440737095516160")),
                1,
                0,
                5
            )),
            43_200
        );
        assert_eq!(retry_after_seconds("-5", 0), None);
        assert_eq!(
            retry_after_seconds("Sün, 06 Nov 1994 08:49:37 GMT", 0),
            None
        );
    }

    #[test]
    fn unreadable_messages_back_off_too() {
        let next = after_unreadable(3, 5);
        assert_eq!(
            next,
            Next::Retry {
                delay_seconds: 20,
                reason: Reason::Unreadable
            }
        );
        assert_eq!(next.outcome(), "malformed_message");
        let next = after_misconfigured(4);
        assert_eq!(
            next,
            Next::Retry {
                delay_seconds: 40,
                reason: Reason::Misconfigured
            }
        );
        assert_eq!(next.outcome(), "misconfigured");
        assert_eq!(Next::Done.outcome(), "delivered");
    }
}
