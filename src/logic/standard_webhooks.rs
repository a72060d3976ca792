//! Outbound Standard Webhooks signing (contract §5): the `whsec_` secret and the
//! `v1,<base64 HMAC-SHA256("id.timestamp.body")>` signature.

use base64::Engine as _;

use crate::logic::hashing::Hashing;

/// The origin signing secret's key bytes.
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// `whsec_<base64>` (the prefix is optional, as in Standard Webhooks libraries); `None` when
    /// the rest is not base64 or is empty.
    pub fn parse(raw: &str) -> Option<SigningKey> {
        let encoded = raw.strip_prefix("whsec_").unwrap_or(raw);
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .filter(|key| !key.is_empty())
            .map(SigningKey)
    }

    /// The `webhook-signature` header value for one attempt; `None` when the MAC could not
    /// be computed (the attempt then fails rather than going out unsigned).
    pub fn sign(
        &self,
        crypto: &dyn Hashing,
        id: &str,
        timestamp: &str,
        body: &[u8],
    ) -> Option<String> {
        let tag = crypto.hmac_sha256(
            &self.0,
            &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
        )?;
        Some(format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::hashing::RustCrypto;

    /// The example in the Standard Webhooks specification's reference test suite:
    /// secret, id, timestamp and payload with the signature its libraries produce.
    #[test]
    fn standard_webhooks_reference_vector() {
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = key.sign(
            &RustCrypto,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn prefix_is_optional_and_garbage_is_rejected() {
        assert!(SigningKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_some());
        assert!(SigningKey::parse("whsec_").is_none());
        assert!(SigningKey::parse("whsec_***").is_none());
    }
}
