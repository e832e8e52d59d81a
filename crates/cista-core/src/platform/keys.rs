//! Key status and rotation. Rotation makes a new key-encryption key active and re-wraps every
//! stored key under it while the server keeps running: the data keys themselves do not change,
//! so nothing sealed under them needs re-encrypting, and a running server reads either wrapping.

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::ports::{Rewrap, StoredKey};
use crate::{Action, Actor, Cista, Error, Result};
use cista_crypto::{KekId, ProviderInfo};
use serde::Serialize;
use std::collections::BTreeMap;

/// How many stored keys one batch re-wraps in one transaction.
const REWRAP_BATCH: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    pub provider: ProviderInfo,
    /// Stored keys per KEK that wraps them.
    pub keys_by_kek: BTreeMap<KekId, u64>,
    /// KEKs that wrap stored keys but that the provider does not hold: those keys are lost
    /// unless the right key file is found.
    pub missing_keks: Vec<KekId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    pub new_kek: KekId,
    pub rewrapped: u64,
    /// Retired KEKs removed from the provider because nothing uses them any more.
    pub removed: Vec<KekId>,
    /// Retired KEKs kept (older backups may still need them).
    pub kept: Vec<KekId>,
}

impl Cista {
    /// Re-wraps every person's key in the vault under `new_kek`, in batches, each recorded.
    async fn rewrap_vault_keys(&self, actor: &Actor, new_kek: &KekId) -> Result<u64> {
        let mut rewrapped = 0u64;
        for _pass in 0..3 {
            let pending: Vec<_> = self
                .vault()
                .wrapped_keys()
                .await?
                .into_iter()
                .filter(|(_, kek, _)| kek != new_kek.as_str())
                .collect();
            if pending.is_empty() {
                break;
            }
            for batch in pending.chunks(REWRAP_BATCH) {
                let mut count = 0u64;
                for (subject, kek, wrapped) in batch {
                    let aad = crate::platform::people::key_aad(*subject);
                    let from = cista_crypto::WrappedKey {
                        kek: KekId::new(kek.clone()),
                        ciphertext: wrapped.clone(),
                    };
                    let plain = self.key_provider().unwrap(&from, &aad).await?;
                    let to = self.key_provider().wrap(&plain, &aad).await?;
                    if self.vault().rewrap_key(*subject, kek, &to).await? {
                        count += 1;
                    }
                }
                self.store()
                    .append_audit(NewAuditEntry::new(
                        self.clock().now(),
                        actor,
                        None,
                        AuditKind::KeysRewrapped,
                        serde_json::json!({
                            "to": new_kek.as_str(),
                            "scope": "vault",
                            "count": count,
                        }),
                    ))
                    .await?;
                rewrapped += count;
            }
        }
        Ok(rewrapped)
    }

    pub async fn key_status(&self, actor: &Actor) -> Result<KeyStatus> {
        actor.authorize(Action::ViewKeyStatus)?;
        let provider = self.key_provider().info().await?;
        let mut keys_by_kek: BTreeMap<KekId, u64> = BTreeMap::new();
        for key in self.store().stored_keys().await? {
            *keys_by_kek.entry(key.wrapped.kek).or_default() += 1;
        }
        for (_, kek, _) in self.vault().wrapped_keys().await? {
            *keys_by_kek.entry(KekId::new(kek)).or_default() += 1;
        }
        let missing_keks = keys_by_kek
            .keys()
            .filter(|k| **k != provider.active_kek && !provider.retired_keks.contains(k))
            .cloned()
            .collect();
        Ok(KeyStatus {
            provider,
            keys_by_kek,
            missing_keks,
        })
    }

    /// Deletes from the provider every retired KEK that no stored key uses and that `keep`
    /// does not name (KEKs that wrap a key held outside the store, such as the backup key in
    /// the backup target). Returns the KEKs removed and those kept, each removal audited
    /// before it is made.
    ///
    /// # Errors
    /// `Forbidden` unless `actor` may rotate keys; the store's or the provider's errors.
    pub async fn remove_retired_keks(
        &self,
        actor: &Actor,
        keep: &[KekId],
    ) -> Result<(Vec<KekId>, Vec<KekId>)> {
        actor.authorize(Action::RotateKeys)?;
        let status = self.key_status(actor).await?;
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for retired in status.provider.retired_keks {
            let in_use = status.keys_by_kek.get(&retired).copied().unwrap_or(0) > 0;
            if in_use || keep.contains(&retired) {
                kept.push(retired);
                continue;
            }
            let audit = NewAuditEntry::new(
                self.clock().now(),
                actor,
                None,
                AuditKind::KeyEncryptionKeyRemoved,
                serde_json::json!({ "kek": retired.as_str() }),
            );
            // Record the intent first: if removal then fails, the log says it was tried.
            self.store().append_audit(audit).await?;
            self.key_provider().remove_retired(&retired).await?;
            removed.push(retired);
        }
        Ok((removed, kept))
    }

    /// Makes a new KEK active and re-wraps every stored key under it. With `remove_retired`,
    /// retired KEKs that no stored key uses any more are then deleted from the provider;
    /// without it they are kept, because backups taken before the rotation still need them.
    /// A key held outside the store (the backup key) is not seen here: `cista keys rotate`
    /// rotates without removal, re-wraps the backup key, then calls `remove_retired_keks`.
    pub async fn rotate_keys(&self, actor: &Actor, remove_retired: bool) -> Result<RotationReport> {
        actor.authorize(Action::RotateKeys)?;
        // Refuse to start if some key is already unreadable: rotating would not fix it and
        // the operator must learn about it first.
        let before = self.key_status(actor).await?;
        if let Some(missing) = before.missing_keks.first() {
            return Err(Error::Integrity(format!(
                "stored keys are wrapped under {missing}, which the key provider does not hold; \
                 fix that before rotating"
            )));
        }
        let new_kek = self
            .key_provider()
            .rotate(self.rng().as_ref(), self.clock().now())
            .await?;
        let mut rewrapped = 0u64;
        // A key created by a running server between our listing and our update is caught by
        // the next pass; the store applies each rewrap only if the row is unchanged.
        for _pass in 0..3 {
            let pending: Vec<StoredKey> = self
                .store()
                .stored_keys()
                .await?
                .into_iter()
                .filter(|k| k.wrapped.kek != new_kek)
                .collect();
            if pending.is_empty() {
                break;
            }
            for batch in pending.chunks(REWRAP_BATCH) {
                let mut rewraps = Vec::with_capacity(batch.len());
                for key in batch {
                    let aad = StoredKey::wrap_aad(key.id, key.purpose, key.org);
                    let plain = self.key_provider().unwrap(&key.wrapped, &aad).await?;
                    let to = self.key_provider().wrap(&plain, &aad).await?;
                    if to.kek != new_kek {
                        return Err(Error::Conflict(
                            "another key rotation ran at the same time; run `cista keys \
                             status` and rotate again"
                                .to_owned(),
                        ));
                    }
                    rewraps.push(Rewrap {
                        id: key.id,
                        from: key.wrapped.kek.clone(),
                        to,
                    });
                }
                let from: Vec<&str> = {
                    let mut f: Vec<&str> = rewraps.iter().map(|r| r.from.as_str()).collect();
                    f.sort_unstable();
                    f.dedup();
                    f
                };
                let audit = NewAuditEntry::new(
                    self.clock().now(),
                    actor,
                    None,
                    AuditKind::KeysRewrapped,
                    serde_json::json!({
                        "to": new_kek.as_str(),
                        "from": from,
                        "count": rewraps.len(),
                    }),
                );
                rewrapped += self.store().rewrap_keys(&rewraps, audit).await?;
            }
        }

        rewrapped += self.rewrap_vault_keys(actor, &new_kek).await?;

        let (removed, kept) = if remove_retired {
            self.remove_retired_keks(actor, &[]).await?
        } else {
            (Vec::new(), self.key_provider().info().await?.retired_keks)
        };
        Ok(RotationReport {
            new_kek,
            rewrapped,
            removed,
            kept,
        })
    }
}
