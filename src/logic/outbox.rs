//! The outbox (contract §11) as pure functions over one chat's event records and the time: which
//! event goes next, when the chat's object must wake up, what an attempt's answer makes of the
//! event, and what the sweep deletes. The shell (`ChatOutbox`) stores the records in SQLite and
//! does the I/O; every decision is here.
//!
//! The rule, for one chat:
//! - Events go one at a time, in the chat's order: `chat_started` first, `chat_assigned` in
//!   arrival order, `chat_closed` last ([`order_key`]).
//! - The event at the front of the chat is the one being tried (an event with attempts left
//!   and at least one made), else the first pending event in that order. Only the front is
//!   ever attempted, so a later event waits until the front is delivered or dead.
//! - While the chat has no `chat_started`, its events wait for it, at most
//!   `ORDER_HOLD_SECONDS` from the chat's first arrival; then they go anyway, and a
//!   `chat_started` that comes later goes after whatever has already been tried.
//! - A failed attempt waits its backoff (contract §7); after `MAX_ATTEMPTS` attempts the event is
//!   dead, and the chat's later events go on.
//! - A delivered or dead event is kept `OUTBOX_RETENTION_DAYS` from that moment (up to an hour
//!   more, so that one wake-up sweeps a chat's events together), then swept. A pending event
//!   is never swept: `MAX_ATTEMPTS` ends it.

use serde::Serialize;

use crate::logic::event::EventType;
use crate::logic::retry::{self, Next, OriginAnswer};
use crate::logic::settings::Settings;
use crate::logic::times;

/// An event's stored state. `held` is not stored: it is a pending event that is not at the
/// front of its chat ([`view_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not yet delivered: waiting for its turn, its hold, or its next attempt.
    Pending,
    /// The origin took it.
    Delivered,
    /// `MAX_ATTEMPTS` attempts failed; kept and replayable.
    Dead,
}

impl State {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Delivered => "delivered",
            State::Dead => "dead",
        }
    }

    /// The state a stored word names.
    pub fn parse(word: &str) -> Option<State> {
        [State::Pending, State::Delivered, State::Dead]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

/// What the state machine needs of one stored event (never its body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The event id.
    pub id: String,
    /// The event type.
    pub event_type: EventType,
    /// Arrival order within the chat (1, 2, …).
    pub seq: u64,
    /// Stored state.
    pub state: State,
    /// Attempts made since it was accepted or last replayed.
    pub attempts: u32,
    /// When the next attempt is due (unix ms); pending events only.
    pub next_at_ms: u64,
    /// When the outbox accepted it (unix ms).
    pub received_at_ms: u64,
    /// When it was delivered or died (unix ms).
    pub finished_at_ms: Option<u64>,
}

/// The outbox settings, in milliseconds where they are times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// `ORDER_HOLD_SECONDS`, in ms.
    pub order_hold_ms: u64,
    /// `OUTBOX_RETENTION_DAYS`, in ms.
    pub retention_ms: u64,
    /// `RETRY_BASE_SECONDS`.
    pub retry_base_seconds: u64,
}

impl Policy {
    /// The outbox's part of the settings.
    pub fn from_settings(settings: &Settings) -> Policy {
        Policy {
            max_attempts: settings.max_attempts,
            order_hold_ms: settings.order_hold_seconds.saturating_mul(1000),
            retention_ms: settings.outbox_retention_days.saturating_mul(86_400_000),
            retry_base_seconds: settings.retry_base_seconds,
        }
    }
}

impl Policy {
    /// The policy of an object that holds an event whose chat has no id: it is alone, so it
    /// has no `chat_started` to wait for.
    pub fn without_chat(self) -> Policy {
        Policy {
            order_hold_ms: 0,
            ..self
        }
    }
}

/// The chat's order: `chat_started`, then `chat_assigned` by arrival, then `chat_closed`.
pub fn order_key(record: &Record) -> (u8, u64) {
    let rank = match record.event_type {
        EventType::ChatStarted => 0,
        EventType::ChatAssigned => 1,
        EventType::ChatClosed => 2,
    };
    (rank, record.seq)
}

/// The event at the front of the chat: the one being tried, else the first pending one in the
/// chat's order. `None` when nothing is pending.
pub fn front(records: &[Record]) -> Option<&Record> {
    let pending = || records.iter().filter(|r| r.state == State::Pending);
    pending()
        .filter(|r| r.attempts > 0)
        .min_by_key(|r| order_key(r))
        .or_else(|| pending().min_by_key(|r| order_key(r)))
}

/// Until when the chat's events wait for its `chat_started`: `None` when there is one (in any
/// state), else the chat's first arrival plus the hold.
pub fn hold_until(records: &[Record], policy: &Policy) -> Option<u64> {
    if records
        .iter()
        .any(|r| r.event_type == EventType::ChatStarted)
    {
        return None;
    }
    let first = records.iter().map(|r| r.received_at_ms).min()?;
    Some(first.saturating_add(policy.order_hold_ms))
}

/// When the front event may be attempted.
pub fn due_at(records: &[Record], front: &Record, policy: &Policy) -> u64 {
    let hold = match front.event_type {
        EventType::ChatStarted => None,
        _ => hold_until(records, policy),
    };
    front.next_at_ms.max(hold.unwrap_or(0))
}

/// What the chat's object does now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The event to attempt now, if one is due.
    pub deliver: Option<String>,
    /// When to wake up next (unix ms): the front's due time or the next sweep; `None` when
    /// the chat holds nothing.
    pub wake_at_ms: Option<u64>,
}

/// How much later than its retention a finished event may be swept, so that one wake-up
/// sweeps every event of a chat that finished within the same hour (rather than one alarm per
/// event).
pub const SWEEP_BATCH_MS: u64 = 3_600_000;

/// When the object wakes to sweep: an hour after the oldest finished event's retention ends.
pub fn next_sweep_at(records: &[Record], policy: &Policy) -> Option<u64> {
    records
        .iter()
        .filter_map(|r| r.finished_at_ms)
        .min()
        .map(|at| at.saturating_add(policy.retention_ms + SWEEP_BATCH_MS))
}

/// The decision for one chat at `now_ms`.
pub fn plan(records: &[Record], now_ms: u64, policy: &Policy) -> Plan {
    let sweep = next_sweep_at(records, policy);
    match front(records) {
        Some(front) => {
            let due = due_at(records, front, policy);
            if due <= now_ms {
                Plan {
                    deliver: Some(front.id.clone()),
                    wake_at_ms: Some(now_ms),
                }
            } else {
                Plan {
                    deliver: None,
                    wake_at_ms: Some(sweep.map_or(due, |s| s.min(due))),
                }
            }
        }
        None => Plan {
            deliver: None,
            wake_at_ms: sweep,
        },
    }
}

/// What an attempt made of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The origin took it.
    Delivered,
    /// Another attempt is due at `next_at_ms`.
    Retry {
        /// When (unix ms).
        next_at_ms: u64,
    },
    /// Its attempts are used up.
    Dead,
}

impl Outcome {
    /// The log line's `outcome` for this attempt.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry { .. } => "retry",
            Outcome::Dead => "dead",
        }
    }
}

/// The event's next state after attempt number `attempts` (1-based, this attempt included)
/// was answered with `answer` at `now_ms`.
pub fn after_attempt(
    answer: &OriginAnswer,
    attempts: u32,
    now_ms: u64,
    policy: &Policy,
) -> Outcome {
    match retry::after_attempt(answer, attempts, now_ms / 1000, policy.retry_base_seconds) {
        Next::Done => Outcome::Delivered,
        Next::Retry { .. } if attempts >= policy.max_attempts => Outcome::Dead,
        Next::Retry { delay_seconds, .. } => Outcome::Retry {
            next_at_ms: now_ms.saturating_add(u64::from(delay_seconds) * 1000),
        },
    }
}

/// Finished events whose retention has passed at `now_ms`: their rows, attempts included, are
/// deleted.
pub fn swept<'a>(records: &'a [Record], now_ms: u64, policy: &Policy) -> Vec<&'a str> {
    records
        .iter()
        .filter(|r| {
            r.finished_at_ms
                .is_some_and(|at| at.saturating_add(policy.retention_ms) <= now_ms)
        })
        .map(|r| r.id.as_str())
        .collect()
}

/// What the admin view calls an event's state: a pending event not at the front is `held`.
pub fn view_state(records: &[Record], record: &Record) -> &'static str {
    match record.state {
        State::Pending if front(records).is_some_and(|f| f.id != record.id) => "held",
        state => state.as_str(),
    }
}

/// The chat's events in the order they go (delivered and dead ones first, in the order they
/// finished, then the pending ones in the order they will go).
pub fn in_order(records: &[Record]) -> Vec<&Record> {
    let mut finished: Vec<&Record> = records
        .iter()
        .filter(|r| r.state != State::Pending)
        .collect();
    sort_by_key(&mut finished, |r| (r.finished_at_ms, r.seq));
    let mut pending: Vec<&Record> = records
        .iter()
        .filter(|r| r.state == State::Pending)
        .collect();
    sort_by_key(&mut pending, |r| order_key(r));
    if let Some(front) = front(records) {
        pending.retain(|r| r.id != front.id);
        pending.insert(0, front);
    }
    finished.extend(pending);
    finished
}

/// A stable sort by key, by insertion: a chat holds few events, and the standard library's
/// sort would add about 14 KB of code to the wasm (two key types, two copies).
fn sort_by_key<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && key(&items[j - 1]) > key(&items[j]) {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Deliveries one alarm run makes before it yields (the next run follows at once), so that one
/// run stays well inside the time an alarm may take.
pub const DELIVERIES_PER_ALARM: usize = 25;

/// How soon an object whose settings are invalid looks at them again.
pub const MISCONFIGURED_RETRY_MS: u64 = 60_000;

/// How soon a run that failed (a storage error, an exception, a trap) is tried again. The
/// object sets this wake-up when it stores an event and at the start of every alarm run,
/// before anything can fail, and again when an error leaves the run, so that it never depends
/// on a run finishing or on the platform retrying an alarm.
pub const AFTER_ERROR_MS: u64 = 30_000;

/// How long a run of an object may be under way before it is taken to be lost (an await that
/// never settled): the next run asked for takes over. Longer than any run can take: at most
/// [`DELIVERIES_PER_ALARM`] attempts of at most 120 s each (`ORIGIN_TIMEOUT_MS`'s bound).
pub const RUN_LOST_AFTER_MS: u64 = 3_600_000;

/// Whether a run that started at `started_ms` is lost at `now_ms`.
pub fn run_is_lost(started_ms: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(started_ms) >= RUN_LOST_AFTER_MS
}

/// The slower safety wake-up: while anything is pending or owed, the object wakes at least this
/// often, whatever became of the wake-up its plan set.
pub const SAFETY_WAKE_MS: u64 = 900_000;

/// When the object wakes next: the plan's time, the next notice's, and the safety wake-up while
/// anything is pending or owed; `None` when nothing is left to do.
pub fn next_wake(
    planned: Option<u64>,
    notices_at: Option<u64>,
    busy: bool,
    now_ms: u64,
) -> Option<u64> {
    let safety = busy.then(|| now_ms.saturating_add(SAFETY_WAKE_MS));
    [planned, notices_at, safety].into_iter().flatten().min()
}

/// One stored event as the admin view shows it: its record and what else is stored of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// What the state machine reads.
    pub record: Record,
    /// The chat's id.
    pub chat_id: Option<String>,
    /// The origin's last status word.
    pub last_status: Option<String>,
    /// Bytes of the clean event still stored (none once delivered).
    pub stored_bytes: u64,
    /// The attempts as [`attempt_entry`] appended them.
    pub attempt_log: String,
}

/// `GET /admin/chats/{chat id}` (contract §12): the chat's events in the order they go, each
/// with its state and every attempt, as JSON.
pub fn chat_view(stored: &[Stored]) -> Vec<u8> {
    #[derive(Serialize)]
    struct AttemptView<'a> {
        at: String,
        status: &'a str,
        duration_ms: u64,
    }
    #[derive(Serialize)]
    struct EventView<'a> {
        id: &'a str,
        #[serde(rename = "type")]
        event_type: &'static str,
        state: &'static str,
        attempts: u32,
        received_at: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_attempt_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        finished_at: Option<String>,
        last_status: Option<&'a str>,
        stored_bytes: u64,
        attempt_log: Vec<AttemptView<'a>>,
    }
    #[derive(Serialize)]
    struct ChatView<'a> {
        chat_id: Option<&'a str>,
        events: Vec<EventView<'a>>,
    }
    let records: Vec<Record> = stored.iter().map(|s| s.record.clone()).collect();
    let events = in_order(&records)
        .into_iter()
        .filter_map(|record| {
            let s = stored.iter().find(|s| s.record.id == record.id)?;
            Some(EventView {
                id: &s.record.id,
                event_type: record.event_type.as_str(),
                state: view_state(&records, record),
                attempts: record.attempts,
                received_at: times::format_millis(record.received_at_ms),
                next_attempt_at: (record.state == State::Pending)
                    .then(|| times::format_millis(record.next_at_ms)),
                finished_at: record.finished_at_ms.map(times::format_millis),
                last_status: s.last_status.as_deref(),
                stored_bytes: s.stored_bytes,
                attempt_log: attempts_in(&s.attempt_log)
                    .into_iter()
                    .map(|(at, status, duration_ms)| AttemptView {
                        at: times::format_millis(at),
                        status,
                        duration_ms,
                    })
                    .collect(),
            })
        })
        .collect();
    let view = ChatView {
        chat_id: stored.iter().find_map(|s| s.chat_id.as_deref()),
        events,
    };
    serde_json::to_vec(&view).unwrap_or_default()
}

/// One attempt as appended to its event's stored log: `at_ms,status,duration_ms;`.
pub fn attempt_entry(at_ms: u64, status: &str, duration_ms: u64) -> String {
    format!("{at_ms},{status},{duration_ms};")
}

/// The attempts of a stored log, oldest first: (at ms, status, duration ms).
pub fn attempts_in(log: &str) -> Vec<(u64, &str, u64)> {
    log.split_terminator(';')
        .filter_map(|entry| {
            let mut parts = entry.splitn(3, ',');
            let at = parts.next()?.parse().ok()?;
            let status = parts.next()?;
            let duration = parts.next()?.parse().ok()?;
            Some((at, status, duration))
        })
        .collect()
}

#[cfg(test)]
mod run_tests {
    use super::*;

    #[test]
    fn a_run_is_lost_only_after_the_longest_a_run_can_take() {
        let longest = DELIVERIES_PER_ALARM as u64 * 120_000;
        assert!(RUN_LOST_AFTER_MS > longest);
        assert!(!run_is_lost(1_000, 1_000 + longest));
        assert!(run_is_lost(1_000, 1_000 + RUN_LOST_AFTER_MS));
        // A clock that went back is no loss.
        assert!(!run_is_lost(5_000, 1_000));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use EventType::{ChatAssigned as A, ChatClosed as C, ChatStarted as S};

    const POLICY: Policy = Policy {
        max_attempts: 3,
        order_hold_ms: 60_000,
        retention_ms: 7 * 86_400_000,
        retry_base_seconds: 5,
    };

    fn rec(id: &str, event_type: EventType, seq: u64, received_at_ms: u64) -> Record {
        Record {
            id: id.into(),
            event_type,
            seq,
            state: State::Pending,
            attempts: 0,
            next_at_ms: received_at_ms,
            received_at_ms,
            finished_at_ms: None,
        }
    }

    fn status(code: u16) -> OriginAnswer {
        OriginAnswer {
            status: Some(code),
            retry_after: None,
        }
    }

    #[test]
    fn started_goes_first_then_assigned_in_arrival_order_then_closed() {
        let records = vec![
            rec("c", C, 1, 0),
            rec("a2", A, 2, 0),
            rec("a1", A, 3, 0),
            rec("s", S, 4, 0),
        ];
        let order: Vec<&str> = in_order(&records).iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["s", "a2", "a1", "c"]);
        assert_eq!(plan(&records, 0, &POLICY).deliver.as_deref(), Some("s"));
        assert_eq!(view_state(&records, &records[0]), "held");
        assert_eq!(view_state(&records, &records[3]), "pending");
    }

    #[test]
    fn without_chat_started_events_wait_for_the_hold_then_go() {
        let records = vec![rec("c", C, 1, 1_000), rec("a", A, 2, 5_000)];
        let p = plan(&records, 2_000, &POLICY);
        assert_eq!(p.deliver, None);
        // The hold counts from the chat's first arrival.
        assert_eq!(p.wake_at_ms, Some(61_000));
        assert_eq!(
            plan(&records, 61_000, &POLICY).deliver.as_deref(),
            Some("a")
        );
        let policy = Policy {
            order_hold_ms: 0,
            ..POLICY
        };
        assert_eq!(plan(&records, 5_000, &policy).deliver.as_deref(), Some("a"));
    }

    #[test]
    fn an_event_without_a_chat_does_not_wait() {
        let records = vec![rec("c", C, 1, 1_000)];
        assert_eq!(plan(&records, 1_000, &POLICY).deliver, None);
        assert_eq!(
            plan(&records, 1_000, &POLICY.without_chat())
                .deliver
                .as_deref(),
            Some("c")
        );
    }

    #[test]
    fn a_late_chat_started_goes_after_the_event_already_being_tried() {
        let mut records = vec![rec("a", A, 1, 0)];
        records[0].attempts = 1;
        records[0].next_at_ms = 70_000;
        records.push(rec("s", S, 2, 65_000));
        let p = plan(&records, 66_000, &POLICY);
        assert_eq!(p.deliver, None);
        assert_eq!(p.wake_at_ms, Some(70_000));
        assert_eq!(
            plan(&records, 70_000, &POLICY).deliver.as_deref(),
            Some("a")
        );
        assert_eq!(view_state(&records, &records[1]), "held");
        records[0].state = State::Delivered;
        records[0].finished_at_ms = Some(70_000);
        assert_eq!(
            plan(&records, 70_000, &POLICY).deliver.as_deref(),
            Some("s")
        );
    }

    #[test]
    fn retries_back_off_and_the_last_attempt_kills() {
        assert_eq!(
            after_attempt(&status(204), 1, 10_000, &POLICY),
            Outcome::Delivered
        );
        assert_eq!(
            after_attempt(&status(500), 1, 10_000, &POLICY),
            Outcome::Retry { next_at_ms: 15_000 }
        );
        assert_eq!(
            after_attempt(&status(500), 2, 10_000, &POLICY),
            Outcome::Retry { next_at_ms: 20_000 }
        );
        let slow = OriginAnswer {
            status: Some(503),
            retry_after: Some("120".into()),
        };
        assert_eq!(
            after_attempt(&slow, 1, 10_000, &POLICY),
            Outcome::Retry {
                next_at_ms: 130_000
            }
        );
        assert_eq!(after_attempt(&status(500), 3, 0, &POLICY), Outcome::Dead);
        assert_eq!(
            after_attempt(&OriginAnswer::default(), 3, 0, &POLICY),
            Outcome::Dead
        );
        let codes = [
            Outcome::Delivered,
            Outcome::Retry { next_at_ms: 0 },
            Outcome::Dead,
        ]
        .map(Outcome::code);
        assert_eq!(codes, ["delivered", "retry", "dead"]);
    }

    #[test]
    fn a_dead_event_lets_the_chat_go_on() {
        let mut records = vec![rec("s", S, 1, 0), rec("c", C, 2, 0)];
        records[0].state = State::Dead;
        records[0].attempts = 3;
        records[0].finished_at_ms = Some(100);
        assert_eq!(plan(&records, 100, &POLICY).deliver.as_deref(), Some("c"));
    }

    #[test]
    fn finished_events_are_swept_after_retention_and_pending_ones_never() {
        let mut records = vec![rec("s", S, 1, 0), rec("a", A, 2, 0), rec("c", C, 3, 0)];
        records[0].state = State::Delivered;
        records[0].finished_at_ms = Some(1_000);
        records[1].state = State::Dead;
        records[1].finished_at_ms = Some(2_000);
        records[2].next_at_ms = u64::MAX / 2;
        let p = plan(&records, 3_000, &POLICY);
        assert_eq!(p.deliver, None);
        let sweep_at = 1_000 + POLICY.retention_ms + SWEEP_BATCH_MS;
        assert_eq!(p.wake_at_ms, Some(sweep_at));
        // That wake-up sweeps both finished events.
        assert_eq!(swept(&records, sweep_at, &POLICY), ["s", "a"]);
        assert!(swept(&records, 1_000 + POLICY.retention_ms - 1, &POLICY).is_empty());
        assert_eq!(swept(&records, 1_000 + POLICY.retention_ms, &POLICY), ["s"]);
        assert_eq!(swept(&records, u64::MAX, &POLICY), ["s", "a"]);
        let finished = vec![records[0].clone()];
        assert_eq!(plan(&finished, 3_000, &POLICY).wake_at_ms, Some(sweep_at));
        assert_eq!(
            plan(&[], 3_000, &POLICY),
            Plan {
                deliver: None,
                wake_at_ms: None
            }
        );
    }

    #[test]
    fn the_next_wake_is_the_soonest_and_never_later_than_the_safety_while_busy() {
        assert_eq!(next_wake(Some(5), Some(3), true, 0), Some(3));
        assert_eq!(next_wake(None, None, true, 10), Some(10 + SAFETY_WAKE_MS));
        assert_eq!(
            next_wake(Some(u64::MAX / 2), None, true, 10),
            Some(10 + SAFETY_WAKE_MS)
        );
        assert_eq!(next_wake(Some(99), None, false, 10), Some(99));
        assert_eq!(next_wake(None, None, false, 10), None);
    }

    #[test]
    fn the_chat_view_lists_events_in_order_with_their_attempts() {
        let mut started = rec("s", S, 2, 1_000);
        started.state = State::Delivered;
        started.attempts = 2;
        started.finished_at_ms = Some(7_000);
        let stored = [
            Stored {
                record: rec("c", C, 1, 0),
                chat_id: Some("42".into()),
                last_status: None,
                stored_bytes: 10,
                attempt_log: String::new(),
            },
            Stored {
                record: started,
                chat_id: Some("42".into()),
                last_status: Some("204".into()),
                stored_bytes: 0,
                attempt_log: attempt_entry(1_000, "503", 5) + &attempt_entry(6_000, "204", 7),
            },
        ];
        let v: serde_json::Value = serde_json::from_slice(&chat_view(&stored)).unwrap();
        assert_eq!(v["chat_id"], "42");
        assert_eq!(v["events"][0]["id"], "s");
        assert_eq!(v["events"][0]["state"], "delivered");
        assert_eq!(v["events"][0]["attempt_log"][1]["status"], "204");
        assert_eq!(v["events"][0]["attempt_log"][1]["duration_ms"], 7);
        assert!(v["events"][0].get("next_attempt_at").is_none());
        assert_eq!(v["events"][1]["state"], "pending");
        assert_eq!(
            v["events"][1]["next_attempt_at"],
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn stored_words_read_back() {
        assert_eq!(State::parse("dead"), Some(State::Dead));
        assert_eq!(State::parse("held"), None);
        assert_eq!(OriginAnswer::default().status_word(), "no_answer");
    }

    #[test]
    fn the_insertion_sort_orders_like_the_standard_stable_sort() {
        let mut seed = 7u32;
        for len in 0..60 {
            let items: Vec<(u8, usize)> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    ((seed >> 16) as u8 % 5, i)
                })
                .collect();
            let mut ours = items.clone();
            sort_by_key(&mut ours, |x| x.0);
            let mut std = items;
            std.sort_by_key(|x| x.0);
            assert_eq!(ours, std);
        }
    }

    #[test]
    fn attempts_are_logged_in_one_text_column() {
        let log = [
            attempt_entry(1_000, "503", 12),
            attempt_entry(6_000, "no_answer", 10_000),
            attempt_entry(16_000, "204", 7),
        ]
        .concat();
        assert_eq!(
            attempts_in(&log),
            vec![
                (1_000, "503", 12),
                (6_000, "no_answer", 10_000),
                (16_000, "204", 7)
            ]
        );
        assert!(attempts_in("").is_empty());
    }

    /// One chat simulated over time: events arrive at their times, the object wakes when its
    /// plan says, each attempt fails or succeeds as `fails` says.
    struct Sim {
        records: Vec<Record>,
        /// (event id, attempt at ms, delivered?) in the order they happened.
        attempts: Vec<(String, u64, bool)>,
    }

    /// `arrivals`: (type, arrival ms) in arrival order. `fails(id, attempt)` says whether that
    /// attempt fails.
    fn simulate(
        arrivals: &[(EventType, u64)],
        policy: &Policy,
        fails: &dyn Fn(usize, u32) -> bool,
    ) -> Sim {
        let mut sim = Sim {
            records: Vec::new(),
            attempts: Vec::new(),
        };
        let mut next_arrival = 0;
        let mut now = 0u64;
        for _ in 0..10_000 {
            while next_arrival < arrivals.len() && arrivals[next_arrival].1 <= now {
                let (event_type, at) = arrivals[next_arrival];
                next_arrival += 1;
                let seq = next_arrival as u64;
                sim.records
                    .push(rec(&format!("e{}", next_arrival - 1), event_type, seq, at));
            }
            let p = plan(&sim.records, now, policy);
            if let Some(id) = p.deliver {
                let index = sim.records.iter().position(|r| r.id == id).unwrap();
                let attempts = sim.records[index].attempts + 1;
                let failed = fails(index, attempts);
                let answer = status(if failed { 500 } else { 204 });
                sim.attempts.push((id.clone(), now, !failed));
                let r = &mut sim.records[index];
                r.attempts = attempts;
                match after_attempt(&answer, attempts, now, policy) {
                    Outcome::Delivered => {
                        r.state = State::Delivered;
                        r.finished_at_ms = Some(now);
                    }
                    Outcome::Dead => {
                        r.state = State::Dead;
                        r.finished_at_ms = Some(now);
                    }
                    Outcome::Retry { next_at_ms } => r.next_at_ms = next_at_ms,
                }
                now += 1;
                continue;
            }
            let arrival = arrivals.get(next_arrival).map(|a| a.1);
            let wake = p
                .wake_at_ms
                .filter(|_| sim.records.iter().any(|r| r.state == State::Pending));
            match (wake, arrival) {
                (None, None) => break,
                (w, a) => now = now.max(w.into_iter().chain(a).min().unwrap_or(now)),
            }
        }
        sim
    }

    /// A chat's events: one `chat_started`, `n` `chat_assigned`, maybe a `chat_closed`, in a
    /// shuffled arrival order at increasing times.
    fn chat_events() -> impl Strategy<Value = Vec<(EventType, u64)>> {
        (0usize..5, any::<bool>())
            .prop_flat_map(|(assigned, closed)| {
                let mut types = vec![S];
                types.extend(std::iter::repeat_n(A, assigned));
                if closed {
                    types.push(C);
                }
                let n = types.len();
                (
                    Just(types).prop_shuffle(),
                    proptest::collection::vec(0u64..120_000, n),
                )
            })
            .prop_map(|(types, mut gaps)| {
                gaps.sort_unstable();
                types.into_iter().zip(gaps).collect()
            })
    }

    proptest! {
        #[test]
        fn any_arrival_order_and_failure_pattern_keeps_the_rule(
            arrivals in chat_events(),
            fail_bits in proptest::collection::vec(any::<bool>(), 64),
            hold_s in 0u64..120,
            max_attempts in 1u32..4,
        ) {
            let policy = Policy { max_attempts, order_hold_ms: hold_s * 1000, retry_base_seconds: 1, ..POLICY };
            let fails = |index: usize, attempt: u32| fail_bits[(index * 7 + attempt as usize) % 64];
            let sim = simulate(&arrivals, &policy, &fails);

            // Nothing lost: every event ends delivered or dead, delivered at most once.
            prop_assert_eq!(sim.records.len(), arrivals.len());
            for r in &sim.records {
                prop_assert!(r.state != State::Pending, "{} still pending", r.id);
                let delivered = sim.attempts.iter().filter(|a| a.0 == r.id && a.2).count();
                prop_assert_eq!(delivered, usize::from(r.state == State::Delivered));
                prop_assert!(r.attempts <= max_attempts);
            }

            // One at a time: each event's attempts are one unbroken run that ends with its
            // delivery or its death; no event is tried again once another one was.
            let mut runs: Vec<&str> = Vec::new();
            for (id, _, _) in &sim.attempts {
                if runs.last() != Some(&id.as_str()) {
                    prop_assert!(!runs.contains(&id.as_str()), "{} resumed after another", id);
                    runs.push(id);
                }
            }
            for (i, id) in runs.iter().enumerate().take(runs.len().saturating_sub(1)) {
                let last = sim.attempts.iter().rfind(|a| a.0 == *id).unwrap();
                let r = sim.records.iter().find(|r| r.id == *id).unwrap();
                prop_assert!(last.2 || r.state == State::Dead, "{} left before it finished ({i})", id);
            }
            let first_try = |id: &str| sim.attempts.iter().find(|a| a.0 == id).map(|a| a.1);
            let started = sim.records.iter().find(|r| r.event_type == S).unwrap();
            let window_end = sim.records.iter().map(|r| r.received_at_ms).min().unwrap() + policy.order_hold_ms;
            // chat_started first whenever it arrived within the hold.
            if started.received_at_ms < window_end {
                prop_assert_eq!(runs[0], started.id.as_str());
            }
            for a in &sim.records {
                let a_at = first_try(&a.id).unwrap();
                for b in &sim.records {
                    let b_at = first_try(&b.id).unwrap();
                    // chat_assigned in arrival order.
                    if a.event_type == A && b.event_type == A && a.seq < b.seq {
                        prop_assert!(a_at < b_at, "assigned out of order");
                    }
                    // chat_closed after every event that had arrived when it went.
                    if a.event_type == C && b.id != a.id && b.received_at_ms <= a_at {
                        prop_assert!(b_at < a_at, "{} arrived before closed went, went after", b.id);
                    }
                }
                // Without chat_started, nothing goes during the hold.
                if a.event_type != S && started.received_at_ms > a_at {
                    prop_assert!(a_at >= window_end, "{} went during the hold", a.id);
                }
            }
        }
    }
}
