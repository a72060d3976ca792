//! A chat's side of its outbox object (contract §11): storing its events, one alarm run of the
//! core's plan (deliver the front event, record the attempt, retry or kill it, tell of deaths,
//! sweep, set the next wake-up), waiting for an origin that is down and probing it when asked,
//! and the admin view and replay.

use std::cell::RefCell;

use worker::js_sys::Promise;
use worker::Env;

use crate::logic::breaker::{self, Heard};
use crate::logic::error::EdgeError;
use crate::logic::event::Event;
use crate::logic::log_line::LogLine;
use crate::logic::notices::{self, DeadEvent, Notices};
use crate::logic::outbox::{self, Policy, AFTER_ERROR_MS, DELIVERIES_PER_ALARM};
use crate::logic::outbox_call::DeadEntry;
use crate::logic::reply::Reply;
use crate::logic::settings::Settings;
use crate::shell::environment;
use crate::shell::forward;
use crate::shell::outbox::client;
use crate::shell::outbox::events::{Events, Pending, Row};
use crate::shell::runtime::durable::{Result, Storage};
use crate::shell::runtime::{log, now_ms};

thread_local! {
    /// What the objects of this isolate last heard of each origin (by its setting). Only a
    /// hint: a chat that finds its origin down here registers with the origin's object instead
    /// of trying it, and the object's answer decides.
    static HEARD: RefCell<Vec<(String, Heard)>> = const { RefCell::new(Vec::new()) };
}

/// Keeps what an origin's object answered.
pub fn heard(origin: &str, answer: Option<Heard>) {
    let Some(answer) = answer else { return };
    HEARD.with(|all| {
        let mut all = all.borrow_mut();
        match all.iter_mut().find(|(name, _)| name == origin) {
            Some(entry) => entry.1 = answer,
            None => all.push((origin.to_string(), answer)),
        }
    });
}

/// What this isolate last heard of `origin` (up, when nothing).
fn last_heard(origin: &str) -> Heard {
    HEARD.with(|all| {
        all.borrow()
            .iter()
            .find(|(name, _)| name == origin)
            .map_or(Heard::Up, |(_, h)| *h)
    })
}

/// What [`Chat::store`] answers.
pub struct Stored {
    /// The answer to the store.
    pub reply: Reply,
    /// Whether a run of the plan follows at once.
    pub run: bool,
    /// The wake-up's write, when there is one: the answer waits for it to settle.
    pub written: Option<Promise>,
}

/// One chat's outbox: the object's environment, its name and its events.
pub struct Chat<'a> {
    /// The worker's environment.
    pub env: &'a Env,
    /// The object's name (`chat:…` or `event:…`), by which the origin's object calls it back.
    pub name: &'a str,
    /// Its events.
    pub events: &'a Events,
}

impl Chat<'_> {
    fn storage(&self) -> &Storage {
        self.events.storage()
    }

    /// How many of the chat's events are pending (all wait behind its front event).
    fn pending(&self) -> Result<u32> {
        Ok(pending_in(&self.events.rows()?))
    }

    /// The outbox policy for the object holding `rows`: an object of an event whose chat has
    /// no id holds nothing for a `chat_started`. Read from the rows, not the object's name,
    /// which the runtime may not give an object that an alarm started.
    fn policy(settings: &Settings, rows: &[Row]) -> Policy {
        let policy = Policy::from_settings(settings);
        if rows.iter().any(|r| r.stored.chat_id.is_some()) {
            policy
        } else {
            policy.without_chat()
        }
    }

    /// One run of the plan (after a store, or the alarm's): deliveries (at most the core's
    /// budget), then notices, the sweep and the next wake-up.
    pub async fn run(&self, settings: &Settings) -> Result<()> {
        if !self.events.exist()? {
            // The dead index, or an object whose rows are all swept: nothing to wake for.
            return self.storage().delete_alarm().await;
        }
        // Waking while waiting for an origin (its safety wake-up): is it up again?
        let mut waits = self.events.waits()?;
        for origin in waits.clone() {
            let answer = client::wait(self.env, &origin, self.name, self.pending()?).await;
            heard(&origin, answer);
            if answer.is_some_and(|a| a != Heard::Down) {
                self.events.set_wait(&origin, false)?;
                waits.retain(|o| *o != origin);
            }
        }
        let mut rows = self.events.rows()?;
        let policy = Self::policy(settings, &rows);
        for _ in 0..DELIVERIES_PER_ALARM {
            let Some(id) = outbox::plan(&records(&rows), now_ms(), &policy).deliver else {
                break;
            };
            let Some(pending) = self.events.pending(&id)? else {
                break;
            };
            let origin = settings.origin_name_for(pending.event.event_type);
            if waits.iter().any(|o| o == origin) {
                break;
            }
            if last_heard(origin) == Heard::Down {
                let answer = client::wait(self.env, origin, self.name, pending_in(&rows)).await;
                heard(origin, answer);
                if answer == Some(Heard::Down) {
                    self.events.set_wait(origin, true)?;
                    break;
                }
            }
            let waiting = self.attempt(settings, &policy, &pending, false).await?;
            rows = self.events.rows()?;
            if waiting {
                break;
            }
        }
        if self.tell(settings, &rows).await? {
            rows = self.events.rows()?;
        }
        let now = now_ms();
        let records = records(&rows);
        let swept = outbox::swept(&records, now, &policy);
        if swept.len() == records.len() {
            // Every row is done with: drop the object's storage, metadata and alarm included.
            self.storage().delete_all().await?;
            self.events.dropped();
            return Ok(());
        }
        self.events.delete(&swept)?;
        let alerting = settings.alert_url.is_some();
        let owing = rows.iter().filter(|r| {
            r.stored.record.state == outbox::State::Dead && r.notices.pending(alerting)
        });
        let notices_at = owing.clone().map(|r| r.notices.due_at_ms).min();
        let pending = records.iter().any(|r| r.state == outbox::State::Pending);
        // A chat waiting for its origin is woken by the origin's object; until then only its
        // safety wake-up is set.
        let planned = if self.events.waits()?.is_empty() {
            outbox::plan(&records, now, &policy).wake_at_ms
        } else {
            None
        };
        match outbox::next_wake(planned, notices_at, pending || owing.count() > 0, now) {
            Some(at) => self.storage().set_alarm(at).await,
            None => self.storage().delete_alarm().await,
        }
    }

    /// Stores an event unless its id is here already. Either way a wake-up within
    /// [`AFTER_ERROR_MS`] is set with it, so that the event is delivered even if the run that
    /// follows (it delivers a new event, and sets the plan's wake-up) never happens or fails:
    /// a duplicate may be Webim's retry of a call answered 503, stored without its wake-up.
    /// The answer goes out only once that wake-up's write has settled (its promise, when there
    /// is a write), and is refused if it failed.
    pub fn store(&self, body: Vec<u8>, chat_id: Option<&str>, key_index: Option<usize>) -> Stored {
        let unavailable = Stored {
            reply: EdgeError::StorageUnavailable.reply(),
            run: false,
            written: None,
        };
        let Some(event) = Event::from_body(body) else {
            return Stored {
                reply: EdgeError::NotFound.reply(),
                ..unavailable
            };
        };
        let now = now_ms();
        let reply = match self.events.insert(&event, chat_id, key_index, now) {
            Ok(true) => Reply::delivery(202, "queued", &event.id),
            Ok(false) => Reply::delivery(200, "duplicate", &event.id),
            Err(_) => return unavailable,
        };
        match self.storage().wake_by_without_wait(now + AFTER_ERROR_MS) {
            Ok(written) => Stored {
                reply,
                run: true,
                written,
            },
            Err(_) => unavailable,
        }
    }

    /// Makes sure the alarm fires by the plan's time: moved earlier only, so a stored event
    /// costs no alarm write while one is already due sooner.
    pub async fn schedule(&self) -> Result<()> {
        let now = now_ms();
        let want = match environment::settings(self.env).as_ref() {
            Ok(settings) => {
                let rows = self.events.rows()?;
                outbox::plan(&records(&rows), now, &Self::policy(settings, &rows)).wake_at_ms
            }
            // Wake now: the alarm logs the problem and looks again later.
            Err(_) => Some(now),
        };
        match want {
            Some(want) => self.storage().wake_by(want).await,
            None => Ok(()),
        }
    }

    /// One attempt at the front event (`probe`: the origin's object asked for it), recorded,
    /// and its next state applied; its answer reported to the origin's object when the core says
    /// so. Returns whether the chat now waits for the origin, and the attempt's status word.
    async fn attempt(
        &self,
        settings: &Settings,
        policy: &Policy,
        pending: &Pending,
        probe: bool,
    ) -> Result<bool> {
        Ok(self.try_once(settings, policy, pending, probe).await?.0)
    }

    async fn try_once(
        &self,
        settings: &Settings,
        policy: &Policy,
        pending: &Pending,
        probe: bool,
    ) -> Result<(bool, String)> {
        let id = &pending.event.id;
        let started = now_ms();
        let answer = forward::forward(settings, &pending.event, pending.key_index).await;
        let ended = now_ms();
        let status = answer.status_word();
        let origin = settings.origin_name_for(pending.event.event_type);
        let down = if probe {
            // The origin's object applies a probe's answer itself.
            Some(breaker::is_availability_failure(&answer))
        } else if breaker::reported(&answer, pending.last_status.as_deref(), last_heard(origin)) {
            let pending = self.pending()?;
            let answer = client::report(self.env, origin, id, self.name, &status, pending).await;
            heard(origin, answer);
            answer.map(|a| a == Heard::Down)
        } else {
            None
        };
        let counts = breaker::counts_toward_attempts(probe, &answer, down);
        let attempts = if counts {
            pending.attempts.saturating_add(1)
        } else {
            pending.attempts
        };
        let waits = !counts;
        let outcome = if counts {
            outbox::after_attempt(&answer, attempts, ended, policy)
        } else {
            // Not counted: the event is due again as soon as the chat stops waiting for its
            // origin (the origin's object resumes it, or its safety wake-up finds it up).
            outbox::Outcome::Retry { next_at_ms: ended }
        };
        let entry = outbox::attempt_entry(started, &status, ended.saturating_sub(started));
        let mut line = LogLine::new("outbox");
        line.id = Some(id.to_string());
        line.chat(pending.chat_id.as_deref());
        line.attempt = Some(attempts);
        line.origin_status = answer.status;
        line.outcome = if waits { "origin_down" } else { outcome.code() };
        if let (false, outbox::Outcome::Retry { next_at_ms }) = (waits, outcome) {
            line.retry_in_s =
                Some(u32::try_from(next_at_ms.saturating_sub(ended) / 1000).unwrap_or(0));
        }
        self.events
            .apply(id, outcome, attempts, ended, &status, &entry)?;
        self.events.set_wait(origin, waits)?;
        log(line.line(started, ended));
        Ok((waits, status))
    }

    /// `Probe`: the origin's object asks this chat, waiting for it, to attempt its front
    /// event now; the answer is the attempt's status word, or `none`.
    pub async fn probe(&self, origin: &str) -> Result<Reply> {
        let loaded = environment::settings(self.env);
        let Ok(settings) = loaded.as_ref() else {
            return Ok(EdgeError::Misconfigured.reply());
        };
        let rows = self.events.rows()?;
        let front = outbox::front(&records(&rows)).map(|r| r.id.clone());
        let pending = match front {
            Some(id) => self.events.pending(&id)?,
            None => None,
        };
        let Some(pending) =
            pending.filter(|p| settings.origin_name_for(p.event.event_type) == origin)
        else {
            self.events.set_wait(origin, false)?;
            return Ok(Reply::text(200, "none"));
        };
        let policy = Self::policy(settings, &rows);
        let (_, status) = self.try_once(settings, &policy, &pending, true).await?;
        let _ = self.schedule().await;
        Ok(Reply::text(200, status))
    }

    /// Tells the dead index and `ALERT_URL` of the deaths among `rows` whose notices are due,
    /// each notice once (contract §11): whether any was tried (and its row changed).
    async fn tell(&self, settings: &Settings, rows: &[Row]) -> Result<bool> {
        let alerting = settings.alert_url.is_some();
        let now = now_ms();
        let dead = rows.iter().filter(|r| {
            r.stored.record.state == outbox::State::Dead && r.notices.pending(alerting)
        });
        let mut told = false;
        for row in dead {
            let owed = row.notices.owed(alerting, now);
            if !(owed.index || owed.alert) {
                continue;
            }
            let indexed = owed.index && client::index(self.env, &dead_entry(row)).await;
            let alerted = owed.alert && self.alert(settings, row).await;
            let notices: Notices = row.notices.after(owed, indexed, alerted, now_ms());
            self.events.set_notices(&row.stored.record.id, &notices)?;
            told = true;
        }
        Ok(told)
    }

    /// Announces one dead event at `ALERT_URL`: `true` when the endpoint took it.
    async fn alert(&self, settings: &Settings, row: &Row) -> bool {
        let entry = dead_entry(row);
        let body = notices::alert_body(&DeadEvent {
            id: entry.id.clone(),
            event_type: entry.event_type,
            chat_id: entry.chat_id,
            attempts: entry.attempts,
            last_status: entry.last_status,
        });
        let mut line = LogLine::new("alert");
        line.id = Some(entry.id);
        line.chat(row.stored.chat_id.as_deref());
        forward::alert(settings, body, line).await
    }

    /// `View`: the chat's events in order, with their attempts (admin view).
    pub fn view(&self) -> Result<Reply> {
        let rows = self.events.rows()?;
        if rows.is_empty() {
            return Ok(EdgeError::NotFound.reply());
        }
        let stored: Vec<_> = rows.into_iter().map(|r| r.stored).collect();
        Ok(Reply::json_text(200, outbox::chat_view(&stored)))
    }

    /// `Replay`: a dead event back to pending, its attempts from zero.
    pub async fn replay(&self, id: &str) -> Result<Reply> {
        if !self.events.replay(id, now_ms())? {
            return Ok(EdgeError::NotFound.reply());
        }
        let _ = self.schedule().await;
        Ok(Reply::delivery(200, "pending", id))
    }
}

/// How many of `rows` are pending.
fn pending_in(rows: &[Row]) -> u32 {
    let pending = rows
        .iter()
        .filter(|r| r.stored.record.state == outbox::State::Pending)
        .count();
    u32::try_from(pending).unwrap_or(u32::MAX)
}

/// The records of `rows`, for the core's plan.
fn records(rows: &[Row]) -> Vec<outbox::Record> {
    rows.iter().map(|r| r.stored.record.clone()).collect()
}

/// A dead event's row as the index lists it.
fn dead_entry(row: &Row) -> DeadEntry {
    let record = &row.stored.record;
    DeadEntry {
        id: record.id.clone(),
        event_type: record.event_type.as_str().to_string(),
        chat_id: row.stored.chat_id.clone(),
        died_at_ms: record.finished_at_ms.unwrap_or_default(),
        attempts: record.attempts,
        last_status: row.stored.last_status.clone().unwrap_or_default(),
    }
}
