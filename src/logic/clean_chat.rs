//! The clean chat (contract §3.5, §4) in one pass over the signed bytes. The chat must be a UTF-8
//! JSON object; it is validated as it is copied through unchanged — same key order, same
//! number text, same whitespace — and only two kinds of string are rewritten: any string (key or
//! value, at any depth) holding a URL that a parser reads with credentials (`sanitize`), and
//! `created_at` of the chat and of each of its `messages` when it is a zoned date-time.

use std::borrow::Cow;

use crate::logic::credentials::strip_userinfo;
use crate::logic::times as timestamp;

/// Nesting of this many levels or more is refused, as serde_json refuses it (127 levels pass).
const MAX_DEPTH: usize = 128;

/// The chat is not a UTF-8 JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidJson;

/// The clean chat's JSON text, and the chat's `id` for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// The clean chat as JSON text.
    pub json: Vec<u8>,
    /// The chat's `id`, whole: it names the chat's outbox object (the log keeps a part).
    pub chat_id: Option<String>,
}

/// What a value is, where that matters for cleaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Chat,
    Messages,
    Message,
    Timestamp,
    ChatId,
    Other,
}

/// Cleans `chat`, or says why it is not a JSON object.
pub fn clean(chat: &[u8]) -> Result<Cleaned, InvalidJson> {
    // simdutf8 checks a Cyrillic-heavy chat about ten times faster than `std` does natively.
    let text = simdutf8::basic::from_utf8(chat).map_err(|_| InvalidJson)?;
    let mut cleaner = Cleaner {
        text,
        pos: 0,
        out: Vec::new(),
        copied: 0,
        chat_id: None,
        next_at: next_at(chat, 0),
    };
    cleaner.skip_whitespace();
    if cleaner.peek() != Some(b'{') {
        return Err(InvalidJson);
    }
    cleaner.value(Role::Chat, 0)?;
    cleaner.skip_whitespace();
    if cleaner.pos != text.len() {
        return Err(InvalidJson);
    }
    let json = if cleaner.copied == 0 {
        chat.to_vec()
    } else {
        cleaner.out.extend_from_slice(&chat[cleaner.copied..]);
        cleaner.out
    };
    Ok(Cleaned {
        json,
        chat_id: cleaner.chat_id,
    })
}

struct Cleaner<'a> {
    text: &'a str,
    pos: usize,
    /// The output so far; empty until the first rewrite, since most chats need few.
    out: Vec<u8>,
    /// How much of the input is already in `out`.
    copied: usize,
    chat_id: Option<String>,
    /// Where the next `@` of the input is at or after `pos` (the input's length when there is
    /// none): a URL has credentials only when the parser meets an `@` in it, so a string that
    /// holds none and has no escapes (through which an `@` may be written) is not searched for
    /// credentials. Not `://`: `https:u@h` and `https:\\u@h` carry credentials too.
    next_at: usize,
}

/// Where the first `@` at or after `from` is in `bytes`, or `bytes.len()`: one SIMD byte search
/// across the chat, rather than a search per string.
fn next_at(bytes: &[u8], from: usize) -> usize {
    let found = bytes
        .get(from..)
        .and_then(|rest| memchr::memchr(b'@', rest))
        .map_or(bytes.len(), |at| from + at);
    #[cfg(test)]
    tests::SEARCHED.with(|n| n.set(n.get() + found.saturating_sub(from)));
    found
}

impl<'a> Cleaner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), InvalidJson> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(InvalidJson)
        }
    }

    fn value(&mut self, role: Role, depth: usize) -> Result<(), InvalidJson> {
        self.skip_whitespace();
        match self.peek().ok_or(InvalidJson)? {
            b'{' => self.object(role, depth + 1),
            b'[' => self.array(role, depth + 1),
            b'"' => self.string(role).map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.number(role),
            _ => Err(InvalidJson),
        }
    }

    /// At `{` or `[`: steps in; `Ok(false)` when the container closes at once (`close`).
    fn open(&mut self, close: u8, depth: usize) -> Result<bool, InvalidJson> {
        if depth >= MAX_DEPTH {
            return Err(InvalidJson);
        }
        self.pos += 1;
        self.skip_whitespace();
        let empty = self.peek() == Some(close);
        if empty {
            self.pos += 1;
        }
        Ok(!empty)
    }

    /// After an element: `Ok(true)` when a `,` says another follows, `Ok(false)` at `close`.
    fn next(&mut self, close: u8) -> Result<bool, InvalidJson> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(InvalidJson),
        }
    }

    fn object(&mut self, role: Role, depth: usize) -> Result<(), InvalidJson> {
        let mut more = self.open(b'}', depth)?;
        while more {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(InvalidJson);
            }
            let key = self.string(Role::Other)?;
            let child = match (role, key.as_ref()) {
                (Role::Chat, "messages") => Role::Messages,
                (Role::Chat, "id") => Role::ChatId,
                (Role::Chat | Role::Message, "created_at") => Role::Timestamp,
                _ => Role::Other,
            };
            self.expect(b':')?;
            self.value(child, depth)?;
            more = self.next(b'}')?;
        }
        Ok(())
    }

    fn array(&mut self, role: Role, depth: usize) -> Result<(), InvalidJson> {
        let child = if role == Role::Messages {
            Role::Message
        } else {
            Role::Other
        };
        let mut more = self.open(b']', depth)?;
        while more {
            self.value(child, depth)?;
            more = self.next(b']')?;
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), InvalidJson> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(InvalidJson)
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, copied as written.
    fn number(&mut self, role: Role) -> Result<(), InvalidJson> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(InvalidJson),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(InvalidJson);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(InvalidJson);
            }
        }
        if role == Role::ChatId {
            self.chat_id = Some(self.text[start..self.pos].to_string());
        }
        Ok(())
    }

    /// A string at `"`: validated, decoded when it has escapes, and rewritten when it is a
    /// value to clean. Returns its decoded text.
    fn string(&mut self, role: Role) -> Result<Cow<'a, str>, InvalidJson> {
        let open = self.pos;
        let bytes = self.bytes();
        let mut escaped = false;
        let mut i = open + 1;
        loop {
            i += bytes
                .get(i..)
                .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                .ok_or(InvalidJson)?;
            if bytes[i] == b'"' {
                break;
            }
            escaped = true;
            // The escaped byte is skipped here and checked by `unescape`.
            i += 2;
        }
        // Raw control characters are not allowed in a string. Counted without an early exit,
        // which the compiler turns into a wide compare.
        let controls = bytes[open + 1..i]
            .iter()
            .fold(0u8, |n, &b| n | u8::from(b < 0x20));
        if controls != 0 {
            return Err(InvalidJson);
        }
        let raw = self.text.get(open + 1..i).ok_or(InvalidJson)?;
        self.pos = i + 1;
        let text = if escaped {
            Cow::Owned(unescape(raw)?)
        } else {
            Cow::Borrowed(raw)
        };
        if role == Role::ChatId {
            self.chat_id = Some(text.to_string());
        }
        // Outside strings `@` is not valid JSON, so the next one is in this string or later.
        // The search resumes only past a string that held it, so the input is searched once.
        let holds_at = self.next_at < i;
        if holds_at {
            self.next_at = next_at(bytes, self.pos);
        }
        let mut rewritten = if escaped || holds_at {
            strip_userinfo(&text)
        } else {
            None
        };
        if role == Role::Timestamp {
            if let Some(utc) = timestamp::normalize(rewritten.as_deref().unwrap_or(&text)) {
                rewritten = Some(utc);
            }
        }
        if let Some(new) = rewritten {
            if self.out.capacity() == 0 {
                self.out.reserve(self.text.len() + 16);
            }
            self.out.extend_from_slice(&bytes[self.copied..open]);
            if escaped {
                write_string(&mut self.out, &new);
            } else {
                // Pieces of a string that needed no escapes need none either; a normalized
                // timestamp is digits and `-:.TZ`.
                self.out.push(b'"');
                self.out.extend_from_slice(new.as_bytes());
                self.out.push(b'"');
            }
            self.copied = self.pos;
        }
        Ok(text)
    }
}

fn hex4(raw: &[u8]) -> Result<u32, InvalidJson> {
    let digits = raw.get(..4).ok_or(InvalidJson)?;
    digits.iter().try_fold(0u32, |acc, &d| {
        let v = (d as char).to_digit(16).ok_or(InvalidJson)?;
        Ok(acc * 16 + v)
    })
}

/// Decodes a JSON string body with escapes; lone surrogates are invalid, as in serde_json.
fn unescape(raw: &str) -> Result<String, InvalidJson> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let Some(offset) = bytes[i..].iter().position(|&b| b == b'\\') else {
            out.push_str(&raw[i..]);
            break;
        };
        out.push_str(&raw[i..i + offset]);
        i += offset + 1;
        let escape = *bytes.get(i).ok_or(InvalidJson)?;
        i += 1;
        let c = match escape {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = hex4(&bytes[i..])?;
                i += 4;
                let code = match first {
                    0xD800..=0xDBFF => {
                        if bytes.get(i..i + 2) != Some(b"\\u") {
                            return Err(InvalidJson);
                        }
                        let second = hex4(&bytes[i + 2..])?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(InvalidJson);
                        }
                        i += 6;
                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(InvalidJson),
                    code => code,
                };
                char::from_u32(code).ok_or(InvalidJson)?
            }
            _ => return Err(InvalidJson),
        };
        out.push(c);
    }
    Ok(out)
}

/// Writes `s` as a JSON string: quotes, backslashes and control characters escaped, the rest
/// as UTF-8.
fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::{clean_reference, url_with_credentials};
    use proptest::prelude::*;
    use serde_json::Value;

    fn cleaned(input: &str) -> String {
        String::from_utf8(clean(input.as_bytes()).unwrap().json).unwrap()
    }

    #[test]
    fn untouched_chats_come_back_byte_for_byte() {
        let chat = r#"{ "id": 7, "big": 123456789012345678901234567890, "f": 1.0e+2, "z": -0.5E-3,
            "b": [true, false, null, {}, []], "s": "Привет 👋 \u00e9 \"q\" \\", "k": "mailto:a@b" }"#;
        assert_eq!(cleaned(chat), chat);
    }

    #[test]
    fn spec_rewrites_in_place_keeping_order_and_escapes_elsewhere() {
        let chat = r#"{"z":1,"start_page":{"url":"https:\/\/bob:pw@crm.example.com\/x"},"created_at":"2019-07-05T16:28:20 Z","messages":[{"created_at":"2019-07-05 19:28:20+03:00","message":"see http://a:b@c.example and \"quotes\""}],"a":"x\/y"}"#;
        assert_eq!(
            cleaned(chat),
            r#"{"z":1,"start_page":{"url":"https://crm.example.com/x"},"created_at":"2019-07-05T16:28:20Z","messages":[{"created_at":"2019-07-05T16:28:20Z","message":"see http://c.example and \"quotes\""}],"a":"x\/y"}"#
        );
    }

    thread_local! {
        /// Bytes `next_at` has scanned on this thread.
        pub(super) static SEARCHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[test]
    fn the_input_is_searched_for_urls_once() {
        // Many strings with escapes (which are always searched for credentials) before the only
        // URL: resuming the `@` search at each of them would scan the rest again and again.
        let mut chat = String::from(r#"{"a":["#);
        chat.push_str(&r#""x\ny","#.repeat(2000));
        chat.push_str(r#""https://u:p@h.example"],"b":"http://c.example"}"#);
        SEARCHED.with(|n| n.set(0));
        assert!(cleaned(&chat).ends_with(r#""https://h.example"],"b":"http://c.example"}"#));
        let searched = SEARCHED.with(|n| n.get());
        assert!(
            searched <= chat.len(),
            "{searched} bytes searched in {}",
            chat.len()
        );
    }

    #[test]
    fn every_string_holding_a_url_is_searched_and_only_those() {
        // URLs in keys and values, one without credentials before ones with them, plain
        // strings in between, and a URL spelled with escapes after raw ones.
        let chat = r#"{"a":"plain","http://k:1@key.example":"x","b":"ftp://host/p","c":["no url",
            "1 https://u:p@one.example 2 https://two.example 3 http://v@three.example"],
            "d":"https:\/\/w:q@four.example","e":"mailto:x@y"}"#;
        assert_eq!(
            cleaned(chat),
            r#"{"a":"plain","http://key.example":"x","b":"ftp://host/p","c":["no url",
            "1 https://one.example 2 https://two.example 3 http://three.example"],
            "d":"https://four.example","e":"mailto:x@y"}"#
        );
    }

    #[test]
    fn urls_a_parser_reads_without_double_slash_are_cleaned() {
        // No `://` anywhere, raw and escaped strings, and an e-mail address left alone.
        let chat = r#"{"a":"https:u:p@h.example","b":"x https:/u@h2 y","c":"HTTPS:\\\\u@h3",
            "d":"ht\ttps://u@h4","e":"bob@mail.ru","f":"ws:\/u@h5","g":"https:\n//u:\np@h6"}"#;
        let out = cleaned(chat);
        assert_eq!(
            out,
            r#"{"a":"https:h.example","b":"x https:/h2 y","c":"HTTPS:\\\\h3",
            "d":"ht\ttps://h4","e":"bob@mail.ru","f":"ws:/h5","g":"https:\n//h6"}"#
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        for (key, value) in v.as_object().unwrap() {
            let value = value.as_str().unwrap();
            assert_eq!(url_with_credentials(value), None, "{key}: {value:?}");
        }
    }

    #[test]
    fn created_at_only_where_the_contract_says() {
        let chat = r#"{"visitor":{"created_at":"2019-07-05T16:28:20 Z"},"messages":[[{"created_at":"2019-07-05T16:28:20 Z"}]]}"#;
        assert_eq!(cleaned(chat), chat);
    }

    #[test]
    fn chat_id_is_read_whole() {
        assert_eq!(
            clean(br#"{"id":190425}"#).unwrap().chat_id.as_deref(),
            Some("190425")
        );
        assert_eq!(
            clean(br#"{"id":"c\u002d1"}"#).unwrap().chat_id.as_deref(),
            Some("c-1")
        );
        assert_eq!(clean(br#"{"x":{"id":5}}"#).unwrap().chat_id, None);
        let long = format!(r#"{{"id":"{}"}}"#, "я".repeat(100));
        assert_eq!(
            clean(long.as_bytes())
                .unwrap()
                .chat_id
                .unwrap()
                .chars()
                .count(),
            100
        );
    }

    #[test]
    fn rewritten_strings_are_escaped_properly() {
        let chat = "{\"m\":\"tab\\there \\\"q\\\" back\\\\slash \\u0001 https://u:p@h/\"}";
        let out = cleaned(chat);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["m"], "tab\there \"q\" back\\slash \u{1} https://h/");
    }

    #[test]
    fn invalid_json_is_refused() {
        for bad in [
            "",
            " ",
            "[]",
            "1",
            "\"s\"",
            "null",
            "{",
            "{}x",
            "{} {}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{a:1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":-}",
            "{\"a\":+1}",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\udc00\"}",
            "{\"a\":\"\\ud800\\u0041\"}",
            "{\"a\":\"raw\ttab\"}",
            "{\"a\":\"open}",
            "\u{feff}{}",
            "{\"a\":[1 2]}",
            "{\"a\":NaN}",
            "{'a':1}",
        ] {
            assert_eq!(clean(bad.as_bytes()), Err(InvalidJson), "{bad:?}");
        }
        assert_eq!(
            clean(&[b'{', b'"', 0xff, b'"', b':', b'1', b'}']),
            Err(InvalidJson)
        );
    }

    #[test]
    fn nesting_is_bounded_exactly_as_serde_json_bounds_it() {
        for levels in [MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1] {
            // `levels` nested containers in all: the chat object and levels - 1 arrays.
            let chat = format!(
                "{{\"a\":{}{}}}",
                "[".repeat(levels - 1),
                "]".repeat(levels - 1)
            );
            let theirs = serde_json::from_str::<Value>(&chat).is_ok();
            assert_eq!(clean(chat.as_bytes()).is_ok(), theirs, "{levels} levels");
            assert_eq!(theirs, levels < MAX_DEPTH);
        }
        let huge = format!("{{\"a\":{}", "[".repeat(100_000));
        assert_eq!(clean(huge.as_bytes()), Err(InvalidJson));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let text = prop_oneof![
            "\\PC{0,12}",
            "(https?|ftp|x1)://([a-z:%@]{0,6}@)?[a-z.]{1,8}(/[a-z@]{0,4})?",
            "[hH][tT]\t?[tT][pP][sS]?:[/\\\\\n]{0,3}([a-z:%@\t]{0,6}@)?[a-z.]{1,8}(/[a-z@]{0,4})?",
            "2019-0[1-9]-[12][0-9][T ][01][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,3})? ?(Z|[+-]0[0-9]:[0-5][0-9])",
            "[\"\\\\/\\x00-\\x1f]{0,4}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
            text.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("created_at".to_string()),
                            Just("messages".to_string()),
                            text.clone()
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    fn chat_value() -> impl Strategy<Value = Value> {
        (json_value(), proptest::collection::vec(json_value(), 0..4)).prop_map(
            |(extra, messages)| {
                let mut chat =
                    serde_json::json!({ "created_at": "2019-07-05T16:28:20 Z", "extra": extra });
                chat["messages"] = Value::Array(messages);
                chat
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The one-pass cleaner agrees with the tree model, whatever the chat's shape.
        #[test]
        fn agrees_with_the_reference_model(chat in chat_value(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&chat) } else { serde_json::to_string(&chat) }.unwrap();
            let out = clean(text.as_bytes()).unwrap();
            let got: Value = serde_json::from_slice(&out.json).unwrap();
            let mut expected = chat.clone();
            if clean_reference(&mut expected) {
                prop_assert_eq!(got, expected);
            }
            // Cleaning is idempotent.
            prop_assert_eq!(clean(&out.json).unwrap().json, out.json.clone());
            // No URL that a parser reads with credentials survives in any string of the output.
            crate::fuzzing::clean(text.as_bytes());
        }

        /// Validity agrees with serde_json on arbitrary bytes (objects nested under 100 levels).
        #[test]
        fn accepts_exactly_what_serde_json_accepts(bytes in proptest::collection::vec(any::<u8>(), 0..64),
                                                   text in "\\{[\\[\\]{}\",:0-9eE.+\\-a-z\\\\ ]{0,40}\\}?") {
            for input in [bytes.as_slice(), text.as_bytes()] {
                let ours = clean(input).is_ok();
                let theirs = serde_json::from_slice::<Value>(input).is_ok_and(|v| v.is_object());
                prop_assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(input));
            }
        }
    }
}
