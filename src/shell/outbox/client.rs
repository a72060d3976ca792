//! The outbox as the worker (and one object, telling the dead index) calls it: each request is
//! one of the core's [`Call`]s to the object it concerns, and each answer becomes a core value
//! (an [`Outcome`], a [`Reply`] or an [`EdgeError`]).

use worker::js_sys::Promise;
use worker::Env;

use serde::Serialize;

use crate::logic::breaker::Heard;
use crate::logic::dead_filter::DeadFilter;
use crate::logic::delivery;
use crate::logic::error::EdgeError;
use crate::logic::intake::Accepted;
use crate::logic::outbox_call::{
    decode_taken, object_name, origin_object, Call, DeadEntry, DEAD_INDEX, REPLAYED_PER_CALL,
};
use crate::logic::outcome::Outcome;
use crate::logic::reply::Reply;
use crate::shell::environment::OUTBOX;
use crate::shell::runtime::durable;

/// Sends `call` to the object `name`: its status and body.
async fn send(env: &Env, name: &str, call: &Call, body: Option<&[u8]>) -> Option<(u16, Vec<u8>)> {
    durable::call(env, OUTBOX, name, call, body).await.ok()
}

/// Sends `call` to the object `name`: its 2xx answer as the reply, its 404 as `not_found`,
/// anything else (or no answer) as `storage_unavailable`.
async fn ask(env: &Env, name: &str, call: &Call) -> Result<Reply, EdgeError> {
    match send(env, name, call, None).await {
        Some((status @ 200..=299, body)) => Ok(Reply::json_text(status, body)),
        Some((404, _)) => Err(EdgeError::NotFound),
        _ => Err(EdgeError::StorageUnavailable),
    }
}

/// The store call of an accepted event, and the name of its chat's object.
fn store_call(accepted: &Accepted) -> (String, Call) {
    let call = Call::Store {
        chat_id: accepted.chat_id.clone(),
        key_index: Some(accepted.verified.key_index),
    };
    let object = object_name(accepted.chat_id.as_deref(), &accepted.event.id);
    (object, call)
}

/// Stores an accepted event in its chat's object before Webim is answered: 202 `queued` when
/// it is new, 200 `duplicate` when the object holds its id already.
pub async fn store(env: &Env, accepted: &Accepted) -> Outcome {
    let (object, call) = store_call(accepted);
    let answer = send(env, &object, &call, Some(&accepted.event.body)).await;
    delivery::after_store(&accepted.event.id, answer.map(|(status, _)| status))
}

/// [`store`] sent without awaiting in the wasm: the object's status in flight, as text (null
/// when no answer came), for [`delivery::after_store`]; `None` when it could not be sent.
pub fn store_sent(env: &Env, accepted: &Accepted) -> Option<Promise> {
    let (object, call) = store_call(accepted);
    let answer = durable::send(env, OUTBOX, &object, &call, Some(&accepted.event.body)).ok()?;
    Some(durable::status_of(&answer))
}

/// `/admin/dead`, filtered.
pub async fn dead(env: &Env, filter: DeadFilter) -> Result<Reply, EdgeError> {
    ask(env, DEAD_INDEX, &Call::IndexList(filter)).await
}

/// `POST /admin/replay`: replays up to [`REPLAYED_PER_CALL`] matching dead events, oldest
/// first; says how many were replayed and how many more match.
pub async fn replay_matching(env: &Env, filter: DeadFilter) -> Result<Reply, EdgeError> {
    let take = Call::IndexTake {
        filter,
        limit: REPLAYED_PER_CALL,
    };
    let taken = ask(env, DEAD_INDEX, &take).await?;
    let (remaining, entries) = std::str::from_utf8(&taken.body)
        .ok()
        .and_then(decode_taken)
        .ok_or(EdgeError::StorageUnavailable)?;
    let mut replayed = 0u64;
    let mut failed = 0u64;
    for entry in &entries {
        match replay_entry(env, entry).await {
            Ok(_) => replayed += 1,
            Err(EdgeError::NotFound) => {}
            Err(_) => failed += 1,
        }
    }
    #[derive(Serialize)]
    struct Replayed {
        replayed: u64,
        remaining: u64,
    }
    Ok(Reply::json(
        200,
        &Replayed {
            replayed,
            remaining: remaining + failed,
        },
    ))
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
    replay_entry(env, &entry).await
}

/// Puts the dead event of `entry` back to pending in its chat's object, then takes that death
/// off the index.
async fn replay_entry(env: &Env, entry: &DeadEntry) -> Result<Reply, EdgeError> {
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

/// Each origin's view (`/admin/origins`'s entries), by its setting's name, as JSON.
pub async fn origin_views(env: &Env, names: &[&str]) -> Result<Vec<Vec<u8>>, EdgeError> {
    let mut views = Vec::new();
    for name in names {
        let call = Call::OriginView {
            origin: (*name).to_string(),
        };
        views.push(ask(env, &origin_object(name), &call).await?.body);
    }
    Ok(views)
}

/// How many dead events match `filter`.
pub async fn dead_count(env: &Env, filter: DeadFilter) -> Result<u64, EdgeError> {
    let take = Call::IndexTake { filter, limit: 0 };
    let taken = ask(env, DEAD_INDEX, &take).await?;
    std::str::from_utf8(&taken.body)
        .ok()
        .and_then(decode_taken)
        .map(|(remaining, _)| remaining)
        .ok_or(EdgeError::StorageUnavailable)
}

/// What an origin's object answered of the origin.
fn heard(answer: Option<(u16, Vec<u8>)>) -> Option<Heard> {
    match answer {
        Some((200, body)) => Heard::parse(&body),
        _ => None,
    }
}

/// Reports an attempt to the origin's object: what it says of the origin afterwards (`None`
/// when it did not answer).
pub async fn report(
    env: &Env,
    origin: &str,
    event_id: &str,
    chat: &str,
    status: &str,
    pending: u32,
) -> Option<Heard> {
    let call = Call::Report {
        origin: origin.to_string(),
        event_id: event_id.to_string(),
        chat: chat.to_string(),
        status: status.to_string(),
        pending,
    };
    heard(send(env, &origin_object(origin), &call, None).await)
}

/// Registers a chat as waiting for the origin if it is down: what it says of the origin.
pub async fn wait(env: &Env, origin: &str, chat: &str, pending: u32) -> Option<Heard> {
    let call = Call::Wait {
        origin: origin.to_string(),
        chat: chat.to_string(),
        pending,
    };
    heard(send(env, &origin_object(origin), &call, None).await)
}

/// Asks a waiting chat to probe the origin: the attempt's status word, or `none`.
pub async fn probe(env: &Env, chat: &str, origin: &str) -> Option<String> {
    let call = Call::Probe {
        origin: origin.to_string(),
    };
    match send(env, chat, &call, None).await {
        Some((200, body)) => String::from_utf8(body).ok(),
        _ => None,
    }
}

/// Tells a waiting chat that the origin is up again: `true` when it took it.
pub async fn resume(env: &Env, chat: &str, origin: &str) -> bool {
    let call = Call::Resume {
        origin: origin.to_string(),
    };
    matches!(send(env, chat, &call, None).await, Some((200..=299, _)))
}

/// Lists a dead event in the index: `true` when the index took it.
pub async fn index(env: &Env, entry: &DeadEntry) -> bool {
    let call = Call::IndexPut(entry.clone());
    matches!(
        send(env, DEAD_INDEX, &call, None).await,
        Some((200..=299, _))
    )
}
