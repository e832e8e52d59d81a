//! Units as staff and owners see them: the roster (labels, weights, consent, how many owners;
//! never who they are unless the viewer may read personal data), consent to online voting
//! recorded with when and how (FL-01), and an owner's own units and open ballots.

use super::VotingAction;
use super::audit::VotingAuditKind;
use super::{Ballot, Window};
use crate::platform::audit::NewAuditEntry;
use crate::ports::{BallotStatus, ConsentStatus, Participation, StoredBallot, Unit, UnitOwner};
use crate::{Access, Actor, Cista, Error, Result};
use cista_types::{OrgId, SubjectCode, UnitId};
use std::collections::BTreeMap;

/// One line of the roster.
#[derive(Debug, Clone)]
pub struct RosterUnit {
    pub unit: Unit,
    pub owners: usize,
    pub has_designated_voter: bool,
}

/// A unit as its owner sees it.
#[derive(Debug, Clone)]
pub struct MyUnit {
    pub unit: Unit,
    pub organization: String,
    /// Whether this person votes for it (the designated voter, or any owner when none is).
    pub votes_for_it: bool,
}

/// Where one of my units stands on one ballot.
#[derive(Debug, Clone)]
pub enum UnitBallotState {
    /// Can vote online now.
    CanVote,
    /// Took part already: when and how.
    Voted(Participation),
    /// No online consent on record, or opted out: votes on paper.
    Paper(ConsentStatus),
    /// Another owner is the designated voter.
    NotDesignated,
    /// Not on this ballot's roll (added after publication).
    NotOnRoll,
}

/// A ballot an owner can see, with each of their units' state.
#[derive(Debug, Clone)]
pub struct MyBallot {
    pub ballot: Ballot,
    pub organization: String,
    pub window: Window,
    pub units: Vec<(Unit, UnitBallotState)>,
}

impl Cista {
    /// The organization's units with owner counts, by label.
    pub async fn roster(&self, actor: &Actor, org: OrgId) -> Result<Vec<RosterUnit>> {
        actor.authorize_in(org, VotingAction::ViewUnits)?;
        let owners = self.store().voting().unit_owners(org).await?;
        let mut counts: BTreeMap<UnitId, (usize, bool)> = BTreeMap::new();
        for o in &owners {
            let entry = counts.entry(o.unit).or_default();
            entry.0 += 1;
            entry.1 |= o.designated;
        }
        let mut units: Vec<RosterUnit> = self
            .store()
            .voting()
            .units(org)
            .await?
            .into_iter()
            .map(|unit| {
                let (owners, has_designated_voter) =
                    counts.get(&unit.id).copied().unwrap_or_default();
                RosterUnit {
                    unit,
                    owners,
                    has_designated_voter,
                }
            })
            .collect();
        units.sort_by(|a, b| natural_cmp(a.unit.label.as_str(), b.unit.label.as_str()));
        Ok(units)
    }

    /// Records consent to online voting, or an opt-out, for a unit. An owner records it for
    /// their own unit online; staff record a paper form they received.
    pub async fn record_consent(
        &self,
        actor: &Actor,
        unit_id: UnitId,
        status: ConsentStatus,
    ) -> Result<Unit> {
        let mut unit = self
            .store()
            .voting()
            .unit(unit_id)
            .await?
            .ok_or(Error::NotFound { what: "this unit" })?;
        let method = if actor.may_in(unit.org, VotingAction::ManageUnits) {
            format!("paper form, entered by {}", actor.audit_name())
        } else {
            let person = actor.person().ok_or(Error::Unauthenticated)?;
            let owns = self
                .store()
                .voting()
                .owners_of(unit_id)
                .await?
                .iter()
                .any(|o| o.subject == person.subject);
            if !owns || !person.roles.contains_key(&unit.org) {
                return Err(Error::Forbidden {
                    action: "record consent for this unit",
                });
            }
            match person.access {
                Access::Full => "online, by the owner (signed in with a password)".to_owned(),
                Access::SmsRestricted => "online, by the owner (signed in by SMS code)".to_owned(),
                Access::Device(_) => {
                    return Err(Error::Forbidden {
                        action: "record consent with a device token",
                    });
                }
            }
        };
        if status == ConsentStatus::None {
            return Err(Error::invalid("consent", "choose consent or opt-out"));
        }
        let now = self.clock().now();
        unit.consent = status;
        unit.consent_at = Some(now);
        unit.consent_method = Some(method.clone());
        let mut tx = self.store().begin().await?;
        tx.voting().update_unit(&unit).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(unit.org),
            VotingAuditKind::ConsentRecorded,
            serde_json::json!({
                "unit": unit.id.to_string(),
                "label": unit.label.as_str(),
                "consent": status.as_str(),
                "method": method,
            }),
        ))
        .await?;
        Ok(unit)
    }

    /// The units a signed-in person owns (not retired), in every organization.
    pub async fn my_units(&self, actor: &Actor) -> Result<Vec<MyUnit>> {
        let person = actor.person().ok_or(Error::Unauthenticated)?;
        let links = self.store().voting().owned_units(person.subject).await?;
        let mut out = Vec::new();
        let mut org_names: BTreeMap<OrgId, String> = BTreeMap::new();
        for link in links {
            let Some(unit) = self.store().voting().unit(link.unit).await? else {
                continue;
            };
            if unit.retired_at.is_some() || !person.roles.contains_key(&unit.org) {
                continue;
            }
            let organization = match org_names.get(&unit.org) {
                Some(name) => name.clone(),
                None => {
                    let name = self
                        .store()
                        .organization(unit.org)
                        .await?
                        .map(|o| o.name.to_string())
                        .unwrap_or_default();
                    org_names.insert(unit.org, name.clone());
                    name
                }
            };
            let owners = self.store().voting().owners_of(unit.id).await?;
            out.push(MyUnit {
                votes_for_it: votes_for(&owners, person.subject),
                unit,
                organization,
            });
        }
        out.sort_by(|a, b| {
            a.organization
                .cmp(&b.organization)
                .then_with(|| natural_cmp(a.unit.label.as_str(), b.unit.label.as_str()))
        });
        Ok(out)
    }

    /// The published (or recently closed) ballots of the organizations where the person owns
    /// units, with where each unit stands.
    pub async fn my_ballots(&self, actor: &Actor) -> Result<Vec<MyBallot>> {
        let units = self.my_units(actor).await?;
        let mut by_org: BTreeMap<OrgId, Vec<&MyUnit>> = BTreeMap::new();
        for u in &units {
            by_org.entry(u.unit.org).or_default().push(u);
        }
        let mut out = Vec::new();
        for (org, mine) in by_org {
            let organization = mine
                .first()
                .map(|m| m.organization.clone())
                .unwrap_or_default();
            for stored in self.store().voting().ballots(org).await? {
                if let Some(mine) = self.my_ballot_of(stored, &organization, &mine).await? {
                    out.push(mine);
                }
            }
        }
        out.sort_by(|a, b| {
            b.ballot
                .definition
                .closes_at
                .cmp(&a.ballot.definition.closes_at)
        });
        Ok(out)
    }

    /// One of my ballots by id, or not found (also when I own no unit in its organization).
    /// Reads that ballot alone, not every ballot of the organization's history.
    pub async fn my_ballot(&self, actor: &Actor, id: cista_types::BallotId) -> Result<MyBallot> {
        let not_found = || Error::NotFound {
            what: "this ballot",
        };
        let stored = self
            .store()
            .voting()
            .ballot(id)
            .await?
            .ok_or_else(not_found)?;
        let units = self.my_units(actor).await?;
        let mine: Vec<&MyUnit> = units.iter().filter(|u| u.unit.org == stored.org).collect();
        let Some(first) = mine.first() else {
            return Err(not_found());
        };
        let organization = first.organization.clone();
        self.my_ballot_of(stored, &organization, &mine)
            .await?
            .ok_or_else(not_found)
    }

    /// Where each of my units (`mine`, all of the ballot's organization) stands on `stored`,
    /// if it is published or closed (`None` for a draft or a cancelled ballot).
    async fn my_ballot_of(
        &self,
        stored: StoredBallot,
        organization: &str,
        mine: &[&MyUnit],
    ) -> Result<Option<MyBallot>> {
        if !matches!(
            stored.status,
            BallotStatus::Published | BallotStatus::Closed
        ) {
            return Ok(None);
        }
        let ballot = Ballot::from_stored(stored)?;
        let mut units = Vec::with_capacity(mine.len());
        for m in mine {
            let state = self.unit_state(&ballot, m).await?;
            units.push((m.unit.clone(), state));
        }
        Ok(Some(MyBallot {
            window: ballot.window(self.clock().now()),
            ballot,
            organization: organization.to_owned(),
            units,
        }))
    }

    /// The voting weight a unit's ballot counts with on a ballot: its weight on the roll
    /// frozen at publication when the ballot is weighted, `None` on a one-vote-per-unit
    /// ballot or for a unit not on the roll. Weights are public (the bulletin lists them).
    pub async fn counted_weight(
        &self,
        ballot: &Ballot,
        unit: cista_types::UnitId,
    ) -> Result<Option<cista_types::Weight>> {
        if ballot.definition.weighting != super::definition::Weighting::Weighted {
            return Ok(None);
        }
        Ok(self
            .store()
            .voting()
            .eligible_unit(ballot.id(), unit)
            .await?
            .map(|e| e.weight))
    }

    async fn unit_state(&self, ballot: &Ballot, mine: &MyUnit) -> Result<UnitBallotState> {
        if let Some(p) = self
            .store()
            .voting()
            .participation_of(ballot.id(), mine.unit.id)
            .await?
        {
            return Ok(UnitBallotState::Voted(p));
        }
        if self
            .store()
            .voting()
            .eligible_unit(ballot.id(), mine.unit.id)
            .await?
            .is_none()
        {
            return Ok(UnitBallotState::NotOnRoll);
        }
        if !mine.votes_for_it {
            return Ok(UnitBallotState::NotDesignated);
        }
        if mine.unit.consent != ConsentStatus::Consented {
            return Ok(UnitBallotState::Paper(mine.unit.consent));
        }
        Ok(UnitBallotState::CanVote)
    }

    /// Records that someone used the "test my device" page (FL-03).
    pub async fn record_device_test(
        &self,
        actor: &Actor,
        user_agent: &str,
        tls: &str,
    ) -> Result<()> {
        let org = actor.person().and_then(|p| p.roles.keys().next().copied());
        let agent: String = user_agent.chars().take(300).collect();
        self.store()
            .append_audit(NewAuditEntry::new(
                self.clock().now(),
                actor,
                org,
                VotingAuditKind::DeviceTested,
                serde_json::json!({ "user_agent": agent, "tls": tls }),
            ))
            .await?;
        Ok(())
    }
}

/// Whether `subject` votes for a unit with these owners.
pub(crate) fn votes_for(owners: &[UnitOwner], subject: SubjectCode) -> bool {
    let designated: Vec<_> = owners.iter().filter(|o| o.designated).collect();
    if designated.is_empty() {
        owners.iter().any(|o| o.subject == subject)
    } else {
        designated.iter().any(|o| o.subject == subject)
    }
}

/// Orders labels as people expect: `2` before `10`, `10A` before `10B`.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    natural_key(a).cmp(&natural_key(b))
}

/// A label's place in the natural order (`natural_cmp` compares two labels' keys): made once
/// a label, so a long list sorts by cached keys (`sort_by_cached_key`) rather than splitting
/// both labels at each of its comparisons.
pub fn natural_key(label: &str) -> NaturalKey {
    let mut chunks: Vec<(bool, String)> = Vec::new();
    for c in label.to_lowercase().chars() {
        let digit = c.is_ascii_digit();
        match chunks.last_mut() {
            Some((d, text)) if *d == digit => text.push(c),
            _ => chunks.push((digit, c.to_string())),
        }
    }
    NaturalKey {
        chunks,
        label: label.to_owned(),
    }
}

/// See `natural_key`: runs of digits compared as numbers, other runs as lower-case text, then
/// the label itself, so two keys are equal only for the same label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaturalKey {
    chunks: Vec<(bool, String)>,
    label: String,
}

impl Ord for NaturalKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        for (x, y) in self.chunks.iter().zip(other.chunks.iter()) {
            let ord = match (x, y) {
                ((true, n), (true, m)) => {
                    let (n, m) = (n.trim_start_matches('0'), m.trim_start_matches('0'));
                    n.len().cmp(&m.len()).then_with(|| n.cmp(m))
                }
                ((_, s), (_, t)) => s.cmp(t),
            };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        self.chunks
            .len()
            .cmp(&other.chunks.len())
            .then_with(|| self.label.cmp(&other.label))
    }
}

impl PartialOrd for NaturalKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sort_naturally() {
        let mut labels = vec!["10B", "2", "10A", "1", "Lot 3", "Lot 12", "03"];
        labels.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            labels,
            vec!["1", "2", "03", "10A", "10B", "Lot 3", "Lot 12"]
        );
        // Cached keys sort as the comparison does, ties of case and zeros included.
        let mut keyed = vec!["lot 12", "10b", "Lot 3", "3", "03", "10B", "2", "1", "10A"];
        let mut compared = keyed.clone();
        keyed.sort_by_cached_key(|l| natural_key(l));
        compared.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(keyed, compared);
        assert_eq!(
            keyed,
            vec!["1", "2", "03", "3", "10A", "10B", "10b", "Lot 3", "lot 12"]
        );
    }
}
