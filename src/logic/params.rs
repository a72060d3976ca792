//! Reading Webim's parameters (contract §3.3) from the query string and an urlencoded body, as raw
//! percent-decoded bytes, so the signature is checked over exactly what was sent and exactly
//! what is forwarded. Owns the media-type rule and duplicate detection.

use std::borrow::Cow;

use crate::logic::error::EdgeError;

/// The three parameters that matter, as raw bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// `chat`, exactly as signed.
    pub chat: Vec<u8>,
    /// `signature`: hex HMAC-SHA256.
    pub signature: Option<Vec<u8>>,
    /// `crc`: hex MD5 (API versions below 4).
    pub crc: Option<Vec<u8>>,
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Whether a `content-type` value names the urlencoded form type (parameters such as
/// `charset` allowed, case-insensitive).
fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(FORM))
}

/// Hex digit values; 0xFF marks a byte that is not one (so `a | b != 0xFF` means both are).
const HEX: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// One name or value decoded in one pass: `+` is a space, `%XX` a byte; a malformed escape
/// stays as written. Matching on the slice's head, rather than indexing, leaves the compiled
/// loop without bounds checks on the input; writing over a copy of the input (decoding never
/// lengthens) and cutting it to length, rather than pushing onto a vector that checks its
/// capacity at every byte, makes the loop faster again as wasm (docs/performance.md, changes
/// 7 and 10).
fn decode(part: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr2(b'%', b'+', part) else {
        return Cow::Borrowed(part);
    };
    let mut out = part.to_vec();
    let mut written = first;
    let mut rest = &part[first..];
    loop {
        let (byte, tail) = match rest {
            [b'%', high, low, tail @ ..]
                if HEX[usize::from(*high)] | HEX[usize::from(*low)] != 0xFF =>
            {
                (HEX[usize::from(*high)] << 4 | HEX[usize::from(*low)], tail)
            }
            [b'+', tail @ ..] => (b' ', tail),
            [byte, tail @ ..] => (*byte, tail),
            [] => break,
        };
        // Each step reads at least the byte it writes, so `written` stays within `out`.
        if let Some(slot) = out.get_mut(written) {
            *slot = byte;
        }
        written += 1;
        rest = tail;
    }
    out.truncate(written);
    Cow::Owned(out)
}

/// Reads the parameters from the raw query (without `?`) and body.
pub fn read(query: &[u8], content_type: Option<&str>, body: &[u8]) -> Result<Params, EdgeError> {
    if !body.is_empty() && !is_form(content_type) {
        return Err(EdgeError::UnsupportedMediaType);
    }
    let mut chat = None;
    let mut signature = None;
    let mut crc = None;
    for pair in pairs(query).chain(pairs(body)) {
        let (name, value) = match memchr::memchr(b'=', pair) {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let slot = match &*decode(name) {
            b"chat" => &mut chat,
            b"signature" => &mut signature,
            b"crc" => &mut crc,
            _ => continue,
        };
        if slot.replace(decode(value).into_owned()).is_some() {
            return Err(EdgeError::DuplicateParameter);
        }
    }
    Ok(Params {
        chat: chat.ok_or(EdgeError::MissingChat)?,
        signature,
        crc,
    })
}

/// The first value of the parameter `name` in an urlencoded `input`, decoded like Webim's.
pub fn value<'a>(input: &'a [u8], name: &[u8]) -> Option<Cow<'a, [u8]>> {
    pairs(input).find_map(|pair| {
        let (key, value) = match memchr::memchr(b'=', pair) {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        (*decode(key) == *name).then(|| decode(value))
    })
}

/// The non-empty `&`-separated pairs of `input`.
fn pairs(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(input);
    std::iter::from_fn(move || loop {
        let current = rest?;
        let (pair, next) = match memchr::memchr(b'&', current) {
            Some(at) => (&current[..at], Some(&current[at + 1..])),
            None => (current, None),
        };
        rest = next;
        if !pair.is_empty() {
            return Some(pair);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CT: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn query_only_with_empty_body() {
        let p = read(b"chat=%7B%22id%22%3A1%7D&signature=ab&x=y", None, b"").unwrap();
        assert_eq!(p.chat, br#"{"id":1}"#);
        assert_eq!(p.signature.as_deref(), Some(&b"ab"[..]));
        assert_eq!(p.crc, None);
    }

    #[test]
    fn form_body_with_charset_and_plus_as_space() {
        let p = read(
            b"",
            Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            b"chat=%7B%22m%22%3A%22a+b%2Bc%22%7D&crc=00",
        )
        .unwrap();
        assert_eq!(p.chat, br#"{"m":"a b+c"}"#);
        assert_eq!(p.crc.as_deref(), Some(&b"00"[..]));
    }

    #[test]
    fn query_and_body_combine() {
        let p = read(b"signature=ff", CT, b"chat=%7B%7D").unwrap();
        assert_eq!(p.chat, b"{}");
        assert_eq!(p.signature.as_deref(), Some(&b"ff"[..]));
    }

    #[test]
    fn values_are_raw_bytes_not_lossy_text() {
        // %FF is not UTF-8; it must survive as the byte 0xFF for the signature check.
        let p = read(b"chat=%FF%D0%96", None, b"").unwrap();
        assert_eq!(p.chat, vec![0xFF, 0xD0, 0x96]);
        // A malformed escape stays as written.
        assert_eq!(read(b"chat=%zz%4", None, b"").unwrap().chat, b"%zz%4");
    }

    #[test]
    fn encoded_parameter_names_count() {
        assert_eq!(
            read(b"chat=a&ch%61t=b", None, b""),
            Err(EdgeError::DuplicateParameter)
        );
    }

    #[test]
    fn duplicates_anywhere_are_rejected() {
        for (q, b) in [
            (&b"chat=a&chat=a"[..], &b""[..]),
            (b"chat=a", b"chat=a"),
            (b"chat=a&signature=1", b"signature=1"),
            (b"chat=a&crc=1&crc=2", b""),
            (b"chat=a&chat", b""),
        ] {
            assert_eq!(read(q, CT, b), Err(EdgeError::DuplicateParameter));
        }
    }

    #[test]
    fn one_value_by_name() {
        let query = b"chat=a%26b&id=evt%5F1&x&id=second";
        assert_eq!(value(query, b"id").as_deref(), Some(&b"evt_1"[..]));
        assert_eq!(value(query, b"chat").as_deref(), Some(&b"a&b"[..]));
        assert_eq!(value(query, b"x").as_deref(), Some(&b""[..]));
        assert_eq!(value(query, b"missing"), None);
    }

    #[test]
    fn missing_chat() {
        assert_eq!(
            read(b"signature=ab", None, b""),
            Err(EdgeError::MissingChat)
        );
        assert_eq!(read(b"", None, b""), Err(EdgeError::MissingChat));
    }

    #[test]
    fn other_media_types_are_refused_only_with_a_body() {
        for ct in [
            None,
            Some("application/json"),
            Some("multipart/form-data; boundary=x"),
            Some("text/plain"),
        ] {
            assert_eq!(
                read(b"chat=a", ct, b"{}"),
                Err(EdgeError::UnsupportedMediaType)
            );
            assert!(read(b"chat=a", ct, b"").is_ok());
        }
    }

    proptest! {
        #[test]
        fn never_panics(q in proptest::collection::vec(any::<u8>(), 0..200),
                        b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = read(&q, CT, &b);
        }

        #[test]
        fn decoding_agrees_with_the_percent_encoding_crate(part in proptest::collection::vec(any::<u8>(), 0..120)) {
            let spaced: Vec<u8> = part.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
            let expected: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
            prop_assert_eq!(decode(&part).into_owned(), expected);
        }

        #[test]
        fn encoded_values_round_trip(chat in proptest::collection::vec(any::<u8>(), 0..200)) {
            let encoded: String = percent_encoding::percent_encode(&chat, percent_encoding::NON_ALPHANUMERIC).to_string();
            let p = read(format!("chat={encoded}").as_bytes(), None, b"").unwrap();
            prop_assert_eq!(p.chat, chat);
        }
    }
}
