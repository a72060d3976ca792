//! Settings (SPEC §9): reads every variable through a lookup function, validates all of them and
//! reports every problem at once, by setting name only — never a value. Also owns the inbound
//! basic-auth check, since its only input besides the header is the configured pairs.

use std::fmt;

use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::crypto::{Crypto, RustCrypto};
use crate::origin::Origin;
use crate::webhook::SigningKey;

pub const WEBIM_PRIVATE_KEYS: &str = "WEBIM_PRIVATE_KEYS";
pub const WEBIM_API_VERSION: &str = "WEBIM_API_VERSION";
pub const ORIGIN_URL: &str = "ORIGIN_URL";
pub const ORIGIN_SIGNING_SECRET: &str = "ORIGIN_SIGNING_SECRET";
pub const ORIGIN_TIMEOUT_MS: &str = "ORIGIN_TIMEOUT_MS";
pub const INBOUND_BASIC_AUTH: &str = "INBOUND_BASIC_AUTH";
pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
pub const DEDUP_TTL_SECONDS: &str = "DEDUP_TTL_SECONDS";
pub const RETRY_BASE_SECONDS: &str = "RETRY_BASE_SECONDS";

/// Every string setting the worker reads, in the order problems are reported.
pub const NAMES: [&str; 9] = [
    WEBIM_PRIVATE_KEYS,
    WEBIM_API_VERSION,
    ORIGIN_URL,
    ORIGIN_SIGNING_SECRET,
    ORIGIN_TIMEOUT_MS,
    INBOUND_BASIC_AUTH,
    MAX_BODY_BYTES,
    DEDUP_TTL_SECONDS,
    RETRY_BASE_SECONDS,
];

/// Cloudflare KV refuses expirations shorter than 60 seconds.
const MIN_DEDUP_TTL_SECONDS: u64 = 60;

/// Validated configuration. `Debug` prints no secret.
pub struct Settings {
    /// Account private keys, current first.
    pub keys: Vec<Vec<u8>>,
    pub api_version: u32,
    pub origin: Origin,
    pub signing_key: Option<SigningKey>,
    pub origin_timeout_ms: u32,
    /// SHA-256 of each accepted `user:password`, so comparisons are constant time and
    /// independent of length.
    inbound_credentials: Vec<[u8; 32]>,
    pub max_body_bytes: u64,
    pub dedup_ttl_seconds: u64,
    /// First queue retry delay; later ones double, up to 900 s.
    pub retry_base_seconds: u64,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("keys", &self.keys.len())
            .field("api_version", &self.api_version)
            .field("origin", &self.origin)
            .field("signing_key", &self.signing_key.is_some())
            .field("origin_timeout_ms", &self.origin_timeout_ms)
            .field("inbound_credentials", &self.inbound_credentials.len())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("dedup_ttl_seconds", &self.dedup_ttl_seconds)
            .field("retry_base_seconds", &self.retry_base_seconds)
            .finish()
    }
}

/// Splits a list setting at commas and newlines, trimming blanks around each item.
fn list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split([',', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// A value that is absent or only whitespace counts as unset (wrangler vars are often `""`).
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl Settings {
    /// Reads and validates every setting. `Err` lists the names of all bad settings.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, Vec<&'static str>> {
        let mut problems = Vec::new();
        let mut check = |name: &'static str, ok: bool| {
            if !ok {
                problems.push(name);
            }
        };
        let get = |name: &str| present(lookup(name));

        let keys: Vec<Vec<u8>> = get(WEBIM_PRIVATE_KEYS)
            .map(|raw| list(&raw).map(|k| k.as_bytes().to_vec()).collect())
            .unwrap_or_default();
        check(WEBIM_PRIVATE_KEYS, !keys.is_empty());

        let api_version = number(get(WEBIM_API_VERSION), 4u32);
        check(WEBIM_API_VERSION, api_version.is_some());

        let origin = get(ORIGIN_URL).and_then(|raw| Origin::parse(raw.trim()));
        check(ORIGIN_URL, origin.is_some());

        let signing_key = optional(get(ORIGIN_SIGNING_SECRET), |raw| {
            SigningKey::parse(raw.trim())
        });
        check(ORIGIN_SIGNING_SECRET, signing_key.is_some());

        let origin_timeout_ms = number(get(ORIGIN_TIMEOUT_MS), 10_000u32).filter(|&t| t > 0);
        check(ORIGIN_TIMEOUT_MS, origin_timeout_ms.is_some());

        let inbound_credentials = optional(get(INBOUND_BASIC_AUTH), |raw| {
            list(raw)
                .map(|pair| {
                    pair.find(':')
                        .filter(|&at| at > 0)
                        .map(|_| RustCrypto.sha256(&[pair.as_bytes()]))
                })
                .collect::<Option<Vec<_>>>()
        });
        check(INBOUND_BASIC_AUTH, inbound_credentials.is_some());

        let max_body_bytes = number(get(MAX_BODY_BYTES), 1_048_576u64).filter(|&n| n > 0);
        check(MAX_BODY_BYTES, max_body_bytes.is_some());

        let dedup_ttl_seconds =
            number(get(DEDUP_TTL_SECONDS), 86_400u64).filter(|&n| n >= MIN_DEDUP_TTL_SECONDS);
        check(DEDUP_TTL_SECONDS, dedup_ttl_seconds.is_some());

        let retry_base_seconds =
            number(get(RETRY_BASE_SECONDS), 5u64).filter(|n| (1..=900).contains(n));
        check(RETRY_BASE_SECONDS, retry_base_seconds.is_some());

        let (
            false,
            Some(api_version),
            Some(origin),
            Some(signing_key),
            Some(origin_timeout_ms),
            Some(inbound_credentials),
            Some(max_body_bytes),
            Some(dedup_ttl_seconds),
            Some(retry_base_seconds),
        ) = (
            keys.is_empty(),
            api_version,
            origin,
            signing_key,
            origin_timeout_ms,
            inbound_credentials,
            max_body_bytes,
            dedup_ttl_seconds,
            retry_base_seconds,
        )
        else {
            return Err(problems);
        };
        Ok(Settings {
            keys,
            api_version,
            origin,
            signing_key,
            origin_timeout_ms,
            inbound_credentials: inbound_credentials.unwrap_or_default(),
            max_body_bytes,
            dedup_ttl_seconds,
            retry_base_seconds,
        })
    }

    /// Whether `INBOUND_BASIC_AUTH` is in force.
    pub fn requires_basic_auth(&self) -> bool {
        !self.inbound_credentials.is_empty()
    }

    /// SPEC §3.1: passes when basic auth is off, or when the `Authorization` header carries
    /// one of the configured pairs. Every pair is compared, in constant time.
    pub fn basic_auth_ok(&self, authorization: Option<&str>) -> bool {
        if !self.requires_basic_auth() {
            return true;
        }
        let Some(presented) = authorization.and_then(decode_basic) else {
            return false;
        };
        let presented = RustCrypto.sha256(&[&presented]);
        self.inbound_credentials
            .iter()
            .fold(subtle::Choice::from(0), |found, expected| {
                found | expected.ct_eq(&presented)
            })
            .into()
    }
}

/// An optional setting: `None` when it is set but invalid, `Some(None)` when unset.
fn optional<T>(raw: Option<String>, parse: impl FnOnce(&str) -> Option<T>) -> Option<Option<T>> {
    match raw {
        None => Some(None),
        Some(raw) => parse(&raw).map(Some),
    }
}

/// Parses an optional decimal setting, falling back to `default` when unset.
fn number<T: std::str::FromStr>(raw: Option<String>, default: T) -> Option<T> {
    optional(raw, |raw| raw.trim().parse().ok()).map(|value| value.unwrap_or(default))
}

/// The decoded `user:password` bytes of an `Authorization: Basic …` header.
fn decode_basic(header: &str) -> Option<Vec<u8>> {
    let (scheme, token) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()
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

    fn basic(creds: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(creds)
        )
    }

    #[test]
    fn defaults_apply() {
        let s = from(&MINIMAL).unwrap();
        assert_eq!(s.keys, vec![b"key-one".to_vec()]);
        assert_eq!(s.api_version, 4);
        assert_eq!(s.origin_timeout_ms, 10_000);
        assert_eq!(s.max_body_bytes, 1_048_576);
        assert_eq!(s.dedup_ttl_seconds, 86_400);
        assert_eq!(s.retry_base_seconds, 5);
        assert!(s.signing_key.is_none());
        assert!(!s.requires_basic_auth());
        assert!(s.basic_auth_ok(None));
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
    fn every_problem_is_reported_by_name() {
        let problems = from(&[
            (WEBIM_PRIVATE_KEYS, " , \n"),
            (WEBIM_API_VERSION, "four"),
            (ORIGIN_URL, "not a url"),
            (ORIGIN_SIGNING_SECRET, "whsec_***"),
            (ORIGIN_TIMEOUT_MS, "0"),
            (INBOUND_BASIC_AUTH, "nocolon"),
            (MAX_BODY_BYTES, "-1"),
            (DEDUP_TTL_SECONDS, "5"),
            (RETRY_BASE_SECONDS, "0"),
        ])
        .unwrap_err();
        assert_eq!(problems, NAMES.to_vec());
    }

    #[test]
    fn missing_required_settings_are_problems() {
        assert_eq!(from(&[]).unwrap_err(), vec![WEBIM_PRIVATE_KEYS, ORIGIN_URL]);
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
    fn debug_prints_no_secret() {
        let mut pairs = MINIMAL.to_vec();
        pairs.push((INBOUND_BASIC_AUTH, "webim:hunter2"));
        let text = format!("{:?}", from(&pairs).unwrap());
        assert!(!text.contains("key-one"));
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn basic_auth_accepts_any_configured_pair_and_colons_in_passwords() {
        let mut pairs = MINIMAL.to_vec();
        pairs.push((INBOUND_BASIC_AUTH, "webim:s3:cr:et\nbackup:other"));
        let s = from(&pairs).unwrap();
        assert!(s.basic_auth_ok(Some(&basic("webim:s3:cr:et"))));
        assert!(s.basic_auth_ok(Some(&basic("backup:other"))));
        assert!(s.basic_auth_ok(Some(&basic("backup:other").replace("Basic", "basic"))));
        assert!(!s.basic_auth_ok(Some(&basic("webim:s3:cr"))));
        assert!(!s.basic_auth_ok(Some(&basic("webim:other"))));
        assert!(!s.basic_auth_ok(Some("Bearer abc")));
        assert!(!s.basic_auth_ok(Some("Basic !!!not-base64")));
        assert!(!s.basic_auth_ok(None));
    }
}
