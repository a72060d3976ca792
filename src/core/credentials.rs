//! Credential removal (SPEC §4) from one string: every `scheme://userinfo@host…` in it loses its
//! `userinfo@`; text that is not such a URL is left byte-for-byte as it was. (`clean` applies it
//! to every string of the chat.)
//!
//! A URL's authority starts after `://` and ends at the first `/`, `?`, `#`, `\`, whitespace,
//! control character, `"`, `<`, `>` or `` ` ``; when it contains `@`, everything up to and
//! including its last `@` is the userinfo (as URL parsers read it). The scheme is the run of
//! `[A-Za-z0-9+.-]` before `://` and must hold a letter.

fn ends_authority(c: char) -> bool {
    matches!(c, '/' | '?' | '#' | '\\' | '"' | '<' | '>' | '`')
        || c.is_whitespace()
        || c.is_control()
}

/// The length of the authority at the start of `rest`: a byte scan, decoding a character only
/// where a byte is not ASCII.
fn authority_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let (ends, width) = if b.is_ascii() {
            (ends_authority(char::from(b)), 1)
        } else {
            match rest[i..].chars().next() {
                Some(c) => (ends_authority(c), c.len_utf8()),
                None => break,
            }
        };
        if ends {
            return i;
        }
        i += width;
    }
    bytes.len()
}

fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

/// Whether the bytes before `://` at `at` form a scheme.
fn has_scheme(text: &str, at: usize) -> bool {
    text.as_bytes()[..at]
        .iter()
        .rev()
        .take_while(|&&b| is_scheme_byte(b))
        .any(u8::is_ascii_alphabetic)
}

/// The position of the next `://` at or after `from`: a scan for `:`, cheaper on the many
/// short strings of a chat than a substring search, which sets up a searcher per call.
fn find_separator(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    while let Some(offset) = memchr::memchr(b':', bytes.get(at..)?) {
        let colon = at + offset;
        if bytes.get(colon + 1..colon + 3) == Some(b"//") {
            return Some(colon);
        }
        at = colon + 1;
    }
    None
}

/// The string without URL userinfo, or `None` when there was none (no allocation).
pub fn strip_userinfo(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    // `copied` is how much of `text` has been accounted for in `out`.
    let mut copied = 0;
    let mut search = 0;
    while let Some(sep) = find_separator(text, search) {
        let authority_start = sep + 3;
        let authority_len = authority_len(&text[authority_start..]);
        let authority = &text[authority_start..authority_start + authority_len];
        search = authority_start;
        if !has_scheme(text, sep) {
            continue;
        }
        if let Some(at) = authority.rfind('@') {
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[copied..authority_start]);
            copied = authority_start + at + 1;
            search = copied;
        }
    }
    out.map(|mut buf| {
        buf.push_str(&text[copied..]);
        buf
    })
}

/// Whether any `scheme://…@` with the `@` inside the authority is in `text`: a check written
/// apart from [`strip_userinfo`] (a substring search, not its scan), for tests and fuzzing.
#[doc(hidden)]
pub fn has_userinfo(text: &str) -> bool {
    text.match_indices("://").any(|(sep, _)| {
        let rest = &text[sep + 3..];
        let authority = &rest[..rest.find(ends_authority).unwrap_or(rest.len())];
        has_scheme(text, sep) && authority.contains('@')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strip(s: &str) -> String {
        strip_userinfo(s).unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn separators_are_found_like_a_substring_search() {
        for text in [
            "", ":", "://", "a:/b://c", "x::///", "ж://я", "no colon", "a:b:c://",
        ] {
            for from in 0..=text.len() {
                if text.is_char_boundary(from) {
                    assert_eq!(
                        find_separator(text, from),
                        text[from..].find("://").map(|i| i + from),
                        "{text:?} {from}"
                    );
                }
            }
        }
    }

    #[test]
    fn spec_examples() {
        assert_eq!(
            strip("https://bob:pw@crm.example.com/x"),
            "https://crm.example.com/x"
        );
        assert_eq!(
            strip("HTTPS://bob:pw@crm.example.com"),
            "HTTPS://crm.example.com"
        );
        assert_eq!(
            strip("see ftp://u@files.example/a?b#c now"),
            "see ftp://files.example/a?b#c now"
        );
        for same in [
            "bob@example.com",
            "https://host/a@b",
            "mailto:bob@example.com",
            "https://host?q=a@b",
            "https://host#a@b",
            "://user@host",
            "Привет, 👋 bob@mail.ru",
        ] {
            assert_eq!(strip_userinfo(same), None, "{same}");
        }
    }

    #[test]
    fn several_urls_and_odd_userinfo() {
        assert_eq!(
            strip("a http://x:1@h1/p and https://y@h2 end"),
            "a http://h1/p and https://h2 end"
        );
        assert_eq!(strip("https://a@b@host/x"), "https://host/x");
        assert_eq!(strip("https://u:p%40w@host"), "https://host");
        assert_eq!(strip("1http://u@h"), "1http://h");
        assert_eq!(
            strip(r#"<a href="https://u:p@h">me@x</a>"#),
            r#"<a href="https://h">me@x</a>"#
        );
        assert_eq!(
            strip("git+ssh://git@github.example/r"),
            "git+ssh://github.example/r"
        );
    }

    proptest! {
        #[test]
        fn leaves_no_userinfo_and_is_idempotent(
            s in "([a-zA-Z0-9+.-]{0,4}(://)?[a-z:@/ ?#\"]{0,6}){0,6}|\\PC{0,40}"
        ) {
            let once = strip(&s);
            prop_assert!(!has_userinfo(&once), "{:?} -> {:?}", s, once);
            prop_assert_eq!(strip(&once), once.clone());
        }

        #[test]
        fn strings_without_urls_are_untouched(s in "[^:]{0,60}|[^@]{0,60}") {
            prop_assert_eq!(strip_userinfo(&s), None);
        }
    }
}
