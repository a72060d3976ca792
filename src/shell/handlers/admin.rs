//! The admin routes (contract §12): the console's files, served to anyone once `ADMIN_TOKEN` is
//! set (they hold no data), then the API, which checks the bearer token and asks the outbox
//! objects through the outbox client. Every answer but "no such route" is private
//! ([`Outcome::Admin`]).

use serde::{Deserialize, Serialize};
use worker::Env;

use crate::logic::admin;
use crate::logic::dead_filter::DeadFilter;
use crate::logic::delivery;
use crate::logic::error::EdgeError;
use crate::logic::outcome::Outcome;
use crate::logic::reply::Reply;
use crate::logic::route::AdminRoute;
use crate::logic::settings::Settings;
use crate::logic::version::VERSION;
use crate::shell::environment;
use crate::shell::outbox::client;
use crate::shell::runtime::http::RequestHead;

/// One admin request; `body` is read only for a route that takes one.
pub async fn handle(
    head: &RequestHead,
    body: impl std::future::Future<Output = Result<Vec<u8>, EdgeError>>,
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
        route => api(head, body, env, settings, route).await,
    };
    Ok(Outcome::Admin(answer))
}

/// An API request, once its token is checked.
async fn api(
    head: &RequestHead,
    body: impl std::future::Future<Output = Result<Vec<u8>, EdgeError>>,
    env: &Env,
    settings: &Settings,
    route: AdminRoute,
) -> Result<Reply, EdgeError> {
    let bindings = environment::bindings(env);
    admin::authorize(
        settings.admin_token.as_deref(),
        head.authorization.as_deref(),
        bindings.outbox,
    )?;
    Ok(match route {
        AdminRoute::Status => status(env, settings, delivery::mode(bindings)).await?,
        AdminRoute::Dead => client::dead(env, DeadFilter::from_query(head.query())?).await?,
        AdminRoute::Origins => {
            let views = client::origin_views(env, &settings.origin_names()).await?;
            let mut body = b"{\"origins\":[".to_vec();
            body.extend(views.join(&b","[..]));
            body.extend(b"]}");
            Reply::json_text(200, body)
        }
        AdminRoute::ReplayMatching => {
            let filter = DeadFilter::from_json(&body.await?)?;
            client::replay_matching(env, filter).await?
        }
        AdminRoute::Chat(chat_id) => client::chat(env, &chat_id).await?,
        AdminRoute::Replay(event_id) => client::replay(env, &event_id).await?,
        AdminRoute::Console(asset) => asset.reply(),
    })
}

/// `/admin/status`: the version, the delivery mode, and how many events are dead, how many
/// origins are down and how many chats wait for them.
async fn status(env: &Env, settings: &Settings, mode: delivery::Mode) -> Result<Reply, EdgeError> {
    #[derive(Serialize)]
    struct Status {
        version: &'static str,
        mode: &'static str,
        dead: u64,
        origins_down: u64,
        waiting: u64,
    }
    #[derive(Deserialize)]
    struct OriginState {
        state: String,
        waiting: u64,
    }
    let dead = client::dead_count(env, DeadFilter::default()).await?;
    let mut status = Status {
        version: VERSION,
        mode: mode.as_str(),
        dead,
        origins_down: 0,
        waiting: 0,
    };
    for view in client::origin_views(env, &settings.origin_names()).await? {
        let origin: OriginState =
            serde_json::from_slice(&view).map_err(|_| EdgeError::StorageUnavailable)?;
        status.origins_down += u64::from(origin.state == "down");
        status.waiting += origin.waiting;
    }
    Ok(Reply::json(200, &status))
}
