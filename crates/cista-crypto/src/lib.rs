//! Cista's cryptography, built only from maintained primitives (RustCrypto's AES-GCM and
//! SHA-2, dalek's Ed25519): envelope encryption, key providers, signed checkpoints and the
//! RFC 6962 Merkle tree behind the audit log. Nothing here does I/O except the local key-file
//! provider, which owns its file.

pub mod blind_index;
pub mod digest;
pub mod envelope;
pub mod local_key_file;
pub mod mac;
pub mod merkle;
pub mod note;
pub mod password;
pub mod pkcs11;
pub mod provider;
pub mod standard_webhooks;
pub mod stream;
pub mod token;
pub mod totp;

pub use digest::{Digest32, Sha256Stream};
pub use envelope::{DataKey, Sealed};
pub use local_key_file::LocalKeyFile;
pub use provider::{KekId, KeyProvider, KeyProviderError, ProviderInfo, WrappedKey};

/// Why a cryptographic operation failed. Messages are safe to show an operator; they never
/// contain key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("decryption failed: the data was altered, or it was sealed under another key")]
    Decrypt,
    #[error("the sealed value is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
}
