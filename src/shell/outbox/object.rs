//! `ChatOutbox` (contract §11): the SQLite-backed Durable Object class that the `OUTBOX`
//! binding names. One object per chat is each accepted event's home until it is delivered;
//! one more, the dead index, lists dead events of every chat. The object answers the core's
//! [`Call`]s and runs the core's plan from its alarm: deliver the front event, record the
//! attempt, retry or kill it, tell of deaths, sweep, and set the next wake-up.
//!
//! Concurrency: SQL calls are synchronous, and the runtime's input gate lets no other request
//! in while this object runs synchronous code or awaits its own storage, so the insert-if-absent
//! of a store is strict: of identical concurrent deliveries exactly one inserts. Its output gate
//! holds the answer until the write is durable, so 202 means stored.
//!
//! Nothing wedges: every alarm run first sets a wake-up [`AFTER_ERROR_MS`] away, and an error
//! anywhere in the run is logged and leaves that wake-up (set again) in place instead of
//! rejecting the alarm, so the object never depends on the platform retrying a failed alarm.
//! A wasm trap is caught by the module entry, which sets the same wake-up from JavaScript.

use worker::wasm_bindgen;
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::worker_sys::DurableObjectState;
use worker::{web_sys, Env};

use std::cell::RefCell;

use crate::logic::breaker::{self, Heard};
use crate::logic::error::EdgeError;
use crate::logic::log_line::LogLine;
use crate::logic::notices::{self, DeadEvent, Notices};
use crate::logic::outbox::{self, Policy, AFTER_ERROR_MS, DELIVERIES_PER_ALARM};
use crate::logic::outbox_call::{Call, DeadEntry};
use crate::logic::reply::Reply;
use crate::logic::settings::Settings;
use crate::shell::environment;
use crate::shell::forward;
use crate::shell::outbox::client;
use crate::shell::outbox::dead_index;
use crate::shell::outbox::events::{Events, Pending, Row};
use crate::shell::outbox::origin::Origin;
use crate::shell::runtime::durable::{Received, Result, Storage};
use crate::shell::runtime::http::response;
use crate::shell::runtime::{log, now_ms};

/// One chat's outbox, or the dead index: the runtime constructs it with `(state, env)` and
/// calls `fetch` and `alarm`.
#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen)]
pub struct ChatOutbox {
    env: Env,
    /// The object's name: `chat:…`, `event:…`, `origin:…` or the dead index.
    name: String,
    events: Events,
}

thread_local! {
    /// What the objects of this isolate last heard of each origin (by its setting). Only a
    /// hint: a chat that finds its origin down here registers with the origin's object instead
    /// of trying it, and the object's answer decides.
    static HEARD: RefCell<Vec<(String, Heard)>> = const { RefCell::new(Vec::new()) };
}

/// Keeps what an origin's object answered.
fn heard(origin: &str, answer: Option<Heard>) {
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

/// The prefix of an origin's object name.
const ORIGIN_PREFIX: &str = "origin:";

#[wasm_bindgen(
    wasm_bindgen = worker::wasm_bindgen,
    wasm_bindgen_futures = worker::wasm_bindgen_futures,
    js_sys = worker::js_sys
)]
impl ChatOutbox {
    /// The runtime's constructor call.
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, env: Env) -> Result<ChatOutbox> {
        let name = state.id()?.name().unwrap_or_default();
        Ok(ChatOutbox {
            env,
            name,
            events: Events::new(Storage::of(&state)?),
        })
    }

    /// A [`Call`] from the worker or another object. Takes `&self`: requests interleave at
    /// awaits.
    pub async fn fetch(&self, req: web_sys::Request) -> Result<web_sys::Response> {
        let Received { call, body } = Received::read(&req).await?;
        let reply = match call {
            Some(Call::Store { chat_id, key_index }) => {
                self.store(body, chat_id.as_deref(), key_index).await
            }
            Some(Call::View) => self.view(),
            Some(Call::Replay { id }) => self.replay(&id).await,
            Some(Call::IndexPut(entry)) => {
                let retention = environment::settings(&self.env)
                    .as_ref()
                    .as_ref()
                    .map_or(0, |s| Policy::from_settings(s).retention_ms);
                let swept_before = now_ms().saturating_sub(retention);
                dead_index::put(self.storage(), &entry, swept_before)
            }
            Some(Call::IndexFind { id }) => match dead_index::find(self.storage(), &id)? {
                // The entry travels in the protocol's own encoding (read back by the client).
                Some(entry) => Ok(Reply {
                    status: 200,
                    headers: vec![("content-type", "text/plain".into())],
                    body: Call::IndexPut(entry).encode().path_and_query.into_bytes(),
                }),
                None => Ok(EdgeError::NotFound.reply()),
            },
            Some(Call::IndexRemove { id, died_at_ms }) => {
                dead_index::remove(self.storage(), &id, died_at_ms)
            }
            Some(Call::IndexList(filter)) => dead_index::list(self.storage(), &filter),
            Some(Call::IndexTake { filter, limit }) => {
                dead_index::take(self.storage(), &filter, limit)
            }
            Some(Call::Report {
                origin,
                event_id,
                chat,
                status,
                pending,
            }) => match environment::settings(&self.env).as_ref() {
                Ok(settings) => {
                    Origin::new(self.storage(), &origin)
                        .report(settings, &event_id, &chat, &status, pending)
                        .await
                }
                Err(_) => Ok(EdgeError::Misconfigured.reply()),
            },
            Some(Call::Wait {
                origin,
                chat,
                pending,
            }) => match environment::settings(&self.env).as_ref() {
                Ok(settings) => {
                    Origin::new(self.storage(), &origin)
                        .wait(settings, &chat, pending)
                        .await
                }
                Err(_) => Ok(EdgeError::Misconfigured.reply()),
            },
            Some(Call::OriginView { origin }) => Origin::new(self.storage(), &origin).view(),
            Some(Call::Probe { origin }) => self.probe(&origin).await,
            Some(Call::Resume { origin }) => {
                self.events.set_wait(&origin, false)?;
                heard(&origin, Some(Heard::Up));
                let _ = self.schedule().await;
                Ok(Reply::delivery(200, "resumed", &origin))
            }
            None => Ok(EdgeError::NotFound.reply()),
        };
        response(reply?)
    }

    /// The alarm: one run of the plan. It never rejects: an error leaves a wake-up set.
    pub async fn alarm(&self) -> Result<()> {
        let started = now_ms();
        // Set before anything can fail, so even a reset of the runtime mid-run leaves one.
        let armed = self.storage().set_alarm(started + AFTER_ERROR_MS).await;
        if let Err(error) = self.run().await {
            let mut line = LogLine::new("outbox");
            line.outcome = "alarm_failed";
            drop(error);
            log(line.line(started, now_ms()));
            if armed.is_err() {
                let _ = self.storage().set_alarm(now_ms() + AFTER_ERROR_MS).await;
            }
        }
        Ok(())
    }
}

/// How soon an object whose alarm run trapped wakes again: the module entry sets it from
/// JavaScript, on the fresh instance ([`AFTER_ERROR_MS`]).
#[wasm_bindgen(js_name = outboxRetryAfterErrorMs, wasm_bindgen = worker::wasm_bindgen)]
pub fn retry_after_error_ms() -> f64 {
    AFTER_ERROR_MS as f64
}

impl ChatOutbox {
    fn storage(&self) -> &Storage {
        self.events.storage()
    }

    /// How many of the chat's events are pending (all wait behind its front event).
    fn pending(&self) -> Result<u32> {
        let records = self.events.records()?;
        let pending = records
            .iter()
            .filter(|r| r.state == outbox::State::Pending)
            .count();
        Ok(u32::try_from(pending).unwrap_or(u32::MAX))
    }

    /// The outbox policy for this object: an object of an event whose chat has no id
    /// (`event:<id>`) holds nothing for a `chat_started`.
    fn policy(&self, settings: &Settings) -> Result<Policy> {
        let policy = Policy::from_settings(settings);
        Ok(if self.events.has_chat()? {
            policy
        } else {
            policy.without_chat()
        })
    }

    /// One alarm run: deliveries (at most the core's budget), then notices, the sweep and the
    /// next wake-up.
    async fn run(&self) -> Result<()> {
        let loaded = environment::settings(&self.env);
        let settings = match loaded.as_ref() {
            Ok(settings) => settings,
            Err(problems) => {
                let mut line = LogLine::new("outbox");
                line.outcome = "misconfigured";
                line.problems.clone_from(problems);
                let now = now_ms();
                log(line.line(now, now));
                let retry = now + outbox::MISCONFIGURED_RETRY_MS;
                return self.storage().set_alarm(retry).await;
            }
        };
        if let Some(origin) = self.name.strip_prefix(ORIGIN_PREFIX) {
            return Origin::new(self.storage(), origin)
                .alarm(&self.env, settings)
                .await;
        }
        if !self.events.exist()? {
            // The dead index, or an object whose rows are all swept: nothing to wake for.
            return self.storage().delete_alarm().await;
        }
        let policy = self.policy(settings)?;
        // Waking while waiting for an origin (its safety wake-up): is it up again?
        let mut waits = self.events.waits()?;
        for origin in waits.clone() {
            let answer = client::wait(&self.env, &origin, &self.name, self.pending()?).await;
            heard(&origin, answer);
            if answer.is_some_and(|a| a != Heard::Down) {
                self.events.set_wait(&origin, false)?;
                waits.retain(|o| *o != origin);
            }
        }
        for _ in 0..DELIVERIES_PER_ALARM {
            let Some(id) = outbox::plan(&self.events.records()?, now_ms(), &policy).deliver else {
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
                let answer = client::wait(&self.env, origin, &self.name, self.pending()?).await;
                heard(origin, answer);
                if answer == Some(Heard::Down) {
                    self.events.set_wait(origin, true)?;
                    break;
                }
            }
            if self.attempt(settings, &policy, &pending, false).await? {
                break;
            }
        }
        self.tell(settings).await?;
        let now = now_ms();
        let rows = self.events.rows()?;
        let records: Vec<_> = rows.iter().map(|r| r.stored.record.clone()).collect();
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

    /// Stores an event unless its id is here already. The alarm is what delivers: an event is
    /// answered 202 only once a wake-up is due for it. A duplicate checks the wake-up too, so
    /// that Webim's retry of a call answered 503 (stored, but no wake-up set) sets it.
    async fn store(
        &self,
        body: Vec<u8>,
        chat_id: Option<&str>,
        key_index: Option<usize>,
    ) -> Result<Reply> {
        let Some(event) = crate::logic::event::Event::from_body(body) else {
            return Ok(EdgeError::NotFound.reply());
        };
        let unavailable = || EdgeError::StorageUnavailable.reply();
        match self.events.insert(&event, chat_id, key_index, now_ms()) {
            Ok(false) => {
                let _ = self.schedule().await;
                Ok(Reply::delivery(200, "duplicate", &event.id))
            }
            Ok(true) => Ok(match self.schedule().await {
                Ok(()) => Reply::delivery(202, "queued", &event.id),
                Err(_) => unavailable(),
            }),
            Err(_) => Ok(unavailable()),
        }
    }

    /// Makes sure the alarm fires by the plan's time: moved earlier only, so a stored event
    /// costs no alarm write while one is already due sooner.
    async fn schedule(&self) -> Result<()> {
        let now = now_ms();
        let want = match environment::settings(&self.env).as_ref() {
            Ok(settings) => {
                outbox::plan(&self.events.records()?, now, &self.policy(settings)?).wake_at_ms
            }
            // Wake now: the alarm logs the problem and looks again later.
            Err(_) => Some(now),
        };
        let Some(want) = want else {
            return Ok(());
        };
        if self.storage().alarm().await?.is_none_or(|at| at > want) {
            self.storage().set_alarm(want).await?;
        }
        Ok(())
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
        let status = outbox::status_word(&answer);
        let origin = settings.origin_name_for(pending.event.event_type);
        let down = if probe {
            // The origin's object applies a probe's answer itself.
            Some(breaker::is_availability_failure(&answer))
        } else if breaker::reported(&answer, pending.last_status.as_deref(), last_heard(origin)) {
            let pending = self.pending()?;
            let answer = client::report(&self.env, origin, id, &self.name, &status, pending).await;
            heard(origin, answer);
            answer.map(|a| a == Heard::Down)
        } else {
            None
        };
        let counts = breaker::counts_for_chat(probe, &answer, down);
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
    async fn probe(&self, origin: &str) -> Result<Reply> {
        let loaded = environment::settings(&self.env);
        let Ok(settings) = loaded.as_ref() else {
            return Ok(EdgeError::Misconfigured.reply());
        };
        let records = self.events.records()?;
        let front = outbox::front(&records).map(|r| r.id.clone());
        let pending = match front {
            Some(id) => self.events.pending(&id)?,
            None => None,
        };
        let Some(pending) =
            pending.filter(|p| settings.origin_name_for(p.event.event_type) == origin)
        else {
            self.events.set_wait(origin, false)?;
            return Ok(Reply {
                status: 200,
                headers: vec![("content-type", "text/plain".into())],
                body: b"none".to_vec(),
            });
        };
        let policy = self.policy(settings)?;
        let (_, status) = self.try_once(settings, &policy, &pending, true).await?;
        let _ = self.schedule().await;
        Ok(Reply {
            status: 200,
            headers: vec![("content-type", "text/plain".into())],
            body: status.into_bytes(),
        })
    }

    /// Tells the dead index and `ALERT_URL` of the deaths whose notices are due, each notice
    /// once (contract §11).
    async fn tell(&self, settings: &Settings) -> Result<()> {
        let alerting = settings.alert_url.is_some();
        let now = now_ms();
        let dead = self.events.rows()?.into_iter().filter(|r| {
            r.stored.record.state == outbox::State::Dead && r.notices.pending(alerting)
        });
        for row in dead {
            let owed = row.notices.owed(alerting, now);
            if !(owed.index || owed.alert) {
                continue;
            }
            let indexed = owed.index && client::index(&self.env, &dead_entry(&row)).await;
            let alerted = owed.alert && self.alert(settings, &row).await;
            let notices: Notices = row.notices.after(owed, indexed, alerted, now_ms());
            self.events.set_notices(&row.stored.record.id, &notices)?;
        }
        Ok(())
    }

    /// Announces one dead event at `ALERT_URL`: `true` when the endpoint took it.
    async fn alert(&self, settings: &Settings, row: &Row) -> bool {
        let Some(alert_url) = &settings.alert_url else {
            return false;
        };
        let entry = dead_entry(row);
        let body = notices::alert_body(&DeadEvent {
            id: entry.id.clone(),
            event_type: entry.event_type,
            chat_id: entry.chat_id,
            attempts: entry.attempts,
            last_status: entry.last_status,
        });
        let started = now_ms();
        let timeout = settings.origin_timeout_ms.min(notices::ALERT_TIMEOUT_MS);
        let answer = forward::send(&alert_url.json(body), timeout).await;
        let mut line = LogLine::new("alert");
        line.id = Some(entry.id);
        line.chat(row.stored.chat_id.as_deref());
        line.origin_status = answer.status;
        line.outcome = if answer.accepted() {
            "alerted"
        } else {
            "alert_failed"
        };
        log(line.line(started, now_ms()));
        answer.accepted()
    }

    /// `View`: the chat's events in order, with their attempts (admin view).
    fn view(&self) -> Result<Reply> {
        let rows = self.events.rows()?;
        if rows.is_empty() {
            return Ok(EdgeError::NotFound.reply());
        }
        let stored: Vec<_> = rows.into_iter().map(|r| r.stored).collect();
        Ok(Reply {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: outbox::chat_view(&stored),
        })
    }

    /// `Replay`: a dead event back to pending, its attempts from zero.
    async fn replay(&self, id: &str) -> Result<Reply> {
        if !self.events.replay(id, now_ms())? {
            return Ok(EdgeError::NotFound.reply());
        }
        let _ = self.schedule().await;
        Ok(Reply::delivery(200, "pending", id))
    }
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
