//! Creating and opening an instance. Opening unwraps the audit signing key through the key
//! provider, so a wrong or missing key-encryption key stops start-up loudly, before any request
//! is served.

use crate::platform::access::passwords::PasswordHasher;
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::platform::instance_keys::InstanceKeys;
use crate::ports::{Instance, KeyPurpose, StoredKey};
use crate::{Action, Actor, Cista, Deps, Error, Result};
use cista_crypto::DataKey;
use cista_crypto::note::NoteSigner;
use cista_types::KeyId;
use std::sync::Arc;

impl Cista {
    /// Opens the instance recorded in the store, or creates it if the store is empty.
    /// Returns whether it was created now. `origin` names the audit log in checkpoints; by
    /// default `cista/<instance id>`.
    pub async fn open_or_initialize(
        deps: Deps,
        actor: &Actor,
        origin: Option<&str>,
    ) -> Result<(Self, bool)> {
        if deps.store.instance().await?.is_some() {
            return Ok((Self::open(deps).await?, false));
        }
        actor.authorize(Action::InitializeInstance)?;
        let now = deps.clock.now();
        let id = deps.rng.id63();
        let audit_origin = match origin {
            Some(o) => o.to_owned(),
            None => format!("cista/{id:016x}"),
        };
        let secret = DataKey::generate(deps.rng.as_ref());
        let signer = NoteSigner::new(&audit_origin, *secret.expose())?;
        let key_id = KeyId::new(deps.rng.as_ref());
        let aad = StoredKey::wrap_aad(key_id, KeyPurpose::AuditSigning, None);
        let wrapped = deps.keys.wrap(&secret, &aad).await?;
        let instance = Instance {
            id,
            created_at: now,
            audit_origin: audit_origin.clone(),
            audit_public_key: signer.verifier().public_key().to_vec(),
            audit_signing_key: key_id,
        };
        let key = StoredKey {
            id: key_id,
            purpose: KeyPurpose::AuditSigning,
            org: None,
            wrapped,
            created_at: now,
        };
        let audit = NewAuditEntry::new(
            now,
            actor,
            None,
            AuditKind::InstanceInitialized,
            serde_json::json!({
                "instance": format!("{id:016x}"),
                "audit_origin": audit_origin,
                "audit_key_id": signer.verifier().key_id(),
            }),
        );
        match deps.store.create_instance(&instance, &key, audit).await {
            Ok(()) => {}
            // Another process initialized the same database first; use theirs.
            Err(Error::Conflict(_)) => return Ok((Self::open(deps).await?, false)),
            Err(e) => return Err(e),
        }
        Ok((Self::open(deps).await?, true))
    }

    /// Opens an initialized instance, unwrapping its signing key.
    pub async fn open(deps: Deps) -> Result<Self> {
        let instance = deps.store.instance().await?.ok_or(Error::NotInitialized)?;
        let stored = deps
            .store
            .stored_key(instance.audit_signing_key)
            .await?
            .ok_or_else(|| Error::Integrity("the audit signing key is missing".to_owned()))?;
        let aad = StoredKey::wrap_aad(stored.id, KeyPurpose::AuditSigning, None);
        let secret = deps.keys.unwrap(&stored.wrapped, &aad).await?;
        let signer = NoteSigner::new(&instance.audit_origin, *secret.expose())?;
        if signer.verifier().public_key().as_slice() != instance.audit_public_key.as_slice() {
            return Err(Error::Integrity(
                "the audit public key stored in the database does not belong to the instance's \
                 signing key"
                    .to_owned(),
            ));
        }
        let instance_keys = InstanceKeys::load(&deps).await?;
        let hasher = PasswordHasher::new(deps.settings.concurrent_hashes, deps.settings.hash_queue);
        Ok(Self {
            deps,
            instance,
            signer: Arc::new(signer),
            instance_keys: Arc::new(instance_keys),
            hasher,
            casts: Arc::default(),
            definitions: Arc::default(),
            leaves: Arc::default(),
            marks: Arc::default(),
            counts: Arc::default(),
        })
    }

    pub(crate) fn signer(&self) -> &NoteSigner {
        &self.signer
    }
}
