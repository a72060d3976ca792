//! Durable Objects, with `worker-sys`'s declarations: an object's SQLite storage and alarm, and
//! calling an object of the `OUTBOX` namespace by name with one of the core's
//! [`Call`](crate::logic::outbox_call::Call)s.

use std::cell::Cell;

use worker::js_sys::{self, Array, Promise, Uint8Array};
use worker::wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::{DurableObjectNamespace, DurableObjectState, DurableObjectStorage};
use worker::{web_sys, Env};

use super::binding;
use crate::logic::outbox_call::Call;

/// What the runtime receives when a call fails: a rejected promise.
pub type Result<T> = std::result::Result<T, JsValue>;

/// A value bound to a `?` of a SQL statement.
pub enum Value<'a> {
    /// An integer (exact below 2^53).
    Int(u64),
    /// Text.
    Text(&'a str),
    /// A BLOB.
    Bytes(&'a [u8]),
    /// NULL.
    Null,
}

impl Value<'_> {
    fn js(&self) -> JsValue {
        match self {
            Value::Int(n) => JsValue::from_f64(*n as f64),
            Value::Text(s) => JsValue::from_str(s),
            Value::Bytes(b) => Uint8Array::from(*b).into(),
            Value::Null => JsValue::NULL,
        }
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Value<'a> {
        text.map_or(Value::Null, Value::Text)
    }
}

/// One row as the cursor's raw values, read by column index.
pub struct Cells(Array);

impl Cells {
    /// A non-negative integer column.
    pub fn number(&self, i: u32) -> Option<u64> {
        self.0
            .get(i)
            .as_f64()
            .filter(|n| *n >= 0.0)
            .map(|n| n as u64)
    }

    /// A count (0 when NULL or out of range).
    pub fn count(&self, i: u32) -> u32 {
        self.number(i)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    }

    /// A TEXT column.
    pub fn text(&self, i: u32) -> Option<String> {
        self.0.get(i).as_string()
    }

    /// A BLOB column (empty when NULL).
    pub fn bytes(&self, i: u32) -> Vec<u8> {
        let value = self.0.get(i);
        if value.is_object() {
            Uint8Array::new(&value).to_vec()
        } else {
            Vec::new()
        }
    }
}

/// An object's storage: its SQLite database and its alarm.
///
/// The alarm's time is kept as this instance last set or read it: only the object itself sets
/// its alarm, so after the first read asking again is only a wait, and setting it to the time
/// it already has writes nothing. The runtime clears an alarm as it fires it: an alarm run
/// starts with [`Storage::alarm_fired`].
pub struct Storage {
    storage: DurableObjectStorage,
    /// `None` until known; then the alarm's time, if one is set.
    alarm_at: Cell<Option<Option<u64>>>,
}

impl Storage {
    /// The storage of the object whose state this is.
    pub fn of(state: &DurableObjectState) -> Result<Storage> {
        Ok(Storage {
            storage: state.storage()?,
            alarm_at: Cell::new(None),
        })
    }

    /// Runs `query` with its `?` bindings; every row it returns.
    pub fn rows(&self, query: &str, bindings: &[Value<'_>]) -> Result<Vec<Cells>> {
        let cursor = self
            .storage
            .sql()
            .exec(query, bindings.iter().map(Value::js).collect())?;
        let rows = cursor.raw();
        let mut all = Vec::new();
        loop {
            let next = rows.next()?;
            if next.done() {
                return Ok(all);
            }
            all.push(Cells(next.value().unchecked_into()));
        }
    }

    /// Runs `query`; its first row, if any.
    pub fn first(&self, query: &str, bindings: &[Value<'_>]) -> Result<Option<Cells>> {
        Ok(self.rows(query, bindings)?.into_iter().next())
    }

    /// Runs a statement that returns nothing.
    pub fn exec(&self, query: &str, bindings: &[Value<'_>]) -> Result<()> {
        self.rows(query, bindings).map(drop)
    }

    /// Whether the database has the table `name` (asked without creating it, so that reading
    /// an object that holds nothing writes nothing).
    pub fn has_table(&self, name: &str) -> Result<bool> {
        Ok(self
            .first(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                &[Value::Text(name)],
            )?
            .is_some())
    }

    /// When the alarm is set for (unix ms), if it is.
    pub async fn alarm(&self) -> Result<Option<u64>> {
        if let Some(known) = self.alarm_at.get() {
            return Ok(known);
        }
        let at = JsFuture::from(self.storage.get_alarm(js_sys::Object::new())?).await?;
        let at = at.as_f64().map(|at| at.max(0.0) as u64);
        // A change asked for while this read was under way is newer than what it read.
        if self.alarm_at.get().is_none() {
            self.alarm_at.set(Some(at));
        }
        Ok(at)
    }

    /// Sets the alarm to `at_ms` (unix ms), unless it is set to that already.
    pub async fn set_alarm(&self, at_ms: u64) -> Result<()> {
        match self.change_alarm(at_ms)? {
            Some(written) => self.settled(Ok(written)).await,
            None => Ok(()),
        }
    }

    /// Makes sure the alarm fires by `at_ms`: moved earlier only.
    pub async fn wake_by(&self, at_ms: u64) -> Result<()> {
        if self.alarm().await?.is_none_or(|at| at > at_ms) {
            self.set_alarm(at_ms).await?;
        }
        Ok(())
    }

    /// [`Storage::wake_by`] without a wait, for a caller that cannot await (a store): while this
    /// instance does not know its alarm yet, the alarm is set to `at_ms` at once, in the
    /// transaction of the write just made. An earlier wake-up it replaces comes at most `at_ms`
    /// later; the run that wakes sets the plan's time again.
    ///
    /// Returns the write's promise, if there is one, for the caller to see settle before it
    /// answers: a failed write is a rejection, not an error here (the runtime reports its API's
    /// failures so). On a SQLite-backed object the write joins the transaction under way at
    /// once and the promise is settled already, so the wait costs a microtask in JavaScript;
    /// whoever sees it fail must set the alarm again, as the module entry does.
    pub fn wake_by_without_wait(&self, at_ms: u64) -> Result<Option<Promise>> {
        match self.alarm_at.get() {
            Some(Some(at)) if at <= at_ms => Ok(None),
            _ => self.change_alarm(at_ms),
        }
    }

    /// Asks the runtime to set the alarm to `at_ms` unless it is set to that already: the
    /// write's promise. Known from the moment it is asked for: a later call in this instance
    /// goes after it.
    fn change_alarm(&self, at_ms: u64) -> Result<Option<Promise>> {
        if self.alarm_at.get() == Some(Some(at_ms)) {
            return Ok(None);
        }
        self.alarm_at.set(Some(Some(at_ms)));
        let at = js_sys::Date::new(&JsValue::from_f64(at_ms as f64));
        let written = self.storage.set_alarm(at, js_sys::Object::new());
        if written.is_err() {
            self.alarm_at.set(None);
        }
        written.map(Some)
    }

    /// Deletes the alarm.
    pub async fn delete_alarm(&self) -> Result<()> {
        if self.alarm_at.get() == Some(None) {
            return Ok(());
        }
        self.alarm_at.set(Some(None));
        let deleted = self.storage.delete_alarm(js_sys::Object::new());
        self.settled(deleted).await
    }

    /// Deletes everything the object stores, its alarm included.
    pub async fn delete_all(&self) -> Result<()> {
        self.alarm_at.set(Some(None));
        let deleted = self.storage.delete_all();
        self.settled(deleted).await
    }

    /// The alarm fired: the runtime has cleared it.
    pub fn alarm_fired(&self) {
        self.alarm_at.set(Some(None));
    }

    /// Waits for a change of the alarm; when it fails, the alarm's time is unknown again.
    async fn settled(&self, promise: Result<Promise>) -> Result<()> {
        let settled = match promise {
            Ok(promise) => JsFuture::from(promise).await.map(drop),
            Err(error) => Err(error),
        };
        if settled.is_err() {
            self.alarm_at.set(None);
        }
        settled
    }
}

#[wasm_bindgen(module = "/src/shell/runtime/helpers.mjs", wasm_bindgen = worker::wasm_bindgen)]
extern "C" {
    /// A Durable Object's answer in flight ([`send`]), resolved to its status as text, or to
    /// null when the call failed: for a caller that needs the status alone and does not await
    /// it in the wasm.
    #[wasm_bindgen(js_name = statusOf)]
    pub fn status_of(answer: &Promise) -> Promise;
    /// `response` once `written` (a storage write's promise) has settled, or the write's
    /// failure.
    #[wasm_bindgen(js_name = afterWrite)]
    pub fn after_write(written: &Promise, response: &web_sys::Response) -> Promise;
}

/// Sends `call` (with `body`) to the object named `name` of the namespace bound as `namespace`:
/// its answer, in flight.
pub fn send(
    env: &Env,
    namespace: &str,
    name: &str,
    call: &Call,
    body: Option<&[u8]>,
) -> Result<Promise> {
    let namespace: DurableObjectNamespace = binding(env, namespace)
        .ok_or_else(|| JsValue::from_str("no Durable Object namespace bound"))?
        .unchecked_into();
    let stub = namespace.get(&namespace.id_from_name(name)?)?;
    let request = call.encode();
    let init = web_sys::RequestInit::new();
    init.set_method(request.method);
    if let Some(body) = body {
        init.set_body(&Uint8Array::from(body));
    }
    let request = web_sys::Request::new_with_str_and_init(
        &format!("https://outbox{}", request.path_and_query),
        &init,
    )?;
    stub.fetch_with_request(&request)
}

/// Sends `call` (with `body`) to the object named `name` of the namespace bound as `namespace`:
/// its answer's status and body.
pub async fn call(
    env: &Env,
    namespace: &str,
    name: &str,
    call: &Call,
    body: Option<&[u8]>,
) -> Result<(u16, Vec<u8>)> {
    let answer: web_sys::Response = JsFuture::from(send(env, namespace, name, call, body)?)
        .await?
        .unchecked_into();
    let body = JsFuture::from(answer.array_buffer()?).await?;
    Ok((answer.status(), Uint8Array::new(&body).to_vec()))
}
