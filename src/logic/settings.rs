//! Settings (contract §9) as one table: each setting is one line naming its field, its variable,
//! whether it is a secret, its rule (required, a default, optional) and its parser. Reading
//! validates every setting and reports every problem at once, by name only, never a value; a
//! secret cannot appear in `Debug`, because the table prints secrets as `<secret>`.

use std::fmt;

use crate::logic::event::EventType;
use crate::logic::inbound_auth::InboundAuth;
use crate::logic::origin::{Origin, OriginFormat, Signing};
use crate::logic::standard_webhooks::SigningKey;
use crate::logic::webim_signature;

/// A setting as the runtime holds it: unset, a string, or a value of another type (a TOML
/// number or list in `[vars]`), which is always a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    /// Not set.
    Unset,
    /// A string.
    Text(String),
    /// A number, list or object.
    NotText,
}

/// Whether a setting is a plain variable or a secret (never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A plain variable, shown in `Debug`.
    Var,
    /// A secret, never shown.
    Secret,
}

/// One row of the settings table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The variable's name.
    pub name: &'static str,
    /// Variable or secret.
    pub kind: Kind,
    /// The default, as the string it would be set to.
    pub default: Option<&'static str>,
}

/// A value that is absent or only whitespace counts as unset (wrangler vars are often `""`).
fn unless_blank(raw: Raw) -> Raw {
    match raw {
        Raw::Text(text) if text.trim().is_empty() => Raw::Unset,
        raw => raw,
    }
}

/// A setting that must be set.
fn required<T>(raw: Raw, parse: fn(&str) -> Option<T>) -> Option<T> {
    match unless_blank(raw) {
        Raw::Text(text) => parse(text.trim()),
        _ => None,
    }
}

/// A setting with a default, stated as the string it would be set to.
fn with_default<T>(raw: Raw, default: &str, parse: fn(&str) -> Option<T>) -> Option<T> {
    match unless_blank(raw) {
        Raw::Text(text) => parse(text.trim()),
        Raw::Unset => parse(default),
        Raw::NotText => None,
    }
}

/// A setting that may be unset (blank counts as unset).
fn optional<T>(raw: Raw, parse: fn(&str) -> Option<T>) -> Option<Option<T>> {
    match unless_blank(raw) {
        Raw::Text(text) => parse(text.trim()).map(Some),
        Raw::Unset => Some(None),
        Raw::NotText => None,
    }
}

/// A setting that may be unset, but once set, even to blanks, must hold a valid value.
fn if_set<T>(raw: Raw, parse: fn(&str) -> Option<T>) -> Option<Option<T>> {
    match raw {
        Raw::Text(text) => parse(&text).map(Some),
        Raw::Unset => Some(None),
        Raw::NotText => None,
    }
}

/// Applies a rule to a raw value: `None` is a problem.
macro_rules! rule {
    (required, $raw:expr, $parse:expr) => {
        required($raw, $parse)
    };
    (default($default:literal), $raw:expr, $parse:expr) => {
        with_default($raw, $default, $parse)
    };
    (optional, $raw:expr, $parse:expr) => {
        optional($raw, $parse)
    };
    (if_set, $raw:expr, $parse:expr) => {
        if_set($raw, $parse)
    };
}

macro_rules! default_of {
    (default($default:literal)) => {
        Some($default)
    };
    ($other:ident) => {
        None
    };
}

macro_rules! shown {
    (Var, $value:expr) => {
        $value
    };
    (Secret, $value:expr) => {
        &"<secret>"
    };
}

macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $ty:ty = $name:ident $kind:ident $rule:ident $(($default:literal))? => $parse:expr;
    )*) => {
        $(
            #[doc = concat!("The `", stringify!($name), "` setting.")]
            pub const $name: &str = stringify!($name);
        )*

        /// Every string setting, in the order problems are reported.
        pub const TABLE: &[Setting] = &[$(Setting {
            name: $name,
            kind: Kind::$kind,
            default: default_of!($rule $(($default))?),
        },)*];

        /// Validated configuration.
        pub struct Settings {
            $($(#[doc = $doc])* #[doc = concat!("From `", stringify!($name), "`.")] pub $field: $ty,)*
        }

        impl fmt::Debug for Settings {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("Settings")
                    $(.field(stringify!($field), shown!($kind, &self.$field)))*
                    .finish()
            }
        }

        impl Settings {
            /// Reads every row of the table; `None` when any is a problem (each named in
            /// `problems`).
            fn read(lookup: &dyn Fn(&str) -> Raw, problems: &mut Vec<&'static str>) -> Option<Settings> {
                $(
                    let $field: Option<$ty> = rule!($rule $(($default))?, lookup($name), $parse);
                    if $field.is_none() {
                        problems.push($name);
                    }
                )*
                // One pattern for all fields, so a failure has one path that drops them.
                match ($($field,)*) {
                    ($(Some($field),)*) => Some(Settings { $($field,)* }),
                    _ => None,
                }
            }
        }
    };
}

settings! {
    /// Account private keys (their UTF-8 bytes), current first.
    keys: Vec<Vec<u8>> = WEBIM_PRIVATE_KEYS Secret required => keys;
    /// Handler API version; below 4 accepts the legacy MD5 `crc`.
    api_version: u32 = WEBIM_API_VERSION Var default("4") => number::<u32>;
    /// Where clean events go unless a per-event origin is set.
    origin: Option<Origin> = ORIGIN_URL Secret optional => Origin::parse;
    /// The `whsec_` key of outbound Standard Webhooks signatures.
    signing_key: Option<SigningKey> = ORIGIN_SIGNING_SECRET Secret optional => SigningKey::parse;
    /// How long one delivery attempt may wait for the origin.
    origin_timeout_ms: u32 = ORIGIN_TIMEOUT_MS Var default("10000") => |s| number::<u32>(s).filter(|n| (1..=MAX_ORIGIN_TIMEOUT_MS).contains(n));
    /// Accepted inbound `user:password` pairs.
    inbound_auth: Option<InboundAuth> = INBOUND_BASIC_AUTH Secret if_set => |s| InboundAuth::from_pairs(list(s));
    /// The inbound body limit.
    max_body_bytes: u64 = MAX_BODY_BYTES Var default("1048576") => |s| number::<u64>(s).filter(|&n| n > 0);
    /// How long KV remembers a delivered id (Cloudflare KV refuses less than 60 s).
    dedup_ttl_seconds: u64 = DEDUP_TTL_SECONDS Var default("86400") => |s| number::<u64>(s).filter(|&n| n >= 60);
    /// The first retry delay; later ones double, up to 900 s.
    retry_base_seconds: u64 = RETRY_BASE_SECONDS Var default("5") => |s| number::<u64>(s).filter(|n| (1..=900).contains(n));
    /// Outbox: attempts before an event is dead.
    max_attempts: u32 = MAX_ATTEMPTS Var default("20") => |s| number::<u32>(s).filter(|n| (1..=1000).contains(n));
    /// Outbox: how long an event waits for its chat's `chat_started`.
    order_hold_seconds: u64 = ORDER_HOLD_SECONDS Var default("60") => |s| number::<u64>(s).filter(|&n| n <= 86_400);
    /// Outbox: how long ids, attempts and dead events are kept.
    outbox_retention_days: u64 = OUTBOX_RETENTION_DAYS Var default("7") => |s| number::<u64>(s).filter(|n| (1..=365).contains(n));
    /// The admin API's bearer token.
    admin_token: Option<String> = ADMIN_TOKEN Secret optional => |s: &str| (s.chars().count() >= MIN_ADMIN_TOKEN_CHARS).then(|| s.to_string());
    /// Outbox: availability failures in a row (from two events at least) that mark an origin down.
    origin_down_after: u32 = ORIGIN_DOWN_AFTER Var default("5") => |s| number::<u32>(s).filter(|n| (2..=1000).contains(n));
    /// Outbox: while an origin is down, one probe per this many seconds.
    origin_probe_seconds: u64 = ORIGIN_PROBE_SECONDS Var default("30") => |s| number::<u64>(s).filter(|n| (1..=3600).contains(n));
    /// Outbox: where dead events and origin outages are announced.
    alert_url: Option<Origin> = ALERT_URL Secret optional => Origin::parse;
    /// What the origin receives: the JSON event or Webim's own form.
    origin_format: OriginFormat = ORIGIN_FORMAT Var default("event") => OriginFormat::parse;
    /// Per-event origins; each overrides `ORIGIN_URL` for its event.
    origin_chat_started: Option<Origin> = ORIGIN_URL_CHAT_STARTED Secret optional => Origin::parse;
    origin_chat_assigned: Option<Origin> = ORIGIN_URL_CHAT_ASSIGNED Secret optional => Origin::parse;
    origin_chat_closed: Option<Origin> = ORIGIN_URL_CHAT_CLOSED Secret optional => Origin::parse;
    /// `webim` format: the key the receiver verifies with (default: the first Webim key).
    origin_webim_key: Option<Vec<u8>> = ORIGIN_WEBIM_KEY Secret optional => |s: &str| Some(s.as_bytes().to_vec());
    /// `webim` format: below 4 sends `crc` (MD5) instead of `signature`.
    origin_webim_api_version: u32 = ORIGIN_WEBIM_API_VERSION Var default("4") => number::<u32>;
}

/// The longest `ORIGIN_TIMEOUT_MS`: an attempt must end well inside an alarm's run, so that it
/// is always recorded (and `MAX_ATTEMPTS` can end it).
pub const MAX_ORIGIN_TIMEOUT_MS: u32 = 120_000;

/// The largest `MAX_BODY_BYTES` with the outbox bound: a SQLite row holds 2 MB.
pub const OUTBOX_MAX_BODY_BYTES: u64 = 2_000_000;

/// The shortest `ADMIN_TOKEN`: the admin API sits on the public hostname.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// Adds a problem found beside the table's own rules, in table order like every other.
fn add_problem(problems: &mut Vec<&'static str>, name: &'static str) {
    let rank = |name| TABLE.iter().position(|row| row.name == name);
    let at = problems
        .iter()
        .position(|&other| rank(other) > rank(name))
        .unwrap_or(problems.len());
    problems.insert(at, name);
}

/// Splits a list setting at commas and newlines, trimming blanks around each item.
pub fn list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split([',', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

fn keys(raw: &str) -> Option<Vec<Vec<u8>>> {
    let keys: Vec<Vec<u8>> = list(raw).map(|key| key.as_bytes().to_vec()).collect();
    (!keys.is_empty()).then_some(keys)
}

fn number<T: std::str::FromStr>(raw: &str) -> Option<T> {
    raw.parse().ok()
}

impl Settings {
    /// Reads and validates every setting. `Err` lists the names of all bad settings.
    pub fn from_raw(lookup: impl Fn(&str) -> Raw) -> Result<Settings, Vec<&'static str>> {
        Settings::from_raw_bound(lookup, false)
    }

    /// [`Settings::from_raw`] for a worker with or without the outbox bound, which limits
    /// `MAX_BODY_BYTES` to what one of its rows can hold.
    pub fn from_raw_bound(
        lookup: impl Fn(&str) -> Raw,
        outbox_bound: bool,
    ) -> Result<Settings, Vec<&'static str>> {
        let mut problems = Vec::new();
        let mut settings = Settings::read(&lookup, &mut problems);
        if outbox_bound
            && settings
                .as_ref()
                .is_some_and(|s| s.max_body_bytes > OUTBOX_MAX_BODY_BYTES)
        {
            settings = None;
            add_problem(&mut problems, MAX_BODY_BYTES);
        }
        // ORIGIN_URL may be unset only when every event has its own origin.
        let unset = |name| matches!(unless_blank(lookup(name)), Raw::Unset);
        if unset(ORIGIN_URL) && EventType::ALL.iter().any(|&t| unset(per_event_name(t))) {
            add_problem(&mut problems, ORIGIN_URL);
        }
        match settings {
            Some(settings) if problems.is_empty() => Ok(settings),
            _ => Err(problems),
        }
    }

    /// [`Settings::from_raw`] over a lookup of plain strings (tests, benchmarks, fuzzing).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, Vec<&'static str>> {
        Settings::from_raw(|name| lookup(name).map_or(Raw::Unset, Raw::Text))
    }

    /// The setting that names where events of `event_type` go (an origin is known by it, never
    /// by its URL): its per-event origin when set, else `ORIGIN_URL`.
    pub fn origin_name_for(&self, event_type: EventType) -> &'static str {
        let own = match event_type {
            EventType::ChatStarted => self.origin_chat_started.is_some(),
            EventType::ChatAssigned => self.origin_chat_assigned.is_some(),
            EventType::ChatClosed => self.origin_chat_closed.is_some(),
        };
        if own {
            per_event_name(event_type)
        } else {
            ORIGIN_URL
        }
    }

    /// The names of the origins events can go to, each once: `ORIGIN_URL` when it serves any
    /// event type, then each per-event origin that is set.
    pub fn origin_names(&self) -> Vec<&'static str> {
        let per_event = EventType::ALL.map(|t| self.origin_name_for(t));
        let mut names: Vec<&'static str> = Vec::new();
        if per_event.contains(&ORIGIN_URL) {
            names.push(ORIGIN_URL);
        }
        names.extend(per_event.into_iter().filter(|&name| name != ORIGIN_URL));
        names
    }

    /// Where events of `event_type` go: its own origin, else `ORIGIN_URL`.
    pub fn origin_for(&self, event_type: EventType) -> Option<&Origin> {
        match event_type {
            EventType::ChatStarted => self.origin_chat_started.as_ref(),
            EventType::ChatAssigned => self.origin_chat_assigned.as_ref(),
            EventType::ChatClosed => self.origin_chat_closed.as_ref(),
        }
        .or(self.origin.as_ref())
    }

    /// How an attempt at an event is signed; `verified_by` is the index of the Webim key that
    /// verified its delivery.
    pub fn signing(&self, verified_by: Option<usize>) -> Signing<'_> {
        Signing {
            format: self.origin_format,
            standard_webhooks: self.signing_key.as_ref(),
            webim_key: self.origin_webim_key(verified_by),
            webim_scheme: webim_signature::scheme_for(self.origin_webim_api_version),
        }
    }

    /// The key a `webim`-format receiver verifies with (contract §13): `ORIGIN_WEBIM_KEY`, else
    /// the key that verified Webim's delivery, so that during a key rotation a receiver that
    /// still has the old key keeps verifying what Webim signed with it. The first key when
    /// the delivery's key is not known (an event queued by an earlier release).
    pub fn origin_webim_key(&self, verified_by: Option<usize>) -> &[u8] {
        let verifying = verified_by.and_then(|i| self.keys.get(i));
        self.origin_webim_key
            .as_deref()
            .or(verifying.map(Vec::as_slice))
            .or(self.keys.first().map(Vec::as_slice))
            .unwrap_or_default()
    }
}

/// The per-event origin setting of `event_type`.
pub fn per_event_name(event_type: EventType) -> &'static str {
    match event_type {
        EventType::ChatStarted => ORIGIN_URL_CHAT_STARTED,
        EventType::ChatAssigned => ORIGIN_URL_CHAT_ASSIGNED,
        EventType::ChatClosed => ORIGIN_URL_CHAT_CLOSED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, Vec<&'static str>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    const MINIMAL: [(&str, &str); 2] = [
        (WEBIM_PRIVATE_KEYS, "key-one"),
        (ORIGIN_URL, "https://origin.example.com/events"),
    ];

    #[test]
    fn origins_are_named_by_their_settings() {
        let s = from(&MINIMAL).unwrap();
        assert_eq!(s.origin_names(), [ORIGIN_URL]);
        assert_eq!(s.origin_name_for(EventType::ChatClosed), ORIGIN_URL);
        assert_eq!((s.origin_down_after, s.origin_probe_seconds), (5, 30));
        let mut pairs = MINIMAL.to_vec();
        pairs.push((ORIGIN_URL_CHAT_CLOSED, "https://billing.example.com/closed"));
        let s = from(&pairs).unwrap();
        assert_eq!(s.origin_names(), [ORIGIN_URL, ORIGIN_URL_CHAT_CLOSED]);
        assert_eq!(
            s.origin_name_for(EventType::ChatClosed),
            ORIGIN_URL_CHAT_CLOSED
        );
        assert_eq!(s.origin_name_for(EventType::ChatStarted), ORIGIN_URL);
        for bad in ["1", "1001", "x"] {
            let mut pairs = MINIMAL.to_vec();
            pairs.push((ORIGIN_DOWN_AFTER, bad));
            pairs.push((ORIGIN_PROBE_SECONDS, "3601"));
            assert_eq!(
                from(&pairs).err(),
                Some(vec![ORIGIN_DOWN_AFTER, ORIGIN_PROBE_SECONDS])
            );
        }
    }

    #[test]
    fn limits_that_must_meet_are_problems_never_clamped() {
        let with = |name: &'static str, value: &'static str| {
            let mut pairs = MINIMAL.to_vec();
            pairs.push((name, value));
            from(&pairs).err().unwrap_or_default()
        };
        assert_eq!(with(ORIGIN_TIMEOUT_MS, "120000"), Vec::<&str>::new());
        assert_eq!(with(ORIGIN_TIMEOUT_MS, "120001"), [ORIGIN_TIMEOUT_MS]);
        assert_eq!(with(ADMIN_TOKEN, "x"), [ADMIN_TOKEN]);
        assert!(with(ADMIN_TOKEN, "0123456789abcdef0123456789abcdef").is_empty());
        let big = [
            (WEBIM_PRIVATE_KEYS, "key-one"),
            (ORIGIN_URL, "https://origin.example.com/events"),
            (MAX_BODY_BYTES, "2000001"),
        ];
        let lookup = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map_or(Raw::Unset, |(_, v)| Raw::Text(v.clone()))
            }
        };
        assert!(Settings::from_raw_bound(lookup(&big), false).is_ok());
        assert_eq!(
            Settings::from_raw_bound(lookup(&big), true).err(),
            Some(vec![MAX_BODY_BYTES])
        );
        let mut fits = big;
        fits[2].1 = "2000000";
        assert!(Settings::from_raw_bound(lookup(&fits), true).is_ok());
    }

    #[test]
    fn the_webim_format_signs_with_the_key_that_verified_unless_one_is_set() {
        let rotating = [
            ("WEBIM_PRIVATE_KEYS", "new-key, old-key"),
            ("ORIGIN_URL", "https://o.example/"),
        ];
        let s = from(&rotating).unwrap();
        assert_eq!(s.origin_webim_key(Some(1)), b"old-key");
        assert_eq!(s.origin_webim_key(Some(0)), b"new-key");
        assert_eq!(s.origin_webim_key(None), b"new-key");
        assert_eq!(s.origin_webim_key(Some(7)), b"new-key");
        let fixed = [
            ("WEBIM_PRIVATE_KEYS", "new-key, old-key"),
            ("ORIGIN_URL", "https://o.example/"),
            ("ORIGIN_WEBIM_KEY", "receiver-key"),
        ];
        assert_eq!(
            from(&fixed).unwrap().origin_webim_key(Some(1)),
            b"receiver-key"
        );
    }

    #[test]
    fn every_default_parses_and_applies() {
        let s = from(&MINIMAL).unwrap();
        assert_eq!(s.keys, vec![b"key-one".to_vec()]);
        assert_eq!(s.api_version, 4);
        assert_eq!(s.origin_timeout_ms, 10_000);
        assert_eq!(s.max_body_bytes, 1_048_576);
        assert_eq!(s.dedup_ttl_seconds, 86_400);
        assert_eq!(s.retry_base_seconds, 5);
        assert_eq!(s.max_attempts, 20);
        assert_eq!(s.order_hold_seconds, 60);
        assert_eq!(s.outbox_retention_days, 7);
        assert_eq!(s.origin_format, OriginFormat::Event);
        assert_eq!(s.origin_webim_api_version, 4);
        assert!(s.signing_key.is_none() && s.inbound_auth.is_none() && s.admin_token.is_none());
        assert_eq!(s.origin_webim_key(None), b"key-one");
        // The spec's table of defaults, row by row.
        let defaults: Vec<_> = TABLE
            .iter()
            .filter_map(|row| Some((row.name, row.default?)))
            .collect();
        assert!(defaults.contains(&(WEBIM_API_VERSION, "4")));
        assert!(defaults.contains(&(MAX_BODY_BYTES, "1048576")));
        assert!(defaults.contains(&(ORIGIN_FORMAT, "event")));
    }

    #[test]
    fn keys_split_on_commas_and_newlines() {
        let s = from(&[
            (WEBIM_PRIVATE_KEYS, " new ,old\r\n\nolder\n"),
            (ORIGIN_URL, "https://o.example/"),
        ])
        .unwrap();
        assert_eq!(
            s.keys,
            vec![b"new".to_vec(), b"old".to_vec(), b"older".to_vec()]
        );
    }

    #[test]
    fn every_problem_is_reported_by_name_in_table_order() {
        let bad = [
            (WEBIM_PRIVATE_KEYS, " , \n"),
            (WEBIM_API_VERSION, "four"),
            (ORIGIN_URL, "not a url"),
            (ORIGIN_SIGNING_SECRET, "whsec_***"),
            (ORIGIN_TIMEOUT_MS, "0"),
            (INBOUND_BASIC_AUTH, "nocolon"),
            (MAX_BODY_BYTES, "-1"),
            (DEDUP_TTL_SECONDS, "5"),
            (RETRY_BASE_SECONDS, "0"),
            (MAX_ATTEMPTS, "0"),
            (ORDER_HOLD_SECONDS, "x"),
            (OUTBOX_RETENTION_DAYS, "0"),
            (ALERT_URL, "slack"),
            (ORIGIN_FORMAT, "xml"),
            (ORIGIN_URL_CHAT_STARTED, "ftp://x/"),
            (ORIGIN_URL_CHAT_ASSIGNED, "nope"),
            (ORIGIN_URL_CHAT_CLOSED, "https://"),
            (ORIGIN_WEBIM_API_VERSION, "v4"),
        ];
        let problems = from(&bad).unwrap_err();
        assert_eq!(
            problems,
            bad.iter().map(|(name, _)| *name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_value_that_is_not_a_string_is_a_problem_never_the_default() {
        for name in [
            MAX_BODY_BYTES,
            INBOUND_BASIC_AUTH,
            ORIGIN_SIGNING_SECRET,
            WEBIM_API_VERSION,
        ] {
            let got = Settings::from_raw(|n| match n {
                n if n == name => Raw::NotText,
                WEBIM_PRIVATE_KEYS => Raw::Text("k".into()),
                ORIGIN_URL => Raw::Text("https://o.example/".into()),
                _ => Raw::Unset,
            });
            assert_eq!(got.unwrap_err(), vec![name]);
        }
    }

    #[test]
    fn missing_required_settings_are_problems() {
        assert_eq!(from(&[]).unwrap_err(), vec![WEBIM_PRIVATE_KEYS, ORIGIN_URL]);
    }

    #[test]
    fn per_event_origins_override_and_may_replace_origin_url() {
        let all = [
            (WEBIM_PRIVATE_KEYS, "k"),
            (ORIGIN_URL_CHAT_STARTED, "https://a.example/start"),
            (ORIGIN_URL_CHAT_ASSIGNED, "https://a.example/assign"),
            (ORIGIN_URL_CHAT_CLOSED, "https://u:p@a.example/close"),
        ];
        let s = from(&all).unwrap();
        assert_eq!(
            s.origin_for(EventType::ChatStarted).unwrap().url,
            "https://a.example/start"
        );
        assert_eq!(
            s.origin_for(EventType::ChatClosed).unwrap().url,
            "https://a.example/close"
        );
        assert_eq!(from(&all[..3]).unwrap_err(), vec![ORIGIN_URL]);
        let mut one = MINIMAL.to_vec();
        one.push((ORIGIN_URL_CHAT_ASSIGNED, "https://b.example/x"));
        let s = from(&one).unwrap();
        assert_eq!(
            s.origin_for(EventType::ChatAssigned).unwrap().url,
            "https://b.example/x"
        );
        assert_eq!(
            s.origin_for(EventType::ChatStarted).unwrap().url,
            "https://origin.example.com/events"
        );
    }

    #[test]
    fn blank_optional_settings_mean_default() {
        let mut pairs = MINIMAL.to_vec();
        pairs.push((ORIGIN_SIGNING_SECRET, ""));
        pairs.push((MAX_BODY_BYTES, " "));
        let s = from(&pairs).unwrap();
        assert!(s.signing_key.is_none());
        assert_eq!(s.max_body_bytes, 1_048_576);
    }

    #[test]
    fn inbound_auth_set_to_only_separators_or_blanks_fails_closed() {
        for value in ["", " ", ",", " , \n", "\n\n"] {
            let mut pairs = MINIMAL.to_vec();
            pairs.push((INBOUND_BASIC_AUTH, value));
            assert_eq!(
                from(&pairs).unwrap_err(),
                vec![INBOUND_BASIC_AUTH],
                "{value:?}"
            );
        }
    }

    #[test]
    fn debug_prints_no_secret() {
        let mut pairs = MINIMAL.to_vec();
        pairs.push((INBOUND_BASIC_AUTH, "webim:hunter2"));
        pairs.push((ADMIN_TOKEN, "tok-3141-tok-3141-tok-3141-tok-3141"));
        pairs.push((ORIGIN_WEBIM_KEY, "legacy-key"));
        let text = format!("{:?}", from(&pairs).unwrap());
        for secret in [
            "key-one",
            "hunter2",
            "tok-3141-tok-3141",
            "legacy-key",
            "origin.example.com",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("max_body_bytes: 1048576"));
    }
}
