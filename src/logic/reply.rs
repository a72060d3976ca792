//! A response described as data: status, headers and body bytes. The core decides replies;
//! the shell copies them into the runtime's response.

use serde::Serialize;

/// An HTTP answer as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Headers, lowercase names.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON reply with `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Reply {
        // Serializing our own plain structures cannot fail; an empty object is a safe fallback.
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Reply::json_text(status, body)
    }

    /// A reply of JSON already written.
    pub fn json_text(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body,
        }
    }

    /// A plain-text reply (the outbox objects' short answers to each other).
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "text/plain".into())],
            body: body.into(),
        }
    }

    /// The reply as an answer for the operator only (contract §12, the admin API and console):
    /// no cache keeps it, no `Referer` names the console's address, and no browser reads it
    /// as another type than the one it says.
    pub fn private(mut self) -> Reply {
        self.headers.extend([
            ("cache-control", "no-store".into()),
            ("referrer-policy", "no-referrer".into()),
            ("x-content-type-options", "nosniff".into()),
        ]);
        self
    }

    /// `{"status": <status_word>, "id": <event id>}` — the success answers of a delivery.
    pub fn delivery(status: u16, status_word: &str, id: &str) -> Reply {
        #[derive(Serialize)]
        struct Delivery<'a> {
            status: &'a str,
            id: &'a str,
        }
        Reply::json(
            status,
            &Delivery {
                status: status_word,
                id,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_answers_read_status_then_id() {
        let reply = Reply::delivery(202, "queued", "evt_1");
        assert_eq!(reply.status, 202);
        assert_eq!(reply.body, br#"{"status":"queued","id":"evt_1"}"#);
        assert_eq!(
            reply.headers,
            vec![("content-type", "application/json".to_string())]
        );
    }

    #[test]
    fn text_and_written_json_say_their_type() {
        let text = Reply::text(200, "down");
        assert_eq!(text.body, b"down");
        assert_eq!(
            text.headers,
            vec![("content-type", "text/plain".to_string())]
        );
        let json = Reply::json_text(200, b"[]".to_vec());
        assert_eq!(json, Reply::json(200, &Vec::<u8>::new()));
    }

    #[test]
    fn a_private_reply_is_kept_by_no_cache_and_named_in_no_referer() {
        let reply = Reply::delivery(200, "pending", "evt_1").private();
        assert_eq!(
            reply.headers,
            vec![
                ("content-type", "application/json".to_string()),
                ("cache-control", "no-store".to_string()),
                ("referrer-policy", "no-referrer".to_string()),
                ("x-content-type-options", "nosniff".to_string()),
            ]
        );
    }
}
