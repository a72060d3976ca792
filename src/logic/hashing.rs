//! The hashing work of the core (Webim HMAC and MD5 checks, the event id, outbound signatures)
//! behind one small trait, passed in like the clock: the shell hands the core the runtime's native
//! hashing; native tests, benchmarks and fuzzing use [`RustCrypto`].

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

/// SHA-256, HMAC-SHA256 and MD5 over the concatenation of `parts`.
pub trait Hashing {
    /// SHA-256 of the concatenated parts.
    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32];
    /// `None` when the MAC could not be computed; callers fail closed (no match, no send).
    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]>;
    /// MD5 (Webim's legacy `crc`); `None` when it could not be computed, as for the MAC.
    fn md5(&self, parts: &[&[u8]]) -> Option<[u8; 16]>;
}

/// The RustCrypto implementation, in pure Rust.
pub struct RustCrypto;

impl Hashing for RustCrypto {
    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update(part);
        }
        hash.finalize().into()
    }

    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        for part in parts {
            mac.update(part);
        }
        Some(mac.finalize().into_bytes().into())
    }

    fn md5(&self, parts: &[&[u8]]) -> Option<[u8; 16]> {
        let mut hash = Md5::new();
        for part in parts {
            hash.update(part);
        }
        Some(hash.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_test_case_2_and_fips_180_abc() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?", split in two parts.
        let mac = RustCrypto.hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            mac.map(hex::encode).as_deref(),
            Some("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        // FIPS 180-2 appendix B.1: SHA-256("abc").
        assert_eq!(
            hex::encode(RustCrypto.sha256(&[b"a", b"", b"bc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 1321 appendix A.5: MD5("message digest").
        assert_eq!(
            RustCrypto
                .md5(&[b"message ", b"digest"])
                .map(hex::encode)
                .as_deref(),
            Some("f96b697d7cb7938d525a2f31aaf161d0")
        );
    }
}
