//! The trust report behind `/security`: what the running system actually does, read live from
//! the database, the key provider and the audit log (the web layer adds what it knows of TLS).
//!
//! The public sees the facts (the engine, the settings that make it durable, the encryption,
//! the audit log verified); exact software versions, schema versions, key ids and verifier
//! keys help an attacker more than a visitor, so they are filled in only for an actor who may
//! `ViewTrustDetails` (signed-in staff, the operator). DESIGN §8: "paths, versions and key ids
//! only for staff".

use crate::platform::audit::{self, AuditVerification};
use crate::platform::trust_counts::TableCounts;
use crate::ports::{DatabaseDescription, StoredCheckpoint};
use crate::{Action, Actor, Cista, Result};
use cista_crypto::KekId;
use cista_types::Timestamp;
use serde::Serialize;

/// The roles that must use a second factor, in words: `organization owner, administrator and
/// advisor` (read from `Role::requires_mfa`, so the page cannot disagree with the code).
fn roles_requiring_mfa() -> String {
    let roles: Vec<String> = cista_types::Role::ALL
        .iter()
        .filter(|r| r.requires_mfa())
        .map(|r| r.short_label().to_lowercase())
        .collect();
    match roles.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "nobody".to_owned(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TrustReport {
    pub generated_at: Timestamp,
    /// When the counts of whole tables (votes, people, erased people, organizations, stored
    /// keys, ballots) were taken: they are kept for up to 30 s (`trust_counts::KEPT_FOR`).
    pub counted_at: Timestamp,
    /// Whether the operational details below were filled in (staff view).
    pub details: bool,
    pub database: DatabaseDescription,
    pub keys: KeyReport,
    pub audit: AuditReport,
    pub access: AccessReport,
    pub voting: VotingReport,
    pub assessments: AssessmentReport,
    pub webhooks: WebhookReport,
    pub organizations: u64,
}

/// The webhook receivers organizations have set (third parties that are data, not
/// configuration): how many, and, for staff, their hosts.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookReport {
    /// Live endpoints over all organizations.
    pub endpoints: u64,
    /// Organizations with at least one.
    pub organizations: u64,
    /// Distinct `host[:port]`s of the organizations whose webhooks the viewer manages, sorted;
    /// empty in the public view.
    pub hosts: Vec<String>,
    pub receives: &'static str,
}

/// How embedded assessments treat a result and the report that names its client.
#[derive(Debug, Clone, Serialize)]
pub struct AssessmentReport {
    pub scoring: &'static str,
    pub clients: &'static str,
    /// How advisors get the report: a link unless a form's settings attach it, with the count.
    pub reports: String,
    pub retention: &'static str,
}

/// How votes are kept, from the running database: the guard triggers it actually has, and
/// counts (never a count per choice).
#[derive(Debug, Clone, Serialize)]
pub struct VotingReport {
    pub one_vote_per_unit: &'static str,
    pub secrecy: &'static str,
    pub receipts: &'static str,
    pub sealed_results: &'static str,
    pub records: &'static str,
    /// The guard triggers present in the database right now.
    pub guards: Vec<String>,
    /// Whether every guard this binary installs is present.
    pub guards_complete: bool,
    pub ballots_open: u64,
    pub ballots_closed: u64,
    pub votes: u64,
}

/// The guard triggers the voting migrations install (on either engine).
const EXPECTED_GUARDS: &[&str] = &[
    "ballot_box_kept",
    "ballot_box_no_update",
    "ballot_box_sealed",
    "participation_kept",
    "participation_sealed",
];

/// How people sign in and where their personal data lives, from the running settings.
#[derive(Debug, Clone, Serialize)]
pub struct AccessReport {
    pub passwords: String,
    pub sessions: String,
    pub links: String,
    pub sms: String,
    pub second_factor: String,
    pub lockout: String,
    pub vault: String,
    pub people: u64,
    pub erased: u64,
    /// How breaches are handled (GDPR Art. 33/34).
    pub breaches: String,
    /// Breaches recorded on this instance, and notices delivered: for staff only (a visitor
    /// must not learn of a tenant's breach before it is disclosed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaches_recorded: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breach_notices: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    pub provider: ProviderReport,
    pub cipher: &'static str,
    pub stored_keys: u64,
}

/// The key provider: its kind for everyone, its key ids for staff.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderReport {
    /// e.g. `local key file`.
    pub kind: String,
    /// The KEK new data keys are wrapped under (staff view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_kek: Option<KekId>,
    /// Older KEKs still able to unwrap (staff view).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retired_keks: Vec<KekId>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    pub root: String,
    pub hashing: &'static str,
    pub signature: &'static str,
    /// The signed-note verifier key that checks checkpoints (staff view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verifier_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub latest_checkpoint: Option<CheckpointReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    pub size: u64,
    pub root: String,
    pub signed_at: Timestamp,
    /// The signed note itself, which names the signing key (staff view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether the signature verified just now against the instance key.
    pub signature_valid: bool,
    /// Entries appended since this checkpoint.
    pub entries_since: u64,
}

impl Cista {
    pub async fn trust_report(&self, actor: &Actor) -> Result<TrustReport> {
        actor.authorize(Action::ViewTrustReport)?;
        let details = actor.may(Action::ViewTrustDetails);
        let store = self.store();
        let mut database = store.describe().await?;
        if !details {
            // The engine, not its exact version or the newest migration's name.
            database.version = match database.backend {
                crate::ports::Backend::Sqlite => "SQLite".to_owned(),
                crate::ports::Backend::Postgres => "PostgreSQL".to_owned(),
            };
            database.schema = String::new();
            database.location = String::new();
        }
        let provider = self.key_provider().info().await?;
        let counts = self.table_counts().await?;
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
                note: details.then_some(cp.note),
            }
        });
        Ok(TrustReport {
            generated_at: self.clock().now(),
            counted_at: counts.counted_at,
            details,
            database,
            keys: KeyReport {
                provider: ProviderReport {
                    kind: provider.kind,
                    active_kek: details.then_some(provider.active_kek),
                    retired_keks: if details {
                        provider.retired_keks
                    } else {
                        Vec::new()
                    },
                },
                cipher: "AES-256-GCM envelope encryption (one data key per organization)",
                stored_keys: counts.stored_keys,
            },
            audit: AuditReport {
                entries: head.size,
                root: head.root.to_hex(),
                hashing: "Merkle tree, RFC 6962 / RFC 9162 (SHA-256)",
                signature: "Ed25519 signed checkpoints (C2SP tlog-checkpoint, signed-note)",
                verifier_key: details.then(|| verifier.to_verifier_key()),
                key_id: details.then(|| verifier.key_id()),
                latest_checkpoint,
            },
            access: self.access_report(details, &counts).await?,
            voting: self.voting_report(&counts).await?,
            assessments: self.assessments_trust_report().await?,
            webhooks: self.webhooks_trust_report(actor, details).await?,
            organizations: counts.organizations,
        })
    }

    async fn webhooks_trust_report(&self, actor: &Actor, details: bool) -> Result<WebhookReport> {
        let live = self.store().webhooks().live_webhook_receivers().await?;
        let organizations: std::collections::BTreeSet<_> = live.iter().map(|w| w.org).collect();
        // An organization's partners are its own business: staff see the hosts of the
        // organizations whose webhooks they manage (the operator sees all), counts for the rest.
        let hosts: std::collections::BTreeSet<String> = if details {
            live.iter()
                .filter(|w| {
                    actor.may_in(
                        w.org,
                        crate::products::collection::CollectionAction::ManageWebhooks,
                    )
                })
                .filter_map(|w| {
                    let url = url::Url::parse(&w.url).ok()?;
                    let host = url.host_str()?.to_owned();
                    Some(match url.port() {
                        Some(port) => format!("{host}:{port}"),
                        None => host,
                    })
                })
                .collect()
        } else {
            Default::default()
        };
        Ok(WebhookReport {
            endpoints: live.len() as u64,
            organizations: organizations.len() as u64,
            hosts: hosts.into_iter().collect(),
            receives: "signed messages when a record is created or reviewed: ids and links, \
                       never a record's answers or a person's name",
        })
    }

    async fn assessments_trust_report(&self) -> Result<AssessmentReport> {
        let attaching = self.store().intake().forms_attaching_reports().await?;
        let reports = match attaching {
            0 => "advisors are emailed a link to the report in the portal (sign-in required, \
                  each read audited), never the report itself: no assessment here attaches it"
                .to_owned(),
            n => format!(
                "advisors are emailed a link to the report in the portal (sign-in required, \
                 each read audited) by default; {n} {} the report as a PDF instead, which \
                 then sits in the recipients' mailboxes and is encrypted at their provider \
                 only if that provider does so",
                if n == 1 {
                    "assessment's settings attach"
                } else {
                    "assessments' settings attach"
                }
            ),
        };
        Ok(AssessmentReport {
            scoring: "answers are scored on this server under rules published with the form \
                      (JSONLogic, validated at publish time); the browser never sees the \
                      scoring rules, and each result records the rules' SHA-256",
            clients: "a client's name and email are sealed in the person vault under a random \
                      subject code, apart from the answers; staff see results de-identified, \
                      and showing who, or downloading the report that names the client, is \
                      recorded in the audit log; an erased client stays erased through every \
                      restore",
            reports,
            retention: "de-identified results are kept indefinitely unless a form sets a \
                        retention period; past it, the result and the client's name and email \
                        are deleted within the hour",
        })
    }

    async fn voting_report(&self, counts: &TableCounts) -> Result<VotingReport> {
        let guards: Vec<String> = self
            .store()
            .voting()
            .voting_guards()
            .await?
            .into_iter()
            .filter(|g| {
                g.starts_with("ballot") || g.starts_with("participation") || g.starts_with("vote_")
            })
            .collect();
        let guards_complete = EXPECTED_GUARDS
            .iter()
            .all(|e| guards.iter().any(|g| g == e));
        Ok(VotingReport {
            one_vote_per_unit: "enforced by the database: (ballot, unit) is the primary key of \
                                the participation ledger, whatever the channel (online, SMS \
                                session, paper) and however many servers; a refused second \
                                vote is recorded",
            secrecy: "a secret ballot's box holds only a random tracker, the weight it counts \
                      with and its choices sealed with AES-256-GCM; no unit, person, session, \
                      address or time; stored in tracker order and rewritten so no row keeps \
                      the moment it was cast. Its paper ballots come in two envelopes: staff \
                      check in the outer envelope by unit, then enter the inner ballots of a \
                      batch with no unit, so nobody entering them sees whose ballot is whose",
            receipts: "each voter gets a receipt showing the unit, the time and the choices; \
                       its signed part (ballot, tracker, checkpoint) never names the unit or \
                       the choices, so it proves nothing to a vote buyer. It is shown again \
                       (after a reload or the back button) only in the voter's own browser, for \
                       30 minutes, and never stored; after the close the tracker's inclusion \
                       proof checks against the ballot's signed checkpoint",
            sealed_results: "no count per choice exists anywhere before the close; then a \
                             Merkle tree over the ballot list is signed and anyone can recount \
                             with `cista verify-election`",
            records: "participation, refused attempts, rolls and cast ballots cannot be \
                      updated or deleted (database triggers); a published ballot's definition \
                      is immutable",
            guards,
            guards_complete,
            ballots_open: counts.ballots_open,
            ballots_closed: counts.ballots_closed,
            votes: counts.votes,
        })
    }

    async fn access_report(&self, details: bool, counts: &TableCounts) -> Result<AccessReport> {
        let s = self.settings();
        let (breaches_recorded, breach_notices) = if details {
            let (recorded, delivered) = self.store().breaches().breach_counts().await?;
            (Some(recorded), Some(delivered))
        } else {
            (None, None)
        };
        Ok(AccessReport {
            passwords: format!(
                "Argon2id (m = {} MiB, t = {}, p = {}); 8 to 128 characters; zxcvbn score {} of 4 \
                 or better, never your own name or email; never shown, only reset",
                cista_crypto::password::MEMORY_KIB / 1024,
                cista_crypto::password::ITERATIONS,
                cista_crypto::password::PARALLELISM,
                crate::platform::access::passwords::MIN_SCORE
            ),
            sessions: format!(
                "server-side; end after {} idle minutes or {} hours; a new id at every sign-in; \
                 \"sign out\" ends this device's session, \"sign out everywhere\" and a \
                 password change end every session",
                s.session_idle.whole_minutes(),
                s.session_absolute.whole_hours()
            ),
            links: format!(
                "256-bit random, single use, stored only as a SHA-256 hash; invitations last {} \
                 hours, password resets {} minutes",
                s.invite_ttl.whole_hours(),
                s.reset_ttl.whole_minutes()
            ),
            sms: format!(
                "{}-digit code to the phone on file, {} minutes, one use, {} tries; the session \
                 can vote and nothing else",
                s.sms_code_digits,
                s.sms_code_ttl.whole_minutes(),
                s.sms_code_attempts
            ),
            second_factor: format!(
                "TOTP (RFC 6238) required of every {}; ten single-use recovery codes stored hashed",
                roles_requiring_mfa()
            ),
            lockout: format!(
                "after {} wrong passwords the device or address that typed them is locked out \
                 for {} s, doubling with each further failure up to {} min, and after {} from \
                 strangers together so are strangers — never a device the person signed in \
                 from, so nobody can lock a person out; codes and links are limited to {} an \
                 hour per requester, and a new request never cancels the person's pending one; \
                 sign-in forms are also limited per address",
                s.lockout_after,
                s.lockout_base.whole_seconds(),
                s.lockout_max.whole_minutes(),
                s.untrusted_lockout_after,
                s.sends_per_hour
            ),
            vault: "each person's name, email and phone sealed under that person's own \
                    AES-256-GCM key; lookups by keyed hash (HMAC-SHA-256); erasing destroys the \
                    key"
            .to_owned(),
            people: counts.people,
            erased: counts.erased,
            breaches: format!(
                "staff record a breach and Cista counts the {} hours to tell the supervisory \
                 authority from then (GDPR Art. 33), lists who the incident window could have \
                 touched from the audit log, and emails each of them once, in the \
                 organization's words, with the kinds of their data it could have touched \
                 (Art. 34); each notice is an audit entry; erased people are never contacted",
                crate::platform::breach::REGULATOR_DEADLINE.whole_hours()
            ),
            breaches_recorded,
            breach_notices,
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
            extensions: Vec::new(),
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
        self.verify_audit_against(actor, &[]).await
    }

    /// As `verify_audit`, and also against checkpoint notes kept outside the database
    /// (`witnessed`, each a signed note as `cista audit verify` prints it): each must be
    /// signed by this instance, and the log must hold every entry it covers, unchanged. This
    /// catches what the database alone cannot show: checkpoint rows deleted and entries
    /// rewritten by someone who can write the database but does not hold the signing key.
    pub async fn verify_audit_against(
        &self,
        actor: &Actor,
        witnessed: &[String],
    ) -> Result<AuditVerification> {
        actor.authorize(Action::VerifyAudit)?;
        audit::verify(
            self.store().as_ref(),
            &self.signer().verifier(),
            &self.instance().audit_origin,
            witnessed,
        )
        .await
    }
}
