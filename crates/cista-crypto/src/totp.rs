//! Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! clock skew each way) through the `totp-rs` crate. A code is accepted at most once: callers
//! store the last accepted step and refuse any step not after it.

use crate::CryptoError;
use cista_types::Rng;
use totp_rs::{Algorithm, Builder, Totp};

/// The shared secret (160 bits, as RFC 4226 recommends).
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    pub fn generate(rng: &dyn Rng) -> Self {
        let mut bytes = vec![0u8; 20];
        rng.fill(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Reads a secret as authenticator apps show it (RFC 4648 base32, spaces ignored).
    pub fn from_base32(text: &str) -> Option<Self> {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
        for c in text
            .bytes()
            .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        {
            let value = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())?;
            buffer = (buffer << 5) | u32::try_from(value).ok()?;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
            }
        }
        Some(Self(out))
    }

    fn totp(&self, issuer: &str, account: &str) -> Result<Totp, CryptoError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_step_duration(30)
            .with_skew(1)
            .with_secret(self.0.clone())
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build()
            .map_err(|_| CryptoError::Malformed("TOTP parameters"))
    }

    /// The `otpauth://` URI an authenticator app scans.
    pub fn uri(&self, issuer: &str, account: &str) -> Result<String, CryptoError> {
        self.totp(issuer, account)?
            .to_url()
            .map_err(|_| CryptoError::Malformed("TOTP URI"))
    }

    /// The secret in base32, for typing into an app by hand.
    pub fn base32(&self) -> String {
        data_encoding_base32(&self.0)
    }

    /// The step at which `code` is valid around `unix_time`, if it is.
    pub fn check(&self, code: &str, unix_time: u64) -> Option<u64> {
        let code: String = code.chars().filter(char::is_ascii_digit).collect();
        if code.len() != 6 {
            return None;
        }
        self.totp("cista", "check").ok()?.check(&code, unix_time)
    }

    /// The code at `unix_time` (for tests and for showing what an app would show).
    pub fn code_at(&self, unix_time: u64) -> Option<String> {
        Some(
            self.totp("cista", "code")
                .ok()?
                .generate(unix_time)
                .to_string(),
        )
    }
}

/// RFC 4648 base32 without padding, as authenticator apps expect.
fn data_encoding_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let index = ((buffer >> bits) & 31) as usize;
            out.push(ALPHABET.get(index).copied().unwrap_or(b'A') as char);
        }
    }
    if bits > 0 {
        let index = ((buffer << (5 - bits)) & 31) as usize;
        out.push(ALPHABET.get(index).copied().unwrap_or(b'A') as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, secret "12345678901234567890", truncated to 6 digits.
    #[test]
    fn codes_match_the_rfc6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (time, code) in [
            (59u64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(secret.code_at(time).unwrap(), code, "t={time}");
            assert!(secret.check(code, time).is_some());
        }
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq"),
            Some(secret)
        );
        assert_eq!(TotpSecret::from_base32("not base32!"), None);
    }

    #[test]
    fn one_step_of_skew_is_accepted_and_no_more() {
        let secret = TotpSecret::from_bytes(vec![7; 20]);
        let now = 1_800_000_000;
        let code = secret.code_at(now).unwrap();
        assert_eq!(secret.check(&code, now + 30), Some(now / 30));
        assert_eq!(secret.check(&code, now + 90), None);
        assert_eq!(secret.check("12345", now), None);
        assert_eq!(secret.check(&format!("{} ", &code[..3]), now), None);
    }

    #[test]
    fn the_uri_names_the_issuer_and_account() {
        let uri = TotpSecret::from_bytes(vec![1; 20])
            .uri("Cista", "owner@example.org")
            .unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Cista:owner%40example.org?"),
            "{uri}"
        );
        assert!(uri.contains("secret="), "{uri}");
    }
}
