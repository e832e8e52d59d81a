//! The person vault, seen from the core: each person's fields sealed under that person's own
//! data key (wrapped by the key provider), lookups through blind indexes, the one audited
//! function through which staff read personal data, and erasure by destroying the key.

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::ports::{Account, AccountStatus, Channel, Membership, VaultPerson};
use crate::{Action, Actor, Cista, Error, OrgAction, Result};
use cista_crypto::envelope::aad;
use cista_crypto::{DataKey, KekId, Sealed, WrappedKey};
use cista_types::{Email, OrgId, PersonName, Phone, Role, SubjectCode, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A person's personal fields. Each value redacts itself in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonFields {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

impl PersonFields {
    /// Words an attacker would try first in this person's password.
    pub fn guessable_words(&self) -> Vec<String> {
        let mut words = vec![
            self.first_name.as_str().to_lowercase(),
            self.last_name.as_str().to_lowercase(),
        ];
        if let Some(email) = &self.email {
            words.push(email.normalized());
            if let Some((local, _)) = email.normalized().split_once('@') {
                words.push(local.to_owned());
            }
        }
        words
    }
}

/// Whether `subject` is the last member (of those listed with their roles) who can administer
/// the organization: its only organization owner, or, where it has no owner, its only
/// administrator. Such a person is neither erased nor shown an erase button.
pub fn last_administrator(
    members: impl IntoIterator<Item = (SubjectCode, Role)>,
    subject: SubjectCode,
) -> bool {
    let members: Vec<(SubjectCode, Role)> = members.into_iter().collect();
    let Some((_, role)) = members.iter().find(|(s, _)| *s == subject) else {
        return false;
    };
    let owners = members.iter().filter(|(_, r)| *r == Role::Owner).count();
    match role {
        Role::Owner => owners <= 1,
        Role::Admin => {
            owners == 0 && members.iter().filter(|(_, r)| *r == Role::Admin).count() <= 1
        }
        _ => false,
    }
}

#[derive(Serialize, Deserialize)]
struct SealedFields {
    first_name: PersonName,
    last_name: PersonName,
    email: Option<Email>,
    phone: Option<Phone>,
}

pub(crate) fn key_aad(subject: SubjectCode) -> Vec<u8> {
    aad("vault_people", "wrapped_key", &subject.to_string())
}

fn fields_aad(subject: SubjectCode) -> Vec<u8> {
    aad("vault_people", "fields", &subject.to_string())
}

impl Cista {
    pub(crate) fn email_index(&self, email: &Email) -> Result<[u8; 32]> {
        Ok(cista_crypto::blind_index::blind_index(
            self.instance_keys().blind_index.expose(),
            "email",
            &email.normalized(),
        )?)
    }

    pub(crate) fn phone_index(&self, phone: &Phone) -> Result<[u8; 32]> {
        Ok(cista_crypto::blind_index::blind_index(
            self.instance_keys().blind_index.expose(),
            "phone",
            phone.as_str(),
        )?)
    }

    /// Seals a person's fields under a fresh data key of their own.
    pub(crate) async fn seal_person(
        &self,
        subject: SubjectCode,
        fields: &PersonFields,
    ) -> Result<VaultPerson> {
        let key = DataKey::generate(self.rng().as_ref());
        let wrapped = self.key_provider().wrap(&key, &key_aad(subject)).await?;
        let plain = serde_json::to_vec(&SealedFields {
            first_name: fields.first_name.clone(),
            last_name: fields.last_name.clone(),
            email: fields.email.clone(),
            phone: fields.phone.clone(),
        })
        .map_err(|e| Error::Internal(e.to_string()))?;
        let sealed = key.seal(self.rng().as_ref(), &fields_aad(subject), &plain)?;
        let now = self.clock().now();
        Ok(VaultPerson {
            subject,
            kek_id: wrapped.kek.as_str().to_owned(),
            wrapped_key: wrapped.ciphertext,
            fields: sealed.into_bytes(),
            email_index: fields
                .email
                .as_ref()
                .map(|e| self.email_index(e))
                .transpose()?,
            phone_index: fields
                .phone
                .as_ref()
                .map(|p| self.phone_index(p))
                .transpose()?,
            created_at: now,
            updated_at: now,
        })
    }

    pub(crate) async fn open_person(&self, person: &VaultPerson) -> Result<PersonFields> {
        let wrapped = WrappedKey {
            kek: KekId::new(person.kek_id.clone()),
            ciphertext: person.wrapped_key.clone(),
        };
        let key = self
            .key_provider()
            .unwrap(&wrapped, &key_aad(person.subject))
            .await?;
        let plain = key.open(
            &fields_aad(person.subject),
            &Sealed::from_bytes(person.fields.clone()),
        )?;
        let fields: SealedFields = serde_json::from_slice(&plain)
            .map_err(|_| Error::Integrity("a vault record is malformed".to_owned()))?;
        Ok(PersonFields {
            first_name: fields.first_name,
            last_name: fields.last_name,
            email: fields.email,
            phone: fields.phone,
        })
    }

    /// A person's fields for the system's own use (delivering a message to them, greeting
    /// them on their own pages). Never shown to anyone else: staff go through `read_people`.
    pub(crate) async fn own_fields(&self, subject: SubjectCode) -> Result<PersonFields> {
        if self.vault().tombstone(subject).await?.is_some() {
            return Err(Error::PersonErased);
        }
        let person = self.vault().person(subject).await?.ok_or(Error::NotFound {
            what: "this person",
        })?;
        self.open_person(&person).await
    }

    pub(crate) async fn subject_by_email(&self, email: &Email) -> Result<Option<SubjectCode>> {
        self.vault()
            .subject_by_email(&self.email_index(email)?)
            .await
    }

    /// The subject of the person with this email address, for the operator.
    pub async fn subject_for_email(
        &self,
        actor: &Actor,
        email: &str,
    ) -> Result<Option<SubjectCode>> {
        actor.authorize(Action::FindPeople)?;
        self.subject_by_email(&Email::parse_lookup(email)?).await
    }

    /// The one way staff read personal data: checks the right, reads, and records in the audit
    /// log who read whose data and why, in one entry per read.
    pub async fn read_people(
        &self,
        actor: &Actor,
        org: OrgId,
        subjects: &[SubjectCode],
        purpose: &str,
    ) -> Result<Vec<(SubjectCode, Option<PersonFields>)>> {
        actor.authorize_in(org, OrgAction::ViewPeople)?;
        // Two reads whatever the number of people (a page of 4,300 owners made 8,600).
        let members = self.member_subjects(org).await?;
        if !subjects.iter().all(|s| members.contains(s)) {
            return Err(Error::NotFound {
                what: "this person",
            });
        }
        let stored: BTreeMap<SubjectCode, VaultPerson> = self
            .vault()
            .people(subjects)
            .await?
            .into_iter()
            .map(|p| (p.subject, p))
            .collect();
        let mut out = Vec::with_capacity(subjects.len());
        for subject in subjects {
            let fields = match stored.get(subject) {
                Some(person) => Some(self.open_person(person).await?),
                None => None,
            };
            out.push((*subject, fields));
        }
        let codes: Vec<String> = subjects.iter().map(ToString::to_string).collect();
        self.store()
            .append_audit(NewAuditEntry::new(
                self.clock().now(),
                actor,
                Some(org),
                AuditKind::PersonRead,
                serde_json::json!({ "subjects": codes, "purpose": purpose }),
            ))
            .await?;
        Ok(out)
    }

    /// The subject codes of the organization's members (one read).
    pub(crate) async fn member_subjects(&self, org: OrgId) -> Result<BTreeSet<SubjectCode>> {
        Ok(self
            .store()
            .members(org)
            .await?
            .into_iter()
            .map(|m| m.subject)
            .collect())
    }

    /// Where to deliver a message to `subject` on `channel`, and the first name to greet them
    /// with; `None` if the person has no such address, or was erased (or their erasure has
    /// begun).
    pub async fn delivery_address(
        &self,
        actor: &Actor,
        subject: SubjectCode,
        channel: Channel,
    ) -> Result<Option<(String, PersonName)>> {
        actor.authorize(Action::DeliverMessages)?;
        // An erasure marks the account before it destroys the vault entry and drops the
        // person's queued messages: a message picked up after the mark (a sign-in code asked
        // for as the erasure began, say) is not sent. One picked up just before may be.
        let account = self.store().account(subject).await?;
        if account.is_some_and(|a| a.status == AccountStatus::Erased) {
            return Ok(None);
        }
        let fields = match self.own_fields(subject).await {
            Ok(fields) => fields,
            Err(Error::PersonErased | Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let address = match channel {
            Channel::Email => fields.email.map(|e| e.as_str().to_owned()),
            Channel::Sms => fields.phone.map(|p| p.as_str().to_owned()),
        };
        Ok(address.map(|a| (a, fields.first_name)))
    }

    /// Before staff erase someone who administers an organization: under each organization's
    /// lock (`lock_members`), refuse if they are its last administrator, otherwise make them a
    /// member, in one audited transaction. Checked and changed together, so an erasure racing
    /// another administrator's change of roles (two owners erasing or demoting each other at
    /// once) cannot leave an organization with nobody to administer it; and done before the
    /// vault erasure, which cannot share a store transaction. If the erasure then fails, the
    /// person stays a member and the erasure can be asked again.
    async fn step_down_before_erasure(
        &self,
        actor: &Actor,
        subject: SubjectCode,
        memberships: &[Membership],
    ) -> Result<()> {
        let administers = |role: Role| matches!(role, Role::Owner | Role::Admin);
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        let mut changed = Vec::new();
        for m in memberships {
            let members = tx.lock_members(m.org).await?;
            // The role read under the lock, as `change_role` does: one given since the check
            // above counts.
            let role_now = members
                .iter()
                .find(|x| x.subject == subject)
                .map(|x| x.role);
            if role_now.is_some_and(|role| !may_erase_in(actor, m.org, role)) {
                return Err(Error::Forbidden {
                    action: ERASE_BEYOND_REACH,
                });
            }
            if last_administrator(members.iter().map(|x| (x.subject, x.role)), subject) {
                return Err(Error::Conflict(
                    "this is the organization's last administrator: give someone else \
                     the role first"
                        .to_owned(),
                ));
            }
            if let Some(now_role) = role_now.filter(|r| administers(*r)) {
                match tx.set_role(m.org, subject, Role::Member).await {
                    Ok(()) => {
                        changed.push(serde_json::json!({ "org": m.org.as_i64(), "from": now_role }))
                    }
                    // Marked by an erasure begun before (the operator's, stopped part way):
                    // no role changes any more, and the memberships end in the last step.
                    // The refusal is the store's own check, so the transaction goes on.
                    Err(Error::PersonErased) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        tx.delete_sessions_of(subject).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            memberships.first().map(|m| m.org),
            AuditKind::RoleChanged,
            serde_json::json!({
                "subject": subject.to_string(),
                "to": Role::Member,
                "because": "erasure",
                "changes": changed,
            }),
        ))
        .await?;
        Ok(())
    }

    /// Erases a person: destroys their key and fields in the vault (leaving a tombstone that
    /// is never removed), then ends their sessions, memberships, credentials and queued
    /// messages. Allowed to the operator, and to staff who may erase people and give the
    /// person's role in *every* organization the person belongs to: the erasure reaches all
    /// of them, so an administrator of one organization never erases a member of another (one
    /// person can belong to several), nor an owner of their own (administrators do not
    /// touch owners, as with roles). `forbidden` otherwise; the operator erases at the
    /// command line (`cista erase`).
    ///
    /// Three steps, because the vault may be a database of its own: a transaction that takes
    /// the person's lock, checks the right to erase against the memberships it then reads,
    /// and marks the account erased (no organization links the person after that:
    /// `insert_membership` refuses); the vault; then a transaction that ends the memberships.
    /// Stopped between steps, a second call finishes the erasure on the same right.
    pub async fn erase_person(&self, actor: &Actor, subject: SubjectCode) -> Result<()> {
        let memberships = self.store().memberships_of(subject).await?;
        may_erase(actor, &memberships)?;
        // Staff keep their organization running: nobody erases themselves from a page, nor
        // the last person who can administer an organization (the operator, at the command
        // line, answers erasure requests and may).
        if let Some(me) = actor.person() {
            if me.subject == subject {
                return Err(Error::Conflict(
                    "you cannot erase yourself: ask another administrator".to_owned(),
                ));
            }
            self.step_down_before_erasure(actor, subject, &memberships)
                .await?;
        }
        let known = self.store().account(subject).await?.is_some()
            || self.vault().person(subject).await?.is_some();
        if !known && self.vault().tombstone(subject).await?.is_none() {
            return Err(Error::NotFound {
                what: "this person",
            });
        }
        let now = self.clock().now();
        let memberships = self.begin_erasure(actor, subject, now).await?;
        // The vault next: once this returns, the personal data is unreadable everywhere.
        self.vault().erase_person(subject, now).await?;
        let mut tx = self.store().begin().await?;
        tx.delete_sessions_of(subject).await?;
        tx.delete_credentials_of(subject).await?;
        tx.delete_recovery_codes_of(subject).await?;
        tx.delete_messages_to(subject).await?;
        // The account was marked in the first step and an erased account is never written
        // back, so there is nothing to write to it here (and no lock to take after the rows
        // above).
        let orgs = tx.delete_memberships_of(subject).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            memberships.first().map(|m| m.org),
            AuditKind::PersonErased,
            serde_json::json!({ "subject": subject.to_string(), "memberships": orgs }),
        ))
        .await?;
        Ok(())
    }

    /// The erasure's first step: under the person's lock, the right to erase checked again
    /// against the memberships as they are now (an organization may have linked the person
    /// since the first look), then the account marked erased, its password and second
    /// factor gone, with a `person.erasure_begun` entry. An account already marked (an
    /// erasure stopped part way, or a second call) is left as it is. Returns the memberships
    /// read.
    async fn begin_erasure(
        &self,
        actor: &Actor,
        subject: SubjectCode,
        now: Timestamp,
    ) -> Result<Vec<Membership>> {
        let mut tx = self.store().begin().await?;
        let mut account = tx.lock_account(subject).await?;
        if account.is_none() {
            // Someone the vault alone knows (a leftover of an invitation or import stopped
            // part way) has no row to lock, and a link that found them before this erasure
            // would give them an account and a membership after it. A row, marked below,
            // makes such a link wait and be refused, as for anyone else; one a link
            // inserted meanwhile is waited for and locked instead.
            tx.insert_account_if_absent(&Account::new_invited(subject, now))
                .await?;
            account = tx.lock_account(subject).await?;
        }
        let memberships = tx.memberships_of(subject).await?;
        may_erase(actor, &memberships)?;
        let Some(mut account) = account.filter(|a| a.status != AccountStatus::Erased) else {
            return Ok(memberships);
        };
        // Nothing else is written under the lock: a sign-in by link or code holds its
        // credential's row while it waits for the account's, so deleting credentials here
        // could close a cycle of locks. The sessions and links are ended after the vault;
        // meanwhile a session of an erased account is refused when used, and an erased
        // account is never written back to another status.
        account.status = AccountStatus::Erased;
        account.password_hash = None;
        account.totp_secret = None;
        account.totp_pending = None;
        tx.update_account(&account).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            memberships.first().map(|m| m.org),
            AuditKind::PersonErasureBegun,
            serde_json::json!({ "subject": subject.to_string() }),
        ))
        .await?;
        Ok(memberships)
    }
}

/// `forbidden` unless `actor` may erase a person who holds `memberships`: the operator
/// anyone, staff only someone in at least one organization and wholly within their reach.
fn may_erase(actor: &Actor, memberships: &[Membership]) -> Result<()> {
    let allowed = actor.may(Action::ErasePersonAnywhere)
        || (!memberships.is_empty()
            && memberships
                .iter()
                .all(|m| may_erase_in(actor, m.org, m.role)));
    if allowed {
        Ok(())
    } else {
        Err(Error::Forbidden {
            action: ERASE_BEYOND_REACH,
        })
    }
}

/// What staff are told when a person is beyond their reach to erase.
const ERASE_BEYOND_REACH: &str = "erase this person: they belong to an organization you do \
    not administer, or hold a role you cannot give (the operator can, with `cista erase`)";

/// Whether `actor` may erase someone holding `role` in `org`: the right to erase people there
/// and to give that role (so administrators never erase owners).
fn may_erase_in(actor: &Actor, org: OrgId, role: Role) -> bool {
    actor.may_in(org, OrgAction::ErasePerson) && actor.may_in(org, OrgAction::ChangeRole(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_owner_and_an_ownerless_organizations_last_admin_stay() {
        let code = SubjectCode::from_i64;
        let one_owner = [
            (code(1), Role::Owner),
            (code(2), Role::Admin),
            (code(3), Role::Member),
        ];
        assert!(last_administrator(one_owner, code(1)));
        assert!(!last_administrator(one_owner, code(2)));
        assert!(!last_administrator(one_owner, code(3)));
        assert!(!last_administrator(one_owner, code(9)));
        let two_owners = [(code(1), Role::Owner), (code(2), Role::Owner)];
        assert!(!last_administrator(two_owners, code(1)));
        let no_owner = [(code(2), Role::Admin), (code(3), Role::Member)];
        assert!(last_administrator(no_owner, code(2)));
        let two_admins = [(code(2), Role::Admin), (code(4), Role::Admin)];
        assert!(!last_administrator(two_admins, code(4)));
    }
}
