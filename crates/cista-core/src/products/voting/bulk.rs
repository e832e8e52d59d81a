//! Loads at scale for `cista bench tally`: many units at once, and a published ballot's box
//! filled as if every unit on its roll had voted, written straight to the store. The close,
//! the bulletin, the bundle and the recount are then measured at a million units, which the
//! cast path (a real session and form per unit) would take hours to reach. The rows are the
//! same rows a cast writes (participation, sealed box entry), so everything after them runs
//! as in production; no audit entry is written per vote, which a real cast would add, so
//! both writers are the machine operator's alone (`Action::LoadBenchmarkData`): no route of
//! the server reaches them.

use super::VotingAction;
use super::cast::choices_aad;
use super::definition::{Answer, Choice, Choices, ContestKind};
use crate::ports::{BallotStatus, BoxEntry, ConsentStatus, Participation, Unit, VoteChannel};
use crate::{Action, Actor, Cista, Error, Result};
use cista_types::{BallotId, OrgId, Rng, Tracker, UnitId, UnitLabel, Weight};

/// Rows written per transaction: large enough that commits do not dominate, small enough
/// that one transaction's memory and lock time stay modest.
const ROWS_PER_TRANSACTION: usize = 10_000;

impl Cista {
    /// Adds `count` units to `org` labelled `{prefix}0000001`…, consented, with weights from
    /// 0.50 to 2.49 (so a weighted ballot's weights differ). `progress` is called with the
    /// number written so far after each transaction. Errors: a label already in use
    /// (`conflict`), storage.
    pub async fn add_units_in_bulk(
        &self,
        actor: &Actor,
        org: OrgId,
        prefix: &str,
        count: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<()> {
        actor.authorize(Action::LoadBenchmarkData)?;
        actor.authorize_in(org, VotingAction::ManageUnits)?;
        let now = self.clock().now();
        let mut written = 0;
        while written < count {
            let end = (written + ROWS_PER_TRANSACTION).min(count);
            let units = (written..end)
                .map(|i| {
                    Ok(Unit {
                        id: UnitId::new(self.rng().as_ref()),
                        org,
                        label: UnitLabel::parse(&format!("{prefix}{:07}", i + 1)).map_err(|e| {
                            Error::InvalidInput {
                                field: "prefix".to_owned(),
                                reason: e.message.to_string(),
                            }
                        })?,
                        weight: Weight::from_micros(500_000 + (i as i64 % 200) * 10_000),
                        consent: ConsentStatus::Consented,
                        consent_at: Some(now),
                        consent_method: Some("bulk load".to_owned()),
                        created_at: now,
                        retired_at: None,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut tx = self.store().begin().await?;
            tx.voting().insert_units(&units).await?;
            tx.commit_housekeeping().await?;
            written = end;
            progress(written);
        }
        Ok(())
    }

    /// Fills an open ballot's box as if every unit on its roll had voted online once, with
    /// choices drawn at random (every contest answered; elections with one to `seats`
    /// candidates), sealed under the organization's data key exactly as a cast seals them
    /// (on a recorded ballot each entry names its unit and time, as a cast's does).
    /// Returns how many ballots were written. Each transaction holds the ballot's shared lock
    /// and checks it is still open, as a cast does, so a close never races the writes.
    /// Errors: the ballot is not published (`conflict`), it closed before a transaction
    /// (`ballot_not_open`; the transactions before it stay written), a unit already took part
    /// (`conflict`), storage.
    pub async fn fill_ballot_box(
        &self,
        actor: &Actor,
        org: OrgId,
        id: BallotId,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<u64> {
        actor.authorize(Action::LoadBenchmarkData)?;
        actor.authorize_in(org, VotingAction::ManageBallots)?;
        let ballot = self.ballot(actor, org, id).await?;
        if ballot.status() != BallotStatus::Published {
            return Err(Error::Conflict(
                "only a published ballot's box can be filled".to_owned(),
            ));
        }
        let roll = self.store().voting().eligible_units(id).await?;
        let key = self.org_data_key(org).await?;
        let now = self.clock().now();
        let weighted = ballot.definition.weighting == super::definition::Weighting::Weighted;
        // A recorded ballot's box names the unit and the time, as a cast writes it.
        let recorded = ballot.definition.secrecy == super::definition::Secrecy::Recorded;
        let mut written = 0;
        for chunk in roll.chunks(ROWS_PER_TRANSACTION) {
            let mut participation = Vec::with_capacity(chunk.len());
            let mut entries = Vec::with_capacity(chunk.len());
            for eligible in chunk {
                let tracker = Tracker::new(self.rng().as_ref());
                let choices = random_choices(&ballot.definition, self.rng().as_ref());
                let sealed = key.seal(
                    self.rng().as_ref(),
                    &choices_aad(id, tracker),
                    choices.to_json()?.as_bytes(),
                )?;
                participation.push(Participation {
                    ballot: id,
                    unit: eligible.unit,
                    channel: VoteChannel::Web,
                    voter: None,
                    origin: Default::default(),
                    at: now,
                    roll_weight: eligible.weight,
                    submission: None,
                });
                entries.push(BoxEntry {
                    ballot: id,
                    tracker,
                    weight: if weighted {
                        eligible.weight
                    } else {
                        Weight::ONE
                    },
                    sealed_choices: sealed.into_bytes(),
                    unit: recorded.then_some(eligible.unit),
                    cast_at: recorded.then_some(now),
                });
            }
            let mut tx = self.store().begin().await?;
            // As a cast does: the ballot's shared lock, taken before the first row, makes a
            // close wait for this transaction, and a ballot closed since the check above is
            // refused here rather than given rows after its close.
            super::cast::lock_open_ballot(tx.as_mut(), &ballot, self.clock().now()).await?;
            tx.voting().insert_participations(&participation).await?;
            tx.voting().insert_box_entries(&entries).await?;
            tx.commit_housekeeping().await?;
            written += chunk.len();
            progress(written);
        }
        Ok(written as u64)
    }
}

/// A complete ballot for `definition` with every contest answered at random.
fn random_choices(definition: &super::definition::BallotDefinition, rng: &dyn Rng) -> Choices {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    let choices = definition
        .contests
        .iter()
        .zip(bytes.iter().cycle())
        .map(|(contest, &byte)| match &contest.kind {
            ContestKind::Resolution { .. } => Choice::Answer {
                contest: contest.id,
                answer: match byte % 3 {
                    0 => Answer::Yes,
                    1 => Answer::No,
                    _ => Answer::Abstain,
                },
            },
            ContestKind::Election {
                seats, candidates, ..
            } => {
                // Start at a random candidate and take one up to `seats` in a row.
                let n = candidates.len().max(1);
                let take = 1 + usize::from(byte >> 4) % (*seats as usize).clamp(1, n);
                let start = usize::from(byte) % n;
                let mut ids: Vec<u32> = (0..take)
                    .filter_map(|k| candidates.get((start + k) % n).map(|c| c.id))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                Choice::Candidates {
                    contest: contest.id,
                    candidates: ids,
                }
            }
        })
        .collect();
    Choices(choices)
}
