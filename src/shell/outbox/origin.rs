//! The origin role of the outbox class (contract §11, "Origin outages"): one object per origin
//! (`origin:<setting name>`) keeps the origin's health and the chats waiting for it. Chats tell
//! it only of failures and of the first success after a failure, so a healthy origin's
//! deliveries cost it nothing. While the origin is down its alarm sends one probe per
//! `ORIGIN_PROBE_SECONDS` to a waiting chat in turn; once a probe succeeds it wakes the waiting
//! chats in the core's ramp, and it announces each change at `ALERT_URL`. Every decision is
//! [`crate::logic::breaker`]'s.

use std::cell::Cell;

use worker::Env;

use crate::logic::breaker::{self, Health, Policy, Transition, Waiting};
use crate::logic::log_line::LogLine;
use crate::logic::notices::{self, ALERT_TRIES};
use crate::logic::reply::Reply;
use crate::logic::retry::OriginAnswer;
use crate::logic::settings::Settings;
use crate::shell::forward;
use crate::shell::outbox::client;
use crate::shell::runtime::durable::{Cells, Result, Storage, Value};
use crate::shell::runtime::{log, now_ms};

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS health (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL,
        since INTEGER,
        failures INTEGER NOT NULL,
        first_event TEXT,
        other_event INTEGER NOT NULL,
        last_status TEXT,
        last_probe INTEGER,
        ramp INTEGER
    )",
    "CREATE TABLE IF NOT EXISTS waiting (
        chat TEXT PRIMARY KEY,
        since INTEGER NOT NULL,
        last_probed INTEGER,
        events INTEGER NOT NULL DEFAULT 1
    )",
    "CREATE TABLE IF NOT EXISTS notices (
        seq INTEGER PRIMARY KEY,
        body BLOB NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        due INTEGER NOT NULL
    )",
];

/// The origin's object: its storage, and the setting that names it.
pub struct OriginWatch<'a> {
    storage: &'a Storage,
    name: &'a str,
    /// Whether its tables are known to exist (asked once per call, not per read).
    ready: Cell<bool>,
}

fn policy(settings: &Settings) -> Policy {
    Policy::new(settings.origin_down_after, settings.origin_probe_seconds)
}

fn word(state: &Health) -> &'static str {
    breaker::Heard::of(state).as_str()
}

impl<'a> OriginWatch<'a> {
    /// The origin `name` kept in `storage`.
    pub fn new(storage: &'a Storage, name: &'a str) -> OriginWatch<'a> {
        OriginWatch {
            storage,
            name,
            ready: Cell::new(false),
        }
    }

    fn tables(&self) -> Result<()> {
        if !self.ready.get() {
            for ddl in SCHEMA {
                self.storage.exec(ddl, &[])?;
            }
            self.ready.set(true);
        }
        Ok(())
    }

    /// Whether this object has ever been told anything (reading an unknown origin writes
    /// nothing). Asked of the table [`SCHEMA`] creates last, so that all of them exist.
    fn exists(&self) -> Result<bool> {
        if !self.ready.get() {
            self.ready.set(self.storage.has_table("notices")?);
        }
        Ok(self.ready.get())
    }

    fn health(&self) -> Result<(Health, Option<u32>)> {
        if !self.exists()? {
            return Ok((Health::default(), None));
        }
        let row = self.storage.first(
            "SELECT state, since, failures, first_event, other_event, last_status, last_probe, ramp
             FROM health WHERE id = 1",
            &[],
        )?;
        Ok(row.map_or((Health::default(), None), |c| read_health(&c)))
    }

    fn save(&self, h: &Health, ramp: Option<u32>) -> Result<()> {
        self.tables()?;
        let opt = |n: Option<u64>| n.map_or(Value::Null, Value::Int);
        self.storage.exec(
            "INSERT OR REPLACE INTO health
             (id, state, since, failures, first_event, other_event, last_status, last_probe, ramp)
             VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                Value::Text(h.state.as_str()),
                opt(h.since_ms),
                Value::Int(h.failures_in_row.into()),
                h.first_failed_event.as_deref().into(),
                Value::Int(h.other_event_failed.into()),
                h.last_status.as_deref().into(),
                opt(h.last_probe_at_ms),
                opt(ramp.map(u64::from)),
            ],
        )
    }

    fn waiting(&self) -> Result<Vec<Waiting>> {
        if !self.exists()? {
            return Ok(Vec::new());
        }
        Ok(self
            .storage
            .rows("SELECT chat, since, last_probed FROM waiting", &[])?
            .iter()
            .filter_map(|c| {
                Some(Waiting {
                    chat: c.text(0)?,
                    since_ms: c.number(1)?,
                    last_probed_ms: c.number(2),
                })
            })
            .collect())
    }

    fn add_waiting(&self, chat: &str, events: u32, now: u64) -> Result<()> {
        self.storage.exec(
            "INSERT INTO waiting (chat, since, events) VALUES (?, ?, ?)
             ON CONFLICT (chat) DO UPDATE SET events = excluded.events",
            &[
                Value::Text(chat),
                Value::Int(now),
                Value::Int(events.into()),
            ],
        )
    }

    /// How many events wait, over all waiting chats.
    fn events_waiting(&self) -> Result<u64> {
        if !self.exists()? {
            return Ok(0);
        }
        Ok(self
            .storage
            .first("SELECT coalesce(sum(events), 0) FROM waiting", &[])?
            .and_then(|c| c.number(0))
            .unwrap_or(0))
    }

    fn remove_waiting(&self, chat: &str) -> Result<()> {
        self.storage
            .exec("DELETE FROM waiting WHERE chat = ?", &[Value::Text(chat)])
    }

    /// Queues a notice for `ALERT_URL` (sent by the alarm, so that no report waits for it).
    fn notice(&self, body: Vec<u8>, now: u64) -> Result<()> {
        self.storage.exec(
            "INSERT INTO notices (body, due) VALUES (?, ?)",
            &[Value::Bytes(&body), Value::Int(now)],
        )
    }

    /// Applies what a report, or a probe's answer, says of the origin.
    async fn apply(
        &self,
        settings: &Settings,
        event_id: &str,
        status: &str,
        now: u64,
    ) -> Result<Health> {
        let (health, ramp) = self.health()?;
        let answer = OriginAnswer::from_status_word(status);
        let (next, transition) =
            breaker::report(&health, event_id, &answer, now, &policy(settings));
        let mut ramp = ramp;
        match transition {
            Transition::Unchanged => {}
            Transition::WentDown { .. } => {
                self.tables()?;
                self.notice(breaker::down_notice(self.name, &next), now)?;
                ramp = None;
            }
            Transition::CameUp { down_for_ms, .. } => {
                self.tables()?;
                let waiting = self.events_waiting()?;
                self.notice(
                    breaker::up_notice(self.name, down_for_ms, waiting, now),
                    now,
                )?;
                ramp = Some(0);
            }
        }
        self.save(&next, ramp)?;
        if transition != Transition::Unchanged {
            self.outage_line(&next, now);
            self.storage.set_alarm(now).await?;
        }
        Ok(next)
    }

    fn outage_line(&self, health: &Health, now: u64) {
        let mut line = LogLine::new("origin");
        line.outcome = if health.is_down() {
            "origin_down"
        } else {
            "origin_up"
        };
        line.origin = Some(self.name.to_string());
        log(line.line(now, now));
    }

    /// A chat's report of an attempt: the origin's state afterwards.
    pub async fn report(
        &self,
        settings: &Settings,
        event_id: &str,
        chat: &str,
        status: &str,
        pending: u32,
    ) -> Result<Reply> {
        let now = now_ms();
        let next = self.apply(settings, event_id, status, now).await?;
        if next.is_down() {
            self.add_waiting(chat, pending, now)?;
            self.arm(settings, now).await?;
        } else {
            self.remove_waiting(chat)?;
        }
        Ok(Reply::text(200, word(&next)))
    }

    /// A chat that would attempt the origin, or wakes while waiting for it.
    pub async fn wait(&self, settings: &Settings, chat: &str, pending: u32) -> Result<Reply> {
        let (health, _) = self.health()?;
        if health.is_down() {
            self.add_waiting(chat, pending, now_ms())?;
            self.arm(settings, now_ms()).await?;
        }
        Ok(Reply::text(200, word(&health)))
    }

    /// The origin as `/admin/origins` shows it.
    pub fn view(&self) -> Result<Reply> {
        let (health, _) = self.health()?;
        let waiting = self.events_waiting()?;
        Ok(Reply::json(
            200,
            &breaker::view(self.name, &health, waiting),
        ))
    }

    /// Makes sure the alarm fires by the next probe.
    async fn arm(&self, settings: &Settings, now: u64) -> Result<()> {
        let (health, _) = self.health()?;
        let at = breaker::next_probe_at(&health, &policy(settings)).unwrap_or(now);
        self.storage.wake_by(at).await
    }

    /// The alarm: notices, the probe or the ramp, and the next wake-up.
    pub async fn alarm(&self, env: &Env, settings: &Settings) -> Result<()> {
        if !self.exists()? {
            return self.storage.delete_alarm().await;
        }
        self.send_notices(settings).await?;
        let now = now_ms();
        let (health, ramp) = self.health()?;
        let policy = policy(settings);
        if let Some(claimed) = breaker::claim_probe(&health, now, &policy) {
            self.save(&claimed, ramp)?;
            self.probe(env, settings, now).await?;
        } else if let (false, Some(step)) = (health.is_down(), ramp) {
            self.release(env, step, now).await?;
        }
        self.rearm(settings).await
    }

    /// One probe: the next waiting chat in turn attempts its front event.
    async fn probe(&self, env: &Env, settings: &Settings, now: u64) -> Result<()> {
        // A chat that has nothing for this origin any more leaves the list; the next one
        // probes instead (a few at most per run).
        for _ in 0..3 {
            let waiting = self.waiting()?;
            let Some(chat) = breaker::next_to_probe(&waiting).map(|w| w.chat.clone()) else {
                return Ok(());
            };
            self.storage.exec(
                "UPDATE waiting SET last_probed = ? WHERE chat = ?",
                &[Value::Int(now), Value::Text(&chat)],
            )?;
            match client::probe(env, &chat, self.name).await {
                Some(status) if status != "none" => {
                    let next = self.apply(settings, &chat, &status, now_ms()).await?;
                    if !next.is_down() {
                        self.remove_waiting(&chat)?;
                    }
                    return Ok(());
                }
                Some(_) => self.remove_waiting(&chat)?,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// One step of the ramp: wakes the next chats, longest waiting first.
    async fn release(&self, env: &Env, step: u32, now: u64) -> Result<()> {
        let waiting = self.waiting()?;
        let plan = breaker::ramp_step(step, waiting.len() as u64, now);
        let mut chats: Vec<&Waiting> = waiting.iter().collect();
        chats.sort_by_key(|w| (w.since_ms, w.chat.clone()));
        for w in chats
            .into_iter()
            .take(usize::try_from(plan.wake).unwrap_or(usize::MAX))
        {
            // A chat that missed this wakes on its own safety wake-up and asks again.
            let _ = client::resume(env, &w.chat, self.name).await;
            self.remove_waiting(&w.chat)?;
        }
        let (health, _) = self.health()?;
        self.save(&health, plan.next.map(|n| n.index))
    }

    /// The next wake-up: a probe while down, a ramp step while releasing, a notice to retry.
    async fn rearm(&self, settings: &Settings) -> Result<()> {
        let (health, ramp) = self.health()?;
        let waiting = !self.waiting()?.is_empty();
        let probe = breaker::next_probe_at(&health, &policy(settings)).filter(|_| waiting);
        let step = ramp
            .filter(|_| waiting && !health.is_down())
            .map(|_| now_ms() + breaker::RAMP_STEP_MS);
        let notice = self
            .storage
            .first("SELECT min(due) FROM notices", &[])?
            .and_then(|c| c.number(0));
        match [probe, step, notice].into_iter().flatten().min() {
            Some(at) => self.storage.set_alarm(at).await,
            None => self.storage.delete_alarm().await,
        }
    }

    /// Sends the notices that are due; each is tried at most [`ALERT_TRIES`] times.
    async fn send_notices(&self, settings: &Settings) -> Result<()> {
        let now = now_ms();
        let due = self.storage.rows(
            "SELECT seq, body, tries FROM notices WHERE due <= ? ORDER BY seq",
            &[Value::Int(now)],
        )?;
        for row in due {
            let (Some(seq), body, tries) = (row.number(0), row.bytes(1), row.count(2)) else {
                continue;
            };
            let mut line = LogLine::new("alert");
            line.origin = Some(self.name.to_string());
            let sent = settings.alert_url.is_none() || forward::alert(settings, body, line).await;
            let tries = tries.saturating_add(1);
            if sent || tries >= ALERT_TRIES {
                self.storage
                    .exec("DELETE FROM notices WHERE seq = ?", &[Value::Int(seq)])?;
            } else {
                let wait = notices::retry_wait_ms(tries);
                self.storage.exec(
                    "UPDATE notices SET tries = ?, due = ? WHERE seq = ?",
                    &[
                        Value::Int(tries.into()),
                        Value::Int(now + wait),
                        Value::Int(seq),
                    ],
                )?;
            }
        }
        Ok(())
    }
}

fn read_health(c: &Cells) -> (Health, Option<u32>) {
    let health = Health {
        state: c
            .text(0)
            .and_then(|s| breaker::State::parse(&s))
            .unwrap_or_default(),
        since_ms: c.number(1),
        failures_in_row: c.count(2),
        first_failed_event: c.text(3),
        other_event_failed: c.count(4) != 0,
        last_status: c.text(5),
        last_probe_at_ms: c.number(6),
    };
    (health, c.number(7).and_then(|n| u32::try_from(n).ok()))
}
