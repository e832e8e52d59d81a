//! Paper ballots of a secret ballot, in the two envelopes Florida associations use: the outer
//! envelope names the unit and is signed by its owner; the inner envelope holds the ballot and
//! nothing else.
//!
//! 1. **Check in** an outer envelope: the unit's participation row (channel `paper`, the staff
//!    member as origin, the time), under the same one-vote-per-unit constraint as online votes;
//!    a unit that already took part is refused and the attempt recorded. The envelope joins the
//!    pile of its voting weight. Nothing is entered in the box yet.
//! 2. **Open a batch**: every waiting envelope of one weight is opened at once (while voting is
//!    open, only when at least `MIN_BATCH` wait, so whoever enters them cannot tell whose is
//!    whose), and the inner ballots are shuffled.
//! 3. **Enter the inner ballots** of the batch, in any order, with no unit: each goes into the
//!    box with a random tracker and the batch's weight, and the batch's count of entered
//!    ballots can never pass its count of envelopes (a database constraint).
//!
//! A ballot cannot be closed and counted while checked-in envelopes still wait for their inner
//! ballots; inner ballots may be entered after the closing time, envelopes may not be checked
//! in after it. A recorded ballot keeps the one-screen entry (`Cista::enter_paper_ballot`).

use super::Ballot;
use super::VotingAction;
use super::VotingError;
use super::audit::VotingAuditKind;
use super::cast::choices_aad;
use super::definition::{Choices, Secrecy};
use crate::platform::audit::NewAuditEntry;
use crate::ports::{
    BallotStatus, BoxEntry, PaperBatch, PaperPile, Participation, VoteChannel, VoteOrigin,
};
use crate::{Actor, Cista, Error, Result};
use cista_crypto::Digest32;
use cista_types::{BallotId, Tracker, UnitId, Weight};

/// The fewest envelopes a batch may hold while voting is open. After the closing time every
/// remaining envelope may be opened, however few.
pub const MIN_BATCH: u64 = 5;

/// "1 paper ballot", "3 paper ballots".
pub fn paper_ballots(n: u64) -> String {
    if n == 1 {
        "1 paper ballot".to_owned()
    } else {
        format!("{n} paper ballots")
    }
}

/// "1 envelope", "3 envelopes".
pub fn envelopes(n: u64) -> String {
    if n == 1 {
        "1 envelope".to_owned()
    } else {
        format!("{n} envelopes")
    }
}

/// What staff see after checking in an outer envelope.
#[derive(Debug, Clone)]
pub struct EnvelopeCheckedIn {
    pub unit: String,
    pub at_local: String,
}

/// What staff see after entering an inner ballot: its batch's progress, nothing about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerBallotEntered {
    pub batch: u32,
    pub entered: u64,
    pub envelopes: u64,
}

/// Where a secret ballot's paper channel stands.
#[derive(Debug, Clone, Default)]
pub struct PaperState {
    pub piles: Vec<PaperPile>,
    pub batches: Vec<PaperBatch>,
}

impl PaperState {
    /// Envelopes checked in and not yet opened.
    pub fn waiting(&self) -> u64 {
        self.piles.iter().map(PaperPile::waiting).sum()
    }

    /// Inner ballots of opened batches not yet entered.
    pub fn unentered(&self) -> u64 {
        self.batches.iter().map(PaperBatch::remaining).sum()
    }

    /// Checked-in envelopes whose inner ballots are not yet in the box.
    pub fn pending(&self) -> u64 {
        self.waiting() + self.unentered()
    }

    /// Why a ballot cannot be closed yet, if paper ballots are pending.
    pub fn blocks_close(&self) -> Option<Error> {
        let pending = self.pending();
        (pending > 0).then(|| {
            Error::from(VotingError::PaperPending(format!(
                "{} checked in on paper {} not yet entered: open the waiting envelopes as a \
                 batch and enter their inner ballots, then the ballot closes and is counted",
                paper_ballots(pending),
                if pending == 1 { "is" } else { "are" }
            )))
        })
    }
}

/// Whether a ballot's paper channel uses the two envelopes.
pub fn two_envelopes(ballot: &Ballot) -> bool {
    ballot.definition.paper && ballot.definition.secrecy == Secrecy::Secret
}

impl Cista {
    fn two_envelope_ballot(ballot: &Ballot) -> Result<()> {
        if !ballot.definition.paper {
            return Err(Error::from(VotingError::NotEligible(format!(
                "“{}” does not accept paper ballots",
                ballot.definition.title
            ))));
        }
        if ballot.definition.secrecy != Secrecy::Secret {
            return Err(Error::Conflict(
                "a recorded ballot's paper ballots are entered with their unit, on one screen"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// Checks in a secret ballot's outer envelope for `unit`, as staff: the unit's
    /// participation row, refused (and recorded) if the unit already took part.
    pub async fn check_in_envelope(
        &self,
        actor: &Actor,
        ballot: BallotId,
        unit: UnitId,
        origin: VoteOrigin,
    ) -> Result<EnvelopeCheckedIn> {
        let loaded = self.load_ballot(ballot).await?;
        actor.authorize_in(loaded.org(), VotingAction::EnterPaperBallots)?;
        Self::two_envelope_ballot(&loaded)?;
        let origin = VoteOrigin {
            staff: actor.person().map(|p| p.subject),
            ..origin
        };
        let attempt = super::cast::CastRequest {
            ballot,
            unit,
            definition_hash: String::new(),
            fields: Vec::new(),
            origin: origin.clone(),
            submission: None,
        };
        let channel = VoteChannel::Paper;
        let checked = self
            .check_participation(actor, ballot, unit, channel, None)
            .await;
        let super::cast::Admitted {
            ballot,
            unit,
            roll_weight,
            weight,
            ..
        } = match checked {
            Ok(found) => found,
            Err(refusal) => {
                return Err(self.refused(actor, &attempt, channel, None, refusal).await);
            }
        };
        let mut tx = self.store().begin().await?;
        let now = self.clock().now();
        super::cast::lock_open_ballot(tx.as_mut(), &ballot, now).await?;
        let row = Participation {
            ballot: ballot.id(),
            unit: unit.id,
            channel,
            voter: None,
            origin,
            at: now,
            roll_weight,
            submission: None,
        };
        if !tx.voting().insert_participation(&row).await? {
            drop(tx);
            let refusal = self.already_voted(&ballot, &unit).await?;
            return Err(self.refused(actor, &attempt, channel, None, refusal).await);
        }
        tx.voting().add_to_paper_pile(ballot.id(), weight).await?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(ballot.org()),
            VotingAuditKind::PaperEnvelopeCheckedIn,
            serde_json::json!({
                "ballot": ballot.id().to_string(),
                "unit": unit.id.to_string(),
            }),
        ))
        .await?;
        Ok(EnvelopeCheckedIn {
            unit: unit.label.to_string(),
            at_local: ballot.definition.time_zone.format_precise(now),
        })
    }

    /// Opens every waiting envelope of one weight as a new batch.
    pub async fn open_paper_batch(
        &self,
        actor: &Actor,
        ballot: BallotId,
        weight: Weight,
    ) -> Result<PaperBatch> {
        let ballot = self.load_ballot(ballot).await?;
        actor.authorize_in(ballot.org(), VotingAction::EnterPaperBallots)?;
        Self::two_envelope_ballot(&ballot)?;
        let mut tx = self.store().begin().await?;
        let now = self.clock().now();
        // Exclusive: check-ins and other openings wait, so the pile cannot move under us.
        let Some(locked) = tx.voting().lock_ballot(ballot.id(), true).await? else {
            return Err(Error::NotFound {
                what: "this ballot",
            });
        };
        if locked.status != BallotStatus::Published {
            return Err(Error::from(VotingError::BallotNotOpen(format!(
                "“{}” is not open: its paper ballots can no longer be entered",
                ballot.definition.title
            ))));
        }
        let (piles, _) = tx.voting().paper_in_tx(ballot.id()).await?;
        let waiting = piles
            .iter()
            .find(|p| p.weight == weight)
            .map_or(0, PaperPile::waiting);
        if waiting == 0 {
            return Err(Error::Conflict(
                "no checked-in envelope of this weight is waiting to be opened".to_owned(),
            ));
        }
        if now < locked.closes_at && waiting < MIN_BATCH {
            return Err(Error::Conflict(format!(
                "only {} of this weight {} waiting: while voting is open, open a batch when at \
                 least {MIN_BATCH} are, so whoever enters the inner ballots cannot tell whose \
                 they are (after the closing time the rest can be opened however few)",
                envelopes(waiting),
                if waiting == 1 { "is" } else { "are" }
            )));
        }
        let batch = tx
            .voting()
            .open_paper_batch(ballot.id(), weight, now, actor.person().map(|p| p.subject))
            .await?
            .ok_or_else(|| Error::Conflict("no envelope is waiting to be opened".to_owned()))?;
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(ballot.org()),
            VotingAuditKind::PaperBatchOpened,
            serde_json::json!({
                "ballot": ballot.id().to_string(),
                "batch": batch.number,
                "envelopes": batch.envelopes,
                "weight": batch.weight.to_string(),
            }),
        ))
        .await?;
        Ok(batch)
    }

    /// Enters one inner ballot of an opened batch into the box, with no unit.
    pub async fn enter_inner_ballot(
        &self,
        actor: &Actor,
        ballot: BallotId,
        batch: u32,
        definition_hash: &str,
        fields: &[(String, String)],
    ) -> Result<InnerBallotEntered> {
        let ballot = self.load_ballot(ballot).await?;
        actor.authorize_in(ballot.org(), VotingAction::EnterPaperBallots)?;
        Self::two_envelope_ballot(&ballot)?;
        let hash_ok = Digest32::from_hex(definition_hash.trim())
            .is_some_and(|h| h.ct_eq(&ballot.stored.definition_hash));
        if !hash_ok {
            return Err(Error::from(VotingError::BallotChanged));
        }
        let choices = Choices::from_form(&ballot.definition, fields)?;
        let opened = self
            .store()
            .voting()
            .paper_batches(ballot.id())
            .await?
            .into_iter()
            .find(|b| b.number == batch)
            .ok_or(Error::NotFound { what: "this batch" })?;
        let choices_json = choices.to_json()?;
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
            let open = tx
                .voting()
                .lock_ballot(ballot.id(), false)
                .await?
                .is_some_and(|b| b.status == BallotStatus::Published);
            if !open {
                return Err(Error::from(VotingError::BallotNotOpen(format!(
                    "“{}” is closed: its paper ballots can no longer be entered",
                    ballot.definition.title
                ))));
            }
            if !tx
                .voting()
                .count_into_paper_batch(ballot.id(), batch)
                .await?
            {
                return Err(Error::Conflict(format!(
                    "batch {batch} is complete: all {} of its inner ballots are entered",
                    opened.envelopes
                )));
            }
            let entry = BoxEntry {
                ballot: ballot.id(),
                tracker,
                weight: opened.weight,
                sealed_choices: sealed.into_bytes(),
                unit: None,
                cast_at: None,
            };
            match tx.voting().insert_box_entry(&entry).await {
                Ok(()) => {}
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
            tx.commit(NewAuditEntry::new(
                now,
                actor,
                Some(ballot.org()),
                VotingAuditKind::PaperBallotEntered,
                serde_json::json!({
                    "ballot": ballot.id().to_string(),
                    "batch": batch,
                }),
            ))
            .await?;
            let state = self.store().voting().paper_batches(ballot.id()).await?;
            let entered = state
                .iter()
                .find(|b| b.number == batch)
                .map_or(opened.envelopes, |b| b.entered);
            return Ok(InnerBallotEntered {
                batch,
                entered,
                envelopes: opened.envelopes,
            });
        }
        Err(Error::Internal(
            "could not draw an unused tracker".to_owned(),
        ))
    }

    /// The piles and batches of a ballot's paper channel, for staff and inspectors.
    pub async fn paper_state(&self, actor: &Actor, ballot: &Ballot) -> Result<PaperState> {
        actor.authorize_in(ballot.org(), VotingAction::ViewBallots)?;
        self.paper_state_of(ballot.id()).await
    }

    pub(crate) async fn paper_state_of(&self, ballot: BallotId) -> Result<PaperState> {
        Ok(PaperState {
            piles: self.store().voting().paper_piles(ballot).await?,
            batches: self.store().voting().paper_batches(ballot).await?,
        })
    }

    /// Units staff may enter a paper ballot for (on the roll, not yet voted), to choose from:
    /// all of them, labels in natural order, while there are at most `UNITS_LISTED`; past
    /// that, `PaperUnits::Typed`, and staff type the label (`paper_unit_labelled`). A list of
    /// thousands is no help to choose from, and a million-unit ballot's would fill the page.
    ///
    /// # Errors
    /// `forbidden` without the right to enter paper ballots; the store's errors.
    pub async fn paper_candidates(&self, actor: &Actor, ballot: &Ballot) -> Result<PaperUnits> {
        actor.authorize_in(ballot.org(), VotingAction::EnterPaperBallots)?;
        // The sums first (from indexes alone): past the bound, the roll is not walked at all.
        let totals = self.store().voting().turnout_totals(ballot.id()).await?;
        let voted: u64 = totals.voted.iter().map(|(_, n)| n).sum();
        let bound = u64::try_from(UNITS_LISTED).unwrap_or(u64::MAX);
        if totals.eligible_units.saturating_sub(voted) > bound {
            return Ok(PaperUnits::Typed);
        }
        // In natural label order, from the roll's sort keys.
        let units = self
            .store()
            .voting()
            .units_yet_to_vote(ballot.id(), Some(bound + 1))
            .await?;
        if units.len() > UNITS_LISTED {
            return Ok(PaperUnits::Typed);
        }
        Ok(PaperUnits::Listed(units))
    }

    /// The unit on `ballot`'s roll labelled `label` as staff typed it (case and extra spaces
    /// aside), for paper entry. Whether it has voted is the cast's to check (and record).
    ///
    /// # Errors
    /// `invalid_input` on `unit` when no unit on the roll has that label; `forbidden` without
    /// the right to enter paper ballots; the store's errors.
    pub async fn paper_unit_labelled(
        &self,
        actor: &Actor,
        ballot: &Ballot,
        label: &str,
    ) -> Result<UnitId> {
        actor.authorize_in(ballot.org(), VotingAction::EnterPaperBallots)?;
        let key = super::directory::folded(label);
        let found = if key.is_empty() {
            None
        } else {
            self.store()
                .voting()
                .roll_unit_labelled((ballot.org(), ballot.id()), &key)
                .await?
        };
        found.map(|e| e.unit).ok_or_else(|| {
            Error::invalid(
                "unit",
                "no unit on this ballot's roll has that label: type it as the roll has it",
            )
        })
    }
}

/// How many units yet to vote a paper entry page lists to choose from, at most.
pub const UNITS_LISTED: usize = 500;

/// The units a paper entry page offers (`Cista::paper_candidates`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaperUnits {
    /// Every unit yet to vote, labels in natural order (none: every unit has voted).
    Listed(Vec<crate::ports::EligibleUnit>),
    /// More than `UNITS_LISTED` units are yet to vote: staff type the unit's label.
    Typed,
}

/// When a batch was opened, for the staff page.
pub fn opened_at(batch: &PaperBatch, ballot: &Ballot) -> String {
    ballot.local(batch.opened_at)
}
