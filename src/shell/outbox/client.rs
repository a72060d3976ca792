//! The outbox as the worker (and one object, telling the dead index) calls it: each request is
//! one of the core's [`Call`]s to the object it concerns, and each answer becomes a core value
//! (an [`Outcome`], a [`Reply`] or an [`EdgeError`]).

use worker::Env;

use crate::logic::error::EdgeError;
use crate::logic::intake::Accepted;
use crate::logic::outbox_call::{object_name, Call, DeadEntry, DEAD_INDEX};
use crate::logic::outcome::Outcome;
use crate::logic::reply::Reply;
use crate::shell::runtime::durable;

/// The Durable Object namespace binding of the outbox.
pub const BINDING: &str = "OUTBOX";

/// Sends `call` to the object `name`: its status and body.
async fn send(env: &Env, name: &str, call: &Call, body: Option<&[u8]>) -> Option<(u16, Vec<u8>)> {
    durable::call(env, BINDING, name, call, body).await.ok()
}

/// Sends `call` to the object `name`: its 2xx answer as the reply, its 404 as `not_found`,
/// anything else (or no answer) as `storage_unavailable`.
async fn ask(env: &Env, name: &str, call: &Call) -> Result<Reply, EdgeError> {
    match send(env, name, call, None).await {
        Some((status @ 200..=299, body)) => Ok(Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body,
        }),
        Some((404, _)) => Err(EdgeError::NotFound),
        _ => Err(EdgeError::StorageUnavailable),
    }
}

/// Stores an accepted event in its chat's object before Webim is answered: 202 `queued` when
/// it is new, 200 `duplicate` when the object holds its id already.
pub async fn store(env: &Env, accepted: &Accepted) -> Outcome {
    let event = &accepted.event;
    let call = Call::Store {
        chat_id: accepted.chat_id.clone(),
        key_index: Some(accepted.verified.key_index),
    };
    let object = object_name(accepted.chat_id.as_deref(), &event.id);
    let id = || event.id.clone();
    match send(env, &object, &call, Some(&event.body)).await {
        Some((202, _)) => Outcome::Queued { id: id() },
        Some((200, _)) => Outcome::Duplicate { id: id() },
        _ => Outcome::Failed(EdgeError::StorageUnavailable),
    }
}

/// `/admin/dead`.
pub async fn dead(env: &Env) -> Result<Reply, EdgeError> {
    ask(env, DEAD_INDEX, &Call::IndexList).await
}

/// `/admin/chats/{chat id}`.
pub async fn chat(env: &Env, chat_id: &str) -> Result<Reply, EdgeError> {
    ask(env, &object_name(Some(chat_id), ""), &Call::View).await
}

/// `/admin/events/{event id}/replay`: finds the dead event in the index, puts it back to
/// pending in its chat's object, then takes that death off the index (a death that came
/// after the replay stays listed).
pub async fn replay(env: &Env, event_id: &str) -> Result<Reply, EdgeError> {
    let find = Call::IndexFind {
        id: event_id.to_string(),
    };
    let found = ask(env, DEAD_INDEX, &find).await?;
    let entry = std::str::from_utf8(&found.body)
        .ok()
        .and_then(|encoded| match Call::parse("POST", encoded) {
            Some(Call::IndexPut(entry)) => Some(entry),
            _ => None,
        })
        .ok_or(EdgeError::StorageUnavailable)?;
    let replay = Call::Replay {
        id: entry.id.clone(),
    };
    let replayed = ask(env, &entry.object(), &replay).await;
    // Replayed, or not dead there any more: either way this death's entry is stale now.
    if matches!(replayed, Ok(_) | Err(EdgeError::NotFound)) {
        let remove = Call::IndexRemove {
            id: entry.id.clone(),
            died_at_ms: entry.died_at_ms,
        };
        let _ = ask(env, DEAD_INDEX, &remove).await;
    }
    replayed
}

/// Lists a dead event in the index: `true` when the index took it.
pub async fn index(env: &Env, entry: &DeadEntry) -> bool {
    let call = Call::IndexPut(entry.clone());
    matches!(
        send(env, DEAD_INDEX, &call, None).await,
        Some((200..=299, _))
    )
}
