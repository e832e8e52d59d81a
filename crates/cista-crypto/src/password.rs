//! Password hashing with Argon2id at OWASP's minimum cost (m = 19 MiB, t = 2, p = 1), stored as
//! PHC strings. These functions are CPU-bound and block: callers run them on a bounded blocking
//! pool (see `cista_core::platform::access::passwords`), never on the async threads.

use crate::CryptoError;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over memory.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

fn argon2() -> Result<Argon2<'static>, CryptoError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|_| CryptoError::Malformed("argon2 parameters"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    argon2()?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::Malformed("argon2 hashing failed"))
}

/// Whether `password` matches the stored PHC string. A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // Parameters come from the stored hash, so older hashes still verify.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Whether a stored hash is weaker than the current policy (and should be replaced at the next
/// successful sign-in).
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let get = |name: &str| {
        parsed
            .params
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .and_then(|(_, v)| v.to_string().parse::<u32>().ok())
    };
    parsed.algorithm.as_str() != "argon2id"
        || get("m").is_none_or(|m| m < MEMORY_KIB)
        || get("t").is_none_or(|t| t < ITERATIONS)
}

/// A real hash of a random password, made once. Verifying against it costs what verifying a
/// real account costs, so "no such account" takes as long as "wrong password".
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 24];
        cista_types::Rng::fill(&cista_types::OsRng, &mut random);
        hash_password(&hex::encode(random)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_the_policy_cost_and_verify() {
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("correct horse battery stapler", &phc));
        assert!(!needs_rehash(&phc));
        assert_ne!(
            phc,
            hash_password("correct horse battery staple").unwrap(),
            "salted"
        );
    }

    #[test]
    fn malformed_or_weak_hashes_never_match_and_ask_for_rehash() {
        assert!(!verify_password("x", "not a hash"));
        assert!(needs_rehash("not a hash"));
        let weak = "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
        assert!(needs_rehash(weak));
        assert!(!verify_password("x", dummy_hash()));
    }
}
