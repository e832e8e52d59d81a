//! One-time secrets. Links carry 256-bit random tokens (base64url, 43 characters) that are
//! stored only as a SHA-256 hash; short numeric codes (SMS) and recovery codes are stored as
//! keyed or plain hashes. A string of the wrong shape is refused before any lookup.

use crate::{CryptoError, Digest32};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cista_types::Rng;

/// A fresh token: the secret goes to the person (in a link), the hash to the database.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeToken {
    pub secret: String,
    pub hash: Digest32,
}

impl std::fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OneTimeToken(hash={})", self.hash)
    }
}

fn hash_bytes(bytes: &[u8; 32]) -> Digest32 {
    Digest32::sha256(&[b"cista/token/v1|", bytes])
}

pub fn new_token(rng: &dyn Rng) -> OneTimeToken {
    let bytes = rng.bytes32();
    OneTimeToken {
        secret: URL_SAFE_NO_PAD.encode(bytes),
        hash: hash_bytes(&bytes),
    }
}

/// The stored hash of a token presented by a client, or `None` if it cannot be one of ours.
pub fn token_hash(presented: &str) -> Option<Digest32> {
    if presented.len() != 43 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(presented).ok()?;
    let bytes: [u8; 32] = bytes.try_into().ok()?;
    Some(hash_bytes(&bytes))
}

/// A uniformly random numeric code of `digits` digits (rejection sampling, no modulo bias).
pub fn new_numeric_code(rng: &dyn Rng, digits: u32) -> String {
    let modulus = 10u64.pow(digits.clamp(6, 12));
    let limit = u64::MAX - (u64::MAX % modulus);
    loop {
        let mut raw = [0u8; 8];
        rng.fill(&mut raw);
        let n = u64::from_le_bytes(raw);
        if n < limit {
            return format!(
                "{:0width$}",
                n % modulus,
                width = digits.clamp(6, 12) as usize
            );
        }
    }
}

/// A keyed hash of a short code, bound to the credential it belongs to: without the key, a
/// copy of the database does not let anyone try the million candidates offline.
pub fn code_hash(key: &[u8; 32], credential: &str, code: &str) -> Result<Digest32, CryptoError> {
    let message = format!("{credential}|{}", code.trim());
    crate::mac::keyed_hash(key, "code", message.as_bytes()).map(Digest32)
}

const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789z";

/// A recovery code such as `k7m2q-x9tfa` (50 bits).
pub fn new_recovery_code(rng: &dyn Rng) -> String {
    let mut raw = [0u8; 10];
    rng.fill(&mut raw);
    let chars: String = raw
        .iter()
        .map(|b| {
            RECOVERY_ALPHABET
                .get(usize::from(b & 31))
                .copied()
                .unwrap_or(b'a') as char
        })
        .collect();
    format!(
        "{}-{}",
        chars.get(..5).unwrap_or(""),
        chars.get(5..).unwrap_or("")
    )
}

/// The stored hash of a recovery code, insensitive to case, spaces and the hyphen.
pub fn recovery_code_hash(code: &str) -> Digest32 {
    let normalized: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Digest32::sha256(&[b"cista/recovery/v1|", normalized.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use cista_types::OsRng;

    #[test]
    fn tokens_are_256_bit_and_only_their_hash_is_kept() {
        let t = new_token(&OsRng);
        assert_eq!(t.secret.len(), 43);
        assert_eq!(token_hash(&t.secret), Some(t.hash));
        assert!(!format!("{t:?}").contains(&t.secret));
        assert_ne!(new_token(&OsRng).secret, t.secret);
    }

    #[test]
    fn forged_or_malformed_tokens_have_no_hash() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &"!".repeat(43),
            "../../etc/passwd",
        ] {
            assert_eq!(token_hash(bad), None, "{bad}");
        }
    }

    #[test]
    fn numeric_codes_have_the_asked_length_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| new_numeric_code(&OsRng, 6)).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.iter().collect::<std::collections::HashSet<_>>().len() > 40);
    }

    #[test]
    fn code_hashes_depend_on_key_credential_and_code() {
        let k = [1u8; 32];
        let hash = |key: &[u8; 32], credential, code| code_hash(key, credential, code).unwrap();
        let base = hash(&k, "c1", "123456");
        assert_eq!(base, hash(&k, "c1", " 123456 "));
        assert_ne!(base, hash(&[2u8; 32], "c1", "123456"));
        assert_ne!(base, hash(&k, "c2", "123456"));
        assert_ne!(base, hash(&k, "c1", "123457"));
    }

    #[test]
    fn recovery_codes_match_however_they_are_typed() {
        let code = new_recovery_code(&OsRng);
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_code_hash(&code),
            recovery_code_hash(&code.to_uppercase().replace('-', " "))
        );
    }
}
