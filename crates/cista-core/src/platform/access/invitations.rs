//! Invitations: someone new is added to an organization with a role and gets a single-use
//! link (72 h) to choose a password; someone Cista already knows gets an invitation to join
//! (a `join` link), and becomes a member only by accepting it. A new person's fields go to the
//! vault; the membership or link, the message and the audit entry commit together.

use crate::platform::access::requesters::Requester;
use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::platform::notices::Notice;
use crate::platform::people::PersonFields;
use crate::ports::{
    Account, AccountStatus, AttemptKind, Credential, CredentialPurpose, Membership,
};
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_crypto::token::new_token;
use cista_types::{Email, OrgId, PersonName, Phone, Role, SubjectCode, Timestamp};

/// Who to invite.
#[derive(Debug, Clone)]
pub struct Invitee {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: Role,
}

/// How many invitations to join reach one person within `JOIN_INVITATION_WINDOW`, from all
/// organizations together; more are refused (`rate_limited`).
const JOIN_INVITATIONS_PER_WINDOW: u64 = 5;
const JOIN_INVITATION_WINDOW: time::Duration = time::Duration::hours(1);

/// An invitation to join waiting for its person's answer, as the organization's staff see it:
/// nothing of what other organizations recorded of the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingJoin {
    /// Whom it was sent to (the form that withdraws it names them by this).
    pub subject: SubjectCode,
    pub role: Role,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What an invitation did.
#[derive(Debug, Clone)]
pub struct Invited {
    pub subject: SubjectCode,
    /// The one-time link: to choose a password (someone new), or to join (someone known). It
    /// is also sent by email; only the command line shows it.
    pub link: Option<String>,
    pub new_person: bool,
}

impl Cista {
    /// An invitation link to `org` and its credential: a `join` link (`/j/…`) giving `joins`
    /// when accepted, or, without one, a link to choose a first password (`/i/…`) for a
    /// membership made with it.
    fn invitation_credential(
        &self,
        subject: SubjectCode,
        org: OrgId,
        joins: Option<Role>,
        now: Timestamp,
    ) -> (Credential, String) {
        let token = new_token(self.rng().as_ref());
        let (purpose, prefix) = match joins {
            Some(_) => (CredentialPurpose::Join, "j"),
            None => (CredentialPurpose::Invite, "i"),
        };
        let link = self.link(prefix, &token);
        let credential = Credential {
            token_hash: token.hash,
            purpose,
            subject,
            org: Some(org),
            code_hash: None,
            created_at: now,
            expires_at: now.plus(self.settings().invite_ttl),
            used_at: None,
            attempts: 0,
            role: joins,
        };
        (credential, link)
    }

    /// Invites a person to `org` with a role.
    pub async fn invite(&self, actor: &Actor, org: OrgId, invitee: Invitee) -> Result<Invited> {
        actor.authorize_in(org, OrgAction::Invite(invitee.role))?;
        let organization = self.existing_organization(org).await?;
        let organization = organization.name.to_string();
        let now = self.clock().now();
        match self.subject_by_email(&invitee.email).await? {
            Some(subject) => {
                self.invite_known_person(actor, org, &organization, &invitee, subject, now)
                    .await
            }
            None => {
                self.invite_new_person(actor, org, &organization, &invitee, now)
                    .await
            }
        }
    }

    /// Invites someone Cista already knows (from another organization) to join `org`: no
    /// membership yet, but a `join` link (as long as an invitation link lasts) that the
    /// person accepts, or ignores. Until they accept, this organization's staff see nothing
    /// that others recorded of them, and nothing here differs with their account's state
    /// (active, still to choose a password, or disabled: the link then does not work). A new
    /// invitation to the same organization replaces an unused earlier one; invitations to
    /// other organizations stay. `conflict` if the person is already a member; `rate_limited`
    /// past five invitations to join in an hour for one person.
    async fn invite_known_person(
        &self,
        actor: &Actor,
        org: OrgId,
        organization: &str,
        invitee: &Invitee,
        subject: SubjectCode,
        now: Timestamp,
    ) -> Result<Invited> {
        let already =
            || Error::Conflict("this person is already a member of this organization".to_owned());
        // Each invitation emails the person, and staff of any organization may invite any
        // address: a budget keeps re-invitations from filling their mailbox.
        let sent = self
            .store()
            .credentials_issued_since(
                subject,
                CredentialPurpose::Join,
                now.plus(-JOIN_INVITATION_WINDOW),
            )
            .await?;
        if sent >= JOIN_INVITATIONS_PER_WINDOW {
            return Err(Error::RateLimited {
                retry_after_secs: JOIN_INVITATION_WINDOW.whole_seconds().unsigned_abs(),
            });
        }
        let mut tx = self.store().begin().await?;
        // Known to the vault alone (an invitation or import stopped part way): the account
        // the credential's foreign key needs, unless there is one.
        tx.insert_account_if_absent(&Account::new_invited(subject, now))
            .await?;
        // The earlier link's row before the person's (the order an accept takes them in).
        tx.revoke_join_invitations(subject, org, now).await?;
        // Under the person's lock, as for a link: once an erasure has marked them, no
        // invitation is made (`person_erased`); one made just before is deleted with the rest.
        let erased = tx
            .lock_account(subject)
            .await?
            .is_some_and(|a| a.status == AccountStatus::Erased);
        if erased {
            return Err(Error::PersonErased);
        }
        // A member already (read under the lock, so an earlier invitation accepted while this
        // one waited counts too): nothing to invite to.
        if tx
            .memberships_of(subject)
            .await?
            .iter()
            .any(|m| m.org == org)
        {
            return Err(already());
        }
        let (credential, link) = self.invitation_credential(subject, org, Some(invitee.role), now);
        tx.insert_credential(&credential).await?;
        let notice = Notice::JoinInvitation {
            organization: organization.to_owned(),
            role: invitee.role.label().to_owned(),
            link: link.clone(),
            expires_at: credential.expires_at,
        };
        tx.enqueue(&self.message(subject, &notice)?).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::JoinInvited,
            serde_json::json!({ "subject": subject.to_string(), "role": invitee.role }),
        ))
        .await?;
        Ok(Invited {
            subject,
            link: Some(link),
            new_person: false,
        })
    }

    /// The organization's invitations to join still waiting for an answer, oldest first
    /// (`forbidden` without the right to see its people).
    pub async fn pending_join_invitations(
        &self,
        actor: &Actor,
        org: OrgId,
    ) -> Result<Vec<PendingJoin>> {
        actor.authorize_in(org, OrgAction::ViewPeople)?;
        let now = self.clock().now();
        Ok(self
            .store()
            .pending_join_invitations(org, now)
            .await?
            .into_iter()
            .filter_map(|c| {
                Some(PendingJoin {
                    subject: c.subject,
                    role: c.role?,
                    sent_at: c.created_at,
                    expires_at: c.expires_at,
                })
            })
            .collect())
    }

    /// Withdraws the organization's invitations to join waiting for `subject`'s answer: their
    /// links stop working, with a `member.join_withdrawn` entry. `not_found` if none is
    /// waiting (or all were answered meanwhile); `forbidden` without the right to invite with
    /// each one's role. Only the invitations checked are withdrawn: one another member of
    /// staff sends meanwhile stays.
    pub async fn withdraw_join_invitation(
        &self,
        actor: &Actor,
        org: OrgId,
        subject: SubjectCode,
    ) -> Result<()> {
        actor.authorize_in(org, OrgAction::ViewPeople)?;
        let now = self.clock().now();
        let pending: Vec<Credential> = self
            .store()
            .pending_join_invitations(org, now)
            .await?
            .into_iter()
            .filter(|c| c.subject == subject)
            .collect();
        for c in &pending {
            let role = c.role.ok_or_else(|| {
                Error::Integrity("an invitation to join names no role".to_owned())
            })?;
            actor.authorize_in(org, OrgAction::Invite(role))?;
        }
        let mut tx = self.store().begin().await?;
        let mut withdrawn = 0;
        for c in &pending {
            if tx
                .consume_credential(&c.token_hash, CredentialPurpose::Join, now)
                .await?
                .is_some()
            {
                withdrawn += 1;
            }
        }
        if withdrawn == 0 {
            return Err(Error::NotFound {
                what: "this invitation",
            });
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::JoinWithdrawn,
            serde_json::json!({ "subject": subject.to_string(), "withdrawn": withdrawn }),
        ))
        .await?;
        Ok(())
    }

    /// Invites someone new: their fields go to the vault, then the account, membership,
    /// invitation link, message and audit entry commit together (the vault record is removed
    /// again if they do not).
    async fn invite_new_person(
        &self,
        actor: &Actor,
        org: OrgId,
        organization: &str,
        invitee: &Invitee,
        now: Timestamp,
    ) -> Result<Invited> {
        let subject = SubjectCode::new(self.rng().as_ref());
        let fields = PersonFields {
            first_name: invitee.first_name.clone(),
            last_name: invitee.last_name.clone(),
            email: Some(invitee.email.clone()),
            phone: invitee.phone.clone(),
        };
        let person = self.seal_person(subject, &fields).await?;
        self.vault()
            .insert_person(&person)
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict(
                    "someone with this email address was invited at the same moment; try again"
                        .to_owned(),
                ),
                other => other,
            })?;
        let written = async {
            let mut tx = self.store().begin().await?;
            tx.insert_account(&Account::new_invited(subject, now))
                .await?;
            tx.insert_membership(&Membership {
                org,
                subject,
                role: invitee.role,
                created_at: now,
            })
            .await?;
            let (credential, link) = self.invitation_credential(subject, org, None, now);
            tx.insert_credential(&credential).await?;
            let notice = Notice::Invitation {
                organization: organization.to_owned(),
                role: invitee.role.label().to_owned(),
                link: link.clone(),
                expires_at: credential.expires_at,
            };
            tx.enqueue(&self.message(subject, &notice)?).await?;
            tx.commit(NewAuditEntry::new(
                now,
                actor,
                Some(org),
                AuditKind::PersonInvited,
                serde_json::json!({ "subject": subject.to_string(), "role": invitee.role }),
            ))
            .await?;
            Ok::<_, Error>(link)
        }
        .await;
        match written {
            Ok(link) => Ok(Invited {
                subject,
                link: Some(link),
                new_person: true,
            }),
            Err(e) => {
                // Nothing refers to the vault record yet: remove it rather than leave it.
                let _ = self.vault().discard_person(subject).await;
                Err(e)
            }
        }
    }

    /// Sends a fresh invitation link to someone who has not set a password yet; older links
    /// stop working. Staff use it from the people page; the link is returned for the command
    /// line only.
    pub async fn resend_invitation(
        &self,
        actor: &Actor,
        org: OrgId,
        subject: SubjectCode,
    ) -> Result<String> {
        actor.authorize_in(org, OrgAction::ResendInvitation)?;
        if self.store().membership(org, subject).await?.is_none() {
            return Err(Error::NotFound {
                what: "this person",
            });
        }
        match self.store().account(subject).await? {
            Some(a) if a.status == AccountStatus::Invited => {}
            _ => {
                return Err(Error::Conflict(
                    "this person has already set a password; they can reset it themselves"
                        .to_owned(),
                ));
            }
        }
        // Staff re-sends have no budget, so a link always comes back.
        self.send_new_invitation(actor, org, subject, None)
            .await?
            .ok_or_else(|| Error::Internal("a staff re-send was refused a budget".to_owned()))
    }

    /// `resend_invitation_by_email_from` for a requester that cannot say where it comes from.
    pub async fn resend_invitation_by_email(&self, email: &str) -> Result<()> {
        self.resend_invitation_by_email_from(email, &Requester::unknown())
            .await
    }

    /// The public "resend my invitation" form: answers the same whatever the address, and
    /// sends only to someone invited who has not set a password, within the requester's hourly
    /// budget. The links sent earlier stay valid (a stranger's request must not cancel the
    /// person's); setting a password with one ends the others.
    pub async fn resend_invitation_by_email_from(
        &self,
        email: &str,
        requester: &Requester,
    ) -> Result<()> {
        let Ok(email) = Email::parse_lookup(email) else {
            return Ok(());
        };
        let Some(subject) = self.subject_by_email(&email).await? else {
            return Ok(());
        };
        let invited = self
            .store()
            .account(subject)
            .await?
            .is_some_and(|a| a.status == AccountStatus::Invited);
        let Some(membership) = self
            .store()
            .memberships_of(subject)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(());
        };
        if !invited {
            return Ok(());
        }
        self.send_new_invitation(&Actor::Anonymous, membership.org, subject, Some(requester))
            .await?;
        Ok(())
    }

    /// Sends a fresh invitation link and returns it. Staff re-sending one (`requester` is
    /// `None`) replace the older links; a re-send through the public form (`requester` is who
    /// asked) leaves them valid and counts against that requester's budget, which is checked
    /// in the same transaction (`None` returned: over budget, nothing sent).
    async fn send_new_invitation(
        &self,
        actor: &Actor,
        org: OrgId,
        subject: SubjectCode,
        requester: Option<&Requester>,
    ) -> Result<Option<String>> {
        let organization = self.existing_organization(org).await?;
        let role = self
            .store()
            .membership(org, subject)
            .await?
            .map_or(cista_types::Role::Member, |m| m.role);
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        match requester {
            None => {
                tx.revoke_credentials(subject, CredentialPurpose::Invite, now)
                    .await?;
            }
            Some(requester) => {
                if !self
                    .within_send_budget(tx.as_mut(), subject, AttemptKind::Invitation, requester)
                    .await?
                {
                    return Ok(None);
                }
                tx.record_access_attempt(&self.attempt(
                    subject,
                    AttemptKind::Invitation,
                    requester,
                    now,
                ))
                .await?;
            }
        }
        let (credential, link) = self.invitation_credential(subject, org, None, now);
        tx.insert_credential(&credential).await?;
        let notice = Notice::Invitation {
            organization: organization.name.to_string(),
            role: role.label().to_owned(),
            link: link.clone(),
            expires_at: credential.expires_at,
        };
        tx.enqueue(&self.message(subject, &notice)?).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::InvitationResent,
            serde_json::json!({ "subject": subject.to_string() }),
        ))
        .await?;
        Ok(Some(link))
    }
}
