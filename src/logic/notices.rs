//! Telling of dead events (contract §11, "Someone is told"): each event that dies is listed in
//! the dead index and, with `ALERT_URL` set, announced there — each exactly once. A notice that
//! failed is tried again on its own schedule, the index until it takes the entry, the alert at
//! most [`ALERT_TRIES`] times; the two never repeat each other, and a chat's object tries them
//! only after its deliveries, so a failing index or alert endpoint never holds a delivery up.

use serde::Serialize;

/// How many times an alert is tried before it is given up (each try is logged).
pub const ALERT_TRIES: u32 = 5;

/// The wait before the first retry of a failed notice; it doubles per retry.
pub const NOTICE_RETRY_MS: u64 = 30_000;

/// The longest wait between two tries of a notice.
pub const NOTICE_RETRY_CAP_MS: u64 = 900_000;

/// The longest an alert may wait for its endpoint (the origin's timeout, if shorter).
pub const ALERT_TIMEOUT_MS: u32 = 5_000;

/// How long a notice waits after its `failures`-th failed try (1-based): [`NOTICE_RETRY_MS`],
/// doubling, at most [`NOTICE_RETRY_CAP_MS`].
pub fn retry_wait_ms(failures: u32) -> u64 {
    NOTICE_RETRY_MS
        .saturating_mul(1 << failures.saturating_sub(1).min(20))
        .min(NOTICE_RETRY_CAP_MS)
}

/// What a dead event's notices stand at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notices {
    /// The dead index has the entry.
    pub indexed: bool,
    /// The alert endpoint took the alert.
    pub alerted: bool,
    /// Alerts tried so far.
    pub alert_tries: u32,
    /// Failed tries so far, of either notice (for the backoff).
    pub failures: u32,
    /// When the notices owed may next be tried (unix ms).
    pub due_at_ms: u64,
}

/// What to try now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owed {
    /// List the event in the dead index.
    pub index: bool,
    /// Announce it at `ALERT_URL`.
    pub alert: bool,
}

impl Notices {
    /// Whether the alert is still owed: alerting is on, it was not taken, tries are left.
    fn alert_owed(&self, alerting: bool) -> bool {
        alerting && !self.alerted && self.alert_tries < ALERT_TRIES
    }

    /// Whether anything is still owed, whenever it is due.
    pub fn pending(&self, alerting: bool) -> bool {
        !self.indexed || self.alert_owed(alerting)
    }

    /// What is owed at `now_ms`: nothing before `due_at_ms`.
    pub fn owed(&self, alerting: bool, now_ms: u64) -> Owed {
        let due = self.due_at_ms <= now_ms;
        Owed {
            index: due && !self.indexed,
            alert: due && self.alert_owed(alerting),
        }
    }

    /// The state after trying what `owed` asked: `indexed` and `alerted` say whether each try
    /// succeeded (ignored for a notice that was not tried).
    pub fn after(self, owed: Owed, indexed: bool, alerted: bool, now_ms: u64) -> Notices {
        let mut next = self;
        if owed.index {
            next.indexed = indexed;
        }
        if owed.alert {
            next.alert_tries = next.alert_tries.saturating_add(1);
            next.alerted = alerted;
        }
        let failed = (owed.index && !indexed) || (owed.alert && !alerted);
        if failed {
            next.failures = next.failures.saturating_add(1);
            next.due_at_ms = now_ms.saturating_add(retry_wait_ms(next.failures));
        }
        next
    }
}

/// A dead event as the alert announces it: no chat content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadEvent {
    /// The event id.
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The chat's id, when the chat has one.
    pub chat_id: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// The origin's last status, or `no_answer`.
    pub last_status: String,
}

/// The alert's JSON body: a one-line `text` (Slack- and Mattermost-compatible) and the event.
pub fn alert_body(event: &DeadEvent) -> Vec<u8> {
    #[derive(Serialize)]
    struct Alert<'a> {
        text: String,
        event: &'a DeadEvent,
    }
    // A chat id is the only text of the chat's that the line carries: its control characters
    // are escaped, so it stays one line.
    let chat = event.chat_id.as_deref().map_or_else(
        || "no chat id".to_string(),
        |id| format!("chat {}", id.escape_debug()),
    );
    let text = format!(
        "webim-edge: {} {} ({}) is dead after {} attempts, last {}; replay with npm run admin -- replay {}",
        event.event_type, event.id, chat, event.attempts, event.last_status, event.id
    );
    serde_json::to_vec(&Alert { text, event }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: Owed = Owed {
        index: true,
        alert: true,
    };

    #[test]
    fn a_death_is_told_once_each_way_even_when_one_way_fails() {
        let fresh = Notices::default();
        assert_eq!(fresh.owed(true, 0), BOTH);
        // The alert went out, the index failed: only the index is tried again, later.
        let after = fresh.after(BOTH, false, true, 1_000);
        assert!(after.alerted && !after.indexed);
        assert_eq!(
            after.owed(true, 1_000),
            Owed {
                index: false,
                alert: false
            }
        );
        let owed = after.owed(true, after.due_at_ms);
        assert_eq!(
            owed,
            Owed {
                index: true,
                alert: false
            }
        );
        let done = after.after(owed, true, false, after.due_at_ms);
        assert!(!done.pending(true));
        assert_eq!(done.alert_tries, 1, "the alert was sent once");
    }

    #[test]
    fn alerts_are_bounded_and_the_backoff_doubles_to_its_cap() {
        let mut n = Notices {
            indexed: true,
            ..Notices::default()
        };
        let mut now = 0;
        let mut waits = Vec::new();
        while n.pending(true) {
            let owed = n.owed(true, now);
            assert!(owed.alert);
            n = n.after(owed, false, false, now);
            waits.push(n.due_at_ms - now);
            now = n.due_at_ms;
        }
        assert_eq!(n.alert_tries, ALERT_TRIES);
        assert_eq!(waits[..3], [30_000, 60_000, 120_000]);
        assert!(waits.iter().all(|w| *w <= NOTICE_RETRY_CAP_MS));
        // Without alerting only the index is owed.
        assert!(!Notices {
            indexed: true,
            ..Notices::default()
        }
        .pending(false));
    }

    #[test]
    fn the_index_is_tried_until_it_takes_the_entry() {
        let mut n = Notices::default();
        for _ in 0..100 {
            n = n.after(n.owed(false, n.due_at_ms), false, false, n.due_at_ms);
        }
        assert!(n.pending(false));
        assert!(n.owed(false, n.due_at_ms).index);
        assert_eq!(n.alert_tries, 0);
    }

    #[test]
    fn the_alert_names_the_event_and_nothing_of_the_chat() {
        let dead = DeadEvent {
            id: "evt_1".into(),
            event_type: "chat_closed".into(),
            chat_id: Some("4242\n\u{1b}[31m".into()),
            attempts: 20,
            last_status: "503".into(),
        };
        let v: serde_json::Value = serde_json::from_slice(&alert_body(&dead)).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(!text.contains('\n') && !text.contains('\u{1b}'));
        assert!(text.contains("evt_1") && text.contains("chat 4242") && text.contains("503"));
        assert_eq!(
            v["event"],
            serde_json::json!({"id": "evt_1", "type": "chat_closed", "chat_id": "4242\n\u{1b}[31m", "attempts": 20, "last_status": "503"})
        );
    }
}
