//! Casting: one vote per unit per ballot, online or on paper, whatever the order or timing.
//! The participation row, the ballot box entry and the audit entry commit in one transaction;
//! the database's unique constraint on (ballot, unit) decides between concurrent casts, and
//! every refused attempt is recorded (a refusal row and an audit entry) with why.
//!
//! A secret ballot's box entry holds the tracker, the weight it counts with and the sealed
//! choices, nothing else; the voter gets a signed receipt and the server keeps no copy that
//! ties the choices to the unit.
//!
//! Casting is safe to repeat. Each voting form carries a submission id drawn for that page;
//! the participation row keeps only its SHA-256, and the tracker is a keyed hash of the id.
//! A repeat of the same submission (reload, back, double-click, a restored tab) finds the
//! first cast by the hash and re-derives its tracker from the id the voter's page holds, so it
//! answers with the first cast's receipt and is never recorded as a refused attempt, while the
//! server still holds nothing that links the unit to the choices.
//!
//! The receipt's signature covers the ballot, the tracker and the bulletin checkpoint the
//! tracker will be found under, never the unit or the choices: a signed statement of how a
//! unit voted would be a proof a voter could sell.

use super::Ballot;
use super::VotingAction;
use super::VotingError;
use super::audit::VotingAuditKind;
use super::definition::{Choices, Secrecy, Weighting};
use super::eligibility;
use super::units::votes_for;
use crate::platform::audit::NewAuditEntry;
use crate::ports::{
    BallotStatus, BoxEntry, CastContext, Participation, Refusal, StoredKey, Unit, UnitForBallot,
    VoteChannel, VoteOrigin,
};
use crate::{Access, Actor, Cista, Error, ErrorClass, Result};
use cista_crypto::Digest32;
use cista_crypto::envelope::{Opener, aad};
use cista_types::{BallotId, OrgId, SubjectCode, Timestamp, Tracker, UnitId, Weight};

mod group;
mod receipt;

pub(crate) use group::CastCommitter;
pub use group::GroupCommits;
use group::{CastWrite, Written};
pub use receipt::{RECEIPT_TTL, Receipt};

/// A submitted ballot form.
#[derive(Debug, Clone)]
pub struct CastRequest {
    pub ballot: BallotId,
    pub unit: UnitId,
    /// The definition hash the form was made from (hex); must equal the ballot's.
    pub definition_hash: String,
    /// The form's fields (`c{contest}` = answer or candidate id).
    pub fields: Vec<(String, String)>,
    pub origin: VoteOrigin,
    /// The voting form's submission id (drawn for each rendered form; only the voter's page
    /// holds it). A repeat of the same submission returns the first cast's receipt. `None`
    /// for casts that come without a form.
    pub submission: Option<String>,
}

/// How many trackers a cast tries before giving up (a 60-bit collision is vanishingly rare).
const TRACKER_ATTEMPTS: u8 = 2;

/// The SHA-256 a participation row keeps of a voting form's submission id.
fn submission_sha256(submission: &str) -> Digest32 {
    Digest32::sha256(&[b"cista/v1|vote-submission|", submission.as_bytes()])
}

/// What staff see after entering a paper ballot: no tracker and no choices, so the entry
/// screen cannot be used to link a secret ballot to its unit.
#[derive(Debug, Clone)]
pub struct PaperEntered {
    pub unit: String,
    pub at_local: String,
}

/// The choices sealed in a box entry, opened with the organization's data key made ready
/// (`DataKey::opener`) and the entry's associated data (from `ChoicesAad`).
pub(crate) fn open_choices(opener: &Opener, aad: &[u8], entry: &BoxEntry) -> Result<Choices> {
    let plain = opener.open(aad, &entry.sealed_choices)?;
    let text = String::from_utf8(plain)
        .map_err(|_| Error::Integrity("a ballot is not text".to_owned()))?;
    Choices::from_json(&text)
}

/// The associated data a ballot's sealed choices are bound to:
/// `aad("ballot_box", "choices", "{ballot}/{tracker as a signed integer}")`.
pub(crate) fn choices_aad(ballot: BallotId, tracker: Tracker) -> Vec<u8> {
    ChoicesAad::default().of(ballot, tracker).to_vec()
}

/// `choices_aad` for many ballots of one ballot box, its fixed part written once per box (a
/// close makes one for each of a million ballots).
#[derive(Default)]
pub(crate) struct ChoicesAad {
    /// The box the prefix is for.
    ballot: Option<BallotId>,
    /// `aad("ballot_box", "choices", "{ballot}/")`
    prefix: Vec<u8>,
    /// The last one made.
    made: Vec<u8>,
}

impl ChoicesAad {
    /// The associated data of the choices of the ballot `tracker` in `ballot`'s box.
    pub(crate) fn of(&mut self, ballot: BallotId, tracker: Tracker) -> &[u8] {
        use std::io::Write as _;
        if self.ballot != Some(ballot) {
            self.prefix = aad("ballot_box", "choices", &format!("{ballot}/"));
            self.ballot = Some(ballot);
        }
        self.made.clear();
        self.made.extend_from_slice(&self.prefix);
        // Writing into a Vec cannot fail.
        let _ = write!(self.made, "{}", tracker.as_i64());
        &self.made
    }
}

struct Checked {
    ballot: Ballot,
    unit: Unit,
    organization: String,
    /// The organization's data key as stored (wrapped), which seals the choices once
    /// unwrapped: at the write, so a key provider's fault is the server's error, never a
    /// refusal recorded against the voter's unit.
    wrapped_key: Option<StoredKey>,
    /// The unit's weight on the roll (what turnout sums).
    roll_weight: Weight,
    /// The weight its ballot counts with.
    weight: Weight,
    choices: Choices,
}

/// A unit that may take part in a ballot now (`Cista::check_participation`).
pub(crate) struct Admitted {
    pub ballot: Ballot,
    pub unit: Unit,
    /// The ballot's organization's name (for the receipt).
    pub organization: String,
    /// The organization's data key as stored (wrapped): see `Checked::wrapped_key`.
    pub wrapped_key: Option<StoredKey>,
    /// The unit's voting weight on the ballot's frozen roll: what turnout sums.
    pub roll_weight: Weight,
    /// The weight its ballot counts with: `roll_weight` on a weighted ballot, one on a ballot
    /// that counts one per unit.
    pub weight: Weight,
}

/// Takes the ballot's shared lock inside `tx` and refuses unless it is still published and
/// open at `now`: a close waits for the transaction, and a ballot that closed while the vote
/// was being checked is seen here. Errors: `BallotNotOpen`.
pub(crate) async fn lock_open_ballot(
    tx: &mut dyn crate::ports::StoreTx,
    ballot: &Ballot,
    now: Timestamp,
) -> Result<()> {
    let live = tx
        .voting()
        .lock_ballot(ballot.id(), false)
        .await?
        .is_some_and(|b| b.status == BallotStatus::Published && now < b.closes_at);
    if live {
        Ok(())
    } else {
        Err(closed_refusal(ballot))
    }
}

/// The refusal of a vote that reached the database after the ballot closed.
fn closed_refusal(ballot: &Ballot) -> Error {
    Error::from(VotingError::BallotNotOpen(format!(
        "voting on “{}” has closed; no late ballots are accepted",
        ballot.definition.title
    )))
}

impl Cista {
    /// Casts an online vote for one of the voter's units. A repeat of a submission that
    /// already cast the vote returns that cast's receipt (`repeated`), whatever happened since.
    pub async fn cast_vote(&self, actor: &Actor, request: CastRequest) -> Result<Receipt> {
        let person = actor.person().ok_or(Error::Unauthenticated)?;
        let channel = match person.access {
            Access::Full => VoteChannel::Web,
            Access::SmsRestricted => VoteChannel::SmsSession,
            // A collector's phone token fills records; it never votes.
            Access::Device(_) => {
                return Err(Error::Forbidden {
                    action: "vote with a device token",
                });
            }
        };
        let voter = person.subject;
        // A repeat is recognised where the first cast shows: at the write (the unit has voted)
        // or, once the ballot has closed since, at the checks. Looking for it before every
        // first cast would cost each voter a read.
        let checked = match self.check_cast(actor, &request, channel, Some(voter)).await {
            Ok(c) => c,
            Err(refusal) => {
                if let Some(receipt) = self.repeated_cast(actor, &request).await? {
                    return Ok(receipt);
                }
                return Err(self
                    .refused(actor, &request, channel, Some(voter), refusal)
                    .await);
            }
        };
        let written = self
            .write_vote(
                actor,
                &checked,
                channel,
                Some(voter),
                &request.origin,
                request.submission.as_deref(),
            )
            .await;
        let (tracker, cast_at) = match written {
            Ok(done) => done,
            Err(refusal @ Error::Voting(VotingError::AlreadyVoted(_))) => {
                // The same submission, sent twice at once, may have committed first.
                if let Some(receipt) = self.repeated_cast(actor, &request).await? {
                    return Ok(receipt);
                }
                return Err(self
                    .refused(actor, &request, channel, Some(voter), refusal)
                    .await);
            }
            Err(e) => return Err(e),
        };
        Ok(self.receipt(
            &checked.ballot,
            checked.organization.clone(),
            checked.unit.label.as_str(),
            (tracker, cast_at, channel),
            &checked.choices,
            false,
        ))
    }

    /// How many group commits this instance has written since it opened, and how many casts
    /// they held (`cista bench voting` prints their mean).
    pub fn group_commits(&self) -> GroupCommits {
        self.cast_committer().written()
    }

    /// The first cast's receipt when `request` repeats the submission that cast it (same
    /// submission id, same voter); `None` otherwise.
    async fn repeated_cast(&self, actor: &Actor, request: &CastRequest) -> Result<Option<Receipt>> {
        let Some(submission) = request.submission.as_deref() else {
            return Ok(None);
        };
        let Some(first) = self
            .store()
            .voting()
            .participation_of(request.ballot, request.unit)
            .await?
        else {
            return Ok(None);
        };
        let same = first
            .submission
            .is_some_and(|hash| hash.ct_eq(&submission_sha256(submission)));
        let voter = actor.person().map(|p| p.subject);
        if !same || first.voter.is_none() || first.voter != voter {
            return Ok(None);
        }
        let ballot = self.load_ballot(request.ballot).await?;
        let unit = self
            .store()
            .voting()
            .unit(request.unit)
            .await?
            .ok_or(Error::NotFound { what: "this unit" })?;
        for attempt in 0..TRACKER_ATTEMPTS {
            let tracker = self.derived_tracker(ballot.id(), submission, attempt)?;
            let Some(entry) = self
                .store()
                .voting()
                .box_entry(ballot.id(), tracker)
                .await?
            else {
                continue;
            };
            let choices = self.open_box_entry(ballot.org(), &entry).await?;
            let organization = self.organization_name(ballot.org()).await?;
            return Ok(Some(self.receipt(
                &ballot,
                organization,
                unit.label.as_str(),
                (tracker, first.at, first.channel),
                &choices,
                true,
            )));
        }
        Err(Error::Integrity(
            "a cast's ballot is missing from the box".to_owned(),
        ))
    }

    /// The tracker of a cast made from the form with `submission`: a keyed hash, so only the
    /// holder of the form's id (and this instance) can derive it again.
    fn derived_tracker(&self, ballot: BallotId, submission: &str, attempt: u8) -> Result<Tracker> {
        let tag = cista_crypto::mac::keyed_hash(
            self.instance_keys().mac.expose(),
            "ballot-tracker",
            format!("{ballot}|{attempt}|{submission}").as_bytes(),
        )?;
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(tag.get(..8).unwrap_or(&[0u8; 8]));
        Ok(Tracker::from_uniform_bytes(bytes))
    }

    /// The choices sealed in one box entry.
    pub(crate) async fn open_box_entry(&self, org: OrgId, entry: &BoxEntry) -> Result<Choices> {
        let opener = self.org_data_key(org).await?.opener()?;
        open_choices(
            &opener,
            ChoicesAad::default().of(entry.ballot, entry.tracker),
            entry,
        )
    }

    async fn organization_name(&self, org: OrgId) -> Result<String> {
        Ok(self
            .store()
            .organization(org)
            .await?
            .map(|o| o.name.to_string())
            .unwrap_or_default())
    }

    /// Enters a paper ballot for a unit, as staff.
    pub async fn enter_paper_ballot(
        &self,
        actor: &Actor,
        request: CastRequest,
    ) -> Result<PaperEntered> {
        let ballot = self.load_ballot(request.ballot).await?;
        actor.authorize_in(ballot.org(), VotingAction::EnterPaperBallots)?;
        if ballot.definition.secrecy == Secrecy::Secret {
            // Entering a unit's choices on one screen would show staff how it voted.
            return Err(Error::Conflict(
                "a secret ballot's paper ballots come in two envelopes: check in the outer \
                 envelope, then enter the inner ballots by batch, with no unit"
                    .to_owned(),
            ));
        }
        let staff = actor.person().map(|p| p.subject);
        let mut request = request;
        request.origin = VoteOrigin {
            ip: request.origin.ip.take(),
            user_agent: request.origin.user_agent.take(),
            staff,
        };
        let channel = VoteChannel::Paper;
        let checked = match self.check_cast(actor, &request, channel, None).await {
            Ok(c) => c,
            Err(refusal) => {
                return Err(self.refused(actor, &request, channel, None, refusal).await);
            }
        };
        match self
            .write_vote(actor, &checked, channel, None, &request.origin, None)
            .await
        {
            Ok((_, at)) => Ok(PaperEntered {
                unit: checked.unit.label.to_string(),
                at_local: checked.ballot.definition.time_zone.format_precise(at),
            }),
            Err(refusal @ Error::Voting(VotingError::AlreadyVoted(_))) => {
                Err(self.refused(actor, &request, channel, None, refusal).await)
            }
            Err(e) => Err(e),
        }
    }

    /// Every check a cast must pass before it is written. Errors here are refusals.
    async fn check_cast(
        &self,
        actor: &Actor,
        request: &CastRequest,
        channel: VoteChannel,
        voter: Option<SubjectCode>,
    ) -> Result<Checked> {
        let Admitted {
            ballot,
            unit,
            organization,
            wrapped_key,
            roll_weight,
            weight,
        } = self
            .check_participation(actor, request.ballot, request.unit, channel, voter)
            .await?;
        let hash_ok = Digest32::from_hex(request.definition_hash.trim())
            .is_some_and(|h| h.ct_eq(&ballot.stored.definition_hash));
        if !hash_ok {
            return Err(Error::from(VotingError::BallotChanged));
        }
        let choices = Choices::from_form(&ballot.definition, &request.fields)?;
        Ok(Checked {
            ballot,
            unit,
            organization,
            wrapped_key,
            roll_weight,
            weight,
            choices,
        })
    }

    /// Whether `unit` may take part in the ballot now through `channel`: the ballot is open,
    /// the unit on its roll, and (online) the voter owns it, votes for it and has consent on
    /// file. Returns the ballot, the unit, its organization, its weight on the roll and the
    /// weight its ballot counts with. Errors here are refusals.
    pub(crate) async fn check_participation(
        &self,
        actor: &Actor,
        ballot: BallotId,
        unit: UnitId,
        channel: VoteChannel,
        voter: Option<SubjectCode>,
    ) -> Result<Admitted> {
        // The ballot, its organization and data key, the unit, its roll row and its owners in
        // one read: every cast makes it.
        let CastContext {
            ballot,
            organization,
            data_key,
            unit,
        } = self
            .store()
            .voting()
            .cast_context(ballot, unit)
            .await?
            .ok_or(Error::NotFound {
                what: "this ballot",
            })?;
        let ballot = self.ballot_from_stored(ballot)?;
        let UnitForBallot {
            unit,
            on_roll,
            owners,
        } = unit.ok_or(Error::NotFound { what: "this unit" })?;
        if ballot.status() == BallotStatus::Draft {
            return Err(Error::NotFound {
                what: "this ballot",
            });
        }
        if let Some(refusal) = eligibility::ballot_refusal(&ballot, self.clock().now()) {
            return Err(refusal.into());
        }
        let label = unit.label.as_str();
        let eligible = on_roll.ok_or_else(|| eligibility::not_on_roll(&ballot, label))?;
        if channel == VoteChannel::Paper {
            if !ballot.definition.paper {
                return Err(eligibility::paper_not_accepted(&ballot).into());
            }
        } else {
            let person = actor.person().ok_or(Error::Unauthenticated)?;
            let owner = owners.iter().any(|o| Some(o.subject) == voter);
            if !owner || !person.roles.contains_key(&ballot.org()) {
                return Err(eligibility::not_an_owner(label).into());
            }
            if !votes_for(&owners, person.subject) {
                return Err(eligibility::not_designated(label).into());
            }
            if let Some(refusal) = eligibility::consent_refusal(label, unit.consent) {
                return Err(refusal.into());
            }
        }
        let weight = match ballot.definition.weighting {
            Weighting::Weighted => eligible.weight,
            Weighting::PerUnit => Weight::ONE,
        };
        Ok(Admitted {
            ballot,
            unit,
            organization: organization.name.to_string(),
            wrapped_key: data_key,
            roll_weight: eligible.weight,
            weight,
        })
    }

    /// Writes the participation row and the ballot with the audit entry, in one transaction
    /// shared with the casts arriving at the same moment (see `group`). Returns
    /// `AlreadyVoted` (writing nothing) if the unit took part first, `BallotNotOpen` if the
    /// ballot closed meanwhile.
    async fn write_vote(
        &self,
        actor: &Actor,
        checked: &Checked,
        channel: VoteChannel,
        voter: Option<SubjectCode>,
        origin: &VoteOrigin,
        submission: Option<&str>,
    ) -> Result<(Tracker, Timestamp)> {
        let ballot = &checked.ballot;
        let choices_json = checked.choices.to_json()?;
        let recorded = ballot.definition.secrecy == Secrecy::Recorded;
        let data_key = self
            .unwrap_org_data_key(ballot.org(), checked.wrapped_key.clone())
            .await?;
        // A tracker collision (60 random bits) is vanishingly rare; one retry covers it.
        for attempt in 0..TRACKER_ATTEMPTS {
            let tracker = match submission {
                Some(id) => self.derived_tracker(ballot.id(), id, attempt)?,
                None => Tracker::new(self.rng().as_ref()),
            };
            let sealed = data_key.seal(
                self.rng().as_ref(),
                &choices_aad(ballot.id(), tracker),
                choices_json.as_bytes(),
            )?;
            // `at` and `cast_at` are set inside the group's transaction.
            let placeholder = self.clock().now();
            let cast = CastWrite {
                ballot: ballot.id(),
                participation: Participation {
                    ballot: ballot.id(),
                    unit: checked.unit.id,
                    channel,
                    voter,
                    origin: origin.clone(),
                    at: placeholder,
                    roll_weight: checked.roll_weight,
                    submission: submission.map(submission_sha256),
                },
                entry: BoxEntry {
                    ballot: ballot.id(),
                    tracker,
                    weight: checked.weight,
                    sealed_choices: sealed.into_bytes(),
                    unit: recorded.then_some(checked.unit.id),
                    cast_at: None,
                },
                recorded,
                audit: NewAuditEntry::new(
                    placeholder,
                    actor,
                    Some(ballot.org()),
                    VotingAuditKind::VoteCast,
                    serde_json::json!({
                        "ballot": ballot.id().to_string(),
                        "unit": checked.unit.id.to_string(),
                        "channel": channel.as_str(),
                    }),
                ),
            };
            let written = match self
                .cast_committer()
                .write(self.store(), self.clock(), cast)
                .await
            {
                Err(Error::Conflict(_)) => continue,
                other => other?,
            };
            return match written {
                Written::Cast(at) => Ok((tracker, at)),
                Written::AlreadyVoted => Err(self.already_voted(ballot, &checked.unit).await?),
                Written::BallotClosed => Err(closed_refusal(ballot)),
            };
        }
        Err(Error::Internal(
            "could not draw an unused tracker".to_owned(),
        ))
    }

    /// The refusal for a unit that already took part: when and how, in the ballot's zone.
    pub(crate) async fn already_voted(&self, ballot: &Ballot, unit: &Unit) -> Result<Error> {
        let first = self
            .store()
            .voting()
            .participation_of(ballot.id(), unit.id)
            .await?
            .ok_or_else(|| Error::Internal("the earlier vote is not visible".to_owned()))?;
        Ok(eligibility::already_voted(ballot, unit.label.as_str(), &first, true).into())
    }

    /// Records a refused attempt (a refusal row and an audit entry) when it names a ballot
    /// and a unit of the same organization, then hands the refusal back. Never records the
    /// choices that were attempted.
    pub(crate) async fn refused(
        &self,
        actor: &Actor,
        request: &CastRequest,
        channel: VoteChannel,
        voter: Option<SubjectCode>,
        refusal: Error,
    ) -> Error {
        // A refusal is the voter's (why this unit could not vote now). A fault of the server,
        // its database, its keys or its stored data (an internal or unavailable error, by the
        // error's own class, so a new kind of fault is left out too) is never recorded
        // against the unit, nor is a request that names nothing the voter may act on.
        let servers_fault = matches!(
            refusal.class(),
            ErrorClass::Internal | ErrorClass::Unavailable
        );
        let recordable = !servers_fault
            && !matches!(
                refusal,
                Error::NotFound { .. } | Error::Unauthenticated | Error::Forbidden { .. }
            );
        if !recordable {
            return refusal;
        }
        let record = async {
            let Some(ballot) = self.store().voting().ballot(request.ballot).await? else {
                return Ok(());
            };
            let unit_ok = self
                .store()
                .voting()
                .unit(request.unit)
                .await?
                .is_some_and(|u| u.org == ballot.org);
            if !unit_ok {
                return Ok(());
            }
            let now = self.clock().now();
            let row = Refusal {
                id: self.rng().id63(),
                ballot: request.ballot,
                unit: request.unit,
                channel,
                voter,
                origin: request.origin.clone(),
                at: now,
                reason: refusal.code().to_owned(),
            };
            let mut tx = self.store().begin().await?;
            tx.voting().insert_refusal(&row).await?;
            tx.commit(NewAuditEntry::new(
                now,
                actor,
                Some(ballot.org),
                VotingAuditKind::VoteRefused,
                serde_json::json!({
                    "ballot": request.ballot.to_string(),
                    "unit": request.unit.to_string(),
                    "channel": channel.as_str(),
                    "reason": refusal.code(),
                }),
            ))
            .await?;
            Ok::<_, Error>(())
        };
        if let Err(e) = record.await {
            tracing::error!(code = e.code(), cause = %e.chain(), "could not record a refused vote");
        }
        refusal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The associated data made for many trackers is the one every stored ballot was sealed
    /// with: `cista/v1|ballot_box|choices|{ballot}/{tracker as i64}`, negative trackers too, and
    /// nothing of one tracker is left in the next.
    #[test]
    fn choices_aad_made_for_many_trackers_is_the_sealed_one() {
        let ballot = BallotId::from_i64(7_806_171_082_920_479_310);
        let mut made = ChoicesAad::default();
        // Made for another box first: the prefix follows the box.
        made.of(BallotId::from_i64(3), Tracker::from_i64(9));
        for tracker in [i64::MIN, -1, 0, 42, 4_540_003_017_647_731_657, 5] {
            let tracker = Tracker::from_i64(tracker);
            let expected = format!(
                "cista/v1|ballot_box|choices|7806171082920479310/{}",
                tracker.as_i64()
            );
            assert_eq!(made.of(ballot, tracker), expected.as_bytes());
            assert_eq!(choices_aad(ballot, tracker), expected.into_bytes());
        }
    }
}
