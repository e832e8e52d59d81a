//! Staff work inside an organization: finding it, listing its people (an audited read of
//! personal data), and changing roles. Owners stay: the last owner cannot be demoted.

use crate::platform::audit::{AuditKind, NewAuditEntry};
use crate::platform::people::PersonFields;
use crate::ports::{Account, AccountStatus, Membership, Organization};
use crate::{Actor, Cista, Error, OrgAction, Result};
use cista_types::{OrgId, OrgSlug, Role, SubjectCode};
use std::collections::BTreeMap;

/// One row of an organization's people page.
#[derive(Debug, Clone)]
pub struct PersonRow {
    pub subject: SubjectCode,
    pub role: Role,
    pub status: Option<AccountStatus>,
    pub second_factor: bool,
    /// `None` if the person was erased.
    pub fields: Option<PersonFields>,
}

impl Cista {
    /// The organization a URL names, if the actor may see it. An organization the actor has
    /// no role in is refused the same way whether or not it exists.
    pub async fn organization_for(&self, actor: &Actor, slug: &str) -> Result<Organization> {
        let refused = Error::Forbidden {
            action: OrgAction::ViewOrganization.describe(),
        };
        let Ok(slug) = OrgSlug::parse(slug) else {
            return Err(refused);
        };
        let Some(org) = self.store().organization_by_slug(&slug).await? else {
            return Err(refused);
        };
        if !actor.may_in(org.id, OrgAction::ViewOrganization) {
            return Err(refused);
        }
        Ok(org)
    }

    /// Everyone in the organization with their personal data, read through the audited vault
    /// function (one audit entry per view).
    pub async fn organization_people(&self, actor: &Actor, org: OrgId) -> Result<Vec<PersonRow>> {
        let members = self.members_by_name(actor, org).await?;
        self.person_rows(members).await
    }

    /// The organization's members with their personal data (`None`: erased), by role and then
    /// last name: one audited read of everyone's data ("people page"), since the order needs
    /// every name. Needs the right to see people.
    pub(crate) async fn members_by_name(
        &self,
        actor: &Actor,
        org: OrgId,
    ) -> Result<Vec<(Membership, Option<PersonFields>)>> {
        actor.authorize_in(org, OrgAction::ViewPeople)?;
        let members = self.store().members(org).await?;
        let subjects: Vec<SubjectCode> = members.iter().map(|m| m.subject).collect();
        let fields = self
            .read_people(actor, org, &subjects, "people page")
            .await?;
        let mut rows: Vec<(Membership, Option<PersonFields>)> = members
            .into_iter()
            .zip(fields)
            .map(|(member, (_, fields))| (member, fields))
            .collect();
        let last_name = |fields: &Option<PersonFields>| {
            fields.as_ref().map(|f| f.last_name.as_str().to_lowercase())
        };
        // The subject code last, so that namesakes keep one order from page to page.
        rows.sort_by_cached_key(|(member, fields)| {
            (member.role, last_name(fields), member.subject)
        });
        Ok(rows)
    }

    /// The people page's rows for these members, in their order, with each one's account
    /// (one read for them all: call it with the page's members, not the whole organization's).
    pub(crate) async fn person_rows(
        &self,
        members: Vec<(Membership, Option<PersonFields>)>,
    ) -> Result<Vec<PersonRow>> {
        let subjects: Vec<SubjectCode> = members.iter().map(|(m, _)| m.subject).collect();
        let accounts: BTreeMap<SubjectCode, Account> = self
            .store()
            .accounts(&subjects)
            .await?
            .into_iter()
            .map(|a| (a.subject, a))
            .collect();
        Ok(members
            .into_iter()
            .map(|(member, fields)| {
                let account = accounts.get(&member.subject);
                PersonRow {
                    subject: member.subject,
                    role: member.role,
                    status: account.map(|a| a.status),
                    second_factor: account.is_some_and(|a| a.totp_secret.is_some()),
                    fields,
                }
            })
            .collect())
    }

    /// Gives a member another role. Needs the right to give the new role and to act on the
    /// current one (an administrator cannot touch an owner); nobody changes their own role, and
    /// the last person who can administer the organization keeps that power (`Conflict`).
    /// The member's sessions end, so the next sign-in applies the new role's rules.
    pub async fn change_role(
        &self,
        actor: &Actor,
        org: OrgId,
        subject: SubjectCode,
        role: Role,
    ) -> Result<()> {
        actor.authorize_in(org, OrgAction::ChangeRole(role))?;
        // Staff do not change their own role from a page (a slip of the select would lock them
        // out of the page they are on); another administrator, or the operator, does it.
        if actor.person().is_some_and(|me| me.subject == subject) {
            return Err(Error::Conflict(
                "you cannot change your own role: ask another administrator".to_owned(),
            ));
        }
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        // Decided on the members as they are under the organization's lock, so that a change
        // made meanwhile (two administrators demoting each other at once) is seen.
        let members = tx.lock_members(org).await?;
        let current = members
            .iter()
            .find(|m| m.subject == subject)
            .ok_or(Error::NotFound {
                what: "this person",
            })?;
        actor.authorize_in(org, OrgAction::ChangeRole(current.role))?;
        if current.role == role {
            return Ok(());
        }
        // The last person who can administer the organization keeps that power: its only
        // organization owner, or where it has none, its only administrator (who may still be
        // made organization owner).
        if crate::platform::people::last_administrator(
            members.iter().map(|m| (m.subject, m.role)),
            subject,
        ) && role != Role::Owner
        {
            return Err(Error::Conflict(
                "an organization needs someone to administer it: give someone else the role first"
                    .to_owned(),
            ));
        }
        tx.set_role(org, subject, role).await?;
        tx.delete_sessions_of(subject).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            AuditKind::RoleChanged,
            serde_json::json!({
                "subject": subject.to_string(),
                "from": current.role,
                "to": role,
            }),
        ))
        .await?;
        Ok(())
    }
}
