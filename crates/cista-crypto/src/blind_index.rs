//! Blind indexes: a keyed hash (HMAC-SHA-256) of a normalized value, so a person can be found by
//! email without the email being stored in the clear anywhere. The key is a data key wrapped by
//! the key provider; without it the index reveals nothing, not even equality across instances.

use crate::CryptoError;

pub fn blind_index(
    key: &[u8; 32],
    domain: &str,
    normalized: &str,
) -> Result<[u8; 32], CryptoError> {
    crate::mac::keyed_hash(key, &format!("blind-index/{domain}"), normalized.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_depends_on_key_domain_and_value() {
        let k = [9u8; 32];
        let index = |key: &[u8; 32], domain, value| blind_index(key, domain, value).unwrap();
        let a = index(&k, "email", "jane@example.org");
        assert_eq!(a, index(&k, "email", "jane@example.org"));
        assert_ne!(a, index(&[8u8; 32], "email", "jane@example.org"));
        assert_ne!(a, index(&k, "phone", "jane@example.org"));
        assert_ne!(a, index(&k, "email", "john@example.org"));
    }
}
