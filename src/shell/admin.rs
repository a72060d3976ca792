//! The admin API (SPEC §12): checks the bearer token, then asks the outbox objects — the dead
//! index for `/admin/dead` and replays, the chat's own object for `/admin/chats/{id}`.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use worker::Env;

use crate::logic::admin;
use crate::logic::error::EdgeError;
use crate::logic::outbox::{object_name, DEAD_INDEX};
use crate::logic::outcome::Outcome;
use crate::logic::reply::Reply;
use crate::logic::route::AdminRoute;
use crate::logic::settings::Settings;
use crate::shell::environment;
use crate::shell::http::RequestHead;
use crate::shell::outbox::call;

/// One admin request.
pub async fn handle(
    head: &RequestHead,
    env: &Env,
    settings: &Settings,
    route: AdminRoute,
) -> Result<Outcome, EdgeError> {
    admin::authorize(
        settings.admin_token.as_deref(),
        head.authorization.as_deref(),
        environment::bindings(env).outbox,
    )?;
    let reply = match route {
        AdminRoute::Dead => ask(env, DEAD_INDEX, "GET", "/index/dead").await?,
        AdminRoute::Chat(chat_id) => {
            ask(env, &object_name(Some(&chat_id), ""), "GET", "/events").await?
        }
        AdminRoute::Replay(event_id) => replay(env, &event_id).await?,
    };
    Ok(Outcome::Admin(reply))
}

/// Finds the dead event's chat in the index, puts the event back to pending there, and takes
/// it off the index.
async fn replay(env: &Env, event_id: &str) -> Result<Reply, EdgeError> {
    let id = utf8_percent_encode(event_id, NON_ALPHANUMERIC).to_string();
    let found = ask(env, DEAD_INDEX, "GET", &format!("/index/chat?id={id}")).await?;
    let chat_id = String::from_utf8(found.body).map_err(|_| EdgeError::StorageUnavailable)?;
    let object = object_name(Some(chat_id.as_str()).filter(|c| !c.is_empty()), event_id);
    let replayed = ask(env, &object, "POST", &format!("/replay?id={id}")).await;
    // Replayed, or not dead there any more: either way the index entry is stale now.
    if matches!(replayed, Ok(_) | Err(EdgeError::NotFound)) {
        let _ = ask(env, DEAD_INDEX, "POST", &format!("/index/undead?id={id}")).await;
    }
    replayed
}

/// Calls an outbox object; its 2xx answer as the reply, its 404 as `not_found`, anything else
/// (or no answer) as `storage_unavailable`.
async fn ask(env: &Env, object: &str, method: &str, path: &str) -> Result<Reply, EdgeError> {
    let (status, body) = call(env, object, method, path, None)
        .await
        .map_err(|_| EdgeError::StorageUnavailable)?;
    match status {
        200..=299 => Ok(Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body,
        }),
        404 => Err(EdgeError::NotFound),
        _ => Err(EdgeError::StorageUnavailable),
    }
}
