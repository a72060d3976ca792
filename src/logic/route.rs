//! Routing (contract §2, §12): what a request is for, from its method and URL.

use std::borrow::Cow;

use crate::logic::console::Asset;
use crate::logic::error::EdgeError;
use crate::logic::event::EventType;

/// What a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`
    Health,
    /// `POST /webim/<event>`
    Event(EventType),
    /// `/admin/…`
    Admin(AdminRoute),
}

/// The admin API's requests (contract §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRoute {
    /// `GET /admin/status`: version, delivery mode and counts at a glance.
    Status,
    /// `GET /admin/dead`, with its filter in the query.
    Dead,
    /// `GET /admin/origins`
    Origins,
    /// `POST /admin/replay`: every dead event a JSON filter matches.
    ReplayMatching,
    /// `GET /admin/chats/{chat id}`
    Chat(String),
    /// `POST /admin/events/{event id}/replay`
    Replay(String),
    /// `GET /admin/`, its script and style (and `/admin`, redirected there): the console.
    Console(Asset),
}

/// `GET /healthz`, `POST /webim/<event>`, the admin routes; other methods on the event paths
/// are 405, everything else 404.
pub fn route(method: &str, path: &str) -> Result<Route, EdgeError> {
    if path == "/healthz" && method == "GET" {
        return Ok(Route::Health);
    }
    if let Some(event_type) = EventType::from_route(path) {
        return match method {
            "POST" => Ok(Route::Event(event_type)),
            _ => Err(EdgeError::MethodNotAllowed),
        };
    }
    admin(method, path)
        .map(Route::Admin)
        .ok_or(EdgeError::NotFound)
}

fn admin(method: &str, path: &str) -> Option<AdminRoute> {
    if let Some(asset) = path.strip_prefix("/admin").and_then(Asset::at) {
        return (method == "GET").then_some(AdminRoute::Console(asset));
    }
    let rest = path.strip_prefix("/admin/")?;
    // Any id, `""` included (a chat's id may be empty): one path segment, decoded once.
    let segment = |s: &str| -> Option<String> {
        let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
        (!s.contains('/')).then(|| Cow::into_owned(decoded))
    };
    match method {
        "GET" if rest == "dead" => Some(AdminRoute::Dead),
        "GET" if rest == "status" => Some(AdminRoute::Status),
        "GET" if rest == "origins" => Some(AdminRoute::Origins),
        "POST" if rest == "replay" => Some(AdminRoute::ReplayMatching),
        "GET" => segment(rest.strip_prefix("chats/")?).map(AdminRoute::Chat),
        "POST" => {
            segment(rest.strip_prefix("events/")?.strip_suffix("/replay")?).map(AdminRoute::Replay)
        }
        _ => None,
    }
}

/// The path and query (without `?`) of an absolute request URL, given as its UTF-8 bytes; the
/// fragment is dropped. The query stays bytes, as the parameters are read from bytes. A path
/// that is not UTF-8 (never the case for a URL the runtime hands over) is empty, so it routes
/// nowhere.
pub fn path_and_query(url: &[u8]) -> (&str, &[u8]) {
    // The scheme ends at the first `/`, when that is the first of `://`.
    let after_scheme = match memchr::memchr(b'/', url) {
        Some(at) if at > 0 && url[at - 1] == b':' && url.get(at + 1) == Some(&b'/') => at + 2,
        _ => 0,
    };
    let target = memchr::memchr(b'/', &url[after_scheme..])
        .map_or(&b"/"[..], |at| &url[after_scheme + at..]);
    let (path, query) = match memchr::memchr2(b'?', b'#', target) {
        Some(at) if target[at] == b'?' => {
            let rest = &target[at + 1..];
            (
                &target[..at],
                memchr::memchr(b'#', rest).map_or(rest, |end| &rest[..end]),
            )
        }
        Some(at) => (&target[..at], &b""[..]),
        None => (target, &b""[..]),
    };
    (std::str::from_utf8(path).unwrap_or(""), query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(
            route("POST", "/webim/chat_closed"),
            Ok(Route::Event(EventType::ChatClosed))
        );
        assert_eq!(
            route("GET", "/webim/chat_started"),
            Err(EdgeError::MethodNotAllowed)
        );
        assert_eq!(
            route("HEAD", "/webim/chat_assigned"),
            Err(EdgeError::MethodNotAllowed)
        );
        for (method, path) in [
            ("POST", "/webim/chat_other"),
            ("POST", "/webim/chat_started/"),
            ("GET", "/"),
            ("POST", "/healthz"),
            ("POST", "/admin/dead"),
            ("GET", "/admin/chats/a/b"),
            ("GET", "/admin/events/evt_1/replay"),
            ("POST", "/admin/"),
            ("HEAD", "/admin/console.js"),
            ("GET", "/adminx"),
            ("GET", "/admin/index.html"),
            ("GET", "/admin//"),
        ] {
            assert_eq!(
                route(method, path),
                Err(EdgeError::NotFound),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_console_is_three_files_under_admin() {
        for (path, asset) in [
            ("/admin", Asset::Slash),
            ("/admin/", Asset::Page),
            ("/admin/console.js", Asset::Script),
            ("/admin/console.css", Asset::Style),
        ] {
            assert_eq!(
                route("GET", path),
                Ok(Route::Admin(AdminRoute::Console(asset))),
                "{path}"
            );
        }
    }

    #[test]
    fn admin_routes_decode_their_ids() {
        for (method, path, admin) in [
            ("GET", "/admin/dead", AdminRoute::Dead),
            ("GET", "/admin/status", AdminRoute::Status),
            ("GET", "/admin/origins", AdminRoute::Origins),
            ("POST", "/admin/replay", AdminRoute::ReplayMatching),
        ] {
            assert_eq!(route(method, path), Ok(Route::Admin(admin)));
        }
        assert_eq!(
            route("GET", "/admin/chats/1458%20x"),
            Ok(Route::Admin(AdminRoute::Chat("1458 x".into())))
        );
        assert_eq!(
            route("POST", "/admin/events/evt_9/replay"),
            Ok(Route::Admin(AdminRoute::Replay("evt_9".into())))
        );
        // Any chat id the outbox holds: the empty one, and long ones.
        assert_eq!(
            route("GET", "/admin/chats/"),
            Ok(Route::Admin(AdminRoute::Chat(String::new())))
        );
        let long = "я".repeat(100);
        let encoded =
            percent_encoding::utf8_percent_encode(&long, percent_encoding::NON_ALPHANUMERIC);
        assert_eq!(
            route("GET", &format!("/admin/chats/{encoded}")),
            Ok(Route::Admin(AdminRoute::Chat(long)))
        );
    }

    #[test]
    fn request_targets() {
        let split = |url: &str| {
            let (path, query) = path_and_query(url.as_bytes());
            (path.to_owned(), String::from_utf8(query.to_vec()).unwrap())
        };
        let owned = |path: &str, query: &str| (path.to_owned(), query.to_owned());
        assert_eq!(
            split("https://edge.example/webim/chat_started?chat=1&b"),
            owned("/webim/chat_started", "chat=1&b")
        );
        assert_eq!(
            split("http://127.0.0.1:8787/healthz"),
            owned("/healthz", "")
        );
        assert_eq!(split("https://edge.example"), owned("/", ""));
        assert_eq!(
            split("https://edge.example/a?x=%3F?y#frag"),
            owned("/a", "x=%3F?y")
        );
        assert_eq!(split("https://edge.example/a#f?x"), owned("/a", ""));
        assert_eq!(
            split("https://edge.example/a?u=https://x.example/b"),
            owned("/a", "u=https://x.example/b")
        );
        assert_eq!(split("/relative?x"), owned("/relative", "x"));
        assert_eq!(
            split("/relative?u=https://x.example/b"),
            owned("/relative", "u=https://x.example/b")
        );
        assert_eq!(path_and_query(b"https://e.example/\xff?x"), ("", &b"x"[..]));
    }
}
