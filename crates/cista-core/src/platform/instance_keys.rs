//! Instance-level keys, loaded (or created once) when an instance opens: the blind-index key,
//! the key that seals instance secrets (TOTP secrets, outbox parameters), and the MAC key for
//! CSRF tokens and SMS codes. Each is stored wrapped like every other key, and held unwrapped
//! in memory only while the instance is open.

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::ports::{KeyPurpose, StoredKey};
use crate::{Actor, Deps, Error, Result};
use cista_crypto::DataKey;
use cista_types::KeyId;

pub(crate) struct InstanceKeys {
    pub blind_index: DataKey,
    pub secrets: DataKey,
    pub mac: DataKey,
}

impl std::fmt::Debug for InstanceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstanceKeys(<redacted>)")
    }
}

async fn load_or_create(deps: &Deps, purpose: KeyPurpose) -> Result<DataKey> {
    for _ in 0..2 {
        if let Some(stored) = deps.store.instance_key(purpose).await? {
            let aad = StoredKey::wrap_aad(stored.id, stored.purpose, None);
            return Ok(deps.keys.unwrap(&stored.wrapped, &aad).await?);
        }
        let key = DataKey::generate(deps.rng.as_ref());
        let id = KeyId::new(deps.rng.as_ref());
        let wrapped = deps
            .keys
            .wrap(&key, &StoredKey::wrap_aad(id, purpose, None))
            .await?;
        let now = deps.clock.now();
        let stored = StoredKey {
            id,
            purpose,
            org: None,
            wrapped,
            created_at: now,
        };
        let audit = NewAuditEntry::new(
            now,
            &Actor::System,
            None,
            AuditKind::InstanceKeyCreated,
            serde_json::json!({ "purpose": purpose.as_str(), "key": id.to_string() }),
        );
        if deps.store.add_instance_key(&stored, audit).await? {
            return Ok(key);
        }
        // Another process created it first: use theirs.
    }
    Err(Error::Integrity(format!(
        "the instance key `{}` could not be created",
        purpose.as_str()
    )))
}

impl InstanceKeys {
    pub(crate) async fn load(deps: &Deps) -> Result<Self> {
        Ok(Self {
            blind_index: load_or_create(deps, KeyPurpose::BlindIndex).await?,
            secrets: load_or_create(deps, KeyPurpose::InstanceSecrets).await?,
            mac: load_or_create(deps, KeyPurpose::InstanceMac).await?,
        })
    }
}
