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

/// Escapes a zero byte inside a text run of a `NaturalKey`.
const ZERO_ESCAPED: [u8; 2] = [0x00, 0xFF];
/// Ends a text run: below every byte a run can go on with, escaped zero included.
const TEXT_RUN_END: [u8; 2] = [0x00, 0x01];
/// Ends the runs, before the label itself: below the start of any further run.
const RUNS_END: [u8; 2] = [0x00, 0x00];
/// Starts a run of digits: `0`, so that a run of digits and a run of other characters at the
/// same place compare as their first characters do (a text run never starts with a digit).
const DIGIT_RUN: u8 = b'0';

/// A label's place in the natural order, as bytes whose plain byte order (`memcmp`: Rust's
/// `Ord` on `[u8]`, SQLite's `BLOB` and PostgreSQL's `bytea` comparisons) is that order, so
/// the database can sort and page a ballot's roll by a stored copy (`ballot_roll.sort_key`,
/// written at publication) as the program sorts labels in memory.
///
/// The lower-cased label is split into runs of ASCII digits and runs of other characters,
/// and the runs are compared in turn: two runs of digits as numbers (leading zeros ignored:
/// `DIGIT_RUN`, the count of significant digits as 4 big-endian bytes, the digits), two text
/// runs as text (UTF-8 with a zero byte escaped, `TEXT_RUN_END` after), a run of digits and a
/// text run by their first characters; a label whose runs are a prefix of another's comes
/// first (`RUNS_END`); last comes the label itself, so two keys are equal only for the same
/// label (`03` before `3`, `10B` before `10b`).
///
/// A stored key is only as good as the encoding that wrote it: changing this function needs
/// a migration that rewrites `ballot_roll.sort_key`, and so may a toolchain whose Unicode
/// case tables lower-case some character differently. Readers page by the stored keys
/// (`VotingReads::roll_in_order`), never by keys computed again, so such a change can
/// misplace a label in the order but never skip or repeat a unit.
pub fn natural_key(label: &str) -> NaturalKey {
    let lower = label.to_lowercase();
    let mut key = Vec::with_capacity(lower.len() * 2 + label.len() + 8);
    let mut rest = lower.as_str();
    while let Some(first) = rest.chars().next() {
        let digits = first.is_ascii_digit();
        let run_len = rest
            .find(|c: char| c.is_ascii_digit() != digits)
            .unwrap_or(rest.len());
        let (run, after) = rest.split_at(run_len);
        if digits {
            let significant = run.trim_start_matches('0');
            let count = u32::try_from(significant.len()).unwrap_or(u32::MAX);
            key.push(DIGIT_RUN);
            key.extend_from_slice(&count.to_be_bytes());
            key.extend_from_slice(significant.as_bytes());
        } else {
            for &byte in run.as_bytes() {
                if byte == 0 {
                    key.extend_from_slice(&ZERO_ESCAPED);
                } else {
                    key.push(byte);
                }
            }
            key.extend_from_slice(&TEXT_RUN_END);
        }
        rest = after;
    }
    key.extend_from_slice(&RUNS_END);
    key.extend_from_slice(label.as_bytes());
    NaturalKey(key)
}

/// See `natural_key`: compared byte by byte.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NaturalKey(Vec<u8>);

impl NaturalKey {
    /// The key's bytes, as stored in `ballot_roll.sort_key`.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
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

    /// The order of the runs compared one by one, as `natural_key` was first written: the
    /// reference its bytes must keep.
    fn runs_cmp(a: &str, b: &str) -> std::cmp::Ordering {
        fn runs(label: &str) -> Vec<(bool, String)> {
            let mut runs: Vec<(bool, String)> = Vec::new();
            for c in label.to_lowercase().chars() {
                let digit = c.is_ascii_digit();
                match runs.last_mut() {
                    Some((d, text)) if *d == digit => text.push(c),
                    _ => runs.push((digit, c.to_string())),
                }
            }
            runs
        }
        let (x, y) = (runs(a), runs(b));
        for (p, q) in x.iter().zip(y.iter()) {
            let ord = match (p, q) {
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
        x.len().cmp(&y.len()).then_with(|| a.cmp(b))
    }

    #[test]
    fn keys_order_tricky_labels_as_runs_do() {
        let labels = [
            "",
            "0",
            "00",
            "000",
            "1",
            "01",
            "10",
            "9",
            "a",
            "A",
            "a0",
            "a00",
            "a-1",
            "a1",
            "a 1",
            "a\0",
            "a\x001",
            "a\x01",
            "a\0b",
            "ab",
            "a\u{ff}",
            "é",
            "É",
            "e\u{301}",
            "1a",
            "1-a",
            "1 a",
            "Lot 3",
            "lot 03",
            "lot3",
            "Lot  3",
            "10B",
            "10b",
            "100000000000000000000000",
            "9z",
            "z9",
            "~",
            "!",
            "ß",
            "ǅ",
            "İ",
        ];
        for a in labels {
            for b in labels {
                assert_eq!(natural_cmp(a, b), runs_cmp(a, b), "{a:?} against {b:?}");
            }
        }
    }

    proptest::proptest! {
        /// Any two labels, drawn from digits, letters, spaces, signs (`/` and `:` sit either
        /// side of the digits), zero and one bytes, characters that change length when
        /// lower-cased and characters of three and four UTF-8 bytes, compare by key as by runs.
        #[test]
        fn keys_order_any_labels_as_runs_do(
            a in "[0-9aAzZ /:\\-\\x00\\x01\u{e9}\u{130}\u{1c5}\u{20ac}\u{1f600}]{0,12}",
            b in "[0-9aAzZ /:\\-\\x00\\x01\u{e9}\u{130}\u{1c5}\u{20ac}\u{1f600}]{0,12}",
        ) {
            proptest::prop_assert_eq!(natural_cmp(&a, &b), runs_cmp(&a, &b));
        }
    }
}
