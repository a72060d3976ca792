//! A chat's events in its object's SQLite database: the table, and each read and write the
//! object makes of it. Every decision about what to write is the core's
//! ([`crate::logic::outbox`], [`crate::logic::notices`]); this module only stores.

use std::cell::{Cell, RefCell};

use crate::logic::event::{Event, EventType};
use crate::logic::notices::Notices;
use crate::logic::outbox::{self, Outcome, Record, Stored};
use crate::shell::runtime::durable::{Cells, Result, Storage, Value};

/// The chat's events, keyed by the event id without a rowid, so that a row is one b-tree entry;
/// each attempt is appended to the event's own `attempt_log` in the same UPDATE that applies
/// its outcome, so an attempt costs one row written.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS events (
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
    attempt_log TEXT NOT NULL DEFAULT '',
    notice_failures INTEGER NOT NULL DEFAULT 0,
    notice_at INTEGER NOT NULL DEFAULT 0,
    key_index INTEGER
) WITHOUT ROWID";

/// The origins this chat waits for while they are down (contract §11): its events to them are
/// not attempted until the origin's object resumes the chat, or the chat, waking on its own,
/// finds the origin up.
const WAITS: &str = "CREATE TABLE IF NOT EXISTS waits (origin TEXT PRIMARY KEY NOT NULL)";

/// Columns added since the first release, with their definitions: an object created before
/// them gets them on its next write.
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("notice_failures", "INTEGER NOT NULL DEFAULT 0"),
    ("notice_at", "INTEGER NOT NULL DEFAULT 0"),
    ("key_index", "INTEGER"),
];

const COLUMNS: &str = "id, type, seq, chat_id, state, attempts, next_at, received_at, \
                       finished_at, last_status, length(body), attempt_log, indexed, alerted, \
                       alert_tries, notice_failures, notice_at";

/// One row of [`COLUMNS`], without its body.
pub struct Row {
    /// What the core reads and the admin view shows.
    pub stored: Stored,
    /// Where its dead-event notices stand.
    pub notices: Notices,
}

impl Row {
    fn read(c: &Cells) -> Option<Row> {
        let event_type = c.text(1)?;
        let record = Record {
            id: c.text(0)?,
            event_type: EventType::ALL
                .into_iter()
                .find(|t| t.as_str() == event_type)?,
            seq: c.number(2)?,
            state: outbox::State::parse(&c.text(4)?)?,
            attempts: c.count(5),
            next_at_ms: c.number(6)?,
            received_at_ms: c.number(7)?,
            finished_at_ms: c.number(8),
        };
        Some(Row {
            stored: Stored {
                record,
                chat_id: c.text(3),
                last_status: c.text(9),
                stored_bytes: c.number(10).unwrap_or(0),
                attempt_log: c.text(11).unwrap_or_default(),
            },
            notices: Notices {
                indexed: c.count(12) != 0,
                alerted: c.count(13) != 0,
                alert_tries: c.count(14),
                failures: c.count(15),
                due_at_ms: c.number(16).unwrap_or(0),
            },
        })
    }
}

/// The event an attempt sends, as stored.
pub struct Pending {
    /// The clean event.
    pub event: Event,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The chat's id.
    pub chat_id: Option<String>,
    /// The index of the Webim key that verified the delivery.
    pub key_index: Option<usize>,
    /// The status word of its previous attempt.
    pub last_status: Option<String>,
}

/// A chat's event table in one object's storage.
pub struct Events {
    storage: Storage,
    /// Whether this instance has seen the table (it is created by the chat's first event and
    /// dropped with everything else once the chat's last row is swept).
    ready: Cell<bool>,
    /// The origins the chat waits for, once read: only this object writes them.
    waits: RefCell<Option<Vec<String>>>,
}

impl Events {
    /// The table in `storage`.
    pub fn new(storage: Storage) -> Events {
        Events {
            storage,
            ready: Cell::new(false),
            waits: RefCell::new(None),
        }
    }

    /// The storage it lives in.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Creates the table (or adds the columns an older one lacks) unless this instance has.
    fn create(&self) -> Result<()> {
        if self.ready.get() {
            return Ok(());
        }
        self.storage.exec(SCHEMA, &[])?;
        self.storage.exec(WAITS, &[])?;
        let have: Vec<String> = self
            .storage
            .rows("SELECT name FROM pragma_table_info('events')", &[])?
            .iter()
            .filter_map(|c| c.text(0))
            .collect();
        for (column, definition) in ADDED_COLUMNS {
            if !have.iter().any(|name| name == column) {
                self.storage.exec(
                    &format!("ALTER TABLE events ADD COLUMN {column} {definition}"),
                    &[],
                )?;
            }
        }
        self.ready.set(true);
        Ok(())
    }

    /// Whether the object holds any events (without creating the table, so that reading an
    /// unknown chat writes nothing).
    pub fn exist(&self) -> Result<bool> {
        if !self.ready.get() {
            if !self.storage.has_table("events")? {
                return Ok(false);
            }
            // Created by an earlier instance, perhaps before the added columns.
            self.create()?;
        }
        Ok(true)
    }

    /// Forgets the table (after the object's storage was deleted).
    pub fn dropped(&self) {
        self.ready.set(false);
        self.waits.replace(None);
    }

    /// Every row, without bodies.
    pub fn rows(&self) -> Result<Vec<Row>> {
        if !self.exist()? {
            return Ok(Vec::new());
        }
        Ok(self
            .storage
            .rows(&format!("SELECT {COLUMNS} FROM events"), &[])?
            .iter()
            .filter_map(Row::read)
            .collect())
    }

    /// Stores `event` as pending, due at `now_ms`, unless its id is here: `true` when stored.
    pub fn insert(
        &self,
        event: &Event,
        chat_id: Option<&str>,
        key_index: Option<usize>,
        now_ms: u64,
    ) -> Result<bool> {
        self.create()?;
        let key = key_index.map_or(Value::Null, |k| Value::Int(k as u64));
        let inserted = self.storage.first(
            "INSERT INTO events (id, type, seq, chat_id, state, body, next_at, received_at, key_index)
             SELECT ?, ?, coalesce(max(seq), 0) + 1, ?, 'pending', ?, ?, ?, ? FROM events WHERE true
             ON CONFLICT (id) DO NOTHING RETURNING seq",
            &[
                Value::Text(&event.id),
                Value::Text(event.event_type.as_str()),
                chat_id.into(),
                Value::Bytes(&event.body),
                Value::Int(now_ms),
                Value::Int(now_ms),
                key,
            ],
        )?;
        Ok(inserted.is_some())
    }

    /// The pending event `id`, as an attempt sends it.
    pub fn pending(&self, id: &str) -> Result<Option<Pending>> {
        let Some(row) = self.storage.first(
            "SELECT body, attempts, chat_id, key_index, last_status FROM events
             WHERE id = ? AND state = 'pending'",
            &[Value::Text(id)],
        )?
        else {
            return Ok(None);
        };
        Ok(Event::from_body(row.bytes(0)).map(|event| Pending {
            event,
            attempts: row.count(1),
            chat_id: row.text(2),
            key_index: row.number(3).map(|k| k as usize),
            last_status: row.text(4),
        }))
    }

    /// Applies an attempt's outcome with the attempt's log entry. A delivered event's chat is
    /// personal data: its body is gone the moment the origin has it.
    pub fn apply(
        &self,
        id: &str,
        outcome: Outcome,
        attempts: u32,
        at_ms: u64,
        status: &str,
        entry: &str,
    ) -> Result<()> {
        let (statement, at) = match outcome {
            Outcome::Delivered => (
                "UPDATE events SET state = 'delivered', body = NULL, attempts = ?,
                 finished_at = ?, last_status = ?, attempt_log = attempt_log || ?
                 WHERE id = ?",
                at_ms,
            ),
            Outcome::Retry { next_at_ms } => (
                "UPDATE events SET attempts = ?, next_at = ?, last_status = ?,
                 attempt_log = attempt_log || ? WHERE id = ?",
                next_at_ms,
            ),
            Outcome::Dead => (
                "UPDATE events SET state = 'dead', attempts = ?, finished_at = ?,
                 last_status = ?, indexed = 0, alerted = 0, alert_tries = 0,
                 notice_failures = 0, notice_at = 0, attempt_log = attempt_log || ?
                 WHERE id = ?",
                at_ms,
            ),
        };
        self.storage.exec(
            statement,
            &[
                Value::Int(attempts.into()),
                Value::Int(at),
                Value::Text(status),
                Value::Text(entry),
                Value::Text(id),
            ],
        )
    }

    /// Records where the dead event `id`'s notices stand.
    pub fn set_notices(&self, id: &str, n: &Notices) -> Result<()> {
        self.storage.exec(
            "UPDATE events SET indexed = ?, alerted = ?, alert_tries = ?, notice_failures = ?,
             notice_at = ? WHERE id = ? AND state = 'dead'",
            &[
                Value::Int(n.indexed.into()),
                Value::Int(n.alerted.into()),
                Value::Int(n.alert_tries.into()),
                Value::Int(n.failures.into()),
                Value::Int(n.due_at_ms),
                Value::Text(id),
            ],
        )
    }

    /// Puts the dead event `id` back to pending, due at `now_ms`, its attempts from zero:
    /// `true` when it was dead here with its body.
    pub fn replay(&self, id: &str, now_ms: u64) -> Result<bool> {
        if !self.exist()? {
            return Ok(false);
        }
        Ok(self
            .storage
            .first(
                "UPDATE events SET state = 'pending', attempts = 0, next_at = ?, finished_at = NULL
                 WHERE id = ? AND state = 'dead' AND body IS NOT NULL RETURNING id",
                &[Value::Int(now_ms), Value::Text(id)],
            )?
            .is_some())
    }

    /// The origins this chat waits for.
    pub fn waits(&self) -> Result<Vec<String>> {
        if let Some(waits) = self.waits.borrow().as_ref() {
            return Ok(waits.clone());
        }
        let waits = if self.exist()? {
            self.storage
                .rows("SELECT origin FROM waits", &[])?
                .iter()
                .filter_map(|c| c.text(0))
                .collect()
        } else {
            Vec::new()
        };
        self.waits.replace(Some(waits.clone()));
        Ok(waits)
    }

    /// Starts or stops waiting for `origin` (a write only when that changes).
    pub fn set_wait(&self, origin: &str, waiting: bool) -> Result<()> {
        let mut waits = self.waits()?;
        if waits.iter().any(|o| o == origin) == waiting {
            return Ok(());
        }
        self.create()?;
        let statement = if waiting {
            "INSERT INTO waits (origin) VALUES (?) ON CONFLICT (origin) DO NOTHING"
        } else {
            "DELETE FROM waits WHERE origin = ?"
        };
        // Unknown again until this write is known to have happened.
        self.waits.replace(None);
        self.storage.exec(statement, &[Value::Text(origin)])?;
        if waiting {
            waits.push(origin.to_string());
        } else {
            waits.retain(|o| o != origin);
        }
        self.waits.replace(Some(waits));
        Ok(())
    }

    /// Deletes the events `ids` (with their attempts).
    pub fn delete(&self, ids: &[&str]) -> Result<()> {
        for id in ids {
            self.storage
                .exec("DELETE FROM events WHERE id = ?", &[Value::Text(id)])?;
        }
        Ok(())
    }
}
