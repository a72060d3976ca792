//! The admin routes (contract §12): the console's files, served to anyone once `ADMIN_TOKEN` is
//! set (they hold no data), then the API, which checks the bearer token and asks the outbox
//! objects through the outbox client. Every answer but "no such route" is private
//! ([`Outcome::Admin`]).

use worker::Env;

use crate::logic::admin;
use crate::logic::error::EdgeError;
use crate::logic::outcome::Outcome;
use crate::logic::reply::Reply;
use crate::logic::route::AdminRoute;
use crate::logic::settings::Settings;
use crate::shell::environment;
use crate::shell::outbox::client;
use crate::shell::runtime::http::RequestHead;

/// One admin request.
pub async fn handle(
    head: &RequestHead,
    env: &Env,
    settings: &Settings,
    route: AdminRoute,
) -> Result<Outcome, EdgeError> {
    // Without the token there is no admin route at all: a 404 like any other path's.
    if settings.admin_token.is_none() {
        return Err(EdgeError::NotFound);
    }
    let answer = match route {
        AdminRoute::Console(asset) => Ok(asset.reply()),
        route => api(head, env, settings, route).await,
    };
    Ok(Outcome::Admin(answer))
}

/// An API request, once its token is checked.
async fn api(
    head: &RequestHead,
    env: &Env,
    settings: &Settings,
    route: AdminRoute,
) -> Result<Reply, EdgeError> {
    admin::authorize(
        settings.admin_token.as_deref(),
        head.authorization.as_deref(),
        environment::bindings(env).outbox,
    )?;
    match route {
        AdminRoute::Dead => client::dead(env).await,
        AdminRoute::Chat(chat_id) => client::chat(env, &chat_id).await,
        AdminRoute::Replay(event_id) => client::replay(env, &event_id).await,
        AdminRoute::Console(asset) => Ok(asset.reply()),
    }
}
