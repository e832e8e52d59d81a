//! Audit events and the rules of the tamper-evident log: what an entry holds, the exact bytes
//! that are hashed into the Merkle tree, and the verification that recomputes everything from
//! the stored rows and the signed checkpoints.

use crate::ports::{AuditEntry, AuditHead, Store, StoredCheckpoint};
use crate::products::assessment::audit::AssessmentAuditKind;
use crate::products::collection::audit::CollectionAuditKind;
use crate::products::voting::audit::VotingAuditKind;
use crate::{Actor, Result};
use cista_crypto::Digest32;
use cista_crypto::merkle::{self, CompactRange};
use cista_crypto::note::NoteVerifier;
use cista_types::{OrgId, Timestamp};
use serde::Serialize;

/// What happened. The string forms are stored and hashed: never rename one. Each product's
/// kinds are one variant holding the product's own enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    InstanceInitialized,
    InstanceKeyCreated,
    OrganizationCreated,
    KeysRewrapped,
    KeyEncryptionKeyRemoved,
    PersonInvited,
    /// Someone already known was added at once (before invitations to join existed; no
    /// longer written).
    MemberAdded,
    /// Someone already known was invited to join; no membership until they accept.
    JoinInvited,
    /// A person accepted an invitation to join: the membership begins.
    JoinAccepted,
    /// Staff withdrew an invitation to join before it was answered.
    JoinWithdrawn,
    InvitationResent,
    RoleChanged,
    PersonRead,
    PersonErased,
    /// An erasure's first step: the account marked erased, its sessions and credentials
    /// ended, before the vault entry is destroyed (`person.erased` follows).
    PersonErasureBegun,
    BreachAssessed,
    BreachRecorded,
    BreachNoticeEdited,
    BreachNotified,
    BreachReported,
    PasswordSet,
    PasswordResetRequested,
    PasswordReset,
    PasswordChanged,
    /// A wrong current password on the change-password form (counts toward the lockout).
    PasswordChangeFailed,
    TokenRejected,
    SignInSucceeded,
    SignInFailed,
    SignInLocked,
    SignedOut,
    SmsCodeSent,
    SmsCodeFailed,
    SmsSignIn,
    MfaEnrolled,
    MfaVerified,
    MfaFailed,
    RecoveryCodeUsed,
    MessageAbandoned,
    OrganizationChanged,
    AppTokenCreated,
    AppTokenRevoked,
    FormPublished,
    SubmissionReceived,
    AttachmentStored,
    /// A kind of association voting.
    Voting(VotingAuditKind),
    /// A kind of the embedded assessment.
    Assessment(AssessmentAuditKind),
    /// A kind of field data collection.
    Collection(CollectionAuditKind),
}

impl From<CollectionAuditKind> for AuditKind {
    fn from(kind: CollectionAuditKind) -> Self {
        Self::Collection(kind)
    }
}

impl From<AssessmentAuditKind> for AuditKind {
    fn from(kind: AssessmentAuditKind) -> Self {
        Self::Assessment(kind)
    }
}

impl From<VotingAuditKind> for AuditKind {
    fn from(kind: VotingAuditKind) -> Self {
        Self::Voting(kind)
    }
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::InstanceInitialized => "instance.initialized",
            AuditKind::InstanceKeyCreated => "instance.key_created",
            AuditKind::OrganizationCreated => "organization.created",
            AuditKind::KeysRewrapped => "keys.rewrapped",
            AuditKind::KeyEncryptionKeyRemoved => "keys.kek_removed",
            AuditKind::PersonInvited => "person.invited",
            AuditKind::MemberAdded => "member.added",
            AuditKind::JoinInvited => "member.join_invited",
            AuditKind::JoinAccepted => "member.joined",
            AuditKind::JoinWithdrawn => "member.join_withdrawn",
            AuditKind::InvitationResent => "invitation.resent",
            AuditKind::RoleChanged => "member.role_changed",
            AuditKind::PersonRead => "person.read",
            AuditKind::PersonErased => "person.erased",
            AuditKind::PersonErasureBegun => "person.erasure_begun",
            AuditKind::BreachAssessed => "breach.assessed",
            AuditKind::BreachRecorded => "breach.recorded",
            AuditKind::BreachNoticeEdited => "breach.notice_edited",
            AuditKind::BreachNotified => "breach.notified",
            AuditKind::BreachReported => "breach.reported",
            AuditKind::PasswordSet => "password.set",
            AuditKind::PasswordResetRequested => "password.reset_requested",
            AuditKind::PasswordReset => "password.reset",
            AuditKind::PasswordChanged => "password.changed",
            AuditKind::PasswordChangeFailed => "password.change_failed",
            AuditKind::TokenRejected => "token.rejected",
            AuditKind::SignInSucceeded => "sign_in.succeeded",
            AuditKind::SignInFailed => "sign_in.failed",
            AuditKind::SignInLocked => "sign_in.locked",
            AuditKind::SignedOut => "sign_out",
            AuditKind::SmsCodeSent => "sms.code_sent",
            AuditKind::SmsCodeFailed => "sms.code_failed",
            AuditKind::SmsSignIn => "sign_in.sms",
            AuditKind::MfaEnrolled => "mfa.enrolled",
            AuditKind::MfaVerified => "mfa.verified",
            AuditKind::MfaFailed => "mfa.failed",
            AuditKind::RecoveryCodeUsed => "mfa.recovery_code_used",
            AuditKind::MessageAbandoned => "message.abandoned",
            AuditKind::OrganizationChanged => "organization.changed",
            AuditKind::AppTokenCreated => "app_token.created",
            AuditKind::AppTokenRevoked => "app_token.revoked",
            AuditKind::FormPublished => "form.published",
            AuditKind::SubmissionReceived => "submission.received",
            AuditKind::AttachmentStored => "attachment.stored",
            AuditKind::Voting(kind) => kind.as_str(),
            AuditKind::Assessment(kind) => kind.as_str(),
            AuditKind::Collection(kind) => kind.as_str(),
        }
    }
}

/// An entry to append, built by the core and written by the store in the same transaction as
/// the change it records. `details` must never hold personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub at: Timestamp,
    pub actor: String,
    pub org: Option<OrgId>,
    pub kind: String,
    /// Compact JSON, stored and hashed exactly as given.
    pub details: String,
}

impl NewAuditEntry {
    pub fn new(
        at: Timestamp,
        actor: &Actor,
        org: Option<OrgId>,
        kind: impl Into<AuditKind>,
        details: serde_json::Value,
    ) -> Self {
        Self {
            at,
            actor: actor.audit_name(),
            org,
            kind: kind.into().as_str().to_owned(),
            details: details.to_string(),
        }
    }
}

/// The bytes hashed into the tree for entry `seq`: a JSON array, so every field is escaped
/// and delimited unambiguously, and the position is part of what is signed (moving an entry
/// changes its hash).
pub fn leaf_data(
    seq: u64,
    at: &Timestamp,
    actor: &str,
    org: Option<OrgId>,
    kind: &str,
    details: &str,
) -> Vec<u8> {
    serde_json::json!([
        "cista-audit/1",
        seq,
        at.to_rfc3339(),
        actor,
        org.map(|o| o.as_i64()),
        kind,
        details
    ])
    .to_string()
    .into_bytes()
}

/// The leaf hash of an entry to be written at position `seq`.
pub fn leaf_hash_for(seq: u64, entry: &NewAuditEntry) -> Digest32 {
    merkle::leaf_hash(&leaf_data(
        seq,
        &entry.at,
        &entry.actor,
        entry.org,
        &entry.kind,
        &entry.details,
    ))
}

/// The leaf hash recomputed from a stored entry's content.
pub fn recompute_leaf_hash(entry: &AuditEntry) -> Digest32 {
    merkle::leaf_hash(&leaf_data(
        entry.seq,
        &entry.at,
        &entry.actor,
        entry.org,
        &entry.kind,
        &entry.details,
    ))
}

/// The result of `cista audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    pub entries_checked: u64,
    pub checkpoints_checked: u64,
    /// The newest signed checkpoint the database holds, as a signed note: keep a copy
    /// outside the database and give it back to a later `audit verify --against`.
    pub newest_checkpoint_note: Option<String>,
    pub head_size: u64,
    pub root: String,
    /// The first problem found, if any; verification stops there.
    pub problem: Option<AuditProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditProblem {
    /// The first entry that is wrong or missing, when it can be named exactly.
    pub first_bad_entry: Option<u64>,
    pub message: String,
}

impl AuditVerification {
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

const PAGE: u32 = 1000;

/// A problem found, naming the first bad entry when it can.
fn problem(first_bad_entry: Option<u64>, message: String) -> AuditProblem {
    AuditProblem {
        first_bad_entry,
        message,
    }
}

/// Recomputes the whole log from the rows: every leaf hash from its content, the tree root at
/// every signed checkpoint (and each checkpoint's signature), and the stored head; and at each
/// of the `witnessed` checkpoints (signed notes kept elsewhere, of the log named `origin`).
pub async fn verify(
    store: &dyn Store,
    verifier: &NoteVerifier,
    origin: &str,
    witnessed: &[String],
) -> Result<AuditVerification> {
    // A head that cannot even be read is itself evidence of tampering; report it after the
    // entries, which can name the first bad one more precisely.
    let head: std::result::Result<AuditHead, String> = match store.audit_head().await {
        Ok(head) => Ok(head),
        Err(crate::Error::Integrity(message)) => Err(message),
        Err(other) => return Err(other),
    };
    let mut checkpoints: Vec<StoredCheckpoint> = store.checkpoints().await?;
    let newest_checkpoint_note = checkpoints
        .iter()
        .max_by_key(|cp| cp.size)
        .map(|cp| cp.note.clone());
    let mut report = AuditVerification {
        entries_checked: 0,
        checkpoints_checked: 0,
        newest_checkpoint_note,
        head_size: head.as_ref().map_or(0, |h| h.size),
        root: head
            .as_ref()
            .map_or_else(|_| String::new(), |h| h.root.to_hex()),
        problem: None,
    };
    if let Err(found) = check_checkpoints(&checkpoints, verifier) {
        report.problem = Some(found);
        return Ok(report);
    }
    // A kept checkpoint is checked as a stored one is, in its place by size; one the
    // database also holds is checked once.
    let epoch =
        Timestamp::from_unix_micros(0).map_err(|e| crate::Error::Internal(e.to_string()))?;
    for note in witnessed {
        match verifier.verify(note) {
            // The same key signs each closed ballot's checkpoint: one of those is no
            // checkpoint of this log.
            Ok(cp) if cp.origin != origin => {
                report.problem = Some(problem(
                    None,
                    format!(
                        "a kept checkpoint is of {}, not of this audit log ({origin})",
                        cp.origin
                    ),
                ));
                return Ok(report);
            }
            Ok(cp) => {
                if !checkpoints
                    .iter()
                    .any(|stored| stored.size == cp.size && stored.root == cp.root)
                {
                    checkpoints.push(StoredCheckpoint {
                        size: cp.size,
                        root: cp.root,
                        note: note.clone(),
                        // Not known from the note; not used by the replay.
                        signed_at: epoch,
                    });
                }
            }
            Err(e) => {
                report.problem = Some(problem(
                    None,
                    format!("a kept checkpoint is not signed by this instance's key: {e}"),
                ));
                return Ok(report);
            }
        }
    }
    checkpoints.sort_by_key(|cp| cp.size);
    let checked = match replay(store, &checkpoints, &mut report).await? {
        Ok(checked) => check_head(head, checked),
        Err(found) => Err(found),
    };
    report.problem = checked.err();
    Ok(report)
}

/// Every checkpoint must carry a valid signature that matches its own columns, and a
/// checkpoint of the empty tree (if one was ever signed) must carry the empty root.
fn check_checkpoints(
    checkpoints: &[StoredCheckpoint],
    verifier: &NoteVerifier,
) -> std::result::Result<(), AuditProblem> {
    for cp in checkpoints {
        match verifier.verify(&cp.note) {
            Ok(signed) if signed.size == cp.size && signed.root == cp.root => {}
            Ok(_) => {
                return Err(problem(
                    None,
                    format!(
                        "checkpoint at size {} does not match the note it stores",
                        cp.size
                    ),
                ));
            }
            Err(e) => {
                return Err(problem(
                    None,
                    format!("checkpoint at size {} is not validly signed: {e}", cp.size),
                ));
            }
        }
    }
    let empty_root = CompactRange::new().root();
    if let Some(cp) = checkpoints
        .iter()
        .find(|cp| cp.size == 0 && cp.root != empty_root)
    {
        return Err(problem(
            None,
            format!("checkpoint at size {} has a wrong root", cp.size),
        ));
    }
    Ok(())
}

/// The stored entries replayed: how many, and the tree over them.
struct Replayed {
    entries: u64,
    range: CompactRange,
}

/// Replays the entries page by page, recomputing each leaf and the root at every signed
/// checkpoint, counting what was checked in `report`.
async fn replay(
    store: &dyn Store,
    checkpoints: &[StoredCheckpoint],
    report: &mut AuditVerification,
) -> Result<std::result::Result<Replayed, AuditProblem>> {
    let mut range = CompactRange::new();
    let mut next_checkpoint = checkpoints.iter().filter(|cp| cp.size > 0).peekable();
    let mut last_good_checkpoint = 0u64;
    let mut expected: u64 = 0;
    loop {
        let page = store.audit_entries(expected, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for entry in &page {
            let recomputed = match check_entry(entry, expected) {
                Ok(recomputed) => recomputed,
                Err(found) => return Ok(Err(found)),
            };
            range.append(recomputed);
            expected += 1;
            report.entries_checked = expected;
            while let Some(cp) = next_checkpoint.next_if(|cp| cp.size <= expected) {
                report.checkpoints_checked += 1;
                if cp.size == expected && cp.root != range.root() {
                    return Ok(Err(problem(
                        Some(last_good_checkpoint),
                        format!(
                            "entries {last_good_checkpoint}..{} do not match the signed \
                             checkpoint at size {}: an entry in that range was rewritten",
                            cp.size - 1,
                            cp.size
                        ),
                    )));
                }
                last_good_checkpoint = cp.size;
            }
        }
    }
    if let Some(cp) = next_checkpoint.next() {
        return Ok(Err(problem(
            Some(expected),
            format!(
                "the signed checkpoint at size {} covers {} entries but only {expected} are \
                 stored: entries from {expected} on were deleted",
                cp.size, cp.size
            ),
        )));
    }
    Ok(Ok(Replayed {
        entries: expected,
        range,
    }))
}

/// One entry: in its place in the sequence, and with the hash of its content. Returns the
/// recomputed leaf hash.
fn check_entry(entry: &AuditEntry, expected: u64) -> std::result::Result<Digest32, AuditProblem> {
    if entry.seq != expected {
        return Err(problem(
            Some(expected),
            format!(
                "entry {expected} is missing (the next stored entry is {}): entries \
                 were deleted",
                entry.seq
            ),
        ));
    }
    let recomputed = recompute_leaf_hash(entry);
    if recomputed != entry.leaf_hash {
        return Err(problem(
            Some(entry.seq),
            format!(
                "entry {} was altered or moved: its content does not match its \
                 recorded hash",
                entry.seq
            ),
        ));
    }
    Ok(recomputed)
}

/// The stored head: readable, of the size replayed and with the root recomputed.
fn check_head(
    head: std::result::Result<AuditHead, String>,
    replayed: Replayed,
) -> std::result::Result<(), AuditProblem> {
    let expected = replayed.entries;
    let head = head.map_err(|message| problem(None, message))?;
    if head.size != expected {
        return Err(problem(
            Some(expected.min(head.size)),
            format!(
                "the log head records {} entries but {expected} are stored",
                head.size
            ),
        ));
    }
    if head.root != replayed.range.root() {
        return Err(problem(
            None,
            "the log head's root does not match the entries".to_owned(),
        ));
    }
    Ok(())
}

impl crate::Cista {
    /// Calls `visit` with every audit entry, oldest first, reading the log a page at a time
    /// (the whole log is never in memory at once): for the scans that answer subject access
    /// requests and assess incidents.
    /// Visits `org`'s entries with `at` in `window`, in order, a page at a time.
    pub(crate) async fn for_each_org_audit_entry(
        &self,
        org: OrgId,
        window: (Timestamp, Timestamp),
        mut visit: impl FnMut(crate::ports::AuditEntry) + Send,
    ) -> crate::Result<()> {
        const PAGE: u32 = 5_000;
        let mut next = 0;
        loop {
            let page = self
                .store()
                .org_audit_entries(org, window, next, PAGE)
                .await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            next = last.seq + 1;
            page.into_iter().for_each(&mut visit);
        }
    }

    /// Visits, in order, every entry `actor` made or whose details contain `text` (read in
    /// pages, filtered by the database: see `AuditLog::audit_entries_naming`).
    pub(crate) async fn for_each_audit_entry_naming(
        &self,
        (actor, text): (&str, &str),
        mut visit: impl FnMut(crate::ports::AuditEntry) + Send,
    ) -> crate::Result<()> {
        const PAGE: u32 = 5_000;
        let mut next = 0;
        loop {
            let page = self
                .store()
                .audit_entries_naming((actor, text), next, PAGE)
                .await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            next = last.seq + 1;
            page.into_iter().for_each(&mut visit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leaf_encoding_is_unambiguous_and_position_bound() {
        let at = Timestamp::parse_rfc3339("2026-11-22T12:00:00Z").unwrap();
        let a = leaf_data(1, &at, "operator:x\",\"y", None, "k", "{}");
        let b = leaf_data(1, &at, "operator:x", Some(OrgId::from_i64(5)), "k", "{}");
        assert_ne!(a, b);
        assert_ne!(
            merkle::leaf_hash(&leaf_data(1, &at, "a", None, "k", "{}")),
            merkle::leaf_hash(&leaf_data(2, &at, "a", None, "k", "{}"))
        );
        assert_eq!(
            String::from_utf8(leaf_data(0, &at, "system", None, "k", "{}")).unwrap(),
            r#"["cista-audit/1",0,"2026-11-22T12:00:00.000000Z","system",null,"k","{}"]"#
        );
    }
}
