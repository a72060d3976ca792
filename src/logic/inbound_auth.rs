//! Inbound basic auth (contract §3.1): the accepted `user:password` pairs of `INBOUND_BASIC_AUTH`
//! and the constant-time check of a request's `Authorization: Basic` header against them.

use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::logic::hashing::{Hashing, RustCrypto};

/// SHA-256 of each accepted `user:password`, so that every comparison is constant time and
/// independent of length. Never empty.
pub struct InboundAuth(Vec<[u8; 32]>);

impl InboundAuth {
    /// The pairs of a list setting, each split at its first `:` with a non-empty user. A
    /// value holding no pair at all (only separators or blanks) is invalid: it must never mean
    /// "no authentication".
    pub fn from_pairs<'a>(pairs: impl Iterator<Item = &'a str>) -> Option<InboundAuth> {
        let digests = pairs
            .map(|pair| {
                pair.find(':')
                    .filter(|&at| at > 0)
                    .map(|_| RustCrypto.sha256(&[pair.as_bytes()]))
            })
            .collect::<Option<Vec<_>>>()?;
        (!digests.is_empty()).then_some(InboundAuth(digests))
    }

    /// Whether the `Authorization` header carries one of the pairs. Every pair is compared.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(presented) = authorization.and_then(decode_basic) else {
            return false;
        };
        let presented = RustCrypto.sha256(&[&presented]);
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |found, expected| {
                found | expected.ct_eq(&presented)
            })
            .into()
    }
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

    fn basic(creds: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(creds)
        )
    }

    #[test]
    fn any_configured_pair_passes_and_passwords_may_hold_colons() {
        let auth = InboundAuth::from_pairs(["webim:s3:cr:et", "backup:other"].into_iter()).unwrap();
        assert!(auth.allows(Some(&basic("webim:s3:cr:et"))));
        assert!(auth.allows(Some(&basic("backup:other"))));
        assert!(auth.allows(Some(&basic("backup:other").replace("Basic", "basic"))));
        assert!(!auth.allows(Some(&basic("webim:s3:cr"))));
        assert!(!auth.allows(Some(&basic("webim:other"))));
        assert!(!auth.allows(Some("Bearer abc")));
        assert!(!auth.allows(Some("Basic !!!not-base64")));
        assert!(!auth.allows(None));
    }

    #[test]
    fn a_value_without_a_pair_is_invalid_never_open() {
        for pairs in [&[][..], &["nocolon"], &[":nouser"], &["a:b", "nocolon"]] {
            assert!(
                InboundAuth::from_pairs(pairs.iter().copied()).is_none(),
                "{pairs:?}"
            );
        }
    }
}
