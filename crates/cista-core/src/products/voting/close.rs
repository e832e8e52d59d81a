//! Closing a ballot and what follows: the periodic shuffle of open ballot boxes, the close
//! (tally, Merkle tree over the ballot list, signed checkpoint, results) in one transaction
//! that waits for votes in flight, and the published results and bundle. Before the close no
//! function here returns a count per choice (FL-09): turnout and quorum only.

use super::VotingAction;
use super::VotingError;
use super::audit::VotingAuditKind;
use super::bundle::{
    BallotListHasher, BallotResults, Bundle, RESULTS_EXTENSION, RESULTS_FORMAT, checkpoint_origin,
    results_sha256,
};
use super::definition::BallotDefinition;
use super::opening::{
    BoxApart, BoxInTx, BoxPages, LeafContext, OpenedPage, PageOpener, open_box_by_pages,
};
use super::tally::{Counter, Turnout};
use super::{Ballot, Window};
use crate::platform::audit::NewAuditEntry;
use crate::ports::{
    BallotStatus, EligibleUnit, Participation, StoreTx, StoredBallot, TurnoutTotals, VoteChannel,
};
use crate::{Action, Actor, Cista, Error, Result};
use cista_crypto::note::Checkpoint;
use cista_crypto::{DataKey, Digest32};
use cista_types::{BallotId, OrgId, Timestamp};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The entries one part of the worker's shuffle rewrites, in a transaction of its own, where
/// the store shuffles in parts (SQLite: see `VotingWrites::shuffle_box_part`). Writes take
/// turns there, so a cast into a box being shuffled waits for one part at most (the longest
/// wait 38 and 120 ms, the median 12 and 22 ms, in two runs of `bench tally` at a million
/// entries), not for the whole box (14 s on the same machine, past a cast's 10 s wait for its
/// turn to write).
pub const SHUFFLE_PART_ENTRIES: u64 = 4096;

/// What one pass of the voting worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkDone {
    pub closed: usize,
    pub shuffled: usize,
    pub reminders: usize,
    /// Ballots past their closing time that wait for paper ballots to be entered.
    pub waiting_for_paper: usize,
}

/// Turnout and quorum while a ballot is open: never a count per choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTurnout {
    pub turnout: Turnout,
    pub quorum_reached: bool,
    pub min_turnout_reached: Option<bool>,
}

/// Turnout from the roll and participation as the store sums them.
pub fn turnout_from(totals: &TurnoutTotals) -> Turnout {
    let mut t = Turnout {
        eligible_units: totals.eligible_units,
        eligible_weight: totals.eligible_weight,
        voted_units: 0,
        voted_weight: totals.voted_weight,
        web: 0,
        sms_session: 0,
        paper: 0,
    };
    for &(channel, units) in &totals.voted {
        t.voted_units += units;
        match channel {
            VoteChannel::Web => t.web += units,
            VoteChannel::SmsSession => t.sms_session += units,
            VoteChannel::Paper => t.paper += units,
        }
    }
    t
}

/// Turnout from the frozen roll and the participation ledger, row by row (what
/// `turnout_from` sums in the database; kept to check the two agree).
pub fn turnout_of(eligible: &[EligibleUnit], participation: &[Participation]) -> Turnout {
    let weights: BTreeMap<_, _> = eligible.iter().map(|e| (e.unit, e.weight)).collect();
    let mut t = Turnout {
        eligible_units: eligible.len() as u64,
        eligible_weight: eligible.iter().map(|e| e.weight.micros()).sum(),
        voted_units: 0,
        voted_weight: 0,
        web: 0,
        sms_session: 0,
        paper: 0,
    };
    for p in participation {
        let Some(w) = weights.get(&p.unit) else {
            continue;
        };
        t.voted_units += 1;
        t.voted_weight += w.micros();
        match p.channel {
            VoteChannel::Web => t.web += 1,
            VoteChannel::SmsSession => t.sms_session += 1,
            VoteChannel::Paper => t.paper += 1,
        }
    }
    t
}

impl Cista {
    /// One pass of the background work on ballots: close those whose time has come, shuffle
    /// the boxes of open ones that received ballots, send scheduled reminders. Safe to run in
    /// several processes at once.
    pub async fn run_voting_work(&self, actor: &Actor) -> Result<WorkDone> {
        actor.authorize(Action::DeliverMessages)?;
        let mut done = WorkDone::default();
        let now = self.clock().now();
        for stored in self
            .store()
            .voting()
            .ballots_with_status(BallotStatus::Published)
            .await?
        {
            let ballot = match Ballot::from_stored(stored) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(cause = %e.chain(), "a ballot cannot be read");
                    continue;
                }
            };
            let result = async {
                if ballot.window(now) == Window::Over {
                    match self.close_ballot(actor, &ballot).await {
                        Ok(true) => done.closed += 1,
                        Ok(false) => {}
                        // Staff still have inner ballots to enter; the live page says so.
                        Err(Error::Voting(VotingError::PaperPending(_))) => {
                            done.waiting_for_paper += 1
                        }
                        Err(e) => return Err(e),
                    }
                    return Ok::<_, Error>(());
                }
                let count = self.store().voting().box_count(ballot.id()).await?;
                if i64::try_from(count).unwrap_or(i64::MAX) != ballot.stored.shuffled_count
                    && self.shuffle_box(ballot.id()).await?.is_some()
                {
                    done.shuffled += 1;
                }
                done.reminders += self.scheduled_reminders(&ballot, now).await?;
                Ok(())
            }
            .await;
            if let Err(e) = result {
                tracing::error!(ballot = %ballot.id(), code = e.code(), cause = %e.chain(), "voting work failed");
            }
        }
        if done.shuffled > 0 {
            // Once a pass, not once a box: each vacuum covers every ballot's rows.
            self.vacuum_after_shuffles().await;
        }
        Ok(done)
    }

    /// Rewrites an open ballot's box in tracker order, part by part (see
    /// `VotingWrites::shuffle_box_part`), each part in a transaction of its own, and records
    /// the count; the pass vacuums after its shuffles (`vacuum_after_shuffles`). Returns the
    /// entries written, or None for a ballot no longer open (left as it is, or, closed
    /// between two parts, left to the close, which shuffles what is left).
    pub(crate) async fn shuffle_box(&self, ballot: BallotId) -> Result<Option<u64>> {
        let mut written = 0;
        let mut after = None;
        loop {
            let mut tx = self.store().begin().await?;
            // The box's lock and the ballot's shared lock, which casts hold too: casts go
            // on while a large box is rewritten (on PostgreSQL; SQLite writes one
            // transaction at a time, so there a cast waits for one part), while a cancel,
            // the opening of a paper batch or a close waits for the part (on PostgreSQL,
            // the whole box). The rewrite takes only the entries it sees, so a vote
            // committed meanwhile is kept, and shuffled next pass.
            tx.voting().lock_box(ballot).await?;
            let Some(open) = tx
                .voting()
                .lock_ballot(ballot, false)
                .await?
                .filter(|b| b.status == BallotStatus::Published)
            else {
                return Ok(None);
            };
            let part = tx
                .voting()
                .shuffle_box_part(ballot, after, SHUFFLE_PART_ENTRIES)
                .await?;
            tx.commit_housekeeping().await?;
            // A box another process shuffled while this one waited for its lock is left as
            // it is, and its count is already recorded.
            if after.is_none()
                && part.last.is_none()
                && i64::try_from(part.written).ok() == Some(open.shuffled_count)
            {
                return Ok(Some(part.written));
            }
            written += part.written;
            match part.last {
                Some(last) => after = Some(last),
                None => break,
            }
        }
        // Apart from the rewrite (see `record_shuffled`). Should this fail, or another
        // process's shuffle record a larger count first, the next pass rewrites once more.
        let mut tx = self.store().begin().await?;
        tx.voting().record_shuffled(ballot, written).await?;
        tx.commit_housekeeping().await?;
        Ok(Some(written))
    }

    /// After a pass that shuffled open boxes: clears the superseded row versions, and readies
    /// the turnout's tables while the ballots are open, so that their closes sum the turnout
    /// from the indexes. A failure only delays either.
    async fn vacuum_after_shuffles(&self) {
        self.compact_box().await;
        if let Err(e) = self.store().voting().vacuum_turnout_tables().await {
            tracing::warn!(cause = %e.chain(), "could not vacuum the turnout's tables");
        }
    }

    /// Clears superseded row versions after a shuffle; a failure only delays that.
    async fn compact_box(&self) {
        if let Err(e) = self.store().voting().compact_ballot_box().await {
            tracing::warn!(cause = %e.chain(), "could not compact the ballot box");
        }
    }

    /// Closes a ballot whose window is over: waits for votes in flight, tallies, shuffles
    /// what was cast since the last shuffle, signs the ballot list's checkpoint and stores
    /// the results, in one transaction with its audit entry. False if another process
    /// closed it first.
    pub(crate) async fn close_ballot(&self, actor: &Actor, ballot: &Ballot) -> Result<bool> {
        let now = self.clock().now();
        if now < ballot.definition.closes_at {
            return Err(Error::from(VotingError::BallotNotOpen(
                "a ballot closes at its closing time, not before".to_owned(),
            )));
        }
        let mut tx = self.store().begin().await?;
        let Some(locked) = lock_for_close(&mut *tx, ballot.id()).await? else {
            return Ok(false);
        };
        let (piles, batches) = tx.voting().paper_in_tx(ballot.id()).await?;
        if let Some(pending) = (super::paper::PaperState { piles, batches }).blocks_close() {
            return Err(pending);
        }
        let started = Instant::now();
        let id = ballot.id().to_string();
        let definition_sha256 = ballot.stored.definition_hash.to_hex();
        let context = LeafContext {
            ballot: id.clone(),
            definition_sha256: definition_sha256.clone(),
        };
        let key = Arc::new(self.org_data_key(ballot.org()).await?);
        // Each phase's time from here (the turnout and the box's read may overlap).
        let since = Instant::now();
        let ((totals, summed), (counted_box, counted)) =
            match tx.voting().box_reader_apart(ballot.id()).await? {
                // The store reads the box apart from the transaction, which sums the
                // turnout meanwhile.
                Some(apart) => {
                    let mut pages = BoxApart(apart);
                    tokio::join!(
                        timed(tx.voting().turnout_totals_in_tx(ballot.id()), since),
                        timed(count_box(&mut pages, ballot, key, context), since),
                    )
                }
                None => {
                    let totals = timed(tx.voting().turnout_totals_in_tx(ballot.id()), since).await;
                    let mut pages = BoxInTx {
                        tx: &mut *tx,
                        ballot: ballot.id(),
                    };
                    let counted = timed(count_box(&mut pages, ballot, key, context), since).await;
                    (totals, counted)
                }
            };
        let turnout = turnout_from(&totals?);
        let (counter, list_hash, leaves) = counted_box?;
        let counted_at = started.elapsed();
        let shuffled = shuffle_what_is_left(&mut *tx, &locked, leaves.len()).await?;
        let result = counter.finish(turnout)?;
        let size = leaves.len() as u64;
        // A million inner nodes at a million ballots: off the async runtime, on every core.
        let root = tokio::task::spawn_blocking(move || {
            cista_crypto::merkle::root_on_threads(&leaves, super::opening::cores())
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing the ballot tree stopped: {e}")))?;
        let results = BallotResults {
            format: RESULTS_FORMAT.to_owned(),
            ballot: id.clone(),
            definition_sha256: definition_sha256.clone(),
            closed_at: now,
            tally: result,
            ballot_list_sha256: list_hash.finish(),
            tree_size: size,
            root_sha256: root.to_hex(),
        };
        // The checkpoint signs the results with the tree, so a bundle's turnout and outcome
        // cannot be edited without breaking the signature.
        let checkpoint = Checkpoint {
            origin: checkpoint_origin(&self.instance().audit_origin, &id),
            size,
            root,
            extensions: vec![format!("{RESULTS_EXTENSION} {}", results_sha256(&results)?)],
        };
        let note = self.signer().sign(&checkpoint);
        let results_json =
            serde_json::to_string(&results).map_err(|e| Error::Internal(e.to_string()))?;
        if !tx
            .voting()
            .close_ballot(ballot.id(), now, &results_json, &note)
            .await?
        {
            return Ok(false);
        }
        tx.commit(NewAuditEntry::new(
            now,
            actor,
            Some(ballot.org()),
            VotingAuditKind::BallotClosed,
            serde_json::json!({
                "ballot": id,
                "definition_sha256": definition_sha256,
                "ballots": size,
                "root_sha256": results.root_sha256,
                "ballot_list_sha256": results.ballot_list_sha256,
                "quorum_reached": results.tally.quorum_reached,
            }),
        ))
        .await?;
        tracing::info!(
            ballot = %ballot.id(),
            ballots = size,
            shuffle_ms = shuffled.as_millis(),
            turnout_ms = summed.as_millis(),
            read_open_count_ms = counted.as_millis(),
            sign_store_commit_ms = started
                .elapsed()
                .saturating_sub(counted_at + shuffled)
                .as_millis(),
            "ballot closed"
        );
        // Only a close that rewrote its box left superseded rows in it.
        if !shuffled.is_zero() {
            self.compact_box().await;
        }
        Ok(true)
    }

    /// Closes a ballot now if its closing time has passed (staff need not wait for the
    /// worker). Refused before the closing time: results are never early (FL-09).
    pub async fn close_ballot_now(&self, actor: &Actor, org: OrgId, id: BallotId) -> Result<()> {
        actor.authorize_in(org, VotingAction::ManageBallots)?;
        let ballot = self.ballot(actor, org, id).await?;
        if ballot.status() != BallotStatus::Published {
            return Err(Error::Conflict(
                "only an open ballot can be closed".to_owned(),
            ));
        }
        self.close_ballot(actor, &ballot).await?;
        Ok(())
    }

    /// Live turnout and quorum of a published or closed ballot, for staff and inspectors.
    pub async fn live_turnout(&self, actor: &Actor, ballot: &Ballot) -> Result<LiveTurnout> {
        actor.authorize_in(ballot.org(), VotingAction::ViewBallots)?;
        let turnout = turnout_from(&self.store().voting().turnout_totals(ballot.id()).await?);
        Ok(LiveTurnout {
            quorum_reached: turnout.quorum_reached(&ballot.definition),
            min_turnout_reached: turnout.min_turnout_reached(&ballot.definition),
            turnout,
        })
    }

    /// The sealed results, once closed. Staff and inspectors, and the association's own
    /// members, may read them; before the close everyone gets `results_sealed`.
    pub async fn results(&self, actor: &Actor, id: BallotId) -> Result<(Ballot, BallotResults)> {
        let ballot = self.load_ballot(id).await?;
        let org = ballot.org();
        let member = actor.person().is_some_and(|p| p.roles.contains_key(&org));
        if !(actor.may_in(org, VotingAction::ViewRecords) || member) {
            return Err(Error::NotFound {
                what: "this ballot",
            });
        }
        let results = sealed_results(&ballot)?;
        Ok((ballot, results))
    }
}

/// Takes what a close holds until its commit: the box's lock, then the ballot's exclusive
/// lock. The box's first, so a worker's shuffle of this box (in any process) ends before the
/// close holds the ballot, and neither waits for what the other holds. Returns the ballot,
/// or None if it is gone or no longer open (another process closed it first).
async fn lock_for_close(tx: &mut dyn StoreTx, ballot: BallotId) -> Result<Option<StoredBallot>> {
    tx.voting().lock_box(ballot).await?;
    Ok(tx
        .voting()
        .lock_ballot(ballot, true)
        .await?
        .filter(|locked| locked.status == BallotStatus::Published))
}

/// Puts the entries cast since the worker last shuffled `ballot`'s box in tracker order, in
/// the close's transaction, after the close has read `read` entries (its read is in tracker
/// order whatever the rows' order). The read counted the box, so a box the worker has already
/// shuffled is not counted again; the ballot's lock keeps every cast out until the commit, so
/// the count is the box's. Returns the time it took (zero when there was nothing to shuffle).
async fn shuffle_what_is_left(
    tx: &mut dyn StoreTx,
    ballot: &StoredBallot,
    read: usize,
) -> Result<Duration> {
    if i64::try_from(read).ok() == Some(ballot.shuffled_count) {
        return Ok(Duration::ZERO);
    }
    let shuffling = Instant::now();
    let written = tx.voting().shuffle_box(ballot.id).await?;
    // The close holds the ballot: no cast is in flight to wait for.
    tx.voting().record_shuffled(ballot.id, written).await?;
    Ok(shuffling.elapsed())
}

/// `phase`'s outcome and the time from `since` to its end.
async fn timed<T>(phase: impl Future<Output = T>, since: Instant) -> (T, std::time::Duration) {
    let outcome = phase.await;
    (outcome, since.elapsed())
}

/// What the close folds the box into: the running count, the list's hash and the leaves.
type CountedBox<'d> = (Counter<'d>, BallotListHasher, Vec<Digest32>);

/// Reads the box a page at a time from `pages` (as the close's transaction sees it): the
/// next page is read while the ones before are opened (with `key`) and hashed into their
/// leaves (bound to `context`), and each is folded into the count, the list's hash and the
/// leaves (32 bytes a ballot) and then dropped.
async fn count_box<'d>(
    pages: &mut dyn BoxPages,
    ballot: &'d Ballot,
    key: Arc<DataKey>,
    context: LeafContext,
) -> Result<CountedBox<'d>> {
    let mut counter = Counter::new(&ballot.definition);
    let mut list_hash = BallotListHasher::new();
    let mut leaves = Vec::new();
    let fold = |page: OpenedPage| -> Result<()> {
        for b in &page.ballots {
            counter.add(b)?;
        }
        list_hash.add_json(&page.list_json);
        leaves.extend(page.leaves);
        Ok(())
    };
    open_box_by_pages(PageOpener::new(key, Some(context)), pages, fold).await?;
    Ok((counter, list_hash, leaves))
}

/// A closed ballot's results; `results_sealed` for any other.
pub(crate) fn sealed_results(ballot: &Ballot) -> Result<BallotResults> {
    match (ballot.status(), &ballot.stored.results) {
        (BallotStatus::Closed, Some(json)) => serde_json::from_str(json)
            .map_err(|_| Error::Integrity("stored results are malformed".to_owned())),
        (BallotStatus::Cancelled, _) => Err(Error::from(VotingError::ResultsSealed(
            "this ballot was cancelled: it has no results".to_owned(),
        ))),
        _ => Err(Error::from(VotingError::ResultsSealed(format!(
            "results are sealed until voting closes on {}",
            ballot.local(ballot.definition.closes_at)
        )))),
    }
}

/// Reads the definition of stored results' ballot (for the recount of a bundle's results).
pub fn definition_of(bundle: &Bundle) -> Result<BallotDefinition> {
    BallotDefinition::from_json(&bundle.definition_json)
}

/// Whether `now` is past the close of a ballot whose results are still being sealed.
pub fn closing_pending(ballot: &Ballot, now: Timestamp) -> bool {
    ballot.status() == BallotStatus::Published && ballot.window(now) == Window::Over
}
