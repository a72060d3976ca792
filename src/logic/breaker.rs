//! Origin outages (contract §11): the per-origin circuit breaker as pure functions over one
//! origin's [`Health`] record and the time (unix ms, passed in). It decides when an origin is
//! down and when it is up again, when the next probe is due and which waiting chat makes it,
//! whether a failed attempt counts toward its event's `MAX_ATTEMPTS`, how fast the waiting
//! chats are released once the origin is back, and what the notices and the admin view say.
//! The shell stores the record (a few columns), keeps the list of waiting chats and does the
//! I/O.
//!
//! The rule, for one origin (named by its setting: `ORIGIN_URL`, `ORIGIN_URL_CHAT_CLOSED`, …):
//! - An availability failure is no answer (unreachable, reset, timed out), 429 or 5xx
//!   ([`is_availability_failure`]). Any other answer, a 4xx included, shows the origin up: it
//!   ends a run of failures.
//! - After `ORIGIN_DOWN_AFTER` availability failures in a row, from at least two different
//!   events, with no other answer between, the origin is down ([`report`]). One event failing
//!   alone never takes it down, however often it fails.
//! - While it is down, no chat attempts it except one probe every `ORIGIN_PROBE_SECONDS`
//!   ([`claim_probe`]), a real pending event taken in turn from the waiting chats
//!   ([`next_to_probe`]). A failed probe, or any failure that found or made the origin down,
//!   does not count toward its event's attempts ([`counts_toward_attempts`]), so no event dies
//!   while its origin is down.
//! - Any answer that shows the origin up marks it up again; the waiting chats are then woken in
//!   growing batches a second apart ([`ramp_step`], from step 0), not all at once.

use serde::Serialize;

use crate::logic::retry::OriginAnswer;
use crate::logic::times;

/// Whether an origin takes attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    /// Attempts go as usual.
    #[default]
    Up,
    /// Only one probe per `ORIGIN_PROBE_SECONDS` goes.
    Down,
}

impl State {
    /// The stored and shown word: `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Down => "down",
        }
    }

    /// The state a stored word names.
    pub fn parse(word: &str) -> Option<State> {
        [State::Up, State::Down]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

/// One origin's health, as stored (one column per field). [`Health::default`] is an origin
/// never heard from: up, no failures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    /// Up or down.
    pub state: State,
    /// When the origin entered its state (unix ms); `None` for an origin up since it was
    /// first used.
    pub since_ms: Option<u64>,
    /// Availability failures since the last answer that showed the origin up (probes
    /// included).
    pub failures_in_row: u32,
    /// The event whose failure began the run of failures.
    pub first_failed_event: Option<String>,
    /// Whether another event than [`Health::first_failed_event`] failed in the run.
    pub other_event_failed: bool,
    /// The last attempt's status word: the HTTP status (`503`) or `no_answer`.
    pub last_status: Option<String>,
    /// When the last probe started (unix ms).
    pub last_probe_at_ms: Option<u64>,
}

impl Health {
    /// Whether the origin is down: no chat may attempt it but the probe.
    pub fn is_down(&self) -> bool {
        self.state == State::Down
    }
}

/// The breaker's settings, in milliseconds where they are times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `ORIGIN_DOWN_AFTER`: availability failures in a row that mark the origin down. As they
    /// must come from two events, fewer than 2 acts as 2.
    pub down_after: u32,
    /// `ORIGIN_PROBE_SECONDS`, in ms: the time between probes while the origin is down.
    pub probe_ms: u64,
}

impl Policy {
    /// The defaults of `ORIGIN_DOWN_AFTER` (5) and `ORIGIN_PROBE_SECONDS` (30).
    pub const DEFAULT: Policy = Policy {
        down_after: 5,
        probe_ms: 30_000,
    };

    /// The policy from the settings' values: `ORIGIN_DOWN_AFTER` and `ORIGIN_PROBE_SECONDS`
    /// (at least one second).
    pub fn new(down_after: u32, probe_seconds: u64) -> Policy {
        Policy {
            down_after,
            probe_ms: probe_seconds.max(1).saturating_mul(1000),
        }
    }
}

/// Whether an answer is an availability failure: no answer at all, 429 or 5xx. Any other
/// status (2xx, 3xx, another 4xx) shows the origin up, even when it refused the event.
pub fn is_availability_failure(answer: &OriginAnswer) -> bool {
    matches!(answer.status, None | Some(429 | 500..=599))
}

/// What a report changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The origin's state did not change.
    Unchanged,
    /// The origin went down: announce it ([`down_notice`]).
    WentDown {
        /// When (unix ms): the time of the failure that took it down.
        since_ms: u64,
        /// That failure's status word.
        last_status: String,
    },
    /// The origin is up again: announce it ([`up_notice`]) and start releasing the waiting
    /// chats ([`ramp_step`]).
    CameUp {
        /// When it went down (unix ms).
        down_since_ms: u64,
        /// How long it was down (ms).
        down_for_ms: u64,
    },
}

/// The origin's health after an attempt for event `event_id` was answered with `answer` at
/// `now_ms` (a probe or not), and what changed.
///
/// An availability failure lengthens the run; once the run holds `down_after` failures and a
/// second event, an origin that was up goes down. A down origin stays down on failures. Any
/// other answer ends the run, and marks a down origin up.
pub fn report(
    health: &Health,
    event_id: &str,
    answer: &OriginAnswer,
    now_ms: u64,
    policy: &Policy,
) -> (Health, Transition) {
    let mut next = health.clone();
    next.last_status = Some(answer.status_word());
    if !is_availability_failure(answer) {
        next.failures_in_row = 0;
        next.first_failed_event = None;
        next.other_event_failed = false;
        if !health.is_down() {
            return (next, Transition::Unchanged);
        }
        let down_since_ms = health.since_ms.unwrap_or(now_ms);
        next.state = State::Up;
        next.since_ms = Some(now_ms);
        let transition = Transition::CameUp {
            down_since_ms,
            down_for_ms: now_ms.saturating_sub(down_since_ms),
        };
        return (next, transition);
    }
    next.failures_in_row = health.failures_in_row.saturating_add(1);
    match health.first_failed_event.as_deref() {
        None => next.first_failed_event = Some(event_id.to_string()),
        Some(first) if first != event_id => next.other_event_failed = true,
        Some(_) => {}
    }
    let trips = next.failures_in_row >= policy.down_after && next.other_event_failed;
    if health.is_down() || !trips {
        return (next, Transition::Unchanged);
    }
    next.state = State::Down;
    next.since_ms = Some(now_ms);
    let last_status = next.last_status.clone().unwrap_or_default();
    let transition = Transition::WentDown {
        since_ms: now_ms,
        last_status,
    };
    (next, transition)
}

/// Whether an attempt counts toward its event's `MAX_ATTEMPTS`. `origin_down` is whether the
/// origin is down after the attempt was reported (`None` when the origin's object did not
/// answer: the attempt counts as it would without the breaker). An availability failure does
/// not count when the attempt was a probe, or when the origin is down after it (it found the
/// origin down, or made it so): no event dies of an outage. Every other attempt counts, a 4xx
/// refusal included, probe or not (it showed the origin up).
pub fn counts_toward_attempts(
    was_probe: bool,
    answer: &OriginAnswer,
    origin_down: Option<bool>,
) -> bool {
    !(is_availability_failure(answer) && (was_probe || origin_down == Some(true)))
}

/// What a chat hears of an origin in answer to a report: down, up with failures in its run
/// (suspect), or up with none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Up, with no failure since the last answer that showed it up.
    Up,
    /// Up, but availability failures are running: successes are worth telling.
    Suspect,
    /// Down.
    Down,
}

impl Heard {
    /// The word an origin's object answers with.
    pub fn as_str(self) -> &'static str {
        match self {
            Heard::Up => "up",
            Heard::Suspect => "suspect",
            Heard::Down => "down",
        }
    }

    /// The state a word names.
    pub fn parse(word: &[u8]) -> Option<Heard> {
        [Heard::Up, Heard::Suspect, Heard::Down]
            .into_iter()
            .find(|h| h.as_str().as_bytes() == word)
    }

    /// What a health record tells a chat.
    pub fn of(health: &Health) -> Heard {
        match (health.is_down(), health.failures_in_row) {
            (true, _) => Heard::Down,
            (false, 0) => Heard::Up,
            (false, _) => Heard::Suspect,
        }
    }
}

/// Whether a chat tells the origin's object of an attempt (a [`report`]): every availability
/// failure; and an answer that shows the origin up when the event's previous attempt was an
/// availability failure, or while the chat last heard the origin suspect (failures running),
/// so that a success between failures ends their run. A delivery to an origin with no
/// failures running costs the shared object nothing.
pub fn reported(answer: &OriginAnswer, previous_status: Option<&str>, last_heard: Heard) -> bool {
    let failed_before = previous_status
        .is_some_and(|word| is_availability_failure(&OriginAnswer::from_status_word(word)));
    is_availability_failure(answer) || failed_before || last_heard != Heard::Up
}

/// When the next probe is due (unix ms): `probe_ms` after the origin went down or after the
/// last probe started, whichever is later. `None` while the origin is up.
pub fn next_probe_at(health: &Health, policy: &Policy) -> Option<u64> {
    if !health.is_down() {
        return None;
    }
    let from = health
        .since_ms
        .unwrap_or(0)
        .max(health.last_probe_at_ms.unwrap_or(0));
    Some(from.saturating_add(policy.probe_ms))
}

/// Whether a probe is due at `now_ms`.
pub fn probe_due(health: &Health, now_ms: u64, policy: &Policy) -> bool {
    next_probe_at(health, policy).is_some_and(|at| at <= now_ms)
}

/// Claims the probe due at `now_ms`: the health to store before the probe goes (its start
/// recorded, so that the next one is `probe_ms` later whether or not this one is ever
/// reported), or `None` when no probe is due.
pub fn claim_probe(health: &Health, now_ms: u64, policy: &Policy) -> Option<Health> {
    probe_due(health, now_ms, policy).then(|| Health {
        last_probe_at_ms: Some(now_ms),
        ..health.clone()
    })
}

/// A chat waiting for its origin to come back (only its id and times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The chat's outbox (its object name).
    pub chat: String,
    /// When the chat began waiting (unix ms).
    pub since_ms: u64,
    /// When one of its events last went as a probe (unix ms).
    pub last_probed_ms: Option<u64>,
}

/// The waiting chat whose front event goes as the next probe: chats never probed first, the
/// longest waiting among them first; then the least recently probed. Ties go to the earlier
/// wait, then to the smaller chat name. Once each probe records its time in
/// [`Waiting::last_probed_ms`], every waiting chat is probed once before any is probed again.
pub fn next_to_probe(waiting: &[Waiting]) -> Option<&Waiting> {
    // `None` sorts before any time: never probed comes first.
    waiting
        .iter()
        .min_by_key(|w| (w.last_probed_ms, w.since_ms, w.chat.as_str()))
}

/// The batch of the ramp's first step.
pub const RAMP_FIRST: u64 = 2;

/// The most chats one step of the ramp wakes.
pub const RAMP_CAP: u64 = 100;

/// The time between two steps of the ramp.
pub const RAMP_STEP_MS: u64 = 1000;

/// One step of the ramp that releases the waiting chats once their origin is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RampStep {
    /// How many waiting chats to wake now, the longest waiting first.
    pub wake: u64,
    /// The next step, or `None` when this one wakes every chat still waiting.
    pub next: Option<NextStep>,
}

/// When the ramp's next step is, and which it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextStep {
    /// The step's index, for [`ramp_step`].
    pub index: u32,
    /// When it is due (unix ms).
    pub at_ms: u64,
}

/// How many chats step `index` (0-based) of the ramp wakes at most: 2, 4, 8, 16, 32, 64,
/// then [`RAMP_CAP`] per step.
pub fn ramp_batch(index: u32) -> u64 {
    // Past 16 doublings the cap has long been reached.
    (RAMP_FIRST << index.min(16)).min(RAMP_CAP)
}

/// Step `index` of the ramp at `now_ms`, with `waiting` chats still waiting: wake at most
/// [`ramp_batch`]`(index)` of them, and the next step [`RAMP_STEP_MS`] later while any would
/// still wait.
///
/// The bound: the first six steps wake up to 126 chats, every later one 100, a second apart,
/// so `N` waiting chats are all woken within 5 s of the first step when `N` ≤ 126, and within
/// `5 + ⌈(N − 126) / 100⌉` s otherwise: 10,000 chats within 104 s, never more than 100 in
/// one step. The shell steps the ramp only while the origin is up.
pub fn ramp_step(index: u32, waiting: u64, now_ms: u64) -> RampStep {
    let wake = ramp_batch(index).min(waiting);
    let next = (wake < waiting).then(|| NextStep {
        index: index.saturating_add(1),
        at_ms: now_ms.saturating_add(RAMP_STEP_MS),
    });
    RampStep { wake, next }
}

/// The origin's name as shown: the setting's name, which is all a notice or the admin view
/// may tell of an origin. Anything else (a URL by mistake) shows as `ORIGIN_?`.
fn setting_name(name: &str) -> &str {
    let is_setting = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if is_setting {
        name
    } else {
        "ORIGIN_?"
    }
}

/// A duration as a person reads it: `42 s`, `12 min`, `3 h 5 min`, `2 d 4 h` (rounded down).
fn duration_words(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// The notice sent to `ALERT_URL` when an origin goes down: JSON with a one-line `text`
/// (Slack- and Mattermost-compatible) and the origin's setting name, since when and its last
/// status. Never a URL, a secret or chat content.
pub fn down_notice(origin_name: &str, health: &Health) -> Vec<u8> {
    #[derive(Serialize)]
    struct Origin<'a> {
        name: &'a str,
        state: &'static str,
        since: Option<String>,
        failures_in_row: u32,
        last_status: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Notice<'a> {
        text: String,
        origin: Origin<'a>,
    }
    let name = setting_name(origin_name);
    let since = health.since_ms.map(times::format_millis);
    let last_status = health.last_status.as_deref();
    let text = format!(
        "webim-edge: the origin of {name} is down since {}, after {} availability failures in a row, last {}; its events wait and one is retried as a probe",
        since.as_deref().unwrap_or("now"),
        health.failures_in_row,
        last_status.unwrap_or("unknown"),
    );
    let notice = Notice {
        text,
        origin: Origin {
            name,
            state: health.state.as_str(),
            since,
            failures_in_row: health.failures_in_row,
            last_status,
        },
    };
    serde_json::to_vec(&notice).unwrap_or_default()
}

/// The notice sent to `ALERT_URL` when an origin is back at `now_ms`: JSON with a one-line
/// `text` and the origin's setting name, how long it was down and how many events were
/// waiting. Never a URL, a secret or chat content.
pub fn up_notice(origin_name: &str, down_for_ms: u64, waiting: u64, now_ms: u64) -> Vec<u8> {
    #[derive(Serialize)]
    struct Origin<'a> {
        name: &'a str,
        state: &'static str,
        since: String,
        down_for_seconds: u64,
        waiting: u64,
    }
    #[derive(Serialize)]
    struct Notice<'a> {
        text: String,
        origin: Origin<'a>,
    }
    let name = setting_name(origin_name);
    let since = times::format_millis(now_ms);
    let events = if waiting == 1 {
        "event was"
    } else {
        "events were"
    };
    let text = format!(
        "webim-edge: the origin of {name} is up again since {since}, after {} down; {waiting} {events} waiting, and they go out now in order",
        duration_words(down_for_ms),
    );
    let notice = Notice {
        text,
        origin: Origin {
            name,
            state: State::Up.as_str(),
            since,
            down_for_seconds: down_for_ms / 1000,
            waiting,
        },
    };
    serde_json::to_vec(&notice).unwrap_or_default()
}

/// One origin as `GET /admin/origins` lists it (contract §12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OriginView {
    /// The setting that names the origin (`ORIGIN_URL`, `ORIGIN_URL_CHAT_CLOSED`, …).
    pub name: String,
    /// `up` or `down`.
    pub state: &'static str,
    /// Since when (RFC 3339 UTC), or `null` for an origin up since it was first used.
    pub since: Option<String>,
    /// Availability failures since the last answer that showed the origin up.
    pub failures_in_row: u32,
    /// The last attempt's status word (`503`, `no_answer`, …), or `null`.
    pub last_status: Option<String>,
    /// When the last probe started (RFC 3339 UTC), or `null`.
    pub last_probe: Option<String>,
    /// Events waiting for the origin.
    pub waiting: u64,
}

/// The admin view of the origin named `name` with `waiting` events waiting for it.
pub fn view(name: &str, health: &Health, waiting: u64) -> OriginView {
    OriginView {
        name: setting_name(name).to_string(),
        state: health.state.as_str(),
        since: health.since_ms.map(times::format_millis),
        failures_in_row: health.failures_in_row,
        last_status: health.last_status.clone(),
        last_probe: health.last_probe_at_ms.map(times::format_millis),
        waiting,
    }
}

#[cfg(test)]
mod chat_side_tests {
    use super::*;

    fn status(code: Option<u16>) -> OriginAnswer {
        OriginAnswer {
            status: code,
            retry_after: None,
        }
    }

    #[test]
    fn a_chat_reports_failures_and_successes_only_while_failures_run() {
        let up = Heard::Up;
        assert!(reported(&status(Some(503)), None, up));
        assert!(reported(&status(None), Some("204"), up));
        assert!(reported(&status(Some(429)), None, up));
        assert!(!reported(&status(Some(204)), None, up));
        assert!(!reported(&status(Some(204)), Some("204"), up));
        assert!(!reported(&status(Some(204)), Some("404"), up));
        assert!(reported(&status(Some(204)), Some("503"), up));
        assert!(reported(&status(Some(400)), Some("no_answer"), up));
        assert!(reported(&status(Some(204)), None, Heard::Suspect));
        let mut h = Health::default();
        assert_eq!(Heard::of(&h), Heard::Up);
        h.failures_in_row = 1;
        assert_eq!(Heard::of(&h), Heard::Suspect);
        h.state = State::Down;
        assert_eq!(Heard::of(&h), Heard::Down);
        for heard in [Heard::Up, Heard::Suspect, Heard::Down] {
            assert_eq!(Heard::parse(heard.as_str().as_bytes()), Some(heard));
        }
    }

    #[test]
    fn an_origin_that_does_not_answer_leaves_the_count_as_without_the_breaker() {
        assert!(!counts_toward_attempts(true, &status(None), None));
        assert!(counts_toward_attempts(false, &status(Some(503)), None));
        assert!(counts_toward_attempts(
            false,
            &status(Some(204)),
            Some(true)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLICY: Policy = Policy {
        down_after: 3,
        probe_ms: 30_000,
    };

    fn answer(status: Option<u16>) -> OriginAnswer {
        OriginAnswer {
            status,
            retry_after: None,
        }
    }

    /// Reports `(event, status)` one second apart from `start_ms`; returns the final health
    /// and every transition that was not `Unchanged`.
    fn run(
        health: &Health,
        reports: &[(&str, Option<u16>)],
        start_ms: u64,
        policy: &Policy,
    ) -> (Health, Vec<Transition>) {
        let mut health = health.clone();
        let mut transitions = Vec::new();
        for (i, (event, status)) in reports.iter().enumerate() {
            let now = start_ms + 1000 * i as u64;
            let (next, t) = report(&health, event, &answer(*status), now, policy);
            health = next;
            if t != Transition::Unchanged {
                transitions.push(t);
            }
        }
        (health, transitions)
    }

    fn down_at(since_ms: u64) -> Health {
        Health {
            state: State::Down,
            since_ms: Some(since_ms),
            failures_in_row: 3,
            first_failed_event: Some("evt_a".into()),
            other_event_failed: true,
            last_status: Some("503".into()),
            last_probe_at_ms: None,
        }
    }

    #[test]
    fn availability_failures_are_no_answer_429_and_5xx() {
        for status in [None, Some(429), Some(500), Some(502), Some(503), Some(599)] {
            assert!(is_availability_failure(&answer(status)), "{status:?}");
        }
        for status in [200, 204, 301, 308, 400, 401, 404, 408, 422, 499, 600] {
            assert!(!is_availability_failure(&answer(Some(status))), "{status}");
        }
    }

    #[test]
    fn exactly_down_after_failures_from_two_events_take_it_down() {
        let reports = [("evt_a", Some(503)), ("evt_b", None)];
        let (health, transitions) = run(&Health::default(), &reports, 1_000, &POLICY);
        assert!(!health.is_down());
        assert!(transitions.is_empty());
        assert_eq!(health.failures_in_row, 2);
        let (health, t) = report(&health, "evt_a", &answer(Some(502)), 9_000, &POLICY);
        assert!(health.is_down());
        assert_eq!(health.since_ms, Some(9_000));
        assert_eq!(
            t,
            Transition::WentDown {
                since_ms: 9_000,
                last_status: "502".into()
            }
        );
        // Further failures are probes: it stays down, and says nothing more.
        let (health, t) = report(&health, "evt_c", &answer(None), 40_000, &POLICY);
        assert_eq!(t, Transition::Unchanged);
        assert!(health.is_down());
        assert_eq!(health.since_ms, Some(9_000));
        assert_eq!(health.failures_in_row, 4);
        assert_eq!(health.last_status.as_deref(), Some("no_answer"));
    }

    #[test]
    fn one_poison_event_failing_alone_never_takes_it_down() {
        let reports = vec![("evt_poison", Some(500)); 50];
        let (health, transitions) = run(&Health::default(), &reports, 0, &POLICY);
        assert!(!health.is_down());
        assert!(transitions.is_empty());
        assert_eq!(health.failures_in_row, 50);
        // A second event's failure completes the condition at once.
        let (health, t) = report(&health, "evt_other", &answer(Some(500)), 60_000, &POLICY);
        assert!(health.is_down());
        assert!(matches!(t, Transition::WentDown { .. }));
    }

    #[test]
    fn a_4xx_ends_the_run_and_never_takes_it_down() {
        let reports = [
            ("evt_a", Some(503)),
            ("evt_b", Some(503)),
            ("evt_c", Some(404)),
            ("evt_a", Some(503)),
            ("evt_b", Some(503)),
        ];
        let (health, transitions) = run(&Health::default(), &reports, 0, &POLICY);
        assert!(!health.is_down());
        assert!(transitions.is_empty());
        assert_eq!(health.failures_in_row, 2);
        let refusals: Vec<_> = (0..100).map(|i| ("evt_x", Some(400 + i % 29))).collect();
        let (health, transitions) = run(&Health::default(), &refusals, 0, &POLICY);
        assert!(!health.is_down() && transitions.is_empty());
        assert_eq!(health.failures_in_row, 0);
        assert_eq!(health.first_failed_event, None);
    }

    #[test]
    fn a_success_between_failures_resets_the_run() {
        let reports = [
            ("evt_a", Some(500)),
            ("evt_b", Some(500)),
            ("evt_c", Some(204)),
            ("evt_c", Some(500)),
            ("evt_c", Some(500)),
            ("evt_c", Some(500)),
        ];
        let (health, transitions) = run(&Health::default(), &reports, 0, &POLICY);
        // Three failures in a row, but from one event since the success.
        assert!(!health.is_down() && transitions.is_empty());
        assert_eq!(health.first_failed_event.as_deref(), Some("evt_c"));
        assert!(!health.other_event_failed);
        assert_eq!(health.last_status.as_deref(), Some("500"));
    }

    #[test]
    fn any_answer_that_shows_it_up_brings_it_back() {
        for status in [200, 204, 302, 404, 422] {
            let (health, t) = report(
                &down_at(60_000),
                "evt_p",
                &answer(Some(status)),
                780_000,
                &POLICY,
            );
            assert_eq!(
                t,
                Transition::CameUp {
                    down_since_ms: 60_000,
                    down_for_ms: 720_000
                }
            );
            assert_eq!(health.state, State::Up);
            assert_eq!(health.since_ms, Some(780_000));
            assert_eq!(health.failures_in_row, 0);
            assert_eq!(health.first_failed_event, None);
            assert!(!health.other_event_failed);
            assert_eq!(health.last_status, Some(status.to_string()));
        }
        // A success while up changes nothing but the run.
        let (health, t) = report(&Health::default(), "evt_a", &answer(Some(200)), 5, &POLICY);
        assert_eq!(t, Transition::Unchanged);
        assert_eq!(health.since_ms, None);
    }

    #[test]
    fn policy_from_settings_values() {
        assert_eq!(Policy::new(5, 30), Policy::DEFAULT);
        assert_eq!(Policy::new(2, 0).probe_ms, 1000);
        assert_eq!(Policy::new(2, u64::MAX).probe_ms, u64::MAX);
        // Fewer than two acts as two: two events are needed anyway.
        let policy = Policy::new(1, 30);
        let (health, _) = run(&Health::default(), &[("evt_a", None)], 0, &policy);
        assert!(!health.is_down());
        let (health, _) = run(&health, &[("evt_b", None)], 1, &policy);
        assert!(health.is_down());
    }

    #[test]
    fn one_probe_every_probe_interval_while_down() {
        assert_eq!(next_probe_at(&Health::default(), &POLICY), None);
        assert!(!probe_due(&Health::default(), u64::MAX, &POLICY));
        assert_eq!(claim_probe(&Health::default(), u64::MAX, &POLICY), None);
        let mut health = down_at(100_000);
        assert_eq!(next_probe_at(&health, &POLICY), Some(130_000));
        assert!(!probe_due(&health, 129_999, &POLICY));
        let mut probes = Vec::new();
        for now in (100_000..400_000).step_by(1_000) {
            if let Some(claimed) = claim_probe(&health, now, &POLICY) {
                probes.push(now);
                health = claimed;
            }
        }
        let expected: Vec<u64> = (1..=9).map(|k| 100_000 + 30_000 * k).collect();
        assert_eq!(probes, expected);
        // A probe from an earlier outage does not delay the first one of this outage.
        let mut health = down_at(500_000);
        health.last_probe_at_ms = Some(490_000);
        assert_eq!(next_probe_at(&health, &POLICY), Some(530_000));
        // A late check claims one probe, not the ones it missed.
        let claimed = claim_probe(&health, 900_000, &POLICY).unwrap();
        assert_eq!(claimed.last_probe_at_ms, Some(900_000));
        assert_eq!(claim_probe(&claimed, 900_000, &POLICY), None);
        assert_eq!(next_probe_at(&claimed, &POLICY), Some(930_000));
    }

    fn waiting(chat: &str, since_ms: u64, last_probed_ms: Option<u64>) -> Waiting {
        Waiting {
            chat: chat.into(),
            since_ms,
            last_probed_ms,
        }
    }

    /// Probes `picks` times, one per interval from `start_ms`, recording each probe's time.
    fn probe_rounds(chats: &mut [Waiting], picks: usize, start_ms: u64) -> Vec<String> {
        let mut order = Vec::new();
        for k in 0..picks {
            let chat = next_to_probe(chats).unwrap().chat.clone();
            let w = chats.iter_mut().find(|w| w.chat == chat).unwrap();
            w.last_probed_ms = Some(start_ms + 30_000 * k as u64);
            order.push(chat);
        }
        order
    }

    #[test]
    fn probes_take_the_waiting_chats_in_turn() {
        assert_eq!(next_to_probe(&[]), None);
        let mut chats = vec![
            waiting("chat:c", 300, Some(1_000)),
            waiting("chat:a", 200, None),
            waiting("chat:d", 100, Some(500)),
            waiting("chat:b", 100, None),
            waiting("chat:e", 200, None),
        ];
        let order = probe_rounds(&mut chats, 10, 10_000);
        // Never probed first, by longest wait (ties by name), then least recently probed; then
        // the same turn again.
        let turn = ["chat:b", "chat:a", "chat:e", "chat:d", "chat:c"];
        assert_eq!(order[..5], turn);
        assert_eq!(order[5..], turn);
    }

    #[test]
    fn a_failed_probe_or_a_failure_while_down_does_not_count() {
        let failure = answer(Some(503));
        // Before the outage, failures count as usual.
        assert!(counts_toward_attempts(false, &failure, Some(false)));
        assert!(counts_toward_attempts(false, &answer(None), Some(false)));
        // A failed probe, or a failure that found or made the origin down, does not.
        assert!(!counts_toward_attempts(true, &failure, Some(true)));
        assert!(!counts_toward_attempts(true, &failure, Some(false)));
        assert!(!counts_toward_attempts(false, &failure, Some(true)));
        assert!(!counts_toward_attempts(false, &answer(None), Some(true)));
        // A refusal counts, probe or not: the origin answered.
        assert!(counts_toward_attempts(
            true,
            &answer(Some(422)),
            Some(false)
        ));
        assert!(counts_toward_attempts(
            false,
            &answer(Some(422)),
            Some(false)
        ));
        assert!(counts_toward_attempts(
            true,
            &answer(Some(200)),
            Some(false)
        ));
    }

    #[test]
    fn no_event_dies_of_an_outage() {
        // Two events fail until the origin is down, then one probe per interval fails for
        // hours: the attempts that count stay below the trip point.
        let mut health = Health::default();
        let mut counted = [0u32; 2];
        let mut now = 0;
        for k in 0..1000usize {
            let event = k % 2;
            let was_probe = health.is_down();
            let failure = answer(Some(503));
            let (next, _) = report(&health, ["evt_a", "evt_b"][event], &failure, now, &POLICY);
            health = next;
            if counts_toward_attempts(was_probe, &failure, Some(health.is_down())) {
                counted[event] += 1;
            }
            now += 30_000;
        }
        assert!(health.is_down());
        assert_eq!(counted, [1, 1]);
    }

    #[test]
    fn the_ramp_wakes_everyone_within_its_bound_and_never_more_than_the_cap() {
        let batches: Vec<u64> = (0..9).map(ramp_batch).collect();
        assert_eq!(batches, [2, 4, 8, 16, 32, 64, 100, 100, 100]);
        assert_eq!(ramp_batch(u32::MAX), RAMP_CAP);
        assert_eq!(
            ramp_step(0, 0, 5),
            RampStep {
                wake: 0,
                next: None
            }
        );
        assert_eq!(
            ramp_step(0, 1, 5),
            RampStep {
                wake: 1,
                next: None
            }
        );
        assert_eq!(
            ramp_step(0, 3, 5),
            RampStep {
                wake: 2,
                next: Some(NextStep {
                    index: 1,
                    at_ms: 1_005
                })
            }
        );
        for n in (0..=400).chain([9_999, 10_000, 10_001, 50_000]) {
            let (last_at, woken, biggest) = ramp_all(n, 7_000);
            assert_eq!(woken, n);
            assert!(biggest <= RAMP_CAP);
            assert!(last_at - 7_000 <= ramp_bound_ms(n), "{n}");
        }
        assert_eq!(ramp_all(10_000, 0).0, 104_000);
        assert_eq!(ramp_bound_ms(10_000), 104_000);
        assert_eq!(ramp_all(126, 0).0, 5_000);
        assert_eq!(ramp_all(127, 0).0, 6_000);
    }

    /// The documented bound: 5 s for up to 126 chats, then a second per 100 more.
    fn ramp_bound_ms(n: u64) -> u64 {
        1000 * (5 + n.saturating_sub(126).div_ceil(100))
    }

    /// Runs the ramp over `n` waiting chats from `start_ms`: (time of the last step, chats
    /// woken, the largest batch).
    fn ramp_all(n: u64, start_ms: u64) -> (u64, u64, u64) {
        let mut step = ramp_step(0, n, start_ms);
        let (mut at, mut woken, mut biggest) = (start_ms, 0, 0);
        loop {
            woken += step.wake;
            biggest = biggest.max(step.wake);
            let Some(next) = step.next else { break };
            assert_eq!(next.at_ms, at + RAMP_STEP_MS);
            at = next.at_ms;
            step = ramp_step(next.index, n - woken, at);
        }
        (at, woken, biggest)
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        let cases = [
            (0, "0 s"),
            (59_999, "59 s"),
            (60_000, "1 min"),
            (720_000, "12 min"),
            (3_600_000, "1 h"),
            (11_100_000, "3 h 5 min"),
            (86_400_000, "1 d"),
            (2 * 86_400_000 + 4 * 3_600_000 + 60_000, "2 d 4 h"),
        ];
        for (ms, words) in cases {
            assert_eq!(duration_words(ms), words);
        }
    }

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn the_down_notice_names_the_setting_since_when_and_the_last_status() {
        let health = down_at(1_795_550_400_123);
        let v = json(&down_notice("ORIGIN_URL_CHAT_CLOSED", &health));
        let text = v["text"].as_str().unwrap();
        assert!(!text.contains('\n') && !text.contains("http"));
        assert!(text.contains("ORIGIN_URL_CHAT_CLOSED"));
        assert!(text.contains("2026-11-24T20:00:00.123Z") && text.contains("503"));
        assert_eq!(
            v["origin"],
            serde_json::json!({"name": "ORIGIN_URL_CHAT_CLOSED", "state": "down",
                "since": "2026-11-24T20:00:00.123Z", "failures_in_row": 3, "last_status": "503"})
        );
    }

    #[test]
    fn the_up_notice_says_how_long_and_how_many_waited() {
        let v = json(&up_notice("ORIGIN_URL", 11_100_000, 37, 1_795_550_400_000));
        let text = v["text"].as_str().unwrap();
        assert!(!text.contains('\n') && !text.contains("http"));
        assert!(text.contains("ORIGIN_URL") && text.contains("3 h 5 min"));
        assert!(text.contains("37 events were waiting"));
        assert_eq!(
            v["origin"],
            serde_json::json!({"name": "ORIGIN_URL", "state": "up",
                "since": "2026-11-24T20:00:00.000Z", "down_for_seconds": 11_100, "waiting": 37})
        );
        let one = json(&up_notice("ORIGIN_URL", 42_000, 1, 0));
        assert!(one["text"]
            .as_str()
            .unwrap()
            .contains("42 s down; 1 event was waiting"));
    }

    #[test]
    fn a_url_given_as_a_name_never_shows() {
        let url = "https://user:secret@crm.example/in";
        for bytes in [
            down_notice(url, &down_at(0)),
            up_notice(url, 1_000, 2, 0),
            serde_json::to_vec(&view(url, &down_at(0), 2)).unwrap(),
        ] {
            let text = String::from_utf8(bytes).unwrap();
            assert!(!text.contains("http") && !text.contains("secret"), "{text}");
            assert!(text.contains("ORIGIN_?"));
        }
    }

    #[test]
    fn the_admin_view_lists_the_spec_fields() {
        let mut health = down_at(1_795_550_400_000);
        health.last_probe_at_ms = Some(1_795_550_430_000);
        let v = serde_json::to_value(view("ORIGIN_URL", &health, 12)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "ORIGIN_URL", "state": "down",
                "since": "2026-11-24T20:00:00.000Z", "failures_in_row": 3, "last_status": "503",
                "last_probe": "2026-11-24T20:00:30.000Z", "waiting": 12})
        );
        let v = serde_json::to_value(view("ORIGIN_URL", &Health::default(), 0)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "ORIGIN_URL", "state": "up", "since": null,
                "failures_in_row": 0, "last_status": null, "last_probe": null, "waiting": 0})
        );
        assert_eq!(State::parse("down"), Some(State::Down));
        assert_eq!(State::parse("up"), Some(State::Up));
        assert_eq!(State::parse("held"), None);
    }

    /// The answers a report can carry, by kind.
    fn any_answer() -> impl Strategy<Value = OriginAnswer> {
        prop_oneof![
            Just(None),
            Just(Some(429)),
            (500u16..600).prop_map(Some),
            (200u16..300).prop_map(Some),
            (300u16..400).prop_map(Some),
            (400u16..429).prop_map(Some),
        ]
        .prop_map(answer)
    }

    proptest! {
        #[test]
        fn down_exactly_when_the_run_since_the_last_success_says_so(
            reports in proptest::collection::vec((0usize..3, any_answer(), 0u64..100_000), 0..200),
            down_after in 2u32..8,
        ) {
            let policy = Policy { down_after, probe_ms: 30_000 };
            let events = ["evt_a", "evt_b", "evt_c"];
            let mut health = Health::default();
            let mut now = 0u64;
            // The oracle: the failing events since the last answer that showed the origin up.
            let mut run: Vec<usize> = Vec::new();
            let mut was_down = false;
            let mut down_since = None;
            let mut went_down = 0;
            let mut came_up = 0;
            for (event, answer, gap) in reports {
                now += gap;
                let (next, transition) = report(&health, events[event], &answer, now, &policy);
                health = next;
                if is_availability_failure(&answer) {
                    run.push(event);
                } else {
                    run.clear();
                }
                let distinct = (0..3).filter(|e| run.contains(e)).count();
                let down = run.len() >= down_after as usize && distinct >= 2;
                prop_assert_eq!(health.is_down(), down);
                prop_assert_eq!(health.failures_in_row as usize, run.len());
                match transition {
                    Transition::Unchanged => prop_assert_eq!(was_down, down),
                    Transition::WentDown { since_ms, .. } => {
                        prop_assert!(!was_down && down);
                        prop_assert_eq!(since_ms, now);
                        down_since = Some(now);
                        went_down += 1;
                    }
                    Transition::CameUp { down_since_ms, down_for_ms } => {
                        prop_assert!(was_down && !down);
                        prop_assert_eq!(Some(down_since_ms), down_since);
                        prop_assert_eq!(down_for_ms, now - down_since_ms);
                        prop_assert_eq!(health.since_ms, Some(now));
                        came_up += 1;
                    }
                }
                // One WentDown per outage, one CameUp per recovery, alternating.
                prop_assert_eq!(went_down - came_up, usize::from(down));
                was_down = down;
            }
        }

        #[test]
        fn a_full_outage_announces_once_each_way(
            down_after in 2u32..20,
            extra_failures in 0usize..50,
            outages in 1usize..4,
        ) {
            let policy = Policy { down_after, probe_ms: 30_000 };
            let mut health = Health::default();
            let mut now = 0u64;
            let mut transitions = Vec::new();
            for _ in 0..outages {
                for k in 0..down_after as usize + extra_failures {
                    now += 1_000;
                    let event = ["evt_a", "evt_b"][k % 2];
                    let (next, t) = report(&health, event, &answer(None), now, &policy);
                    health = next;
                    transitions.push(t);
                }
                prop_assert!(health.is_down());
                now += 60_000;
                let (next, t) = report(&health, "evt_a", &answer(Some(204)), now, &policy);
                health = next;
                transitions.push(t);
                prop_assert!(!health.is_down());
            }
            let changes: Vec<&Transition> =
                transitions.iter().filter(|t| **t != Transition::Unchanged).collect();
            prop_assert_eq!(changes.len(), 2 * outages);
            for pair in changes.chunks(2) {
                let went = matches!(pair[0], Transition::WentDown { .. });
                let came = matches!(pair[1], Transition::CameUp { .. });
                prop_assert!(went && came);
            }
        }

        #[test]
        fn each_waiting_chat_is_probed_before_any_is_probed_again(
            chats in proptest::collection::vec((0u64..5, proptest::option::of(0u64..5)), 1..30),
        ) {
            let mut waiting: Vec<Waiting> = chats
                .iter()
                .enumerate()
                .map(|(i, (since, probed))| Waiting {
                    chat: format!("chat:{}", i % 7),
                    since_ms: *since,
                    last_probed_ms: *probed,
                })
                .collect();
            let n = waiting.len();
            // Follow each pick by position (names may repeat).
            let mut positions = Vec::new();
            for k in 0..2 * n {
                let choice = next_to_probe(&waiting).unwrap();
                let at = waiting.iter().position(|w| std::ptr::eq(w, choice)).unwrap();
                waiting[at].last_probed_ms = Some(1_000 + 30_000 * k as u64);
                positions.push(at);
            }
            let mut first: Vec<usize> = positions[..n].to_vec();
            first.sort_unstable();
            prop_assert_eq!(first, (0..n).collect::<Vec<_>>());
            prop_assert_eq!(&positions[..n], &positions[n..]);
        }

        #[test]
        fn the_ramp_keeps_its_bound_for_any_crowd(n in 0u64..=10_000, start in 0u64..1u64 << 50) {
            let (last_at, woken, biggest) = ramp_all(n, start);
            prop_assert_eq!(woken, n);
            prop_assert!(biggest <= RAMP_CAP);
            prop_assert!(last_at - start <= ramp_bound_ms(n));
            prop_assert!(last_at - start <= 104_000);
        }

        #[test]
        fn notices_never_carry_a_url_whatever_the_name(name in ".{0,40}", ms in 0u64..1u64 << 45) {
            let mut health = down_at(ms);
            health.last_probe_at_ms = Some(ms);
            for bytes in [down_notice(&name, &health), up_notice(&name, ms, 3, ms)] {
                let v = json(&bytes);
                let text = v["text"].as_str().unwrap();
                prop_assert!(!text.contains('/') && !text.contains('@') && !text.contains('\n'));
            }
        }
    }
}
