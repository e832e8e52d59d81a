//! Keyed hashing (HMAC-SHA-256) with domain separation: one key, many uses (blind indexes,
//! CSRF tokens, code hashes) that can never be confused for one another.

use crate::CryptoError;
use hmac::Mac as _;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

pub fn keyed_hash(key: &[u8; 32], domain: &str, message: &[u8]) -> Result<[u8; 32], CryptoError> {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key)
        .map_err(|_| CryptoError::Malformed("MAC key"))?;
    mac.update(b"cista/v1|");
    mac.update(domain.as_bytes());
    mac.update(b"|");
    mac.update(message);
    Ok(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate_equal_messages() {
        let k = [3u8; 32];
        assert_ne!(
            keyed_hash(&k, "csrf", b"x").unwrap(),
            keyed_hash(&k, "code", b"x").unwrap()
        );
        assert_eq!(
            keyed_hash(&k, "csrf", b"x").unwrap(),
            keyed_hash(&k, "csrf", b"x").unwrap()
        );
    }
}
