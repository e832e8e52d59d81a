//! The backup data key: one AES-256 key for every backup object, stored in the target itself
//! wrapped by the key provider, so a restore after the data disk is lost needs only the target
//! and the key provider (the key file, kept elsewhere).

use crate::format::KEY_OBJECT;
use crate::{BackupError, BackupTarget};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cista_crypto::{DataKey, KekId, KeyProvider, WrappedKey};
use cista_types::{Rng, Timestamp};
use serde::{Deserialize, Serialize};

const WRAP_AAD: &[u8] = b"cista backup data key v1";

#[derive(Debug, Serialize, Deserialize)]
struct StoredBackupKey {
    format: u32,
    kek: String,
    wrapped: String,
    created_at: String,
}

/// Reads the stored (wrapped) backup key; `None` if the target has none yet.
async fn read_stored(target: &BackupTarget) -> Result<Option<StoredBackupKey>, BackupError> {
    let Some(bytes) = target.get(KEY_OBJECT).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        BackupError::Integrity(format!(
            "{KEY_OBJECT} in the backup target is unreadable: {e}"
        ))
    })
}

async fn unwrap_stored(
    target: &BackupTarget,
    keys: &dyn KeyProvider,
    stored: &StoredBackupKey,
) -> Result<DataKey, BackupError> {
    let wrapped = WrappedKey {
        kek: KekId::new(stored.kek.clone()),
        ciphertext: B64.decode(stored.wrapped.as_bytes()).map_err(|e| {
            BackupError::Integrity(format!("{KEY_OBJECT} holds a malformed key: {e}"))
        })?,
    };
    keys.unwrap(&wrapped, WRAP_AAD).await.map_err(|e| {
        BackupError::WrongKey(format!(
            "the backup key in {} cannot be unwrapped: {e}",
            target.describe()
        ))
    })
}

/// Reads the backup key from the target; `None` if the target has none yet.
pub async fn load(
    target: &BackupTarget,
    keys: &dyn KeyProvider,
) -> Result<Option<DataKey>, BackupError> {
    match read_stored(target).await? {
        Some(stored) => unwrap_stored(target, keys, &stored).await.map(Some),
        None => Ok(None),
    }
}

/// The KEK the target's backup key is wrapped under; `None` if the target has no key yet.
pub async fn stored_kek(target: &BackupTarget) -> Result<Option<KekId>, BackupError> {
    Ok(read_stored(target)
        .await?
        .map(|stored| KekId::new(stored.kek)))
}

/// Re-wraps the target's backup key under the provider's active KEK (after a rotation, before
/// retired KEKs are removed, so that removal cannot strand the key every backup object is
/// sealed with). Returns the KEK it is wrapped under now; `None` if the target has no key yet.
///
/// # Errors
/// `WrongKey` when the stored key cannot be unwrapped; the target's errors.
pub async fn rewrap_to_active(
    target: &BackupTarget,
    keys: &dyn KeyProvider,
    now: Timestamp,
) -> Result<Option<KekId>, BackupError> {
    let Some(stored) = read_stored(target).await? else {
        return Ok(None);
    };
    let active = keys
        .info()
        .await
        .map_err(|e| BackupError::WrongKey(e.to_string()))?
        .active_kek;
    if stored.kek != active.as_str() {
        let key = unwrap_stored(target, keys, &stored).await?;
        store(target, keys, &key, now).await?;
    }
    stored_kek(target).await
}

/// Reads the backup key, creating it on first use. Re-wraps it under the provider's active
/// KEK when it was wrapped under an older one, so removing retired KEKs cannot strand it.
pub async fn load_or_create(
    target: &BackupTarget,
    keys: &dyn KeyProvider,
    rng: &dyn Rng,
    now: Timestamp,
) -> Result<DataKey, BackupError> {
    let active = keys
        .info()
        .await
        .map_err(|e| BackupError::WrongKey(e.to_string()))?
        .active_kek;
    if let Some(stored) = read_stored(target).await? {
        let key = unwrap_stored(target, keys, &stored).await?;
        if stored.kek != active.as_str() {
            store(target, keys, &key, now).await?;
        }
        return Ok(key);
    }
    let key = DataKey::generate(rng);
    store(target, keys, &key, now).await?;
    // Another process may have raced us; whatever is stored now is the key.
    load(target, keys)
        .await?
        .ok_or_else(|| BackupError::Unavailable(format!("{KEY_OBJECT} vanished after writing")))
}

async fn store(
    target: &BackupTarget,
    keys: &dyn KeyProvider,
    key: &DataKey,
    now: Timestamp,
) -> Result<(), BackupError> {
    let wrapped = keys
        .wrap(key, WRAP_AAD)
        .await
        .map_err(|e| BackupError::WrongKey(e.to_string()))?;
    let stored = StoredBackupKey {
        format: 1,
        kek: wrapped.kek.as_str().to_owned(),
        wrapped: B64.encode(&wrapped.ciphertext),
        created_at: now.to_rfc3339(),
    };
    let bytes = serde_json::to_vec_pretty(&stored)
        .map_err(|e| BackupError::Io(format!("cannot encode the backup key: {e}")))?;
    target.put(KEY_OBJECT, bytes).await
}
