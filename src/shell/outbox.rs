//! `ChatOutbox` (SPEC §11): a SQLite-backed Durable Object per chat that is each accepted
//! event's home until it is delivered. It stores events (`POST /events`), runs the core's
//! plan from its alarm (deliver the front event, record the attempt, retry or kill it, sweep),
//! and answers the admin API (`GET /events`, `POST /replay`).
//!
//! One object of the same class, named [`DEAD_INDEX`], lists dead events of every chat
//! (`/index/…`). It is written only when an event dies or is replayed, so an accepted event
//! costs writes in its own chat's object only.
//!
//! Concurrency: SQL calls are synchronous, and the runtime's input gate lets no other request
//! in while this object runs synchronous code or awaits its own storage, so the insert-if-absent
//! of `POST /events` is strict: of identical concurrent deliveries exactly one inserts. Its
//! output gate holds the answer until the write is durable, so 202 means stored.

use std::cell::Cell;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Serialize;
use worker::js_sys::{self, Array, Uint8Array};
// The exported class's derive names `wasm_bindgen` at the crate path.
use worker::wasm_bindgen;
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Env};

use crate::logic::event::{Event, EventType};
use crate::logic::log_line::LogLine;
use crate::logic::outbox::{self, DeadEvent, Policy, Record, DEAD_INDEX};
use crate::logic::params;
use crate::logic::reply::Reply;
use crate::logic::route;
use crate::logic::settings::Settings;
use crate::logic::times;
use crate::shell::environment::{self, now_ms};
use crate::shell::fetch::log;
use crate::shell::forward::{forward, send};
use crate::shell::http::response;

// The runtime's objects, bound directly: worker's `#[durable_object]` class and its
// Request/Response/Stub/SQL wrappers added about 16 KB (gzipped) to the wasm.
#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen, js_sys = worker::js_sys)]
extern "C" {
    /// The object's `state` (`DurableObjectState`).
    #[wasm_bindgen(extends = js_sys::Object)]
    pub type State;
    #[wasm_bindgen(method, getter)]
    fn storage(this: &State) -> Storage;

    /// `state.storage`.
    #[wasm_bindgen(extends = js_sys::Object)]
    type Storage;
    #[wasm_bindgen(method, getter)]
    fn sql(this: &Storage) -> SqlStorage;
    /// Takes the absolute time in unix ms.
    #[wasm_bindgen(method, catch, js_name = setAlarm)]
    fn set_alarm(this: &Storage, at_ms: f64) -> std::result::Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getAlarm)]
    fn get_alarm(this: &Storage) -> std::result::Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = deleteAll)]
    fn delete_all(this: &Storage) -> std::result::Result<js_sys::Promise, JsValue>;

    /// `state.storage.sql`.
    #[wasm_bindgen(extends = js_sys::Object)]
    type SqlStorage;
    #[wasm_bindgen(method, catch, variadic, js_name = exec)]
    fn exec_array(
        this: &SqlStorage,
        query: &str,
        bindings: Array,
    ) -> std::result::Result<SqlCursor, JsValue>;

    /// The cursor `exec` returns.
    #[wasm_bindgen(extends = js_sys::Object)]
    type SqlCursor;
    /// Its rows as arrays of values.
    #[wasm_bindgen(method)]
    fn raw(this: &SqlCursor) -> js_sys::Iterator;

    /// A Durable Object namespace binding.
    #[wasm_bindgen(extends = js_sys::Object)]
    type Namespace;
    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &Namespace, name: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &Namespace, id: &JsValue) -> std::result::Result<Stub, JsValue>;

    /// A stub of one object.
    #[wasm_bindgen(extends = js_sys::Object)]
    type Stub;
    #[wasm_bindgen(method, catch)]
    fn fetch(
        this: &Stub,
        request: &web_sys::Request,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// What the runtime receives when a call fails: a rejected promise.
type Result<T> = std::result::Result<T, JsValue>;

/// Deliveries one alarm run makes before it yields (it sets the next alarm at once).
const DELIVERIES_PER_ALARM: usize = 25;

/// How long before dead-event notices that failed (index or alert) are tried again.
const NOTICE_RETRY_MS: u64 = 30_000;

/// The most dead events `/admin/dead` lists (the newest); `total` says how many there are.
const DEAD_LISTED: u32 = 1000;

/// How many times an alert is tried before it is given up (it is logged each time).
const ALERT_TRIES: u32 = 3;

/// A chat's events, created by the chat's first event (the dead index has only `dead`, created
/// when first written). Keyed by the event id without a rowid, so that a row is one b-tree
/// entry; each attempt is appended to the event's own `attempt_log` (see
/// [`outbox::attempt_entry`]) in the same UPDATE that applies its outcome, so an attempt costs
/// one row written.
const SCHEMA: &[&str] = &["CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY NOT NULL,
        type TEXT NOT NULL,
        seq INTEGER NOT NULL,
        chat_id TEXT,
        state TEXT NOT NULL,
        body BLOB,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        finished_at INTEGER,
        last_status TEXT,
        indexed INTEGER NOT NULL DEFAULT 0,
        alerted INTEGER NOT NULL DEFAULT 0,
        alert_tries INTEGER NOT NULL DEFAULT 0,
        attempt_log TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID"];

const DEAD_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS dead (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    chat_id TEXT,
    died_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_status TEXT NOT NULL
)";

/// One chat's outbox (or the dead index, by its name): the Durable Object class that the
/// `OUTBOX` binding names. The runtime constructs it with `(state, env)` and calls `fetch` and
/// `alarm`.
#[wasm_bindgen(wasm_bindgen = worker::wasm_bindgen)]
pub struct ChatOutbox {
    state: State,
    env: Env,
    /// Whether this instance has created the tables (they are created on the first write, and
    /// dropped with everything else once the chat's last row is swept).
    tables_ready: Cell<bool>,
}

fn int(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn json_reply<T: Serialize>(status: u16, value: &T) -> Result<web_sys::Response> {
    response(Reply::json(status, value))
}

fn status_reply(status: u16, word: &str, id: &str) -> Result<web_sys::Response> {
    response(Reply::delivery(status, word, id))
}

fn not_found() -> Result<web_sys::Response> {
    response(crate::logic::error::EdgeError::NotFound.reply())
}

impl SqlStorage {
    /// Runs `query` with its positional `?` bindings.
    fn exec(&self, query: &str, bindings: Vec<JsValue>) -> Result<SqlCursor> {
        self.exec_array(query, bindings.into_iter().collect())
    }
}

impl SqlCursor {
    /// The first row, if any. (Not the runtime's `one()`, which throws unless there is exactly
    /// one row.)
    fn first(&self) -> Result<Option<Cells>> {
        next_row(&self.raw())
    }
}

/// The next row of a cursor, as its array of values.
fn next_row(rows: &js_sys::Iterator) -> Result<Option<Cells>> {
    let next = rows.next()?;
    Ok((!next.done()).then(|| Cells(next.value().unchecked_into())))
}

/// A query parameter of a request from the worker (which percent-encodes every value). Read
/// without `Request::url`, whose URL parser would add much to the wasm.
fn query(url: &str, key: &str) -> Option<String> {
    let (_, query) = route::path_and_query(url.as_bytes());
    params::value(query, key.as_bytes()).map(|value| String::from_utf8_lossy(&value).into_owned())
}

/// One row as the cursor's raw values. Rows are read this way rather than through serde, whose
/// JS deserializer would add a good part of the wasm for a handful of columns.
struct Cells(Array);

impl Cells {
    fn number(&self, i: u32) -> Option<u64> {
        self.0
            .get(i)
            .as_f64()
            .filter(|n| *n >= 0.0)
            .map(|n| n as u64)
    }

    fn text(&self, i: u32) -> Option<String> {
        self.0.get(i).as_string()
    }

    /// A BLOB column (empty when NULL).
    fn bytes(&self, i: u32) -> Vec<u8> {
        let value = self.0.get(i);
        if value.is_object() {
            Uint8Array::new(&value).to_vec()
        } else {
            Vec::new()
        }
    }

    fn count(&self, i: u32) -> u32 {
        self.number(i)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    }
}

/// Every row of a query, as raw values.
fn select(sql: &SqlStorage, query: &str, bindings: Vec<JsValue>) -> Result<Vec<Cells>> {
    let rows = sql.exec(query, bindings)?.raw();
    let mut all = Vec::new();
    while let Some(row) = next_row(&rows)? {
        all.push(row);
    }
    Ok(all)
}

/// An `events` row without its body.
#[derive(Debug)]
struct Row {
    id: String,
    event_type: String,
    seq: u64,
    chat_id: Option<String>,
    state: String,
    attempts: u32,
    next_at: u64,
    received_at: u64,
    finished_at: Option<u64>,
    last_status: Option<String>,
    body_bytes: Option<u64>,
}

const ROW_COLUMNS: &str = "id, type, seq, chat_id, state, attempts, next_at, received_at, \
                           finished_at, last_status, length(body) AS body_bytes";

impl Row {
    /// Reads the columns of [`ROW_COLUMNS`], in that order.
    fn from_cells(c: &Cells) -> Option<Row> {
        Some(Row {
            id: c.text(0)?,
            event_type: c.text(1)?,
            seq: c.number(2)?,
            chat_id: c.text(3),
            state: c.text(4)?,
            attempts: c.count(5),
            next_at: c.number(6)?,
            received_at: c.number(7)?,
            finished_at: c.number(8),
            last_status: c.text(9),
            body_bytes: c.number(10),
        })
    }

    fn record(&self) -> Option<Record> {
        Some(Record {
            id: self.id.clone(),
            event_type: EventType::ALL
                .into_iter()
                .find(|t| t.as_str() == self.event_type)?,
            seq: self.seq,
            state: outbox::State::parse(&self.state)?,
            attempts: self.attempts,
            next_at_ms: self.next_at,
            received_at_ms: self.received_at,
            finished_at_ms: self.finished_at,
        })
    }
}

/// A dead event as the index lists it.
#[derive(Debug)]
struct DeadEntry {
    id: String,
    event_type: String,
    chat_id: Option<String>,
    died_at: u64,
    attempts: u32,
    last_status: String,
}

#[wasm_bindgen(
    wasm_bindgen = worker::wasm_bindgen,
    wasm_bindgen_futures = worker::wasm_bindgen_futures,
    js_sys = worker::js_sys
)]
impl ChatOutbox {
    /// The runtime's constructor call.
    #[wasm_bindgen(constructor)]
    pub fn new(state: State, env: Env) -> ChatOutbox {
        ChatOutbox {
            state,
            env,
            tables_ready: Cell::new(false),
        }
    }

    /// A request from the worker (see [`call`]). Takes `&self`: requests interleave at awaits.
    pub async fn fetch(&self, req: web_sys::Request) -> Result<web_sys::Response> {
        let url = req.url();
        let path = route::path_and_query(url.as_bytes()).0.to_string();
        let query = |key| query(&url, key);
        let method = req.method();
        match (method.as_str(), path.as_str()) {
            ("POST", "/events") => {
                let body = JsFuture::from(req.array_buffer()?).await?;
                self.store(Uint8Array::new(&body).to_vec(), query("chat"))
                    .await
            }
            ("GET", "/events") => self.view(),
            ("POST", "/replay") => self.replay(&query("id").unwrap_or_default()).await,
            ("POST", "/index/dead") => {
                let entry = DeadEntry {
                    id: query("id").unwrap_or_default(),
                    event_type: query("type").unwrap_or_default(),
                    chat_id: query("chat"),
                    died_at: query("died_at").and_then(|n| n.parse().ok()).unwrap_or(0),
                    attempts: query("attempts").and_then(|n| n.parse().ok()).unwrap_or(0),
                    last_status: query("last_status").unwrap_or_default(),
                };
                self.index_put(&entry)
            }
            ("GET", "/index/chat") => self.index_chat(&query("id").unwrap_or_default()),
            ("POST", "/index/undead") => self.index_remove(&query("id").unwrap_or_default()),
            ("GET", "/index/dead") => self.index_list(query("id")),
            _ => not_found(),
        }
    }

    /// The alarm: delivers, announces dead events, sweeps, and sets the next alarm. An error
    /// rejects, and the runtime retries the alarm.
    pub async fn alarm(&self) -> Result<()> {
        let loaded = environment::settings(&self.env);
        let settings = match loaded.as_ref() {
            Ok(settings) => settings,
            Err(problems) => {
                let mut line = LogLine::new("outbox");
                line.outcome = "misconfigured";
                line.problems.clone_from(problems);
                let now = now_ms();
                log(line.line(now, now));
                self.wake_at(now + 60_000).await?;
                return Ok(());
            }
        };
        if !self.has_events()? {
            return Ok(());
        }
        let policy = self.policy(settings)?;
        for _ in 0..DELIVERIES_PER_ALARM {
            let records = self.records()?;
            let Some(id) = outbox::plan(&records, now_ms(), &policy).deliver else {
                break;
            };
            self.attempt(settings, &policy, &id).await?;
        }
        let notices_left = self.announce(settings).await?;
        let now = now_ms();
        self.sweep(now, &policy)?;
        let records = self.records()?;
        if records.is_empty() {
            // Every row is swept: drop the object's storage, metadata and alarm included.
            JsFuture::from(self.state.storage().delete_all()?).await?;
            self.tables_ready.set(false);
            return Ok(());
        }
        let wake = outbox::plan(&records, now, &policy).wake_at_ms;
        let wake = match (wake, notices_left) {
            (wake, true) => {
                Some(wake.map_or(now + NOTICE_RETRY_MS, |w| w.min(now + NOTICE_RETRY_MS)))
            }
            (wake, false) => wake,
        };
        if let Some(at) = wake {
            self.wake_at(at).await?;
        }
        Ok(())
    }
}

impl ChatOutbox {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// The outbox policy for this object: an object of an event whose chat has no id
    /// (`event:<id>`) holds nothing for a `chat_started`.
    fn policy(&self, settings: &Settings) -> Result<Policy> {
        let policy = Policy::from_settings(settings);
        let chats = select(
            &self.sql(),
            "SELECT 1 FROM events WHERE chat_id IS NOT NULL LIMIT 1",
            Vec::new(),
        )?;
        Ok(if chats.is_empty() {
            policy.without_chat()
        } else {
            policy
        })
    }

    /// The chat tables, created if this object has none yet.
    fn tables(&self) -> Result<SqlStorage> {
        let sql = self.sql();
        if !self.tables_ready.get() {
            for ddl in SCHEMA {
                sql.exec(ddl, Vec::new())?;
            }
            self.tables_ready.set(true);
        }
        Ok(sql)
    }

    /// Whether this object holds any chat rows at all (without creating the tables, so that
    /// reading an unknown chat writes nothing).
    fn has_events(&self) -> Result<bool> {
        if self.tables_ready.get() {
            return Ok(true);
        }
        let found = select(
            &self.sql(),
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'",
            Vec::new(),
        )?;
        self.tables_ready.set(!found.is_empty());
        Ok(!found.is_empty())
    }

    fn rows(&self, filter: &str, bindings: Vec<JsValue>) -> Result<Vec<Row>> {
        Ok(select(
            &self.sql(),
            &format!("SELECT {ROW_COLUMNS} FROM events {filter}"),
            bindings,
        )?
        .iter()
        .filter_map(Row::from_cells)
        .collect())
    }

    fn records(&self) -> Result<Vec<Record>> {
        Ok(self
            .rows("", Vec::new())?
            .iter()
            .filter_map(Row::record)
            .collect())
    }

    /// Sets the alarm to `at_ms` (unix ms).
    async fn wake_at(&self, at_ms: u64) -> Result<()> {
        JsFuture::from(self.state.storage().set_alarm(at_ms as f64)?).await?;
        Ok(())
    }

    /// Makes sure the alarm fires by the plan's time: moved earlier only, so a stored event
    /// costs no alarm write while one is already due sooner.
    async fn schedule(&self) -> Result<()> {
        let loaded = environment::settings(&self.env);
        let now = now_ms();
        let want = match loaded.as_ref() {
            Ok(settings) => outbox::plan(&self.records()?, now, &self.policy(settings)?).wake_at_ms,
            // Wake now: the alarm logs the problem and retries.
            Err(_) => Some(now),
        };
        let Some(want) = want else {
            return Ok(());
        };
        // The alarm's time in unix ms, or null when none is set.
        let current = JsFuture::from(self.state.storage().get_alarm()?).await?;
        if current.as_f64().is_none_or(|at| at.max(0.0) as u64 > want) {
            self.wake_at(want).await?;
        }
        Ok(())
    }

    /// `POST /events?chat=<chat id>`: stores the event unless its id is here already.
    async fn store(&self, body: Vec<u8>, chat_id: Option<String>) -> Result<web_sys::Response> {
        let Some(event) = Event::from_body(body) else {
            return not_found();
        };
        let now = now_ms();
        let inserted = self
            .tables()
            .and_then(|sql| {
                sql.exec(
                "INSERT INTO events (id, type, seq, chat_id, state, body, next_at, received_at)
                 SELECT ?, ?, coalesce(max(seq), 0) + 1, ?, 'pending', ?, ?, ? FROM events WHERE true
                 ON CONFLICT (id) DO NOTHING RETURNING seq",
                vec![
                    text(&event.id),
                    text(event.event_type.as_str()),
                    chat_id.as_deref().map(text).unwrap_or(JsValue::NULL),
                    Uint8Array::from(event.body.as_slice()).into(),
                    int(now),
                    int(now),
                ],
            )
            })
            .and_then(|cursor| Ok(cursor.first()?.is_some()));
        // The alarm is what delivers: an event is answered 202 only once one is due for it.
        // A duplicate checks the alarm too, so that Webim's retry of a call answered 503
        // (stored, but its alarm not set) sets it.
        let unavailable = || response(crate::logic::error::EdgeError::StorageUnavailable.reply());
        match inserted {
            Ok(false) => {
                let _ = self.schedule().await;
                status_reply(200, "duplicate", &event.id)
            }
            Ok(true) => match self.schedule().await {
                Ok(()) => status_reply(202, "queued", &event.id),
                Err(_) => unavailable(),
            },
            Err(_) => unavailable(),
        }
    }

    /// One attempt at the front event, recorded, and its next state applied.
    async fn attempt(&self, settings: &Settings, policy: &Policy, id: &str) -> Result<()> {
        let sql = self.sql();
        let cursor = sql.exec(
            "SELECT body, attempts, chat_id FROM events WHERE id = ? AND state = 'pending'",
            vec![text(id)],
        )?;
        let Some(row) = cursor.first()? else {
            return Ok(());
        };
        let body = row.bytes(0);
        let previous = row.count(1);
        let chat_id = row.text(2);
        let attempts = previous.saturating_add(1);
        let started = now_ms();
        let answer = match Event::from_body(body) {
            Some(event) => forward(settings, &event).await,
            None => Default::default(),
        };
        let ended = now_ms();
        let status = outbox::status_word(&answer);
        let entry = outbox::attempt_entry(started, &status, ended.saturating_sub(started));
        let outcome = outbox::after_attempt(&answer, attempts, ended, policy);
        let mut line = LogLine::new("outbox");
        line.id = Some(id.to_string());
        line.chat_id.clone_from(&chat_id);
        line.attempt = Some(attempts);
        line.origin_status = answer.status;
        line.outcome = outcome.code();
        // Each statement takes (attempts, a time, last status, attempt log entry, id).
        let (statement, at) = match outcome {
            // The chat is personal data: gone the moment the origin has it.
            outbox::Outcome::Delivered => (
                "UPDATE events SET state = 'delivered', body = NULL, attempts = ?,
                 finished_at = ?, last_status = ?, attempt_log = attempt_log || ?
                 WHERE id = ?",
                ended,
            ),
            outbox::Outcome::Retry { next_at_ms } => {
                line.retry_in_s =
                    Some(u32::try_from(next_at_ms.saturating_sub(ended) / 1000).unwrap_or(0));
                (
                    "UPDATE events SET attempts = ?, next_at = ?, last_status = ?,
                     attempt_log = attempt_log || ? WHERE id = ?",
                    next_at_ms,
                )
            }
            outbox::Outcome::Dead => (
                "UPDATE events SET state = 'dead', attempts = ?, finished_at = ?,
                 last_status = ?, indexed = 0, alerted = 0, alert_tries = 0,
                 attempt_log = attempt_log || ? WHERE id = ?",
                ended,
            ),
        };
        sql.exec(
            statement,
            vec![
                int(attempts.into()),
                int(at),
                text(&status),
                text(&entry),
                text(id),
            ],
        )?;
        log(line.line(started, ended));
        Ok(())
    }

    /// Tells the dead index and `ALERT_URL` about events that died; `true` when a notice is
    /// still owed (to be tried again soon).
    async fn announce(&self, settings: &Settings) -> Result<bool> {
        let alerting = settings.alert_url.is_some();
        let dead = self.rows(
            "WHERE state = 'dead' AND (indexed = 0 OR (? AND alerted = 0 AND alert_tries < ?))",
            vec![JsValue::from_bool(alerting), int(ALERT_TRIES.into())],
        )?;
        let mut owed = false;
        for row in dead {
            let entry = DeadEntry {
                id: row.id.clone(),
                event_type: row.event_type.clone(),
                chat_id: row.chat_id.clone(),
                died_at: row.finished_at.unwrap_or_default(),
                attempts: row.attempts,
                last_status: row.last_status.clone().unwrap_or_default(),
            };
            let indexed = self.index_call(&entry).await;
            if indexed {
                self.sql().exec(
                    "UPDATE events SET indexed = 1 WHERE id = ? AND state = 'dead'",
                    vec![text(&row.id)],
                )?;
            }
            owed |= !indexed;
            if let Some(alert_url) = &settings.alert_url {
                let Some(event_type) = row.record().map(|r| r.event_type.as_str()) else {
                    continue;
                };
                let body = outbox::alert_body(&DeadEvent {
                    id: entry.id.clone(),
                    event_type,
                    chat_id: entry.chat_id.clone(),
                    attempts: entry.attempts,
                    last_status: entry.last_status.clone(),
                });
                let started = now_ms();
                let answer = send(&alert_url.json(body), settings.origin_timeout_ms).await;
                let mut line = LogLine::new("alert");
                line.id = Some(entry.id.clone());
                line.chat_id.clone_from(&entry.chat_id);
                line.origin_status = answer.status;
                line.outcome = if answer.accepted() {
                    "alerted"
                } else {
                    "alert_failed"
                };
                log(line.line(started, now_ms()));
                self.sql().exec(
                    "UPDATE events SET alerted = ?, alert_tries = alert_tries + 1 WHERE id = ?",
                    vec![JsValue::from_bool(answer.accepted()), text(&row.id)],
                )?;
                owed |= !answer.accepted() && row_alert_tries(&self.sql(), &row.id) < ALERT_TRIES;
            }
        }
        Ok(owed)
    }

    /// Adds a dead event to the index; `true` when the index took it.
    async fn index_call(&self, entry: &DeadEntry) -> bool {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut path = format!(
            "/index/dead?id={}&type={}&died_at={}&attempts={}&last_status={}",
            enc(&entry.id),
            enc(&entry.event_type),
            entry.died_at,
            entry.attempts,
            enc(&entry.last_status)
        );
        if let Some(chat) = &entry.chat_id {
            path.push_str("&chat=");
            path.push_str(&enc(chat));
        }
        match call(&self.env, DEAD_INDEX, "POST", &path, None).await {
            Ok((status, _)) => (200..300).contains(&status),
            Err(_) => false,
        }
    }

    /// Deletes finished events (with their attempts) whose retention has passed.
    fn sweep(&self, now: u64, policy: &Policy) -> Result<()> {
        let records = self.records()?;
        for id in outbox::swept(&records, now, policy) {
            self.sql()
                .exec("DELETE FROM events WHERE id = ?", vec![text(id)])?;
        }
        Ok(())
    }

    /// `GET /events`: the chat's events in order, with their attempts (admin view).
    fn view(&self) -> Result<web_sys::Response> {
        #[derive(Serialize)]
        struct AttemptView {
            at: String,
            status: String,
            duration_ms: u64,
        }
        #[derive(Serialize)]
        struct EventView {
            id: String,
            #[serde(rename = "type")]
            event_type: String,
            state: &'static str,
            attempts: u32,
            received_at: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_attempt_at: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            finished_at: Option<String>,
            last_status: Option<String>,
            /// Bytes of the clean event still stored (none once delivered).
            stored_bytes: u64,
            attempt_log: Vec<AttemptView>,
        }
        #[derive(Serialize)]
        struct ChatView {
            chat_id: Option<String>,
            events: Vec<EventView>,
        }
        if !self.has_events()? {
            return not_found();
        }
        let rows = self.rows("", Vec::new())?;
        if rows.is_empty() {
            return not_found();
        }
        let logs: Vec<(String, String)> = select(
            &self.sql(),
            "SELECT id, attempt_log FROM events",
            Vec::new(),
        )?
        .iter()
        .filter_map(|c| Some((c.text(0)?, c.text(1).unwrap_or_default())))
        .collect();
        let records: Vec<Record> = rows.iter().filter_map(Row::record).collect();
        let events = outbox::in_order(&records)
            .into_iter()
            .filter_map(|record| {
                let row = rows.iter().find(|r| r.id == record.id)?;
                let pending = record.state == outbox::State::Pending;
                Some(EventView {
                    id: row.id.clone(),
                    event_type: row.event_type.clone(),
                    state: outbox::view_state(&records, record),
                    attempts: row.attempts,
                    received_at: times::format_millis(row.received_at),
                    next_attempt_at: pending.then(|| times::format_millis(row.next_at)),
                    finished_at: row.finished_at.map(times::format_millis),
                    last_status: row.last_status.clone(),
                    stored_bytes: row.body_bytes.unwrap_or(0),
                    attempt_log: logs
                        .iter()
                        .find(|(id, _)| *id == row.id)
                        .map(|(_, log)| outbox::attempts_in(log))
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(at, status, duration_ms)| AttemptView {
                            at: times::format_millis(at),
                            status: status.to_string(),
                            duration_ms,
                        })
                        .collect(),
                })
            })
            .collect();
        json_reply(
            200,
            &ChatView {
                chat_id: rows.iter().find_map(|r| r.chat_id.clone()),
                events,
            },
        )
    }

    /// `POST /replay?id=`: a dead event back to pending, its attempts from zero.
    async fn replay(&self, id: &str) -> Result<web_sys::Response> {
        let now = now_ms();
        if !self.has_events()? {
            return not_found();
        }
        let returned = self.sql().exec(
            "UPDATE events SET state = 'pending', attempts = 0, next_at = ?, finished_at = NULL
             WHERE id = ? AND state = 'dead' AND body IS NOT NULL RETURNING id",
            vec![int(now), text(id)],
        )?;
        let changed = !matches!(returned.first(), Ok(None));
        if !changed {
            return not_found();
        }
        let _ = self.schedule().await;
        status_reply(200, "pending", id)
    }

    fn dead_table(&self) -> Result<SqlStorage> {
        let sql = self.sql();
        sql.exec(DEAD_SCHEMA, Vec::new())?;
        Ok(sql)
    }

    /// `POST /index/dead`: records (or refreshes) a dead event in the index, and sweeps
    /// entries older than the retention.
    fn index_put(&self, entry: &DeadEntry) -> Result<web_sys::Response> {
        let sql = self.dead_table()?;
        sql.exec(
            "INSERT INTO dead (id, type, chat_id, died_at, attempts, last_status)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET died_at = excluded.died_at,
               attempts = excluded.attempts, last_status = excluded.last_status",
            vec![
                text(&entry.id),
                text(&entry.event_type),
                entry.chat_id.as_deref().map(text).unwrap_or(JsValue::NULL),
                int(entry.died_at),
                int(entry.attempts.into()),
                text(&entry.last_status),
            ],
        )?;
        if let Ok(settings) = environment::settings(&self.env).as_ref() {
            let cutoff = now_ms().saturating_sub(Policy::from_settings(settings).retention_ms);
            sql.exec("DELETE FROM dead WHERE died_at < ?", vec![int(cutoff)])?;
        }
        status_reply(200, "indexed", &entry.id)
    }

    /// `GET /index/chat?id=`: the chat id of a listed dead event as plain text (empty for an
    /// event without one), or 404.
    fn index_chat(&self, id: &str) -> Result<web_sys::Response> {
        let rows = select(
            &self.dead_table()?,
            "SELECT chat_id FROM dead WHERE id = ?",
            vec![text(id)],
        )?;
        match rows.first() {
            Some(row) => {
                web_sys::Response::new_with_opt_str(Some(&row.text(0).unwrap_or_default()))
            }
            None => not_found(),
        }
    }

    /// `POST /index/undead?id=`: the event was replayed.
    fn index_remove(&self, id: &str) -> Result<web_sys::Response> {
        self.dead_table()?
            .exec("DELETE FROM dead WHERE id = ?", vec![text(id)])?;
        status_reply(200, "removed", id)
    }

    /// `GET /index/dead`: every dead event, newest first; `?id=` one of them, or 404.
    fn index_list(&self, id: Option<String>) -> Result<web_sys::Response> {
        let sql = self.dead_table()?;
        let columns = "id, type, chat_id, died_at, attempts, last_status";
        let (filter, bindings) = match &id {
            Some(id) => ("WHERE id = ?", vec![text(id)]),
            None => (
                "ORDER BY died_at DESC, id LIMIT ?",
                vec![int(DEAD_LISTED.into())],
            ),
        };
        let entries: Vec<DeadEntry> = select(
            &sql,
            &format!("SELECT {columns} FROM dead {filter}"),
            bindings,
        )?
        .iter()
        .filter_map(|c| {
            Some(DeadEntry {
                id: c.text(0)?,
                event_type: c.text(1)?,
                chat_id: c.text(2),
                died_at: c.number(3)?,
                attempts: c.count(4),
                last_status: c.text(5).unwrap_or_default(),
            })
        })
        .collect();
        if id.is_some() && entries.is_empty() {
            return not_found();
        }
        #[derive(Serialize)]
        struct DeadView {
            id: String,
            #[serde(rename = "type")]
            event_type: String,
            chat_id: Option<String>,
            died_at: String,
            attempts: u32,
            last_status: String,
        }
        let dead: Vec<DeadView> = entries
            .into_iter()
            .map(|e| DeadView {
                id: e.id,
                event_type: e.event_type,
                chat_id: e.chat_id,
                died_at: times::format_millis(e.died_at),
                attempts: e.attempts,
                last_status: e.last_status,
            })
            .collect();
        #[derive(Serialize)]
        struct DeadList {
            total: u64,
            dead: Vec<DeadView>,
        }
        let total = select(&sql, "SELECT count(*) FROM dead", Vec::new())?
            .first()
            .and_then(|c| c.number(0))
            .unwrap_or(0);
        json_reply(200, &DeadList { total, dead })
    }
}

fn row_alert_tries(sql: &SqlStorage, id: &str) -> u32 {
    select(
        sql,
        "SELECT alert_tries FROM events WHERE id = ?",
        vec![text(id)],
    )
    .ok()
    .and_then(|rows| rows.first().map(|c| c.count(0)))
    .unwrap_or(ALERT_TRIES)
}

/// The outbox object named `name`.
fn stub(env: &Env, name: &str) -> Result<Stub> {
    let namespace: Namespace =
        js_sys::Reflect::get(env, &JsValue::from_str("OUTBOX"))?.unchecked_into();
    let id = namespace.id_from_name(name)?;
    namespace.get(&id)
}

/// Calls the object named `name` with `method` (`GET` or `POST`): its status and body.
pub async fn call(
    env: &Env,
    name: &str,
    method: &str,
    path_and_query: &str,
    body: Option<Vec<u8>>,
) -> Result<(u16, Vec<u8>)> {
    let stub = stub(env, name)?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&Uint8Array::from(body.as_slice()));
    }
    let request =
        web_sys::Request::new_with_str_and_init(&format!("https://outbox{path_and_query}"), &init)?;
    let answer: web_sys::Response = JsFuture::from(stub.fetch(&request)?)
        .await?
        .unchecked_into();
    let body = JsFuture::from(answer.array_buffer()?).await?;
    Ok((answer.status(), Uint8Array::new(&body).to_vec()))
}
