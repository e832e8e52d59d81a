//! The trust report behind `/security`: what the running system actually does, read live from
//! the database, the key provider and the audit log (the web layer adds what it knows of TLS).

use crate::audit::{self, AuditVerification};
use crate::ports::{DatabaseDescription, StoredCheckpoint};
use crate::{Action, Actor, Cista, Result};
use cista_crypto::ProviderInfo;
use cista_types::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct TrustReport {
    pub generated_at: Timestamp,
    pub database: DatabaseDescription,
    pub keys: KeyReport,
    pub audit: AuditReport,
    pub organizations: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    pub provider: ProviderInfo,
    pub cipher: &'static str,
    pub stored_keys: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    pub root: String,
    pub hashing: &'static str,
    pub signature: &'static str,
    /// The signed-note verifier key anyone can use to check checkpoints.
    pub verifier_key: String,
    pub key_id: String,
    pub latest_checkpoint: Option<CheckpointReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    pub size: u64,
    pub root: String,
    pub signed_at: Timestamp,
    pub note: String,
    /// Whether the signature verified just now against the instance key.
    pub signature_valid: bool,
    /// Entries appended since this checkpoint.
    pub entries_since: u64,
}

impl Cista {
    pub async fn trust_report(&self, actor: &Actor) -> Result<TrustReport> {
        actor.authorize(Action::ViewTrustReport)?;
        let store = self.store();
        let database = store.describe().await?;
        let provider = self.key_provider().info().await?;
        let stored_keys = store.stored_key_count().await?;
        let head = store.audit_head().await?;
        let verifier = self.signer().verifier();
        let latest_checkpoint = store.latest_checkpoint().await?.map(|cp| {
            let signature_valid = verifier
                .verify(&cp.note)
                .is_ok_and(|signed| signed.size == cp.size && signed.root == cp.root);
            CheckpointReport {
                size: cp.size,
                root: cp.root.to_hex(),
                signed_at: cp.signed_at,
                signature_valid,
                entries_since: head.size.saturating_sub(cp.size),
                note: cp.note,
            }
        });
        Ok(TrustReport {
            generated_at: self.clock().now(),
            database,
            keys: KeyReport {
                provider,
                cipher: "AES-256-GCM envelope encryption (one data key per organization)",
                stored_keys,
            },
            audit: AuditReport {
                entries: head.size,
                root: head.root.to_hex(),
                hashing: "Merkle tree, RFC 6962 / RFC 9162 (SHA-256)",
                signature: "Ed25519 signed checkpoints (C2SP tlog-checkpoint, signed-note)",
                verifier_key: verifier.to_verifier_key(),
                key_id: verifier.key_id(),
                latest_checkpoint,
            },
            organizations: store.organization_count().await?,
        })
    }

    /// Signs a checkpoint of the current log head if the log grew since the last one.
    /// Returns the new checkpoint, or `None` if the latest one is still current.
    pub async fn sign_checkpoint(&self, actor: &Actor) -> Result<Option<StoredCheckpoint>> {
        actor.authorize(Action::SignCheckpoint)?;
        let store = self.store();
        let head = store.audit_head().await?;
        if head.size == 0 {
            return Ok(None);
        }
        if let Some(latest) = store.latest_checkpoint().await?
            && latest.size >= head.size
        {
            return Ok(None);
        }
        let note = self.signer().sign(&cista_crypto::note::Checkpoint {
            origin: self.instance().audit_origin.clone(),
            size: head.size,
            root: head.root,
        });
        let checkpoint = StoredCheckpoint {
            size: head.size,
            root: head.root,
            note,
            signed_at: self.clock().now(),
        };
        // Another process may have signed the same size first; theirs is as good as ours.
        Ok(store
            .add_checkpoint(&checkpoint)
            .await?
            .then_some(checkpoint))
    }

    /// Recomputes the whole audit log and checks every signed checkpoint.
    pub async fn verify_audit(&self, actor: &Actor) -> Result<AuditVerification> {
        actor.authorize(Action::VerifyAudit)?;
        audit::verify(self.store().as_ref(), &self.signer().verifier()).await
    }
}
