//! The `KeyProvider` port: it holds key-encryption keys (KEKs) and wraps and unwraps data keys
//! with them, so data keys are only ever stored wrapped. The local key file is the first
//! provider; an HSM (PKCS#11) or a cloud KMS fit the same trait.

use crate::DataKey;
use async_trait::async_trait;
use cista_types::{Rng, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The name of one key-encryption key, e.g. `kek-20261122-1a2b3c4d`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KekId(String);

impl KekId {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The associated data a KEK seals a data key with: the KEK's name, then the caller's `aad`,
/// so a wrapped key cannot be presented as wrapped by another KEK or for another place.
pub fn kek_aad(kek: &KekId, aad: &[u8]) -> Vec<u8> {
    let mut out = format!("cista/kek/{kek}|").into_bytes();
    out.extend_from_slice(aad);
    out
}

/// A data key encrypted under a KEK, with the name of that KEK.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek: KekId,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WrappedKey(kek={}, {} bytes)",
            self.kek,
            self.ciphertext.len()
        )
    }
}

/// What the trust page and `keys status` say about the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderInfo {
    /// e.g. `local key file`.
    pub kind: String,
    /// Where the keys live (a path, a token label, a KMS key name); never key material.
    /// Not serialized: it appears in `cista keys status`, not in public reports.
    #[serde(skip_serializing)]
    pub location: String,
    /// The KEK new data keys are wrapped under.
    pub active_kek: KekId,
    /// Older KEKs still able to unwrap.
    pub retired_keks: Vec<KekId>,
}

/// Why a key provider refused, in words that hold for any provider (a key file, an HSM
/// token, a cloud KMS). `provider` names the provider and where its keys are, as an operator
/// reads it: `the key file /srv/cista.kek`, `the PKCS#11 token "cista"`. Never key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyProviderError {
    /// The key-encryption key that wrapped a stored key is not in this provider.
    #[error(
        "{provider} does not hold key-encryption key {kek}, which wrapped this key; start \
         Cista with the keys this database was created with"
    )]
    UnknownKek { kek: KekId, provider: String },
    /// The provider holds a KEK of that name, but it does not open the wrapped key.
    #[error(
        "key-encryption key {kek} failed to unwrap a data key: the provider holds different key \
         material under that name, or the wrapped key was altered"
    )]
    WrongKey { kek: KekId },
    /// The provider's keys are not where the configuration says.
    #[error("{provider} does not exist; {remedy}")]
    Missing { provider: String, remedy: String },
    /// The provider exists but cannot be used as configured (its permissions, its format, a
    /// wrong PIN); `problem` says what and how to fix it.
    #[error("{provider} cannot be used: {problem}")]
    Unusable { provider: String, problem: String },
    /// Creating keys where some already are.
    #[error("{provider} already exists; refusing to overwrite keys")]
    AlreadyExists { provider: String },
    #[error("key-encryption key {kek} is still active; rotate before removing it")]
    StillActive { kek: KekId },
    /// The provider did not answer (a network HSM or KMS that is down); retrying later may
    /// work.
    #[error("{provider} is unavailable: {problem}")]
    Unavailable { provider: String, problem: String },
}

#[async_trait]
pub trait KeyProvider: Send + Sync + fmt::Debug {
    async fn info(&self) -> Result<ProviderInfo, KeyProviderError>;

    /// Wraps a data key under the active KEK. `aad` binds the wrapped key to its place.
    async fn wrap(&self, key: &DataKey, aad: &[u8]) -> Result<WrappedKey, KeyProviderError>;

    /// Unwraps a data key; fails loudly if its KEK is unknown or the material is wrong.
    async fn unwrap(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<DataKey, KeyProviderError>;

    /// Makes a new KEK active; older ones stay, retired, able to unwrap until removed.
    async fn rotate(&self, rng: &dyn Rng, now: Timestamp) -> Result<KekId, KeyProviderError>;

    /// Removes a retired KEK. Call only when no stored key is wrapped under it.
    async fn remove_retired(&self, kek: &KekId) -> Result<(), KeyProviderError>;
}
