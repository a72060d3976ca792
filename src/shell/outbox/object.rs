//! `ChatOutbox` (contract §11): the SQLite-backed Durable Object class that the `OUTBOX`
//! binding names, in its three roles told apart by name: a chat's outbox (`chat:…`,
//! `event:…`; [`Chat`]), the dead index (`index:dead`; [`dead_index`]) and an origin's health
//! (`origin:…`; [`OriginWatch`]). It answers the core's [`Call`]s and runs its role's alarm.
//!
//! Concurrency: SQL calls are synchronous, and the runtime's input gate lets no other request
//! in while this object runs synchronous code or awaits its own storage, so the insert-if-absent
//! of a store is strict: of identical concurrent deliveries exactly one inserts. Its output gate
//! holds the answer until the write is durable, so 202 means stored.
//!
//! Runs: a store (of a new event, or a duplicate) is followed at once by a run of the plan (the
//! module entry calls [`ChatOutbox::run`] for the rest of the store's invocation, after its
//! answer), so an event is delivered without an alarm in between; the alarm runs the same plan
//! for retries, held events, notices and the sweep. One run at a time: a run asked for during
//! another makes that one go round again.
//!
//! Nothing wedges: a store is answered only once a wake-up [`AFTER_ERROR_MS`] away is written
//! (the module entry waits for that write, and sets one itself when it failed), every alarm run
//! first sets one again, and an error anywhere in a run is logged and leaves that wake-up (set
//! again) in place instead of rejecting, so the object never depends on its run finishing or on
//! the platform retrying a failed alarm. A wasm trap is caught by the module entry, which sets
//! the same wake-up from JavaScript.

use std::cell::Cell;

use worker::wasm_bindgen;
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::JsValue;
use worker::worker_sys::DurableObjectState;
use worker::{web_sys, Env};

use crate::logic::breaker::Heard;
use crate::logic::error::EdgeError;
use crate::logic::log_line::LogLine;
use crate::logic::outbox::{self, Policy, AFTER_ERROR_MS};
use crate::logic::outbox_call::Call;
use crate::logic::reply::Reply;
use crate::shell::environment;
use crate::shell::outbox::chat::{heard, Chat};
use crate::shell::outbox::dead_index;
use crate::shell::outbox::events::Events;
use crate::shell::outbox::origin::OriginWatch;
use crate::shell::runtime::durable::{after_write, Result, Storage};
use crate::shell::runtime::http::response;
use crate::shell::runtime::{log, now_ms};

/// One chat's outbox, or the dead index: the runtime constructs it with `(state, env)`; the
/// module entry hands each request to `receive`, then to `fetch` when `receive` leaves it,
/// calls `run` when `runWanted` says so, and `alarm`.
#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen)]
pub struct ChatOutbox {
    env: Env,
    /// The object's name: `chat:…`, `event:…`, `origin:…` or the dead index.
    name: String,
    events: Events,
    /// A store was taken since the entry last asked.
    run_wanted: Cell<bool>,
    /// When the run under way (a request's, the alarm's, or a probe) started, if one is.
    running_since: Cell<Option<u64>>,
    /// Which run holds `running_since`: a run taken over as lost does not clear it for the
    /// one that took over when it ends after all.
    run_token: Cell<u64>,
    /// A run was asked for while one was under way: that one goes round again.
    again: Cell<bool>,
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
            run_wanted: Cell::new(false),
            running_since: Cell::new(None),
            run_token: Cell::new(0),
            again: Cell::new(false),
        })
    }

    /// A [`Call`] from the worker or another object that needs no waiting in the wasm: a store
    /// (with its body, which the module entry read), and every call that only reads or writes
    /// this object's own storage. Its response, or for a store that wrote its wake-up the
    /// promise of its response once that write has settled (rejected if it failed);
    /// `undefined` for a call that waits for something else (another object, a delivery),
    /// which [`ChatOutbox::fetch`] answers.
    pub fn receive(&self, req: web_sys::Request, body: Option<Vec<u8>>) -> Result<JsValue> {
        let reply = match Call::parse(&req.method(), &req.url()) {
            Some(Call::Store { chat_id, key_index }) => {
                let stored =
                    self.chat()
                        .store(body.unwrap_or_default(), chat_id.as_deref(), key_index);
                if stored.run {
                    self.run_wanted.set(true);
                }
                let answer = response(stored.reply)?;
                return Ok(match stored.written {
                    Some(written) => after_write(&written, &answer).into(),
                    None => answer.into(),
                });
            }
            Some(Call::View) => self.chat().view(),
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
                Some(entry) => Ok(Reply::text(
                    200,
                    Call::IndexPut(entry).encode().path_and_query,
                )),
                None => Ok(EdgeError::NotFound.reply()),
            },
            Some(Call::IndexRemove { id, died_at_ms }) => {
                dead_index::remove(self.storage(), &id, died_at_ms)
            }
            Some(Call::IndexList(filter)) => dead_index::list(self.storage(), &filter),
            Some(Call::IndexTake { filter, limit }) => {
                dead_index::take(self.storage(), &filter, limit)
            }
            Some(Call::OriginView { origin }) => OriginWatch::new(self.storage(), &origin).view(),
            Some(
                Call::Replay { .. }
                | Call::Report { .. }
                | Call::Wait { .. }
                | Call::Probe { .. }
                | Call::Resume { .. },
            ) => return Ok(JsValue::UNDEFINED),
            None => Ok(EdgeError::NotFound.reply()),
        };
        response(reply?).map(Into::into)
    }

    /// A [`Call`] that [`ChatOutbox::receive`] left: one that waits for another object or a
    /// delivery. Takes `&self`: requests interleave at awaits.
    pub async fn fetch(&self, req: web_sys::Request) -> Result<web_sys::Response> {
        let reply = match Call::parse(&req.method(), &req.url()) {
            Some(Call::Replay { id }) => self.chat().replay(&id).await,
            Some(Call::Report {
                origin,
                event_id,
                chat,
                status,
                pending,
            }) => match environment::settings(&self.env).as_ref() {
                Ok(settings) => {
                    OriginWatch::new(self.storage(), &origin)
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
                    OriginWatch::new(self.storage(), &origin)
                        .wait(settings, &chat, pending)
                        .await
                }
                Err(_) => Ok(EdgeError::Misconfigured.reply()),
            },
            Some(Call::Probe { origin }) => self.probe(&origin).await,
            Some(Call::Resume { origin }) => {
                self.events.set_wait(&origin, false)?;
                heard(&origin, Some(Heard::Up));
                let _ = self.chat().schedule().await;
                Ok(Reply::delivery(200, "resumed", &origin))
            }
            // Answered by `receive`.
            _ => Ok(EdgeError::NotFound.reply()),
        };
        response(reply?)
    }

    /// Whether a store was taken since the entry last asked: the entry then calls
    /// [`ChatOutbox::run`] at once, for the rest of the request's invocation, so that a new
    /// event is delivered without waiting for the alarm (its wake-up is set all the same).
    #[wasm_bindgen(js_name = runWanted)]
    pub fn run_wanted(&self) -> bool {
        self.run_wanted.replace(false)
    }

    /// The alarm: one run of the plan. It never rejects: an error leaves a wake-up set.
    pub async fn alarm(&self) -> Result<()> {
        self.storage().alarm_fired();
        // Set before anything can fail, so even a reset of the runtime mid-run leaves one.
        let _ = self.storage().set_alarm(now_ms() + AFTER_ERROR_MS).await;
        self.run().await
    }

    /// A run of the plan, or, while one is under way, another round of it once it ends (so a
    /// chat's deliveries never overlap). It never rejects: an error is logged and leaves a
    /// wake-up [`AFTER_ERROR_MS`] away, where the store or the alarm had set one before.
    pub async fn run(&self) -> Result<()> {
        let Some(token) = self.begin_run() else {
            self.again.set(true);
            return Ok(());
        };
        loop {
            self.again.set(false);
            let started = now_ms();
            if let Err(error) = self.run_once().await {
                let mut line = LogLine::new("outbox");
                line.outcome = "alarm_failed";
                drop(error);
                log(line.line(started, now_ms()));
                let _ = self.storage().set_alarm(now_ms() + AFTER_ERROR_MS).await;
                break;
            }
            if !self.again.get() {
                break;
            }
        }
        self.end_run(token);
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

    /// Starts a run unless one is under way (one that has been under way for longer than the
    /// core allows is taken to be lost, and this one takes over): its token.
    fn begin_run(&self) -> Option<u64> {
        let now = now_ms();
        if self
            .running_since
            .get()
            .is_some_and(|since| !outbox::run_is_lost(since, now))
        {
            return None;
        }
        let token = self.run_token.get().wrapping_add(1);
        self.run_token.set(token);
        self.running_since.set(Some(now));
        Some(token)
    }

    /// Ends the run `token`, unless another took over from it.
    fn end_run(&self, token: u64) {
        if self.run_token.get() == token {
            self.running_since.set(None);
        }
    }

    /// `Probe`, as one of the object's runs: while another is under way the chat is busy (503,
    /// which the origin's object takes as no answer and probes again later), and a run asked
    /// for meanwhile follows it.
    async fn probe(&self, origin: &str) -> Result<Reply> {
        let Some(token) = self.begin_run() else {
            return Ok(EdgeError::StorageUnavailable.reply());
        };
        let reply = self.chat().probe(origin).await;
        self.end_run(token);
        if self.again.replace(false) {
            self.run_wanted.set(true);
        }
        reply
    }

    /// The chat's side of this object.
    fn chat(&self) -> Chat<'_> {
        Chat {
            env: &self.env,
            name: &self.name,
            events: &self.events,
        }
    }

    /// One run, by the object's role: an origin's, else a chat's (the dead index has no
    /// alarm of its own).
    async fn run_once(&self) -> Result<()> {
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
        match self.name.strip_prefix(ORIGIN_PREFIX) {
            Some(origin) => {
                OriginWatch::new(self.storage(), origin)
                    .alarm(&self.env, settings)
                    .await
            }
            None => self.chat().run(settings).await,
        }
    }
}
