//! Applying a previewed import: new people go to the vault first, then every unit, owner link,
//! account and membership change commits in one transaction with one audit entry; the new
//! people are discarded from the vault again if the transaction fails.

use super::{ImportPlan, Imported, PersonRef, RosterRow, Target};
use crate::platform::audit::NewAuditEntry;
use crate::platform::people::PersonFields;
use crate::ports::{Account, ConsentStatus, Membership, StoreTx, Unit, UnitOwner};
use crate::products::voting::audit::VotingAuditKind;
use crate::{Actor, Cista, Error, Result};
use cista_types::{OrgId, Role, SubjectCode, Timestamp, UnitId};
use std::collections::BTreeSet;

/// Counts the rows written and reports them (done, total).
struct Progress<'p> {
    done: u64,
    total: u64,
    report: &'p (dyn Fn(u64, u64) + Send + Sync),
}

impl Progress<'_> {
    /// One more row written.
    fn tick(&mut self) {
        self.done += 1;
        (self.report)(self.done, self.total);
    }
}

/// What the transaction writing an import needs at every unit.
struct Writing<'a> {
    org: OrgId,
    now: Timestamp,
    /// How consent set by this import is recorded.
    method: String,
    /// The subjects made for the plan's new people, in order.
    new_subjects: &'a [SubjectCode],
    /// The organization's members before the import.
    members: BTreeSet<SubjectCode>,
    /// Those this import made members.
    joined: BTreeSet<SubjectCode>,
}

impl Cista {
    /// Applies a previewed plan, if the file and roster are still what the preview saw:
    /// new people go to the vault, then every unit, owner link, account and membership
    /// change commits in one transaction with one audit entry. `progress` is called as rows
    /// are prepared (done, total).
    pub async fn apply_import(
        &self,
        actor: &Actor,
        org: OrgId,
        bytes: &[u8],
        fingerprint: &str,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<Imported> {
        let plan = self.plan_import(actor, org, bytes).await?;
        if plan.fingerprint != fingerprint.trim() {
            return Err(Error::Conflict(
                "the file or the units on file changed since the preview; review the new preview"
                    .to_owned(),
            ));
        }
        let mut progress = Progress {
            done: 0,
            total: plan.work(),
            report: progress,
        };
        let now = self.clock().now();

        // New people first, in the vault (which may be another database).
        let mut new_subjects = Vec::with_capacity(plan.new_people.len());
        let created = self
            .create_people(&plan.new_people, &mut new_subjects, &mut progress)
            .await;
        if let Err(e) = created {
            self.discard_people(new_subjects).await;
            return Err(e);
        }
        let written = self
            .write_import(actor, org, &plan, &new_subjects, now, &mut progress)
            .await;
        match written {
            Ok(summary) => Ok(summary),
            Err(e) => {
                self.discard_people(new_subjects).await;
                Err(e)
            }
        }
    }

    /// Seals and stores the plan's new people in the vault, noting each subject made.
    async fn create_people(
        &self,
        rows: &[RosterRow],
        new_subjects: &mut Vec<SubjectCode>,
        progress: &mut Progress<'_>,
    ) -> Result<()> {
        for row in rows {
            let subject = SubjectCode::new(self.rng().as_ref());
            let fields = PersonFields {
                first_name: row.first_name.clone(),
                last_name: row.last_name.clone(),
                email: row.email.clone(),
                phone: row.phone.clone(),
            };
            let sealed = self.seal_person(subject, &fields).await?;
            self.vault()
                .insert_person(&sealed)
                .await
                .map_err(|e| match e {
                    Error::Conflict(_) => Error::Conflict(format!(
                        "line {}: someone with this email address was added at the same moment; \
                     preview again",
                        row.line
                    )),
                    other => other,
                })?;
            new_subjects.push(subject);
            progress.tick();
        }
        Ok(())
    }

    /// Removes people this import put in the vault, when the import fails after all.
    async fn discard_people(&self, subjects: Vec<SubjectCode>) {
        for s in subjects {
            let _ = self.vault().discard_person(s).await;
        }
    }

    /// Writes the plan in one transaction with its audit entry.
    async fn write_import(
        &self,
        actor: &Actor,
        org: OrgId,
        plan: &ImportPlan,
        new_subjects: &[SubjectCode],
        now: Timestamp,
        progress: &mut Progress<'_>,
    ) -> Result<Imported> {
        let mut tx = self.store().begin().await?;
        let mut summary = Imported {
            units_added: plan.units_added.len(),
            units_changed: plan.units_changed.len(),
            units_retired: plan.units_retired.len(),
            owners_added: plan.owners_added.len(),
            owners_removed: plan.owners_removed.len(),
            people_new: new_subjects.len(),
        };
        for subject in new_subjects {
            tx.insert_account(&Account::new_invited(*subject, now))
                .await?;
        }
        let members = self.member_subjects(org).await?;
        let mut writing = Writing {
            org,
            now,
            method: format!("members import by {}", actor.audit_name()),
            new_subjects,
            members,
            joined: BTreeSet::new(),
        };
        for target in &plan.targets {
            let unit = self.write_unit(tx.as_mut(), &writing, target).await?;
            self.link_owners(tx.as_mut(), &mut writing, target, unit.id)
                .await?;
            progress.tick();
        }
        for (unit, subject) in &plan.unlink {
            tx.voting().delete_unit_owner(*unit, *subject).await?;
        }
        for u in &plan.retire {
            let mut u = u.clone();
            u.retired_at = Some(now);
            tx.voting().update_unit(&u).await?;
            progress.tick();
        }
        summary.people_new = new_subjects.len();
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            VotingAuditKind::UnitsImported,
            serde_json::json!({
                "units_added": summary.units_added,
                "units_changed": summary.units_changed,
                "units_retired": summary.units_retired,
                "owners_added": summary.owners_added,
                "owners_removed": summary.owners_removed,
                "people_new": summary.people_new,
                "file_sha256": plan.fingerprint,
            }),
        ))
        .await?;
        Ok(summary)
    }

    /// Updates (and restores) a unit on file, or adds a new one, as the file has it.
    async fn write_unit(
        &self,
        tx: &mut dyn StoreTx,
        writing: &Writing<'_>,
        target: &Target,
    ) -> Result<Unit> {
        let Target {
            file_unit,
            existing,
            ..
        } = target;
        let now = writing.now;
        Ok(match existing {
            Some(u) => {
                let mut u = u.clone();
                u.label = file_unit.label.clone();
                u.weight = file_unit.weight;
                u.retired_at = None;
                if let Some(c) = file_unit.consent.filter(|c| *c != u.consent) {
                    u.consent = c;
                    u.consent_at = Some(now);
                    u.consent_method = Some(writing.method.clone());
                }
                tx.voting().update_unit(&u).await?;
                u
            }
            None => {
                let consent = file_unit.consent.unwrap_or(ConsentStatus::None);
                let u = Unit {
                    id: UnitId::new(self.rng().as_ref()),
                    org: writing.org,
                    label: file_unit.label.clone(),
                    weight: file_unit.weight,
                    consent,
                    consent_at: (consent != ConsentStatus::None).then_some(now),
                    consent_method: (consent != ConsentStatus::None)
                        .then(|| writing.method.clone()),
                    created_at: now,
                    retired_at: None,
                };
                tx.voting().insert_unit(&u).await?;
                u
            }
        })
    }

    /// Links a unit's owners as the file has them, making each new to the organization a
    /// member (with an account, if a known person has none).
    async fn link_owners(
        &self,
        tx: &mut dyn StoreTx,
        writing: &mut Writing<'_>,
        target: &Target,
        unit: UnitId,
    ) -> Result<()> {
        let current: Vec<UnitOwner> = match &target.existing {
            Some(u) => self.store().voting().owners_of(u.id).await?,
            None => Vec::new(),
        };
        let now = writing.now;
        for (person, designated) in &target.owners {
            let subject = match person {
                PersonRef::Known(s) => *s,
                PersonRef::New(i) => *writing
                    .new_subjects
                    .get(*i)
                    .ok_or_else(|| Error::Internal("a new person is missing".to_owned()))?,
            };
            if !writing.members.contains(&subject) && writing.joined.insert(subject) {
                // A known person may have no account (left by an invitation stopped part
                // way): one is made in this transaction, unless they have one (an erased
                // one included, which the membership below then refuses: `person_erased`).
                if matches!(person, PersonRef::Known(_)) {
                    tx.insert_account_if_absent(&Account::new_invited(subject, now))
                        .await?;
                }
                tx.insert_membership(&Membership {
                    org: writing.org,
                    subject,
                    role: Role::Member,
                    created_at: now,
                })
                .await?;
            }
            let link = UnitOwner {
                unit,
                subject,
                designated: *designated,
            };
            match current.iter().find(|o| o.subject == subject) {
                Some(o) if o.designated == *designated => {}
                Some(_) => tx.voting().update_unit_owner(&link).await?,
                None => tx.voting().insert_unit_owner(&link).await?,
            }
        }
        Ok(())
    }
}
