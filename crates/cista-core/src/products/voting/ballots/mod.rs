//! Building and publishing ballots: a draft is edited freely; publication validates it,
//! freezes the roll of eligible units, notifies every eligible owner (FL-11) and makes the
//! definition immutable (the database refuses to change it). A correction is a cancel and a
//! reissue, both audited. Reminders go to owners of units that have not voted.

use super::Ballot;
use super::VotingAction;
use super::VotingNotice;
use super::audit::VotingAuditKind;
use super::definition::{
    BallotDefinition, Contest, ContestKind, Secrecy, Weighting, validate_contest,
};
use crate::platform::audit::NewAuditEntry;
use crate::ports::{
    AccountStatus, BallotStatus, ConsentStatus, Credential, CredentialPurpose, EligibleUnit,
    StoreTx, StoredBallot, Unit,
};
use crate::{Actor, Cista, Error, Result};
use cista_crypto::token::new_token;
use cista_types::{BallotId, OrgId, Percent, SubjectCode, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use time::Duration;

mod reminders;

/// In a weighted secret ballot a ballot's weight is public (anyone can recount), so a weight
/// only one or two units have would reveal whose ballot it is. Each weight must be shared by
/// at least this many units.
pub const MIN_UNITS_PER_WEIGHT: usize = 3;

/// The settings a ballot is built with (everything but its contests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotSettings {
    pub title: String,
    pub description: String,
    pub opens_at: Timestamp,
    pub closes_at: Timestamp,
    pub secrecy: Secrecy,
    pub weighting: Weighting,
    pub quorum: Percent,
    pub min_turnout: Option<Percent>,
    pub paper: bool,
    pub notify_sms: bool,
    pub reminder_hours: Vec<u32>,
}

/// A contest as the builder receives it; ids are assigned by the ballot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContest {
    pub title: String,
    pub description: String,
    pub kind: ContestKind,
}

/// What publication did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub eligible_units: usize,
    pub notices: usize,
}

/// Who is told about a ballot, and about which of their units.
#[derive(Debug, Default)]
struct Recipient {
    online: Vec<String>,
    paper: Vec<String>,
    /// Their account is still invited: they have not chosen a password yet.
    invited: bool,
    /// A mobile number is on file for them (their vault entry has a phone lookup).
    has_phone: bool,
}

impl Cista {
    fn settings_into(definition: &mut BallotDefinition, s: BallotSettings) {
        definition.title = s.title.trim().to_owned();
        definition.description = s.description.trim().to_owned();
        definition.opens_at = s.opens_at;
        definition.closes_at = s.closes_at;
        definition.secrecy = s.secrecy;
        definition.weighting = s.weighting;
        definition.quorum = s.quorum;
        definition.min_turnout = s.min_turnout;
        definition.paper = s.paper;
        definition.notify_sms = s.notify_sms;
        let mut hours = s.reminder_hours;
        hours.sort_unstable_by(|a, b| b.cmp(a));
        hours.dedup();
        definition.reminder_hours = hours;
    }

    /// Starts a draft ballot in the organization's time zone.
    pub async fn create_ballot(
        &self,
        actor: &Actor,
        org: OrgId,
        settings: BallotSettings,
    ) -> Result<BallotId> {
        actor.authorize_in(org, VotingAction::ManageBallots)?;
        let organization = self.existing_organization(org).await?;
        let mut definition = BallotDefinition {
            title: String::new(),
            description: String::new(),
            opens_at: settings.opens_at,
            closes_at: settings.closes_at,
            time_zone: organization.time_zone.clone(),
            secrecy: settings.secrecy,
            weighting: settings.weighting,
            quorum: settings.quorum,
            min_turnout: None,
            paper: true,
            notify_sms: false,
            reminder_hours: Vec::new(),
            contests: Vec::new(),
        };
        Self::settings_into(&mut definition, settings);
        super::names::normalize_definition(&mut definition);
        definition.validate_draft()?;
        self.insert_draft(actor, org, &definition, None).await
    }

    async fn insert_draft(
        &self,
        actor: &Actor,
        org: OrgId,
        definition: &BallotDefinition,
        replaces: Option<BallotId>,
    ) -> Result<BallotId> {
        let json = definition.to_json()?;
        let now = self.clock().now();
        let ballot = StoredBallot {
            id: BallotId::new(self.rng().as_ref()),
            org,
            status: BallotStatus::Draft,
            definition_hash: BallotDefinition::hash_of(&json),
            definition: json,
            created_at: now,
            published_at: None,
            closed_at: None,
            cancelled_at: None,
            replaces,
            closes_at: definition.closes_at,
            shuffled_count: 0,
            results: None,
            checkpoint: None,
        };
        let mut tx = self.store().begin().await?;
        tx.voting().insert_ballot(&ballot).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            VotingAuditKind::BallotCreated,
            serde_json::json!({
                "ballot": ballot.id.to_string(),
                "title": definition.title,
                "replaces": replaces.map(|r| r.to_string()),
            }),
        ))
        .await?;
        Ok(ballot.id)
    }

    /// Applies `edit` to a draft and stores it, with an audit entry naming the change.
    async fn edit_draft(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        change: &str,
        edit: impl FnOnce(&mut BallotDefinition) -> Result<()>,
    ) -> Result<()> {
        actor.authorize_in(org, VotingAction::ManageBallots)?;
        let ballot = self.ballot(actor, org, id).await?;
        if let Some(refusal) = not_a_draft(
            ballot.status(),
            "a published ballot cannot change; cancel it and reissue a corrected copy",
        ) {
            return Err(refusal);
        }
        let mut definition = ballot.definition;
        edit(&mut definition)?;
        super::names::normalize_definition(&mut definition);
        definition.validate_draft()?;
        let json = definition.to_json()?;
        let hash = BallotDefinition::hash_of(&json);
        let mut tx = self.store().begin().await?;
        tx.voting()
            .update_draft(id, &json, &hash, definition.closes_at)
            .await?;
        tx.commit(NewAuditEntry::new(
            self.clock().now(),
            actor,
            Some(org),
            VotingAuditKind::BallotEdited,
            serde_json::json!({ "ballot": id.to_string(), "change": change }),
        ))
        .await?;
        Ok(())
    }

    pub async fn update_ballot_settings(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        settings: BallotSettings,
    ) -> Result<()> {
        self.edit_draft(actor, org, id, "settings", |d| {
            Self::settings_into(d, settings);
            Ok(())
        })
        .await
    }

    /// Adds a contest at the end; returns its id.
    pub async fn add_contest(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        contest: NewContest,
    ) -> Result<u32> {
        let mut added = 0;
        self.edit_draft(actor, org, id, "contest added", |d| {
            let contest = Contest {
                id: d.next_contest_id(),
                title: contest.title.trim().to_owned(),
                description: contest.description.trim().to_owned(),
                kind: contest.kind,
            };
            validate_contest(&contest)?;
            added = contest.id;
            d.contests.push(contest);
            Ok(())
        })
        .await?;
        Ok(added)
    }

    pub async fn replace_contest(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        contest_id: u32,
        contest: NewContest,
    ) -> Result<()> {
        self.edit_draft(actor, org, id, "contest changed", |d| {
            let slot =
                d.contests
                    .iter_mut()
                    .find(|c| c.id == contest_id)
                    .ok_or(Error::NotFound {
                        what: "this contest",
                    })?;
            let replacement = Contest {
                id: contest_id,
                title: contest.title.trim().to_owned(),
                description: contest.description.trim().to_owned(),
                kind: contest.kind,
            };
            validate_contest(&replacement)?;
            *slot = replacement;
            Ok(())
        })
        .await
    }

    pub async fn remove_contest(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        contest_id: u32,
    ) -> Result<()> {
        self.edit_draft(actor, org, id, "contest removed", |d| {
            let before = d.contests.len();
            d.contests.retain(|c| c.id != contest_id);
            if d.contests.len() == before {
                return Err(Error::NotFound {
                    what: "this contest",
                });
            }
            Ok(())
        })
        .await
    }

    /// Moves a contest one place up (or down).
    pub async fn move_contest(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        contest_id: u32,
        up: bool,
    ) -> Result<()> {
        self.edit_draft(actor, org, id, "contest moved", |d| {
            let at = d
                .contests
                .iter()
                .position(|c| c.id == contest_id)
                .ok_or(Error::NotFound {
                    what: "this contest",
                })?;
            let to = if up { at.checked_sub(1) } else { Some(at + 1) };
            if let Some(to) = to.filter(|t| *t < d.contests.len()) {
                d.contests.swap(at, to);
            }
            Ok(())
        })
        .await
    }

    /// The roll a ballot would be published with: every unit of `units` not retired, in
    /// their order.
    fn current_roll(ballot: BallotId, units: &[Unit]) -> Vec<EligibleUnit> {
        units
            .iter()
            .filter(|u| u.retired_at.is_none())
            .map(|u| EligibleUnit {
                ballot,
                unit: u.id,
                label: u.label.clone(),
                weight: u.weight,
            })
            .collect()
    }

    /// Why a secret weighted ballot would reveal some units' ballots, if it would.
    fn weight_groups_too_small(roll: &[EligibleUnit]) -> Vec<String> {
        let mut groups: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        for u in roll {
            groups
                .entry(u.weight.micros())
                .or_default()
                .push(u.label.as_str());
        }
        let mut exposed: Vec<String> = groups
            .values()
            .filter(|labels| labels.len() < MIN_UNITS_PER_WEIGHT)
            .flatten()
            .map(|l| (*l).to_owned())
            .collect();
        exposed.sort();
        exposed
    }

    /// Validates, freezes the roll, makes the definition immutable and queues the notice to
    /// every eligible owner, all in one transaction.
    pub async fn publish_ballot(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
    ) -> Result<Published> {
        actor.authorize_in(org, VotingAction::ManageBallots)?;
        let ballot = self.ballot(actor, org, id).await?;
        if let Some(refusal) = not_a_draft(ballot.status(), "this ballot was published already") {
            return Err(refusal);
        }
        let now = self.clock().now();
        let definition = &ballot.definition;
        definition.validate_for_publication(now)?;
        // One read of the units serves the roll and the notices (a million units read twice
        // held both copies at once).
        let units = self.store().voting().units(org).await?;
        let roll = Self::current_roll(id, &units);
        if roll.is_empty() {
            return Err(Error::invalid(
                "units",
                "none are on file; import the association's units and owners first",
            ));
        }
        if definition.secrecy == Secrecy::Secret && definition.weighting == Weighting::Weighted {
            let exposed = Self::weight_groups_too_small(&roll);
            if !exposed.is_empty() {
                let shown: Vec<&str> = exposed.iter().take(8).map(String::as_str).collect();
                return Err(Error::invalid(
                    "weighting",
                    format!(
                        "cannot be weighted on a secret ballot here: {} a voting weight fewer \
                         than {MIN_UNITS_PER_WEIGHT} units share ({}{}), so their ballots would \
                         be recognisable by weight on the public bulletin. Count one vote per \
                         unit, or make the ballot recorded",
                        if exposed.len() == 1 {
                            "1 unit has".to_owned()
                        } else {
                            format!("{} units have", exposed.len())
                        },
                        shown.join(", "),
                        if exposed.len() > shown.len() {
                            ", …"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        let recipients = self
            .recipients(org, &units, roll.iter().map(|e| e.unit))
            .await?;
        let organization = self.existing_organization(org).await?;

        let mut tx = self.store().begin().await?;
        if !tx.voting().publish_ballot(id, now, &roll).await? {
            return Err(Error::Conflict(
                "this ballot was published already".to_owned(),
            ));
        }
        let mut notices = 0;
        for (subject, recipient) in &recipients {
            let set_password_link = self
                .set_password_link(tx.as_mut(), (*subject, recipient), org, &ballot, now)
                .await?;
            let notice = VotingNotice::BallotPublished {
                organization: organization.name.to_string(),
                title: definition.title.clone(),
                opens: ballot.local(definition.opens_at),
                closes: ballot.local(definition.closes_at),
                vote_link: self.public_link(&format!("vote/{id}")),
                online_units: recipient.online.clone(),
                paper_units: recipient.paper.clone(),
                set_password_link,
                device_test_link: self.public_link("vote/test-device"),
            };
            tx.enqueue(&self.message(*subject, &notice.into())?).await?;
            notices += 1;
            notices += self
                .queue_ballot_sms(
                    tx.as_mut(),
                    (*subject, recipient),
                    &ballot,
                    &organization.name.to_string(),
                    false,
                )
                .await?;
        }
        let eligible_weight: i64 = roll.iter().map(|u| u.weight.micros()).sum();
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            VotingAuditKind::BallotPublished,
            serde_json::json!({
                "ballot": id.to_string(),
                "definition_sha256": ballot.stored.definition_hash.to_hex(),
                "eligible_units": roll.len(),
                "eligible_weight": cista_types::voting::format_weight_sum(i128::from(eligible_weight)),
                "notices": notices,
            }),
        ))
        .await?;
        Ok(Published {
            eligible_units: roll.len(),
            notices,
        })
    }

    /// `https://…/path` on the public origin.
    pub(crate) fn public_link(&self, path: &str) -> String {
        format!(
            "{}/{path}",
            self.settings().public_origin.trim_end_matches('/')
        )
    }

    /// Queues the SMS form of a notice if the ballot sends SMS and the person has a mobile
    /// number on file; returns how many messages were queued.
    async fn queue_ballot_sms(
        &self,
        tx: &mut dyn StoreTx,
        (subject, recipient): (SubjectCode, &Recipient),
        ballot: &Ballot,
        organization: &str,
        reminder: bool,
    ) -> Result<usize> {
        let definition = &ballot.definition;
        if !definition.notify_sms || !recipient.has_phone {
            return Ok(0);
        }
        let sms = VotingNotice::BallotSms {
            organization: organization.to_owned(),
            title: definition.title.clone(),
            closes: ballot.local(definition.closes_at),
            vote_link: self.public_link(&format!("vote/{}", ballot.id())),
            reminder,
        };
        tx.enqueue(&self.message(subject, &sms.into())?).await?;
        Ok(1)
    }

    /// For an owner who has not chosen a password yet: a fresh invitation link (valid until
    /// the ballot closes, at least the usual invitation time, at most 30 days) that leads to
    /// the ballot once the password is chosen. `None` for everyone else. The links sent
    /// earlier (the invitation, another ballot's email, an earlier reminder) keep working until
    /// their own expiry: an owner may follow any email Cista sent; choosing a password with one
    /// ends the others (`set_password_with_link`).
    async fn set_password_link(
        &self,
        tx: &mut dyn StoreTx,
        (subject, recipient): (SubjectCode, &Recipient),
        org: OrgId,
        ballot: &Ballot,
        now: Timestamp,
    ) -> Result<Option<String>> {
        let closes_at = ballot.definition.closes_at;
        if !recipient.invited {
            return Ok(None);
        }
        let ttl = (closes_at.as_offset() - now.as_offset())
            .max(self.settings().invite_ttl)
            .min(Duration::days(30));
        let token = new_token(self.rng().as_ref());
        tx.insert_credential(&Credential {
            token_hash: token.hash,
            purpose: CredentialPurpose::Invite,
            subject,
            org: Some(org),
            code_hash: None,
            created_at: now,
            expires_at: now.plus(ttl),
            used_at: None,
            attempts: 0,
            role: None,
        })
        .await?;
        Ok(Some(format!(
            "{}?next=%2Fvote%2F{}",
            self.link("i", &token),
            ballot.id()
        )))
    }

    /// Who votes for each unit: its designated voter, or every owner when none is named.
    /// Grouped by person, with each person's units split into online and paper.
    async fn recipients(
        &self,
        org: OrgId,
        units: &[Unit],
        unit_ids: impl Iterator<Item = cista_types::UnitId>,
    ) -> Result<BTreeMap<SubjectCode, Recipient>> {
        let wanted: BTreeSet<_> = unit_ids.collect();
        let owners = self.store().voting().unit_owners(org).await?;
        let mut by_unit: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for o in owners.iter().filter(|o| wanted.contains(&o.unit)) {
            by_unit.entry(o.unit).or_default().push(*o);
        }
        // Only the units someone owns, by reference: a roll of a million units mostly
        // without owners on file stays one copy.
        let units: BTreeMap<_, &Unit> = units
            .iter()
            .filter(|u| by_unit.contains_key(&u.id))
            .map(|u| (u.id, u))
            .collect();
        let mut out: BTreeMap<SubjectCode, Recipient> = BTreeMap::new();
        for (unit_id, owners) in by_unit {
            let Some(unit) = units.get(&unit_id) else {
                continue;
            };
            let designated: Vec<_> = owners.iter().filter(|o| o.designated).collect();
            let voters: Vec<_> = if designated.is_empty() {
                owners.iter().collect()
            } else {
                designated
            };
            for o in voters {
                let entry = out.entry(o.subject).or_default();
                let label = unit.label.to_string();
                if unit.consent == ConsentStatus::Consented {
                    entry.online.push(label);
                } else {
                    entry.paper.push(label);
                }
            }
        }
        // Erased people get nothing. One read of every account (4,300 owners made 4,300).
        let subjects: Vec<SubjectCode> = out.keys().copied().collect();
        let status: BTreeMap<SubjectCode, AccountStatus> = self
            .store()
            .accounts(&subjects)
            .await?
            .into_iter()
            .map(|a| (a.subject, a.status))
            .collect();
        // Who has a mobile number, in one vault read: the lookup exists exactly when a
        // number was given (vault entries are written once), so no entry is decrypted.
        let with_phone: BTreeSet<SubjectCode> = self
            .vault()
            .people(&subjects)
            .await?
            .into_iter()
            .filter(|p| p.phone_index.is_some())
            .map(|p| p.subject)
            .collect();
        let mut live = BTreeMap::new();
        for (subject, mut r) in out {
            r.online.sort_by(|a, b| super::units::natural_cmp(a, b));
            r.paper.sort_by(|a, b| super::units::natural_cmp(a, b));
            match status.get(&subject) {
                Some(AccountStatus::Erased) | None => {}
                Some(status) => {
                    r.invited = *status == AccountStatus::Invited;
                    r.has_phone = with_phone.contains(&subject);
                    live.insert(subject, r);
                }
            }
        }
        Ok(live)
    }

    /// Withdraws a ballot (draft or published). Its records stay; votes stop.
    pub async fn cancel_ballot(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        reason: &str,
    ) -> Result<()> {
        actor.authorize_in(org, VotingAction::ManageBallots)?;
        let ballot = self.ballot(actor, org, id).await?;
        let reason = reason.trim();
        // Something a reader sees (the reason is kept in the audit log and shown with the
        // ballot).
        if !cista_types::controls::is_readable(reason) {
            return Err(Error::invalid(
                "reason",
                "must say in words why the ballot is cancelled, with no control characters",
            ));
        }
        if reason.chars().count() > 500 {
            return Err(Error::invalid(
                "reason",
                "must say why the ballot is cancelled (at most 500 characters)",
            ));
        }
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        if !tx.voting().cancel_ballot(id, now).await? {
            return Err(Error::Conflict(
                "only a draft or an open ballot can be cancelled".to_owned(),
            ));
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(org),
            VotingAuditKind::BallotCancelled,
            serde_json::json!({
                "ballot": id.to_string(),
                "was": ballot.status().as_str(),
                "reason": reason,
            }),
        ))
        .await?;
        Ok(())
    }

    /// A new draft copied from a cancelled ballot, to correct and publish.
    pub async fn reissue_ballot(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
    ) -> Result<BallotId> {
        actor.authorize_in(org, VotingAction::ManageBallots)?;
        let ballot = self.ballot(actor, org, id).await?;
        if ballot.status() != BallotStatus::Cancelled {
            return Err(Error::Conflict(
                "only a cancelled ballot can be reissued".to_owned(),
            ));
        }
        let mut definition = ballot.definition;
        definition.title = format!("{} (corrected)", definition.title)
            .chars()
            .take(super::definition::MAX_TITLE)
            .collect();
        self.insert_draft(actor, org, &definition, Some(id)).await
    }
}

/// Why a ballot that is no longer a draft refuses a draft's change: in the words of its own
/// state (`published` says what a published one says), so a cancelled draft is never said
/// to have been published. `None` for a draft.
fn not_a_draft(status: BallotStatus, published: &str) -> Option<Error> {
    let why = match status {
        BallotStatus::Draft => return None,
        BallotStatus::Published => published,
        BallotStatus::Closed => "this ballot is closed and counted; it cannot change",
        BallotStatus::Cancelled => "this ballot was cancelled; reissue it to make a corrected copy",
    };
    Some(Error::Conflict(why.to_owned()))
}
