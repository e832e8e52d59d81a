//! Envelope encryption with AES-256-GCM: each value is sealed under a data key with a fresh
//! 96-bit nonce, and the associated data names where the value lives (table, column, row), so a
//! ciphertext copied into another row or column fails to open instead of being misread.

use crate::CryptoError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use cista_types::Rng;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Format version of a sealed value; the first byte of every ciphertext.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A 256-bit data key. It zeroes itself when dropped and never prints.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate(rng: &dyn Rng) -> Self {
        Self(rng.bytes32())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| CryptoError::Malformed("a data key must be 32 bytes"))
    }

    /// The raw key, for wrapping by a key provider. Handle with care.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> Result<Aes256Gcm, CryptoError> {
        Aes256Gcm::new_from_slice(&self.0).map_err(|_| CryptoError::Malformed("key length"))
    }

    /// Encrypts `plaintext`, binding it to `aad`.
    pub fn seal(&self, rng: &dyn Rng, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        let mut nonce_bytes = [0u8; NONCE_LEN];
        rng.fill(&mut nonce_bytes);
        let nonce = Nonce::from(nonce_bytes);
        let ciphertext = self
            .cipher()?
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Malformed("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Ok(Sealed(out))
    }

    /// Decrypts a sealed value; fails if the key, the associated data or a single bit differs.
    pub fn open(&self, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, CryptoError> {
        self.opener()?.open(aad, sealed.as_bytes())
    }

    /// An opener for many values sealed under this key: the AES key schedule and GHASH key
    /// are worked out once instead of for each value (a ballot's close opens one value per
    /// ballot). `DataKey::open` goes through it too.
    pub fn opener(&self) -> Result<Opener, CryptoError> {
        Ok(Opener(self.cipher()?))
    }
}

/// A data key made ready to open values (`DataKey::opener`). Its expanded key is zeroed when
/// it is dropped, and it never prints.
pub struct Opener(Aes256Gcm);

impl Opener {
    /// Decrypts the bytes of a sealed value (`Sealed::as_bytes`); fails as `DataKey::open`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (version, rest) = sealed
            .split_first()
            .ok_or(CryptoError::Malformed("empty ciphertext"))?;
        if *version != FORMAT_V1 {
            return Err(CryptoError::Malformed("unknown format version"));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed("ciphertext too short"));
        }
        let (nonce_bytes, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce_array: [u8; NONCE_LEN] = nonce_bytes
            .try_into()
            .map_err(|_| CryptoError::Malformed("nonce length"))?;
        self.0
            .decrypt(
                &Nonce::from(nonce_array),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Opener(<redacted>)")
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A sealed value: format version, nonce, ciphertext and tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

/// Associated data naming a value's place: `cista/v1|table|column|row`.
pub fn aad(table: &str, column: &str, row: &str) -> Vec<u8> {
    format!("cista/v1|{table}|{column}|{row}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cista_types::{OsRng, SeededRng};

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_place() {
        let rng = OsRng;
        let key = DataKey::generate(&rng);
        let here = aad("submissions", "payload", "42");
        let sealed = key.seal(&rng, &here, b"canary-7f3a").unwrap();
        assert!(!sealed.as_bytes().windows(11).any(|w| w == b"canary-7f3a"));
        assert_eq!(key.open(&here, &sealed).unwrap(), b"canary-7f3a");

        // An opener made once opens what the key opens, and refuses what it refuses.
        let opener = key.opener().unwrap();
        assert_eq!(
            opener.open(&here, sealed.as_bytes()).unwrap(),
            b"canary-7f3a"
        );
        assert!(matches!(
            opener.open(&aad("submissions", "payload", "43"), sealed.as_bytes()),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            DataKey::generate(&rng)
                .opener()
                .unwrap()
                .open(&here, sealed.as_bytes()),
            Err(CryptoError::Decrypt)
        ));
        assert!(format!("{opener:?}").contains("redacted"));

        let elsewhere = aad("submissions", "payload", "43");
        assert!(matches!(
            key.open(&elsewhere, &sealed),
            Err(CryptoError::Decrypt)
        ));
        let other_key = DataKey::generate(&rng);
        assert!(matches!(
            other_key.open(&here, &sealed),
            Err(CryptoError::Decrypt)
        ));

        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(key.open(&here, &Sealed::from_bytes(flipped)).is_err());
    }

    #[test]
    fn nonces_differ_between_seals_of_the_same_value() {
        let rng = OsRng;
        let key = DataKey::generate(&SeededRng::new(1));
        let a = key.seal(&rng, b"", b"same").unwrap();
        let b = key.seal(&rng, b"", b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn truncated_and_unknown_formats_are_refused() {
        let key = DataKey::generate(&OsRng);
        assert!(key.open(b"", &Sealed::from_bytes(vec![])).is_err());
        assert!(key.open(b"", &Sealed::from_bytes(vec![1, 2, 3])).is_err());
        assert!(key.open(b"", &Sealed::from_bytes(vec![9; 40])).is_err());
    }

    #[test]
    fn keys_never_print() {
        let key = DataKey::from_bytes([7; 32]);
        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
    }
}
