//! Casting: one vote per unit per ballot, online or on paper, whatever the order or timing.
//! The participation row, the ballot box entry and the audit entry commit in one transaction;
//! the database's unique constraint on (ballot, unit) decides between concurrent casts, and
//! every refused attempt is recorded (a refusal row and an audit entry) with why.
//!
//! A secret ballot's box entry holds the tracker, the weight it counts with and the sealed
//! choices, nothing else; the voter gets a signed receipt and the server keeps no copy that
//! ties the choices to the unit.

use super::Ballot;
use super::definition::{Choices, Secrecy, Weighting};
use super::units::votes_for;
use crate::audit::{AuditKind, NewAuditEntry};
use crate::ports::{
    BallotStatus, BoxEntry, ConsentStatus, Participation, Refusal, Unit, VoteChannel, VoteOrigin,
};
use crate::{Access, Actor, Cista, Error, OrgAction, Result};
use cista_crypto::Digest32;
use cista_crypto::envelope::aad;
use cista_types::{BallotId, SubjectCode, Timestamp, Tracker, UnitId, Weight};

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
}

/// What the voter takes away: shown once, never stored.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub ballot: BallotId,
    pub ballot_title: String,
    pub organization: String,
    pub unit: String,
    pub tracker: Tracker,
    pub cast_at: Timestamp,
    /// `cast_at` in the ballot's time zone, with seconds.
    pub cast_at_local: String,
    pub channel: VoteChannel,
    pub secrecy: Secrecy,
    /// Each contest's title and the chosen option(s).
    pub choices: Vec<(String, Vec<String>)>,
    pub definition_hash: Digest32,
    /// The receipt as a signed note (checkable with the instance's verifier key).
    pub signed: String,
}

/// What staff see after entering a paper ballot: no tracker and no choices, so the entry
/// screen cannot be used to link a secret ballot to its unit.
#[derive(Debug, Clone)]
pub struct PaperEntered {
    pub unit: String,
    pub at_local: String,
}

/// The associated data a ballot's sealed choices are bound to.
pub(crate) fn choices_aad(ballot: BallotId, tracker: Tracker) -> Vec<u8> {
    aad(
        "ballot_box",
        "choices",
        &format!("{}/{}", ballot, tracker.as_i64()),
    )
}

struct Checked {
    ballot: Ballot,
    unit: Unit,
    organization: String,
    weight: Weight,
    choices: Choices,
}

impl Cista {
    /// Casts an online vote for one of the voter's units.
    pub async fn cast_vote(&self, actor: &Actor, request: CastRequest) -> Result<Receipt> {
        let person = actor.person().ok_or(Error::Unauthenticated)?;
        let channel = match person.access {
            Access::Full => VoteChannel::Web,
            Access::SmsRestricted => VoteChannel::SmsSession,
        };
        let voter = person.subject;
        let checked = match self.check_cast(actor, &request, channel, Some(voter)).await {
            Ok(c) => c,
            Err(refusal) => {
                return Err(self
                    .refused(actor, &request, channel, Some(voter), refusal)
                    .await);
            }
        };
        let (tracker, cast_at) = match self
            .write_vote(actor, &checked, channel, Some(voter), &request.origin)
            .await
        {
            Ok(done) => done,
            Err(refusal @ Error::AlreadyVoted(_)) => {
                return Err(self
                    .refused(actor, &request, channel, Some(voter), refusal)
                    .await);
            }
            Err(e) => return Err(e),
        };
        let ballot = &checked.ballot;
        let choices = checked.choices.describe(&ballot.definition);
        let cast_at_local = ballot.definition.time_zone.format_precise(cast_at);
        let signed = self.sign_receipt(ballot, &checked, tracker, cast_at, &choices, channel);
        Ok(Receipt {
            ballot: ballot.id(),
            ballot_title: ballot.definition.title.clone(),
            organization: checked.organization,
            unit: checked.unit.label.to_string(),
            tracker,
            cast_at,
            cast_at_local,
            channel,
            secrecy: ballot.definition.secrecy,
            choices,
            definition_hash: ballot.stored.definition_hash,
            signed,
        })
    }

    /// Enters a paper ballot for a unit, as staff.
    pub async fn enter_paper_ballot(
        &self,
        actor: &Actor,
        request: CastRequest,
    ) -> Result<PaperEntered> {
        let ballot = self.load_ballot(request.ballot).await?;
        actor.authorize_in(ballot.org(), OrgAction::EnterPaperBallots)?;
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
            .write_vote(actor, &checked, channel, None, &request.origin)
            .await
        {
            Ok((_, at)) => Ok(PaperEntered {
                unit: checked.unit.label.to_string(),
                at_local: checked.ballot.definition.time_zone.format_precise(at),
            }),
            Err(refusal @ Error::AlreadyVoted(_)) => {
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
        let ballot = self.load_ballot(request.ballot).await?;
        let unit = self
            .store()
            .unit(request.unit)
            .await?
            .filter(|u| u.org == ballot.org())
            .ok_or(Error::NotFound { what: "this unit" })?;
        let now = self.clock().now();
        let title = &ballot.definition.title;
        match ballot.status() {
            BallotStatus::Published => {}
            BallotStatus::Draft => {
                return Err(Error::NotFound {
                    what: "this ballot",
                });
            }
            BallotStatus::Cancelled => {
                return Err(Error::BallotNotOpen(format!(
                    "“{title}” was cancelled; no votes are accepted"
                )));
            }
            BallotStatus::Closed => {
                return Err(Error::BallotNotOpen(format!(
                    "voting on “{title}” closed on {}; no late ballots are accepted",
                    ballot.local(ballot.definition.closes_at)
                )));
            }
        }
        if now < ballot.definition.opens_at {
            return Err(Error::BallotNotOpen(format!(
                "voting on “{title}” opens on {}",
                ballot.local(ballot.definition.opens_at)
            )));
        }
        if now >= ballot.definition.closes_at {
            return Err(Error::BallotNotOpen(format!(
                "voting on “{title}” closed on {}; no late ballots are accepted",
                ballot.local(ballot.definition.closes_at)
            )));
        }
        let hash_ok = Digest32::from_hex(request.definition_hash.trim())
            .is_some_and(|h| h.ct_eq(&ballot.stored.definition_hash));
        if !hash_ok {
            return Err(Error::BallotChanged);
        }
        let eligible = self
            .store()
            .eligible_unit(ballot.id(), unit.id)
            .await?
            .ok_or_else(|| {
                Error::NotEligible(format!(
                    "unit {} is not on the roll of “{title}” (it was added after publication)",
                    unit.label
                ))
            })?;
        if channel == VoteChannel::Paper {
            if !ballot.definition.paper {
                return Err(Error::NotEligible(format!(
                    "“{title}” does not accept paper ballots"
                )));
            }
        } else {
            let person = actor.person().ok_or(Error::Unauthenticated)?;
            let owners = self.store().owners_of(unit.id).await?;
            let owner = owners.iter().any(|o| Some(o.subject) == voter);
            if !owner || !person.roles.contains_key(&ballot.org()) {
                return Err(Error::NotEligible(format!(
                    "you are not an owner of unit {} in this association",
                    unit.label
                )));
            }
            if !votes_for(&owners, person.subject) {
                return Err(Error::NotEligible(format!(
                    "unit {} has another owner as its designated voter; only they vote for it",
                    unit.label
                )));
            }
            match unit.consent {
                ConsentStatus::Consented => {}
                ConsentStatus::None => {
                    return Err(Error::ConsentRequired(format!(
                        "unit {} has not consented to online voting. Give consent on your \
                         voting page, or vote on paper: ask the association's office for a \
                         paper ballot",
                        unit.label
                    )));
                }
                ConsentStatus::OptedOut => {
                    return Err(Error::ConsentRequired(format!(
                        "unit {} opted out of online voting, so it votes on paper: ask the \
                         association's office for a paper ballot",
                        unit.label
                    )));
                }
            }
        }
        let choices = Choices::from_form(&ballot.definition, &request.fields)?;
        let weight = match ballot.definition.weighting {
            Weighting::Weighted => eligible.weight,
            Weighting::PerUnit => Weight::ONE,
        };
        let organization = self
            .store()
            .organization(ballot.org())
            .await?
            .map(|o| o.name.to_string())
            .unwrap_or_default();
        Ok(Checked {
            ballot,
            unit,
            organization,
            weight,
            choices,
        })
    }

    /// Writes the participation row and the ballot in one transaction with the audit entry.
    /// Returns `AlreadyVoted` (writing nothing) if the unit took part first.
    async fn write_vote(
        &self,
        actor: &Actor,
        checked: &Checked,
        channel: VoteChannel,
        voter: Option<SubjectCode>,
        origin: &VoteOrigin,
    ) -> Result<(Tracker, Timestamp)> {
        let ballot = &checked.ballot;
        let choices_json = checked.choices.to_json()?;
        let recorded = ballot.definition.secrecy == Secrecy::Recorded;
        // A tracker collision (60 random bits) is vanishingly rare; one retry covers it.
        for _ in 0..2 {
            let tracker = Tracker::new(self.rng().as_ref());
            let sealed = self
                .seal_for_org(
                    ballot.org(),
                    &choices_aad(ballot.id(), tracker),
                    choices_json.as_bytes(),
                )
                .await?;
            let mut tx = self.store().begin().await?;
            let now = self.clock().now();
            // Inside the transaction, under a shared lock: a close waits for us, and if the
            // ballot closed while we checked, we see it here.
            let live = tx
                .lock_ballot(ballot.id(), false)
                .await?
                .is_some_and(|b| b.status == BallotStatus::Published && now < b.closes_at);
            if !live {
                return Err(Error::BallotNotOpen(format!(
                    "voting on “{}” has closed; no late ballots are accepted",
                    ballot.definition.title
                )));
            }
            let participation = Participation {
                ballot: ballot.id(),
                unit: checked.unit.id,
                channel,
                voter,
                origin: origin.clone(),
                at: now,
            };
            if !tx.insert_participation(&participation).await? {
                drop(tx);
                return Err(self.already_voted(ballot, &checked.unit).await?);
            }
            let entry = BoxEntry {
                ballot: ballot.id(),
                tracker,
                weight: checked.weight,
                sealed_choices: sealed.into_bytes(),
                unit: recorded.then_some(checked.unit.id),
                cast_at: recorded.then_some(now),
            };
            match tx.insert_box_entry(&entry).await {
                Ok(()) => {}
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
            tx.commit(NewAuditEntry::new(
                now,
                actor,
                Some(ballot.org()),
                AuditKind::VoteCast,
                serde_json::json!({
                    "ballot": ballot.id().to_string(),
                    "unit": checked.unit.id.to_string(),
                    "channel": channel.as_str(),
                }),
            ))
            .await?;
            return Ok((tracker, now));
        }
        Err(Error::Internal(
            "could not draw an unused tracker".to_owned(),
        ))
    }

    /// The refusal for a unit that already took part: when and how, in the ballot's zone.
    async fn already_voted(&self, ballot: &Ballot, unit: &Unit) -> Result<Error> {
        let first = self
            .store()
            .participation_of(ballot.id(), unit.id)
            .await?
            .ok_or_else(|| Error::Internal("the earlier vote is not visible".to_owned()))?;
        Ok(Error::AlreadyVoted(format!(
            "unit {} already voted on {}, {}. Each unit votes once; this attempt was recorded",
            unit.label,
            ballot.definition.time_zone.format(first.at),
            first.channel.describe()
        )))
    }

    /// Records a refused attempt (a refusal row and an audit entry) when it names a ballot
    /// and a unit of the same organization, then hands the refusal back. Never records the
    /// choices that were attempted.
    async fn refused(
        &self,
        actor: &Actor,
        request: &CastRequest,
        channel: VoteChannel,
        voter: Option<SubjectCode>,
        refusal: Error,
    ) -> Error {
        let recordable = !matches!(
            refusal,
            Error::NotFound { .. }
                | Error::Unauthenticated
                | Error::Forbidden { .. }
                | Error::Store(_)
                | Error::StoreUnavailable(_)
                | Error::KeyProviderUnavailable(_)
                | Error::Internal(_)
        );
        if !recordable {
            return refusal;
        }
        let record = async {
            let Some(ballot) = self.store().ballot(request.ballot).await? else {
                return Ok(());
            };
            let unit_ok = self
                .store()
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
            tx.insert_refusal(&row).await?;
            tx.commit(NewAuditEntry::new(
                now,
                actor,
                Some(ballot.org),
                AuditKind::VoteRefused,
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

    fn sign_receipt(
        &self,
        ballot: &Ballot,
        checked: &Checked,
        tracker: Tracker,
        cast_at: Timestamp,
        choices: &[(String, Vec<String>)],
        channel: VoteChannel,
    ) -> String {
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        let mut body = String::from("Cista ballot receipt\n");
        body.push_str(&format!(
            "organization {}\n",
            one_line(&checked.organization)
        ));
        body.push_str(&format!(
            "ballot {} {}\n",
            ballot.id(),
            one_line(&ballot.definition.title)
        ));
        body.push_str(&format!(
            "definition {}\n",
            ballot.stored.definition_hash.to_hex()
        ));
        body.push_str(&format!("unit {}\n", one_line(checked.unit.label.as_str())));
        body.push_str(&format!("tracker {tracker}\n"));
        body.push_str(&format!("cast {}\n", cast_at.to_rfc3339()));
        body.push_str(&format!("channel {}\n", channel.as_str()));
        for (contest, chosen) in choices {
            body.push_str(&format!(
                "choice {}: {}\n",
                one_line(contest),
                one_line(&chosen.join("; "))
            ));
        }
        self.signer().sign_text(&body)
    }

    /// Checks a receipt's signature with this instance's key; returns its text.
    pub fn verify_receipt(&self, signed: &str) -> Result<String> {
        let body = self.signer().verifier().verify_text(signed)?;
        if !body.starts_with("Cista ballot receipt\n") {
            return Err(Error::invalid("receipt", "is not a Cista ballot receipt"));
        }
        Ok(body)
    }

    /// Units staff may enter a paper ballot for: on the roll, not yet voted.
    pub async fn paper_candidates(
        &self,
        actor: &Actor,
        ballot: &Ballot,
    ) -> Result<Vec<crate::ports::EligibleUnit>> {
        actor.authorize_in(ballot.org(), OrgAction::EnterPaperBallots)?;
        let voted: std::collections::BTreeSet<_> = self
            .store()
            .participation(ballot.id())
            .await?
            .into_iter()
            .map(|p| p.unit)
            .collect();
        let mut units: Vec<_> = self
            .store()
            .eligible_units(ballot.id())
            .await?
            .into_iter()
            .filter(|u| !voted.contains(&u.unit))
            .collect();
        units.sort_by(|a, b| super::units::natural_cmp(a.label.as_str(), b.label.as_str()));
        Ok(units)
    }
}
