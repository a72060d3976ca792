//! Credential removal (contract §4) from one string: every URL in it that a WHATWG URL parser
//! (browsers, Node, workerd) would read with a username or password loses them; text that holds
//! no such URL is left byte-for-byte as it was. (`clean` applies it to every string of the chat.)
//!
//! # What counts as a URL with credentials
//!
//! The rule follows the WHATWG URL standard's parser, not only the RFC 3986 form
//! `scheme://userinfo@host`:
//!
//! - **Scheme**: a run of `[A-Za-z0-9+.-]` before a `:`. A parser may start reading at any
//!   letter of the run (`xhttps://` holds `https://`), so every letter-led tail of it counts.
//! - **Special schemes** (`http`, `https`, `ws`, `wss`, `ftp`, any case): the authority starts
//!   after any run of `/` and `\` after the `:`, of any length, none included: `https:\\u@h`,
//!   `https:/u@h`, `https:///u@h` and `https:u@h` all carry the username `u`. It ends at `/`, `\`,
//!   `?` or `#`. (`file` is special too and has no credentials; `file://u@h` still loses `u@`,
//!   as the scheme `ile` in it reads it.)
//! - **Other schemes**: the authority starts after exactly `//` (`foo://u@h`) and ends at `/`,
//!   `?` or `#`; a `\` belongs to it.
//! - **Tab, line feed and carriage return** are removed by the parser before it reads anything,
//!   so they may stand anywhere in a URL: `ht\ttps://u:p@h` and `https://u:\np@h` carry
//!   credentials, and they are removed with them.
//! - **Where a URL in text ends**: besides the characters above, at a space or any other
//!   whitespace, a control character (tab, line feed and carriage return aside, as they are
//!   ignored), `"`, `<`, `>` or `` ` ``, which delimit URLs in prose, HTML and Markdown.
//! - **Userinfo**: when the authority holds an `@` followed by something a host can start with,
//!   everything from the authority's start through its *last* `@` is removed, as a parser takes
//!   the last `@` of the authority to end the userinfo. A host can start with what the parser
//!   accepts as a one-character host: for special schemes no `% # / : < > ? @ [ \ ] ^ |`, space,
//!   control or DEL, but `%` followed by two hex digits whose byte is allowed; for other schemes
//!   none of `# / : < > ? @ \ ] ^ |`, space or control. An `@` that ends the authority, or one
//!   before a character no host starts with, is no credential (`https://u@`, `https://u@^x`),
//!   and neither is a userinfo that is empty or a lone `:` (`https://@h`, `https://:@h`): the
//!   parser reads no username or password there.
//!
//! Where the rule is conservative (removes what a parser might still refuse): a host starting
//! with `[` (an IPv6 literal, not checked further), and for special schemes one starting with a
//! character outside ASCII or a `%XX` above `%7F` (IDNA is not evaluated). An e-mail address,
//! an `@` after the host (`https://host/a@b`, `https://host?q=a@b`) and `mailto:` links are not
//! credentials and stay as they are.
//!
//! Text that reads as credentials by these rules is removed even when it was not meant as a URL,
//! because a parser given the string reads it so: `https://example.com,bob@mail.ru` is the URL
//! of host `mail.ru` with username `example.com,bob` and becomes `https://mail.ru`, and a line
//! break does not end a URL either (`https://example.com\nbob@mail.ru` becomes
//! `https://mail.ru`).
//!
//! The search takes time linear in the string: each byte is looked at a bounded number of times
//! whatever the text, so no chat can make cleaning slow.

/// Tab, line feed and carriage return, which the parser removes from its input.
fn is_ignored(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\r')
}

/// Whether `c` ends a URL written in text.
fn ends_url(c: char) -> bool {
    matches!(c, '"' | '<' | '>' | '`')
        || ((c.is_whitespace() || c.is_control()) && !matches!(c, '\t' | '\n' | '\r'))
}

fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

/// How the parser reads what follows a scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Special,
    Other,
}

impl Kind {
    /// The bit of [`CLASSES`] for the bytes that end an authority of this kind.
    fn end_bit(self) -> u8 {
        match self {
            Kind::Special => ENDS_SPECIAL,
            Kind::Other => ENDS_OTHER,
        }
    }

    /// Whether the ASCII byte `b` ends an authority of this kind in text.
    fn ends_authority(self, b: u8) -> bool {
        CLASSES[usize::from(b)] & self.end_bit() != 0
    }
}

/// Bits of [`CLASSES`]: the byte ends an authority of a non-special scheme (`/ ? #` or what
/// ends a URL in text), of a special one (those and `\`), is an `@`, or starts a character
/// outside ASCII (which may end a URL in text: decoded then).
const ENDS_OTHER: u8 = 1;
const ENDS_SPECIAL: u8 = 2;
const AT: u8 = 4;
const WIDE: u8 = 8;

/// What each byte is to the authority scan, so it tests one table entry per byte.
const CLASSES: [u8; 256] = {
    let mut classes = [0; 256];
    let mut b = 0;
    while b < 256 {
        classes[b] = match b as u8 {
            b'\t' | b'\n' | b'\r' => 0,
            b'/' | b'?' | b'#' | b'"' | b'<' | b'>' | b'`' | b' ' | 0..=0x1f | 0x7f => {
                ENDS_OTHER | ENDS_SPECIAL
            }
            b'\\' => ENDS_SPECIAL,
            b'@' => AT,
            0x80..=0xff => WIDE,
            _ => 0,
        };
        b += 1;
    }
    classes
};

/// Whether a special scheme's host may start with the byte `b`, read as itself or as a
/// percent-decoded byte. A byte above `%7F` may begin a valid UTF-8 host: allowed.
fn special_host_byte(b: u8) -> bool {
    !b.is_ascii()
        || (b.is_ascii_graphic()
            && !matches!(
                b,
                b'#' | b'%'
                    | b'/'
                    | b':'
                    | b'<'
                    | b'>'
                    | b'?'
                    | b'@'
                    | b'['
                    | b'\\'
                    | b']'
                    | b'^'
                    | b'|'
            ))
}

/// Whether something a parser would take as a host starts at `at` (just after an `@`) in an
/// authority of kind `kind`.
fn starts_host(text: &str, at: usize, kind: Kind) -> bool {
    let bytes = text.as_bytes();
    let mut i = at;
    while bytes.get(i).copied().is_some_and(is_ignored) {
        i += 1;
    }
    let Some(&b) = bytes.get(i) else {
        return false;
    };
    if !b.is_ascii() {
        return text[i..].chars().next().is_some_and(|c| !ends_url(c));
    }
    if kind.ends_authority(b) {
        return false;
    }
    match (kind, b) {
        (Kind::Other, _) => !matches!(b, b':' | b'@' | b'\\' | b']' | b'^' | b'|'),
        // An IPv6 literal.
        (Kind::Special, b'[') => true,
        (Kind::Special, b'%') => {
            let mut hex = bytes[i + 1..]
                .iter()
                .filter(|&&b| !is_ignored(b))
                .map(|&b| char::from(b).to_digit(16));
            match (hex.next().flatten(), hex.next().flatten()) {
                (Some(high), Some(low)) => special_host_byte((high * 16 + low) as u8),
                _ => false,
            }
        }
        (Kind::Special, _) => special_host_byte(b),
    }
}

/// One authority-length stretch of the string for a kind of scheme: from `start` to the first
/// byte that ends such an authority (`end`), with its last `@` and the last `@` that a host
/// follows. Any authority of that kind starting inside it ends at the same `end`, so each is
/// scanned once.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    start: usize,
    end: usize,
    last_at: Option<usize>,
    last_host_at: Option<usize>,
}

impl Stretch {
    fn scan(text: &str, start: usize, kind: Kind) -> Stretch {
        let bytes = text.as_bytes();
        let mut stretch = Stretch {
            start,
            end: bytes.len(),
            last_at: None,
            last_host_at: None,
        };
        let end_bit = kind.end_bit();
        let mut i = start;
        while let Some(offset) = bytes[i..]
            .iter()
            .position(|&b| CLASSES[usize::from(b)] & (end_bit | AT | WIDE) != 0)
        {
            i += offset;
            let class = CLASSES[usize::from(bytes[i])];
            if class & end_bit != 0 {
                stretch.end = i;
                break;
            }
            if class & AT != 0 {
                stretch.last_at = Some(i);
                if starts_host(text, i + 1, kind) {
                    stretch.last_host_at = Some(i);
                }
                i += 1;
                continue;
            }
            match text[i..].chars().next() {
                Some(c) if ends_url(c) => {
                    stretch.end = i;
                    break;
                }
                Some(c) => i += c.len_utf8(),
                None => break,
            }
        }
        stretch
    }

    /// The stretch in which an authority of this kind that starts at `at` lies, scanned only
    /// when `at` is past the cached one.
    fn find(cache: &mut Option<Stretch>, text: &str, at: usize, kind: Kind) -> Stretch {
        match cache {
            Some(s) if s.start <= at && at <= s.end => *s,
            _ => *cache.insert(Stretch::scan(text, at, kind)),
        }
    }

    /// The userinfo (`start..end`, its last `@` included) of the authority starting at `at`.
    fn userinfo(&self, text: &str, at: usize) -> Option<(usize, usize)> {
        match (self.last_host_at, self.last_at) {
            (Some(host_at), Some(last))
                if host_at >= at && !blank(&text.as_bytes()[at..host_at]) =>
            {
                Some((at, last + 1))
            }
            _ => None,
        }
    }

    /// Whether a special scheme's stretch is also the non-special one from the same start, with
    /// the same answer: it ends where a non-special authority ends too (not at a `\`), and its
    /// last `@`, if any, is followed by a host for both (a special scheme's hosts are a subset).
    /// The usual `https://user@host` is then scanned once.
    fn serves_other(&self, text: &str) -> bool {
        text.as_bytes().get(self.end) != Some(&b'\\')
            && (self.last_at.is_none() || self.last_host_at == self.last_at)
    }
}

/// Whether a userinfo reads as no username and no password: nothing or a lone `:` (tab, line
/// feed and carriage return aside).
fn blank(userinfo: &[u8]) -> bool {
    let mut read = userinfo.iter().filter(|&&b| !is_ignored(b));
    match read.next() {
        None => true,
        Some(b':') => read.next().is_none(),
        Some(_) => false,
    }
}

/// What the scheme before the `:` at `colon` may be read as: `None` when no tail of it starts
/// with a letter (no scheme), `Some(true)` when a tail is a special scheme.
fn scheme_before(bytes: &[u8], colon: usize) -> Option<bool> {
    const SPECIAL: [&[u8]; 5] = [b"http", b"https", b"ws", b"wss", b"ftp"];
    // The last five scheme bytes, lowercased, right-aligned.
    let mut tail = [0u8; 5];
    let mut kept = 0;
    let mut letter = false;
    let mut special = false;
    for &b in bytes[..colon].iter().rev() {
        if is_ignored(b) {
            continue;
        }
        if !is_scheme_byte(b) || (letter && kept == tail.len()) {
            break;
        }
        letter |= b.is_ascii_alphabetic();
        if kept < tail.len() {
            kept += 1;
            tail[tail.len() - kept] = b.to_ascii_lowercase();
            special |= SPECIAL.contains(&&tail[tail.len() - kept..]);
        }
    }
    letter.then_some(special)
}

/// How far a non-special scheme's `//` has been read in the text kept after its `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slashes {
    /// This many of the two `/` seen.
    Seen(u8),
    /// Both seen: the authority has started.
    Authority,
    /// Not `//`, or its authority has ended: no userinfo.
    None,
}

impl Slashes {
    fn after(self, b: u8) -> Slashes {
        match (self, b) {
            (_, b'\t' | b'\n' | b'\r') => self,
            (Slashes::Seen(0), b'/') => Slashes::Seen(1),
            (Slashes::Seen(_), b'/') => Slashes::Authority,
            (Slashes::Authority, b'\\') => Slashes::Authority,
            _ => Slashes::None,
        }
    }

    /// Where the authority starts when the text from `at` follows.
    fn authority_start(self, bytes: &[u8], at: usize) -> Option<usize> {
        let mut state = self;
        let mut i = at;
        loop {
            match state {
                Slashes::Authority => return Some(i),
                Slashes::None => return None,
                Slashes::Seen(_) => {
                    state = state.after(*bytes.get(i)?);
                    i += 1;
                }
            }
        }
    }
}

/// The string without URL credentials, or `None` when it had none (no allocation).
pub fn strip_userinfo(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // No credentials without an `@`: most strings stop here.
    memchr::memchr(b'@', bytes)?;
    let mut out: Option<String> = None;
    // `copied` is how much of `text` has been accounted for in `out`.
    let mut copied = 0;
    let mut search = 0;
    let mut special_cache = None;
    let mut other_cache = None;
    while let Some(offset) = memchr::memchr(b':', &bytes[search..]) {
        let colon = search + offset;
        search = colon + 1;
        let Some(special) = scheme_before(bytes, colon) else {
            continue;
        };
        // The text after the colon is read in rounds: once a userinfo is removed, what follows
        // it comes right after the slashes kept, and may make a new authority with them
        // (`https://a@b@\/x@y` keeps `https://` + `\/x@y`), so it is read again the same way.
        let mut at = colon + 1;
        let mut slashes = Slashes::Seen(0);
        loop {
            let special_stretch = special.then(|| {
                let start = at
                    + bytes[at..]
                        .iter()
                        .take_while(|&&b| matches!(b, b'/' | b'\\') || is_ignored(b))
                        .count();
                (
                    start,
                    Stretch::find(&mut special_cache, text, start, Kind::Special),
                )
            });
            let special_userinfo =
                special_stretch.and_then(|(start, stretch)| stretch.userinfo(text, start));
            let other_userinfo = match (slashes.authority_start(bytes, at), special_stretch) {
                (None, _) => None,
                (Some(start), Some((special_start, stretch)))
                    if start == special_start && stretch.serves_other(text) =>
                {
                    special_userinfo
                }
                (Some(start), _) => {
                    Stretch::find(&mut other_cache, text, start, Kind::Other).userinfo(text, start)
                }
            };
            let (start, end) = match (special_userinfo, other_userinfo) {
                (None, None) => break,
                (Some(one), None) | (None, Some(one)) => one,
                (Some(a), Some(b)) => (a.0.min(b.0), a.1.max(b.1)),
            };
            for &b in &bytes[at..start] {
                slashes = slashes.after(b);
            }
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[copied..start]);
            copied = end;
            at = end;
            search = end;
        }
    }
    out.map(|mut buf| {
        buf.push_str(&text[copied..]);
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::{has_unjudged_host, parser_reads_credentials, url_with_credentials};
    use proptest::prelude::*;

    fn strip(s: &str) -> String {
        strip_userinfo(s).unwrap_or_else(|| s.to_string())
    }

    /// Each case: the text, and what credential removal makes of it (the same text when a
    /// parser reads no credentials in it).
    const WHATWG_FORMS: &[(&str, &str)] = &[
        // Any run of `/` and `\` after a special scheme, none included.
        ("https:\\\\u:p@h", "https:\\\\h"),
        ("https:/u:p@h", "https:/h"),
        ("https:///u:p@h", "https:///h"),
        ("HTTPS:\\/u:p@h", "HTTPS:\\/h"),
        ("https:u:p@h", "https:h"),
        ("ws:u@h/x", "ws:h/x"),
        ("WsS:\\u@h", "WsS:\\h"),
        ("ftp:////u@h", "ftp:////h"),
        ("see xhttps:/u@h.", "see xhttps:/h."),
        // Tab, line feed and carriage return anywhere in the URL.
        ("ht\ttps://u:p@h", "ht\ttps://h"),
        ("https://u:\np@h", "https://h"),
        ("h\r\nttp\ts:\n/\t/u\t@\th", "h\r\nttp\ts:\n/\t/\th"),
        ("https:\t\\u@h", "https:\t\\h"),
        ("https://example.com\nbob@mail.ru", "https://mail.ru"),
        // The last `@` of the authority ends the userinfo.
        ("https://example.com,bob@mail.ru", "https://mail.ru"),
        ("https://a@b@c", "https://c"),
        ("https://a@b@", "https://"),
        ("http://u:p@h:8080/a@b", "http://h:8080/a@b"),
        // A non-special scheme reads a `\` as part of its authority (`ttps` is one).
        ("https://a\\b@h", "https://h"),
        ("foo://u:p@h", "foo://h"),
        ("file://u:p@h", "file://h"),
        ("git+ssh://git@h/r", "git+ssh://h/r"),
        // A userinfo removed leaves slashes that meet the next ones: read again.
        ("https://a@b@\\/x@y", "https://\\/y"),
        ("https:/u@b@/x@y", "https://y"),
        // Hosts: percent escapes and characters a parser takes or refuses. After `https://`
        // the scheme `ttps` reads the host as an opaque one, where any `%` may stand.
        ("https://u@%41", "https://%41"),
        ("foo://u@%40", "foo://%40"),
        ("https://u@ж.рф", "https://ж.рф"),
        ("https://u@[::1]/", "https://[::1]/"),
        ("https://u@-", "https://-"),
        // No credentials: left as they are.
        ("bob@example.com", "bob@example.com"),
        ("mailto:bob@example.com", "mailto:bob@example.com"),
        ("https://host/a@b", "https://host/a@b"),
        ("https:\\host\\a@b", "https:\\host\\a@b"),
        ("https://host?q=a@b", "https://host?q=a@b"),
        ("https://host#a@b", "https://host#a@b"),
        ("foo:///u@h", "foo:///u@h"),
        ("foo:/u@h", "foo:/u@h"),
        ("foo:\\\\u@h", "foo:\\\\u@h"),
        ("file:\\\\u@h", "file:\\\\u@h"),
        ("https://u@", "https://u@"),
        ("https://u@ h", "https://u@ h"),
        ("https://u@^h", "https://u@^h"),
        ("https://u@%40h", "https://%40h"),
        ("https://u@%zz", "https://%zz"),
        ("https: u@h", "https: u@h"),
        ("https:?u@h", "https:?u@h"),
        ("1://u@h", "1://u@h"),
        ("https://@h", "https://@h"),
        ("https:@https", "https:@https"),
        ("https://:@h", "https://:@h"),
        ("https:\t@h", "https:\t@h"),
        ("https://::@h", "https://h"),
        ("https://@@h", "https://h"),
        ("Note: bob@mail.ru", "Note: bob@mail.ru"),
        ("10:30 bob@mail.ru", "10:30 bob@mail.ru"),
    ];

    #[test]
    fn whatwg_forms() {
        for &(text, clean) in WHATWG_FORMS {
            assert_eq!(strip(text), clean, "{text:?}");
            assert_eq!(url_with_credentials(clean), None, "{clean:?}");
            assert_eq!(
                url_with_credentials(text).is_some(),
                text != clean,
                "the parser and the case disagree on {text:?}"
            );
        }
    }

    /// What Node's WHATWG URL parser reads in a piece of a case's text.
    #[derive(serde::Deserialize)]
    struct NodeReading {
        piece: String,
        username: String,
        password: String,
    }

    /// Cases written by `tests/fixtures/whatwg_cases.mjs` with Node's verdicts.
    #[derive(serde::Deserialize)]
    struct Case {
        text: String,
        clean: String,
        node_text: Option<NodeReading>,
        node_clean: Option<NodeReading>,
    }

    #[derive(serde::Deserialize)]
    struct Fixture {
        cases: Vec<Case>,
    }

    /// Two WHATWG parsers written apart, Node's and the `url` crate, judge the same cases.
    #[test]
    fn node_and_the_url_crate_agree_with_removal() {
        let fixture: Fixture =
            serde_json::from_str(include_str!("../../tests/fixtures/whatwg_cases.json")).unwrap();
        for case in &fixture.cases {
            let text = &case.text;
            assert_eq!(strip(text), case.clean, "{text:?}");
            if let Some(node) = &case.node_clean {
                panic!(
                    "Node reads credentials in {:?} of {:?}",
                    node.piece, case.clean
                );
            }
            assert_eq!(
                case.node_text.is_some(),
                *text != case.clean,
                "Node and the case disagree on {text:?}"
            );
            assert_eq!(url_with_credentials(&case.clean), None, "{:?}", case.clean);
            assert_eq!(
                url_with_credentials(text).is_some(),
                case.node_text.is_some(),
                "the url crate and Node disagree on {text:?}"
            );
            if let Some(node) = &case.node_text {
                let url = url::Url::parse(&node.piece).expect("Node parsed it");
                assert_eq!(url.username(), node.username, "{:?}", node.piece);
                assert_eq!(
                    url.password().unwrap_or(""),
                    node.password,
                    "{:?}",
                    node.piece
                );
            }
        }
        assert!(fixture.cases.len() >= 50);
    }

    #[test]
    fn the_byte_table_matches_the_rule() {
        for b in 0..=0x7fu8 {
            let c = char::from(b);
            let ends_other = ends_url(c) || matches!(c, '/' | '?' | '#');
            assert_eq!(Kind::Other.ends_authority(b), ends_other, "{b:#x}");
            assert_eq!(
                Kind::Special.ends_authority(b),
                ends_other || c == '\\',
                "{b:#x}"
            );
            assert_eq!(CLASSES[usize::from(b)] & AT != 0, c == '@', "{b:#x}");
        }
        assert!((0x80..=0xff).all(|b| CLASSES[b] == WIDE));
    }

    #[test]
    fn the_oracle_is_a_whatwg_parser() {
        for url in [
            "https:\\\\u:p@h",
            "ht\ttps://u:\np@h",
            "https://example.com,bob@mail.ru",
        ] {
            assert!(parser_reads_credentials(url), "{url:?}");
        }
        for url in [
            "mailto:bob@h",
            "https://h/a@b",
            "file://u:p@h",
            "https://u@",
        ] {
            assert!(!parser_reads_credentials(url), "{url:?}");
        }
        assert_eq!(
            url_with_credentials("text https:/u@h.com, more"),
            Some("https:/u@h")
        );
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

    /// Pieces of text that make the parser's edge cases likely when joined at random.
    const PIECES: &[&str] = &[
        "https", "http", "ftp", "ws", "foo", "file", "HTTP", ":", ":", "/", "/", "\\", "\t", "\n",
        "u", "p", "@", "@", "h.com", ".", ",", " ", "?", "#", "%40", "%41", "ж", "mailto:", "^",
        "-", "8",
    ];

    fn adversarial() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(PIECES), 0..24)
            .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Removal leaves no URL that the parser reads with credentials, changes text only when
        /// the parser reads some in it, and is idempotent.
        #[test]
        fn agrees_with_the_parser(s in adversarial()) {
            let once = strip(&s);
            prop_assert_eq!(url_with_credentials(&once), None, "{:?} -> {:?}", s, once);
            prop_assert_eq!(strip_userinfo(&once), None, "not idempotent: {:?}", once);
            prop_assert_eq!(
                strip_userinfo(&s).is_some(),
                url_with_credentials(&s).is_some(),
                "{:?} -> {:?}", s, once
            );
        }
    }

    proptest! {
        #[test]
        fn leaves_no_credentials_in_any_text(
            s in "([a-zA-Z0-9+.-]{0,4}(:[/\\\\]{0,3})?[a-z:@/ ?#\"\t\n%\\[\\]]{0,6}){0,6}|\\PC{0,40}"
        ) {
            let once = strip(&s);
            prop_assert_eq!(url_with_credentials(&once), None, "{:?} -> {:?}", s, once);
            prop_assert_eq!(strip_userinfo(&once), None, "not idempotent: {:?}", once);
            if once != s {
                prop_assert!(url_with_credentials(&s).is_some() || has_unjudged_host(&s), "{:?}", s);
            }
        }

        #[test]
        fn strings_without_urls_are_untouched(s in "[^:]{0,60}|[^@]{0,60}") {
            prop_assert_eq!(strip_userinfo(&s), None);
        }
    }
}
