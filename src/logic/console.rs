//! The operator console (contract §12, `GET /admin/`): three static files built into the wasm,
//! served with headers that let the page load nothing but itself. The page holds no data: it
//! asks for the token and reads the admin API with it, from the browser.
//!
//! Paths, after `/admin`: `/` is the page, `/console.js` and `/console.css` its script and
//! style; `/admin` without the slash is redirected to `/admin/`, so that the page's relative
//! links resolve under `/admin/`.

use crate::logic::reply::Reply;

/// What the console's documents may load and who may frame them: only the edge itself, no
/// inline script or style, no frames, no forms sent anywhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// One of the console's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// `/admin`: a redirect to `/admin/`.
    Slash,
    /// `/admin/`: the page.
    Page,
    /// `/admin/console.js`
    Script,
    /// `/admin/console.css`
    Style,
}

impl Asset {
    /// The file at `path`, the request's path after `/admin`; `None` for anything else.
    pub fn at(path: &str) -> Option<Asset> {
        match path {
            "" => Some(Asset::Slash),
            "/" => Some(Asset::Page),
            "/console.js" => Some(Asset::Script),
            "/console.css" => Some(Asset::Style),
            _ => None,
        }
    }

    /// The file's answer: its bytes, its type, and the console's headers.
    pub fn reply(self) -> Reply {
        let (content_type, body) = match self {
            Asset::Slash => {
                let mut reply = Reply {
                    status: 308,
                    headers: vec![("location", "/admin/".into())],
                    body: Vec::new(),
                };
                reply.headers.extend(guarded());
                return reply.private();
            }
            Asset::Page => ("text/html; charset=utf-8", PAGE),
            Asset::Script => ("text/javascript; charset=utf-8", SCRIPT),
            Asset::Style => ("text/css; charset=utf-8", STYLE),
        };
        let mut reply = Reply {
            status: 200,
            headers: vec![("content-type", content_type.into())],
            body: body.as_bytes().to_vec(),
        };
        reply.headers.extend(guarded());
        reply.private()
    }
}

/// The file at `path` (after `/admin`) with its answer, or `None` when there is no such file.
pub fn serve(path: &str) -> Option<Reply> {
    Asset::at(path).map(Asset::reply)
}

/// Headers of the console's own files, on top of those of every admin answer.
fn guarded() -> [(&'static str, String); 2] {
    [
        ("content-security-policy", CONTENT_SECURITY_POLICY.into()),
        ("x-frame-options", "DENY".into()),
    ]
}

const PAGE: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        let mut values = reply.headers.iter().filter(|(n, _)| *n == name);
        let value = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "{name} appears twice");
        value
    }

    #[test]
    fn each_file_has_its_type_and_the_guarding_headers() {
        for (path, content_type, starts) in [
            ("/", "text/html; charset=utf-8", "<!doctype html>"),
            ("/console.js", "text/javascript; charset=utf-8", "//"),
            ("/console.css", "text/css; charset=utf-8", "/*"),
        ] {
            let reply = serve(path).unwrap();
            assert_eq!(reply.status, 200, "{path}");
            assert_eq!(header(&reply, "content-type"), Some(content_type));
            assert_eq!(
                header(&reply, "content-security-policy"),
                Some(
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
                )
            );
            assert_eq!(header(&reply, "x-frame-options"), Some("DENY"));
            assert_eq!(header(&reply, "referrer-policy"), Some("no-referrer"));
            assert_eq!(header(&reply, "x-content-type-options"), Some("nosniff"));
            assert_eq!(header(&reply, "cache-control"), Some("no-store"));
            let body = std::str::from_utf8(&reply.body).unwrap();
            assert!(body.starts_with(starts), "{path}");
        }
    }

    #[test]
    fn the_bare_prefix_goes_to_the_page_and_nothing_else_exists() {
        let reply = serve("").unwrap();
        assert_eq!(reply.status, 308);
        assert_eq!(header(&reply, "location"), Some("/admin/"));
        assert!(reply.body.is_empty());
        for unknown in [
            "/index.html",
            "/console.js/",
            "//",
            "/CONSOLE.JS",
            "/console.map",
            "x",
        ] {
            assert_eq!(serve(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn the_page_loads_only_its_own_files_and_nothing_inline() {
        let page = PAGE.to_ascii_lowercase();
        assert!(page.contains(r#"<script src="console.js" defer></script>"#));
        assert!(page.contains(r#"<link rel="stylesheet" href="console.css">"#));
        // The policy allows neither; a slip here would only show as a blank page.
        assert!(!page.contains("<style"));
        assert!(!page.contains(" style="));
        assert!(!page.contains("<script>"));
        let handler = page.match_indices(" on").any(|(at, _)| {
            let name: String = page[at + 3..]
                .chars()
                .take_while(char::is_ascii_lowercase)
                .collect();
            page[at + 3 + name.len()..].starts_with('=')
        });
        assert!(!handler, "an inline event handler");
        for file in [PAGE, SCRIPT, STYLE] {
            assert!(!file.contains("http://") && !file.contains("https://"));
            assert!(!file.contains("@import"));
        }
        // Strings from the API are written as text only.
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("outerHTML"));
        assert!(!SCRIPT.contains("insertAdjacentHTML") && !SCRIPT.contains("document.write"));
        assert!(!SCRIPT.contains("localStorage") && !SCRIPT.contains("document.cookie"));
    }
}
