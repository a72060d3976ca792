//! Properties checked on arbitrary input, shared by the `cargo fuzz` targets (`fuzz/`) and by
//! `cargo test`, which replays the kept corpus and every crash found (the test at the end).
//! Each function panics when a property fails; none may panic otherwise.
//!
//! Built only for tests and with the `fuzzing` feature, so that test-only code never reaches
//! the worker.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clean;
use crate::crypto::RustCrypto;
use crate::event::EventType;
use crate::params;
use crate::pipeline;
use crate::sanitize::{has_userinfo, strip_userinfo};
use crate::settings::Settings;
use crate::signature::{self, Scheme};
use crate::timestamp;

const KEY: &[u8] = b"fuzz-private-key";
const FORM: &str = "application/x-www-form-urlencoded";

/// Splits fuzz input at the first `0xFF` (never valid UTF-8), or not at all.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

fn hmac_hex(chat: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY).expect("HMAC takes any key");
    mac.update(chat);
    hex::encode(mac.finalize().into_bytes())
}

/// The parameter reader: query and body never panic; a chat read back is the chat encoded.
pub fn params(data: &[u8]) {
    let (query, body) = split(data);
    let content_type = match data.first().map(|b| b % 3) {
        Some(0) => None,
        Some(1) => Some(FORM),
        _ => Some("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
    };
    if let Ok(read) = params::read(query, content_type, body) {
        let encoded =
            percent_encoding::percent_encode(&read.chat, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let again =
            params::read(format!("chat={encoded}").as_bytes(), None, b"").expect("one chat");
        assert_eq!(again.chat, read.chat);
    }
}

/// Signature checks: never panic on any submitted value; a genuine HMAC verifies; changing
/// one byte of the chat or of the signature never does.
pub fn signature(data: &[u8]) {
    let (chat, submitted) = split(data);
    let keys = [KEY.to_vec()];
    for version in [3, 4] {
        let _ = signature::verify(&RustCrypto, chat, Some(submitted), None, &keys, version);
        let _ = signature::verify(&RustCrypto, chat, None, Some(submitted), &keys, version);
    }
    let genuine = hmac_hex(chat);
    let verified = signature::verify(&RustCrypto, chat, Some(genuine.as_bytes()), None, &keys, 4)
        .expect("genuine");
    assert_eq!(verified.scheme, Scheme::HmacSha256);
    if let Some(first) = chat.first() {
        let mut tampered = chat.to_vec();
        tampered[0] = first.wrapping_add(1);
        assert!(signature::verify(
            &RustCrypto,
            &tampered,
            Some(genuine.as_bytes()),
            None,
            &keys,
            4
        )
        .is_err());
    }
    let mut wrong = genuine.into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    assert!(signature::verify(&RustCrypto, chat, Some(&wrong), None, &keys, 4).is_err());
}

/// Cleaning: valid exactly when serde_json (with `arbitrary_precision`, so numbers of any size
/// count, as webim-edge passes them through) reads an object; the output is an object again,
/// cleaning it again changes nothing, and no string in it holds URL userinfo.
pub fn clean(data: &[u8]) {
    let ours = clean::clean(data);
    let theirs = serde_json::from_slice::<serde_json::Value>(data).map(|v| v.is_object());
    assert_eq!(
        ours.is_ok(),
        matches!(theirs, Ok(true)),
        "validity differs from serde_json"
    );
    if let Ok(cleaned) = ours {
        let value: serde_json::Value =
            serde_json::from_slice(&cleaned.json).expect("clean output is JSON");
        assert!(value.is_object());
        assert_eq!(
            clean::clean(&cleaned.json).expect("still valid").json,
            cleaned.json,
            "not idempotent"
        );
        assert!(!strings_with_userinfo(&value), "userinfo left in {value}");
    }
}

fn strings_with_userinfo(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => has_userinfo(s),
        serde_json::Value::Array(items) => items.iter().any(strings_with_userinfo),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(k, v)| has_userinfo(k) || strings_with_userinfo(v)),
        _ => false,
    }
}

/// Credential removal on one string: idempotent, and text without `://` is untouched.
pub fn sanitize(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(clean) = strip_userinfo(text) {
        assert!(text.contains("://"));
        assert!(
            strip_userinfo(&clean).is_none(),
            "not idempotent: {clean:?}"
        );
    }
}

/// Timestamps: never panic; a normalized value is RFC 3339 UTC and normalizes to itself.
pub fn timestamp(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(utc) = timestamp::normalize(text) {
        assert!(utc.ends_with('Z') && utc.as_bytes()[10] == b'T', "{utc}");
        assert_eq!(timestamp::normalize(&utc).as_deref(), Some(utc.as_str()));
    }
    let _ = timestamp::parse_http_date(text);
}

/// The whole pure pipeline from raw request parts to decision. Half the inputs are signed as
/// Webim would sign their `chat`, so the forward path is reached. A decision to forward implies
/// the signature verified over exactly the chat bytes in the request, and that the forwarded
/// event carries exactly the clean form of those bytes.
pub fn pipeline(data: &[u8]) {
    let settings = Settings::from_lookup(|name| match name {
        "WEBIM_PRIVATE_KEYS" => Some(String::from_utf8_lossy(KEY).into_owned()),
        "ORIGIN_URL" => Some("https://origin.example/in".into()),
        "ORIGIN_SIGNING_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        _ => None,
    })
    .expect("fuzz settings are valid");
    let (query, rest) = split(data);
    let (chat, tail) = split(rest);
    let sign = data.first().is_some_and(|b| b % 2 == 0);
    let mut body = Vec::new();
    if sign {
        body.extend_from_slice(b"chat=");
        body.extend(
            percent_encoding::percent_encode(chat, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .bytes(),
        );
        body.extend_from_slice(b"&signature=");
        body.extend_from_slice(hmac_hex(chat).as_bytes());
        body.push(b'&');
    }
    body.extend_from_slice(tail);
    let decision = pipeline::accept(
        &RustCrypto,
        &settings,
        EventType::ChatAssigned,
        query,
        Some(FORM),
        &body,
        0,
    );
    if let Ok(accepted) = decision {
        let read = params::read(query, Some(FORM), &body).expect("accepted parameters read again");
        let submitted = read.signature.expect("forwarded without a signature");
        let mut mac = Hmac::<Sha256>::new_from_slice(KEY).expect("HMAC takes any key");
        mac.update(&read.chat);
        let submitted = hex::decode(submitted).expect("forwarded with a non-hex signature");
        mac.verify_slice(&submitted)
            .expect("forwarded a chat its signature does not cover");
        let clean = clean::clean(&read.chat).expect("forwarded an invalid chat");
        assert!(accepted
            .event
            .body
            .ends_with(&[clean.json.as_slice(), b"}"].concat()));
        assert_eq!(
            accepted.event.id,
            crate::event::event_id(&RustCrypto, EventType::ChatAssigned, &read.chat)
        );
        let request = settings.origin.request(
            &RustCrypto,
            &accepted.event,
            settings.signing_key.as_ref(),
            0,
        );
        assert!(request
            .headers
            .iter()
            .any(|(name, _)| *name == "webhook-signature"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    type Check = fn(&[u8]);

    const TARGETS: [(&str, Check); 6] = [
        ("params", params),
        ("signature", signature),
        ("clean", clean),
        ("sanitize", sanitize),
        ("timestamp", timestamp),
        ("pipeline", pipeline),
    ];

    /// Every kept fuzz input — the seed corpus and each crash found — passes the properties the
    /// fuzz targets check, so a fixed crash stays fixed.
    #[test]
    fn kept_fuzz_inputs_still_pass() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut replayed = 0;
        for (target, check) in TARGETS {
            for folder in ["corpus", "regressions"] {
                let Ok(entries) = fs::read_dir(root.join(folder).join(target)) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let data = fs::read(entry.path()).expect("readable fuzz input");
                    check(&data);
                    replayed += 1;
                }
            }
        }
        assert!(
            replayed >= TARGETS.len(),
            "expected a seed corpus for every target, replayed {replayed}"
        );
    }

    #[test]
    fn the_properties_hold_on_hand_made_cases() {
        let chat = br#"{"id":1,"u":"https://a:b@h/x","created_at":"2019-07-05T16:28:20 Z"}"#;
        let mut signed = vec![0u8, 0xFF];
        signed.extend_from_slice(chat);
        for case in [
            &b""[..],
            b"\xff\xff",
            chat,
            &signed,
            b"chat=%7B%7D&chat=1",
            b"2019-07-05T16:28:20 Z",
        ] {
            params(case);
            signature(case);
            clean(case);
            sanitize(case);
            timestamp(case);
            pipeline(case);
        }
    }
}
