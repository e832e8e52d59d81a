//! Who may vote for a unit on a ballot, and the sentence a refusal carries, written once. The
//! cast (`Cista::check_participation`) decides with these rules, and the member pages use the
//! same functions to say in advance why a unit cannot vote online, so a page and the cast it
//! leads to never disagree in rule or in words (FL-01 consent, FL-04 one vote per unit).

use super::units::UnitBallotState;
use super::{Ballot, VotingError};
use crate::ports::{BallotStatus, ConsentStatus, Participation};
use cista_types::Timestamp;

const PAPER: &str = "ask the association's office for a paper ballot";

/// Why `ballot` takes no votes at `now`, or `None` while it does: cancelled, closed, not yet
/// open, or past its closing time. (A draft is never shown to voters; callers answer "not
/// found" for one before asking.)
pub fn ballot_refusal(ballot: &Ballot, now: Timestamp) -> Option<VotingError> {
    let title = &ballot.definition.title;
    let closed = || {
        VotingError::BallotNotOpen(format!(
            "voting on “{title}” closed on {}; no late ballots are accepted",
            ballot.local(ballot.definition.closes_at)
        ))
    };
    match ballot.status() {
        BallotStatus::Draft => Some(VotingError::BallotNotOpen(format!(
            "“{title}” is not published"
        ))),
        BallotStatus::Cancelled => Some(VotingError::BallotNotOpen(format!(
            "“{title}” was cancelled; no votes are accepted"
        ))),
        BallotStatus::Closed => Some(closed()),
        BallotStatus::Published if now < ballot.definition.opens_at => {
            Some(VotingError::BallotNotOpen(format!(
                "voting on “{title}” opens on {}",
                ballot.local(ballot.definition.opens_at)
            )))
        }
        BallotStatus::Published if now >= ballot.definition.closes_at => Some(closed()),
        BallotStatus::Published => None,
    }
}

/// The unit is not on the ballot's roll (frozen at publication).
pub fn not_on_roll(ballot: &Ballot, unit_label: &str) -> VotingError {
    VotingError::NotEligible(format!(
        "unit {unit_label} is not on the roll of “{}” (it was added after publication)",
        ballot.definition.title
    ))
}

/// The signed-in person does not own the unit (or is not a member of its association).
pub fn not_an_owner(unit_label: &str) -> VotingError {
    VotingError::NotEligible(format!(
        "you are not an owner of unit {unit_label} in this association"
    ))
}

/// Another owner is the unit's designated voter.
pub fn not_designated(unit_label: &str) -> VotingError {
    VotingError::NotEligible(format!(
        "unit {unit_label} has another owner as its designated voter; only they vote for it"
    ))
}

/// The unit has no consent to online voting on record, or opted out (FL-01); `None` when it
/// consented.
pub fn consent_refusal(unit_label: &str, consent: ConsentStatus) -> Option<VotingError> {
    match consent {
        ConsentStatus::Consented => None,
        ConsentStatus::None => Some(VotingError::ConsentRequired(format!(
            "unit {unit_label} has not consented to online voting. Give consent on your voting \
             page, or vote on paper: {PAPER}"
        ))),
        ConsentStatus::OptedOut => Some(VotingError::ConsentRequired(format!(
            "unit {unit_label} opted out of online voting, so it votes on paper: {PAPER}"
        ))),
    }
}

/// The ballot takes no paper ballots.
pub fn paper_not_accepted(ballot: &Ballot) -> VotingError {
    VotingError::NotEligible(format!(
        "“{}” does not accept paper ballots",
        ballot.definition.title
    ))
}

/// The unit took part already: when (in the ballot's zone) and how. `attempt_recorded` adds
/// that this attempt was recorded, as it is when a cast is refused.
pub fn already_voted(
    ballot: &Ballot,
    unit_label: &str,
    first: &Participation,
    attempt_recorded: bool,
) -> VotingError {
    VotingError::AlreadyVoted(format!(
        "unit {unit_label} already voted on {}, {}. Each unit votes once{}",
        ballot.local(first.at),
        first.channel.describe(),
        if attempt_recorded {
            "; this attempt was recorded"
        } else {
            ""
        }
    ))
}

impl UnitBallotState {
    /// The refusal an online vote for the unit labelled `unit_label` gets at `now` in this
    /// state, the ballot's own state first; `None` when it can vote now.
    pub fn refusal(
        &self,
        ballot: &Ballot,
        unit_label: &str,
        now: Timestamp,
    ) -> Option<VotingError> {
        if let Some(refusal) = ballot_refusal(ballot, now) {
            return Some(refusal);
        }
        match self {
            UnitBallotState::CanVote => None,
            UnitBallotState::Voted(first) => Some(already_voted(ballot, unit_label, first, false)),
            UnitBallotState::Paper(consent) => consent_refusal(unit_label, *consent),
            UnitBallotState::NotDesignated => Some(not_designated(unit_label)),
            UnitBallotState::NotOnRoll => Some(not_on_roll(ballot, unit_label)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ports::{StoredBallot, VoteChannel, VoteOrigin};
    use crate::products::voting::definition::{BallotDefinition, Secrecy, Weighting};
    use cista_types::{BallotId, OrgId, Percent, TimeZoneName, UnitId};

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn ballot(status: BallotStatus) -> Ballot {
        let definition = BallotDefinition {
            title: "Annual election".into(),
            description: String::new(),
            opens_at: at("2026-12-01T09:00:00Z"),
            closes_at: at("2026-12-08T17:00:00Z"),
            time_zone: TimeZoneName::utc(),
            secrecy: Secrecy::Recorded,
            weighting: Weighting::PerUnit,
            quorum: Percent::parse("30").unwrap(),
            min_turnout: None,
            paper: true,
            notify_sms: false,
            reminder_hours: vec![],
            contests: vec![],
        };
        Ballot {
            stored: StoredBallot {
                id: BallotId::from_i64(7),
                org: OrgId::from_i64(1),
                status,
                definition: String::new(),
                definition_hash: cista_crypto::Digest32([0; 32]),
                created_at: at("2026-11-30T09:00:00Z"),
                published_at: None,
                closed_at: None,
                cancelled_at: None,
                replaces: None,
                closes_at: definition.closes_at,
                shuffled_count: 0,
                results: None,
                checkpoint: None,
            },
            definition,
        }
    }

    #[test]
    fn a_ballot_takes_votes_only_while_published_and_open_and_says_why_not() {
        let during = at("2026-12-02T10:00:00Z");
        let open = ballot(BallotStatus::Published);
        assert_eq!(ballot_refusal(&open, during), None);
        assert!(open.accepts_votes(during));
        let cases = [
            (BallotStatus::Published, "2026-12-01T08:59:59Z", "opens on"),
            (
                BallotStatus::Published,
                "2026-12-08T17:00:00Z",
                "no late ballots",
            ),
            (
                BallotStatus::Closed,
                "2026-12-02T10:00:00Z",
                "no late ballots",
            ),
            (
                BallotStatus::Cancelled,
                "2026-12-02T10:00:00Z",
                "was cancelled",
            ),
            (
                BallotStatus::Draft,
                "2026-12-02T10:00:00Z",
                "is not published",
            ),
        ];
        for (status, now, words) in cases {
            let b = ballot(status);
            let refusal = ballot_refusal(&b, at(now)).unwrap();
            assert_eq!(refusal.code(), "ballot_not_open");
            assert!(
                refusal.to_string().contains(words),
                "{status:?} {now}: {refusal}"
            );
            // The page's check and `accepts_votes` never disagree.
            assert!(!b.accepts_votes(at(now)));
        }
    }

    #[test]
    fn each_unit_state_has_one_refusal_with_its_code() {
        let b = ballot(BallotStatus::Published);
        let now = at("2026-12-02T10:00:00Z");
        let first = Participation {
            ballot: b.id(),
            unit: UnitId::from_i64(3),
            channel: VoteChannel::Paper,
            voter: None,
            origin: VoteOrigin {
                ip: None,
                user_agent: None,
                staff: None,
            },
            at: at("2026-12-02T09:30:00Z"),
            roll_weight: cista_types::Weight::ONE,
            submission: None,
        };
        assert_eq!(UnitBallotState::CanVote.refusal(&b, "3A", now), None);
        let cases = [
            (
                UnitBallotState::Voted(first.clone()),
                "already_voted",
                "on paper",
            ),
            (
                UnitBallotState::Paper(ConsentStatus::None),
                "consent_required",
                "not consented",
            ),
            (
                UnitBallotState::Paper(ConsentStatus::OptedOut),
                "consent_required",
                "opted out",
            ),
            (
                UnitBallotState::NotDesignated,
                "not_eligible",
                "designated voter",
            ),
            (
                UnitBallotState::NotOnRoll,
                "not_eligible",
                "not on the roll",
            ),
        ];
        for (state, code, words) in cases {
            let refusal = state.refusal(&b, "3A", now).unwrap();
            assert_eq!(refusal.code(), code, "{state:?}");
            assert!(refusal.to_string().contains(words), "{state:?}: {refusal}");
            assert!(refusal.to_string().contains("unit 3A"), "{refusal}");
        }
        // The ballot's own state comes first: after the close every unit hears that.
        let late = at("2026-12-09T10:00:00Z");
        let refusal = UnitBallotState::Voted(first.clone())
            .refusal(&b, "3A", late)
            .unwrap();
        assert_eq!(refusal.code(), "ballot_not_open");
        // A refused cast says the attempt was recorded; the page before it does not.
        assert!(
            already_voted(&b, "3A", &first, true)
                .to_string()
                .ends_with("this attempt was recorded")
        );
        assert!(
            !already_voted(&b, "3A", &first, false)
                .to_string()
                .contains("recorded")
        );
    }
}
