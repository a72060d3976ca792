//! The dead index: one object ([`DEAD_INDEX`](crate::logic::outbox_call::DEAD_INDEX)) of the
//! outbox class that lists dead events of every chat, so that `/admin/dead` reads one table. It
//! is written only when an event dies or is replayed, so an accepted event costs writes in its
//! own chat's object only.

use serde::Serialize;

use crate::logic::dead_filter::DeadFilter;
use crate::logic::outbox_call::{encode_taken, DeadEntry};
use crate::logic::reply::Reply;
use crate::logic::times;
use crate::shell::runtime::durable::{Cells, Result, Storage, Value};

const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS dead (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        chat_id TEXT,
        died_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        last_status TEXT NOT NULL
    )",
    // The list is read newest first, and entries past the retention are swept by age.
    "CREATE INDEX IF NOT EXISTS dead_by_time ON dead (died_at)",
];

/// The most dead events `/admin/dead` lists (the newest); `total` says how many there are.
const LISTED: u32 = 1000;

const COLUMNS: &str = "id, type, chat_id, died_at, attempts, last_status";

fn table(storage: &Storage) -> Result<()> {
    for ddl in SCHEMA {
        storage.exec(ddl, &[])?;
    }
    Ok(())
}

fn entry(c: &Cells) -> Option<DeadEntry> {
    Some(DeadEntry {
        id: c.text(0)?,
        event_type: c.text(1)?,
        chat_id: c.text(2),
        died_at_ms: c.number(3)?,
        attempts: c.count(4),
        last_status: c.text(5).unwrap_or_default(),
    })
}

/// Lists (or refreshes) a dead event, and sweeps entries that died before `swept_before_ms`.
pub fn put(storage: &Storage, e: &DeadEntry, swept_before_ms: u64) -> Result<Reply> {
    table(storage)?;
    storage.exec(
        "INSERT INTO dead (id, type, chat_id, died_at, attempts, last_status)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET chat_id = excluded.chat_id, died_at = excluded.died_at,
           attempts = excluded.attempts, last_status = excluded.last_status",
        &[
            Value::Text(&e.id),
            Value::Text(&e.event_type),
            e.chat_id.as_deref().into(),
            Value::Int(e.died_at_ms),
            Value::Int(e.attempts.into()),
            Value::Text(&e.last_status),
        ],
    )?;
    storage.exec(
        "DELETE FROM dead WHERE died_at < ?",
        &[Value::Int(swept_before_ms)],
    )?;
    Ok(Reply::delivery(200, "indexed", &e.id))
}

/// The entry of the dead event `id`: where its chat is and when it died.
pub fn find(storage: &Storage, id: &str) -> Result<Option<DeadEntry>> {
    table(storage)?;
    Ok(storage
        .first(
            &format!("SELECT {COLUMNS} FROM dead WHERE id = ?"),
            &[Value::Text(id)],
        )?
        .as_ref()
        .and_then(entry))
}

/// Takes the entry of the death at `died_at_ms` off the list; a later death stays listed.
pub fn remove(storage: &Storage, id: &str, died_at_ms: u64) -> Result<Reply> {
    table(storage)?;
    storage.exec(
        "DELETE FROM dead WHERE id = ? AND died_at = ?",
        &[Value::Text(id), Value::Int(died_at_ms)],
    )?;
    Ok(Reply::delivery(200, "removed", id))
}

/// The `WHERE` clause of a filter, with its bindings.
fn clause(f: &DeadFilter) -> (String, Vec<Value<'_>>) {
    let mut parts = vec!["true"];
    let mut values = Vec::new();
    if let Some(since) = f.since_ms {
        parts.push("died_at >= ?");
        values.push(Value::Int(since));
    }
    if let Some(until) = f.until_ms {
        parts.push("died_at <= ?");
        values.push(Value::Int(until));
    }
    if let Some(t) = f.event_type {
        parts.push("type = ?");
        values.push(Value::Text(t.as_str()));
    }
    if let Some(chat) = f.chat_id.as_deref() {
        parts.push("chat_id = ?");
        values.push(Value::Text(chat));
    }
    (format!("WHERE {}", parts.join(" AND ")), values)
}

/// How many dead events match.
fn count(storage: &Storage, f: &DeadFilter) -> Result<u64> {
    let (clause, values) = clause(f);
    Ok(storage
        .first(&format!("SELECT count(*) FROM dead {clause}"), &values)?
        .and_then(|c| c.number(0))
        .unwrap_or(0))
}

/// At most `limit` matching dead events, oldest first, with how many more match.
pub fn take(storage: &Storage, f: &DeadFilter, limit: u32) -> Result<Reply> {
    table(storage)?;
    let (clause, mut values) = clause(f);
    values.push(Value::Int(limit.into()));
    let entries: Vec<DeadEntry> = storage
        .rows(
            &format!("SELECT {COLUMNS} FROM dead {clause} ORDER BY died_at, id LIMIT ?"),
            &values,
        )?
        .iter()
        .filter_map(entry)
        .collect();
    let remaining = count(storage, f)?.saturating_sub(entries.len() as u64);
    Ok(Reply::text(200, encode_taken(remaining, &entries)))
}

/// `/admin/dead`: the newest matching dead events, and how many match.
pub fn list(storage: &Storage, f: &DeadFilter) -> Result<Reply> {
    table(storage)?;
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
    #[derive(Serialize)]
    struct DeadList {
        total: u64,
        dead: Vec<DeadView>,
    }
    let (clause, mut values) = clause(f);
    values.push(Value::Int(LISTED.into()));
    let dead = storage
        .rows(
            &format!("SELECT {COLUMNS} FROM dead {clause} ORDER BY died_at DESC, id LIMIT ?"),
            &values,
        )?
        .iter()
        .filter_map(entry)
        .map(|e| DeadView {
            id: e.id,
            event_type: e.event_type,
            chat_id: e.chat_id,
            died_at: times::format_millis(e.died_at_ms),
            attempts: e.attempts,
            last_status: e.last_status,
        })
        .collect();
    let total = count(storage, f)?;
    Ok(Reply::json(200, &DeadList { total, dead }))
}
