//! Webim's signatures (contract §3.4, §13): HMAC-SHA256 `signature` and legacy MD5 `crc` over the
//! exact chat bytes. Inbound, checked against every configured key (rotation) in constant time,
//! with the handler-API-version gate for `crc`; outbound, the same MACs for `webim`-format
//! receivers.

use subtle::{Choice, ConstantTimeEq};

use crate::logic::error::EdgeError;
use crate::logic::hashing::Hashing;

/// Which of Webim's two schemes authenticated a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `signature`, API version 4 and later.
    HmacSha256,
    /// `crc`, API versions below 4.
    Md5,
}

impl Scheme {
    /// The `signature_scheme` value of the forwarded event.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::HmacSha256 => "hmac-sha256",
            Scheme::Md5 => "md5",
        }
    }

    /// The parameter that carries this scheme's MAC.
    pub fn parameter(self) -> &'static str {
        match self {
            Scheme::HmacSha256 => "signature",
            Scheme::Md5 => "crc",
        }
    }
}

/// A successful check: the scheme and the index of the first key that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The scheme that matched.
    pub scheme: Scheme,
    /// The index of the first key that matched.
    pub key_index: usize,
}

/// The first API version that signs with HMAC-SHA256 and no longer accepts `crc`.
const HMAC_API_VERSION: u32 = 4;

/// The MAC of `chat` under `key` in `scheme`: HMAC-SHA256 keyed with the key, or MD5 of the
/// chat bytes followed by the key bytes. `None` when it could not be computed.
pub fn mac(crypto: &dyn Hashing, scheme: Scheme, chat: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    match scheme {
        Scheme::HmacSha256 => crypto.hmac_sha256(key, &[chat]).map(|mac| mac.to_vec()),
        Scheme::Md5 => crypto.md5(&[chat, key]).map(|digest| digest.to_vec()),
    }
}

/// The scheme Webim uses for a handler API version: `crc` (MD5) below 4, else `signature`.
pub fn scheme_for(api_version: u32) -> Scheme {
    if api_version >= HMAC_API_VERSION {
        Scheme::HmacSha256
    } else {
        Scheme::Md5
    }
}

/// Checks `chat` against the submitted `signature` or `crc` (hex, any case).
pub fn verify(
    crypto: &dyn Hashing,
    chat: &[u8],
    signature: Option<&[u8]>,
    crc: Option<&[u8]>,
    keys: &[Vec<u8>],
    api_version: u32,
) -> Result<Verified, EdgeError> {
    let (scheme, submitted) = match (signature, crc) {
        (Some(sig), _) => (Scheme::HmacSha256, sig),
        (None, Some(_)) if api_version >= HMAC_API_VERSION => {
            return Err(EdgeError::LegacySignatureRejected)
        }
        (None, Some(crc)) => (Scheme::Md5, crc),
        (None, None) => return Err(EdgeError::MissingSignature),
    };
    let submitted = hex::decode(submitted).map_err(|_| EdgeError::BadSignature)?;
    let matches = |key: &[u8]| -> Choice {
        // A MAC that could not be computed matches nothing.
        mac(crypto, scheme, chat, key)
            .map_or(Choice::from(0), |mac| mac.as_slice().ct_eq(&submitted))
    };
    // Every key is tried, so the time taken does not tell which key matched.
    let mut found: Option<usize> = None;
    for (index, key) in keys.iter().enumerate() {
        if bool::from(matches(key)) && found.is_none() {
            found = Some(index);
        }
    }
    found
        .map(|key_index| Verified { scheme, key_index })
        .ok_or(EdgeError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::hashing::RustCrypto;
    use serde::Deserialize;

    /// Vectors written by `tests/fixtures/make_signatures.py` with Python's hmac and hashlib.
    #[derive(Deserialize)]
    struct Vector {
        key: String,
        chat: String,
        hmac_sha256: String,
        md5_crc: String,
    }

    fn vectors() -> Vec<Vector> {
        serde_json::from_str(include_str!("../../tests/fixtures/signatures.json")).unwrap()
    }

    fn keys(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|k| k.as_bytes().to_vec()).collect()
    }

    #[test]
    fn independent_hmac_vectors_verify() {
        for v in vectors() {
            let got = verify(
                &RustCrypto,
                v.chat.as_bytes(),
                Some(v.hmac_sha256.as_bytes()),
                None,
                &keys(&[&v.key]),
                4,
            );
            assert_eq!(
                got,
                Ok(Verified {
                    scheme: Scheme::HmacSha256,
                    key_index: 0
                }),
                "{}",
                v.chat
            );
            let upper = v.hmac_sha256.to_uppercase();
            assert!(verify(
                &RustCrypto,
                v.chat.as_bytes(),
                Some(upper.as_bytes()),
                None,
                &keys(&[&v.key]),
                4
            )
            .is_ok());
        }
    }

    #[test]
    fn independent_md5_vectors_verify_below_version_4() {
        for v in vectors() {
            let got = verify(
                &RustCrypto,
                v.chat.as_bytes(),
                None,
                Some(v.md5_crc.as_bytes()),
                &keys(&[&v.key]),
                3,
            );
            assert_eq!(
                got,
                Ok(Verified {
                    scheme: Scheme::Md5,
                    key_index: 0
                }),
                "{}",
                v.chat
            );
        }
    }

    #[test]
    fn crc_is_refused_from_version_4() {
        let v = &vectors()[0];
        for version in [4, 5, 100] {
            assert_eq!(
                verify(
                    &RustCrypto,
                    v.chat.as_bytes(),
                    None,
                    Some(v.md5_crc.as_bytes()),
                    &keys(&[&v.key]),
                    version
                ),
                Err(EdgeError::LegacySignatureRejected)
            );
        }
    }

    #[test]
    fn rotation_reports_the_matching_key() {
        let v = &vectors()[0];
        let ring = keys(&["new-key", &v.key, &v.key]);
        let got = verify(
            &RustCrypto,
            v.chat.as_bytes(),
            Some(v.hmac_sha256.as_bytes()),
            None,
            &ring,
            4,
        )
        .unwrap();
        assert_eq!(got.key_index, 1);
    }

    #[test]
    fn tampering_and_wrong_keys_fail() {
        let v = &vectors()[1];
        let k = keys(&[&v.key]);
        let mut tampered = v.chat.clone().into_bytes();
        tampered[5] ^= 1;
        assert_eq!(
            verify(
                &RustCrypto,
                &tampered,
                Some(v.hmac_sha256.as_bytes()),
                None,
                &k,
                4
            ),
            Err(EdgeError::BadSignature)
        );
        assert_eq!(
            verify(
                &RustCrypto,
                v.chat.as_bytes(),
                Some(v.hmac_sha256.as_bytes()),
                None,
                &keys(&["other"]),
                4
            ),
            Err(EdgeError::BadSignature)
        );
        assert_eq!(
            verify(&RustCrypto, v.chat.as_bytes(), None, Some(b"00"), &k, 3),
            Err(EdgeError::BadSignature)
        );
    }

    #[test]
    fn malformed_signatures_fail() {
        let v = &vectors()[0];
        let k = keys(&[&v.key]);
        let short = &v.hmac_sha256[..62];
        for bad in [
            "",
            "zz",
            short,
            &format!("{}00", v.hmac_sha256),
            &format!(" {}", v.hmac_sha256),
        ] {
            assert_eq!(
                verify(
                    &RustCrypto,
                    v.chat.as_bytes(),
                    Some(bad.as_bytes()),
                    None,
                    &k,
                    4
                ),
                Err(EdgeError::BadSignature),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_crc_presented_as_signature_fails() {
        let v = &vectors()[0];
        assert_eq!(
            verify(
                &RustCrypto,
                v.chat.as_bytes(),
                Some(v.md5_crc.as_bytes()),
                None,
                &keys(&[&v.key]),
                3
            ),
            Err(EdgeError::BadSignature)
        );
    }

    #[test]
    fn signature_wins_over_crc_and_nothing_is_missing_signature() {
        let v = &vectors()[0];
        let k = keys(&[&v.key]);
        assert_eq!(
            verify(
                &RustCrypto,
                v.chat.as_bytes(),
                Some(b"00"),
                Some(v.md5_crc.as_bytes()),
                &k,
                3
            ),
            Err(EdgeError::BadSignature)
        );
        assert_eq!(
            verify(&RustCrypto, v.chat.as_bytes(), None, None, &k, 3),
            Err(EdgeError::MissingSignature)
        );
    }
}
