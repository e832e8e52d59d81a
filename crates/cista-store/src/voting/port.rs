//! The voting capability exposed through the core's ports: `VotingReads` on the store,
//! `VotingWrites` on a transaction. Each method names the one operation (in `super` or
//! `super::paper`) that does the work on any connection or transaction.

use crate::SeaStore;
use crate::tx::SeaTx;
use async_trait::async_trait;
use cista_core::Result;
use cista_core::ports::{
    BallotStatus, BoxColumns, BoxEntry, BoxReaderApart, CastContext, EligibleUnit, PaperBatch,
    PaperPile, Participation, Refusal, ShuffledPart, StoredBallot, TurnoutTotals, Unit, UnitOwner,
    VotingReads, VotingWrites,
};
use cista_crypto::Digest32;
use cista_types::{BallotId, OrgId, SubjectCode, Timestamp, Tracker, UnitId, Weight};

#[async_trait]
impl VotingReads for SeaStore {
    async fn units(&self, org: OrgId) -> Result<Vec<Unit>> {
        super::units(&self.db, org).await
    }

    async fn unit(&self, id: UnitId) -> Result<Option<Unit>> {
        super::unit(&self.db, id).await
    }

    async fn unit_owners(&self, org: OrgId) -> Result<Vec<UnitOwner>> {
        super::unit_owners(&self.db, org).await
    }

    async fn owned_units(&self, subject: SubjectCode) -> Result<Vec<UnitOwner>> {
        super::owned_units(&self.db, subject).await
    }

    async fn owners_of(&self, unit: UnitId) -> Result<Vec<UnitOwner>> {
        super::owners_of(&self.db, unit).await
    }

    async fn ballots(&self, org: OrgId) -> Result<Vec<StoredBallot>> {
        super::ballots(&self.db, org).await
    }

    async fn ballot(&self, id: BallotId) -> Result<Option<StoredBallot>> {
        super::ballot(&self.db, id).await
    }

    async fn ballots_with_status(&self, status: BallotStatus) -> Result<Vec<StoredBallot>> {
        super::ballots_with_status(&self.db, status).await
    }

    async fn eligible_units(&self, ballot: BallotId) -> Result<Vec<EligibleUnit>> {
        super::eligible_units(&self.db, ballot).await
    }

    async fn eligible_unit(&self, ballot: BallotId, unit: UnitId) -> Result<Option<EligibleUnit>> {
        super::eligible_unit(&self.db, ballot, unit).await
    }

    async fn eligible_units_of(
        &self,
        ballot: BallotId,
        units: &[UnitId],
    ) -> Result<Vec<EligibleUnit>> {
        super::ledger::eligible_units_of(&self.db, ballot, units).await
    }

    async fn cast_context(&self, ballot: BallotId, unit: UnitId) -> Result<Option<CastContext>> {
        super::cast_context(&self.db, ballot, unit).await
    }

    async fn participation(&self, ballot: BallotId) -> Result<Vec<Participation>> {
        super::participation(&self.db, ballot).await
    }

    async fn participation_at(
        &self,
        ballot: BallotId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, Participation)>> {
        super::ledger::participation_at(&self.db, ballot, offset, limit).await
    }

    async fn participation_count(&self, ballot: BallotId) -> Result<u64> {
        super::ledger::participation_count(&self.db, ballot).await
    }

    async fn roll_matching(
        &self,
        ballot: BallotId,
        folded: &str,
        limit: u64,
    ) -> Result<Vec<(EligibleUnit, Option<Participation>)>> {
        super::ledger::roll_matching(&self.db, ballot, folded, limit).await
    }

    async fn roll_in_order(
        &self,
        ballot: BallotId,
        after: Option<(&[u8], UnitId)>,
        limit: u64,
    ) -> Result<Vec<(Vec<u8>, EligibleUnit)>> {
        super::ledger::roll_in_order(&self.db, ballot, after, limit).await
    }

    async fn units_yet_to_vote(
        &self,
        ballot: BallotId,
        limit: Option<u64>,
    ) -> Result<Vec<EligibleUnit>> {
        super::ledger::units_yet_to_vote(&self.db, ballot, limit).await
    }

    async fn roll_unit_labelled(
        &self,
        org_ballot: (OrgId, BallotId),
        key: &str,
    ) -> Result<Option<EligibleUnit>> {
        super::ledger::roll_unit_labelled(&self.db, org_ballot, key).await
    }

    async fn participation_of(
        &self,
        ballot: BallotId,
        unit: UnitId,
    ) -> Result<Option<Participation>> {
        super::participation_of(&self.db, ballot, unit).await
    }

    async fn box_entries(&self, ballot: BallotId) -> Result<Vec<BoxEntry>> {
        super::lists::box_entries(&self.db, ballot).await
    }

    async fn box_entries_after(
        &self,
        ballot: BallotId,
        after: Option<Tracker>,
        limit: u64,
        columns: BoxColumns,
    ) -> Result<Vec<BoxEntry>> {
        if let (Some(file), BoxColumns::Ballots) = (&self.sqlite_file, columns) {
            // A connection for the one page: a published list's pages come seconds apart at
            // most, and an idle reader would keep its cache and map in memory. No more of
            // them at once than the pool has connections.
            let _reading = self.box_readers.acquire().await.map_err(|_| {
                cista_core::Error::Internal("the store's box readers are closed".to_owned())
            })?;
            let page = (ballot, after, limit);
            return super::box_reader::read_page(&mut None, file, self.write_wait, page).await;
        }
        super::lists::box_entries_after_in_pool(&self.db, ballot, after, limit, columns).await
    }

    async fn turnout_totals(&self, ballot: BallotId) -> Result<TurnoutTotals> {
        super::lists::turnout_totals(&self.db, ballot).await
    }

    async fn box_entries_at(
        &self,
        ballot: BallotId,
        from: (Option<Tracker>, u64),
        limit: u64,
        columns: BoxColumns,
    ) -> Result<Vec<BoxEntry>> {
        super::lists::box_entries_at(&self.db, ballot, from, limit, columns).await
    }

    async fn box_position(
        &self,
        ballot: BallotId,
        after: Option<Tracker>,
        tracker: Tracker,
    ) -> Result<u64> {
        super::lists::box_position(&self.db, ballot, after, tracker).await
    }

    async fn box_marks(&self, ballot: BallotId, every: u64) -> Result<Vec<Tracker>> {
        super::lists::box_marks(&self.db, ballot, every).await
    }

    async fn box_count(&self, ballot: BallotId) -> Result<u64> {
        super::box_count(&self.db, ballot).await
    }

    async fn refusals(&self, ballot: BallotId) -> Result<Vec<Refusal>> {
        super::refusals(&self.db, ballot).await
    }

    async fn refusals_at(
        &self,
        ballot: BallotId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, Refusal)>> {
        super::ledger::refusals_at(&self.db, ballot, offset, limit).await
    }

    async fn participation_of_units(
        &self,
        ballot: BallotId,
        units: &[UnitId],
    ) -> Result<Vec<Participation>> {
        super::ledger::participation_of_units(&self.db, ballot, units).await
    }

    async fn box_entries_of_units(
        &self,
        ballot: BallotId,
        units: &[UnitId],
    ) -> Result<Vec<BoxEntry>> {
        super::ledger::box_entries_of_units(&self.db, ballot, units).await
    }

    async fn refusals_after(
        &self,
        ballot: BallotId,
        after: Option<(Timestamp, i64)>,
        limit: u64,
    ) -> Result<Vec<(String, Refusal)>> {
        super::ledger::refusals_after(&self.db, ballot, after, limit).await
    }

    async fn refusal_count(&self, ballot: BallotId) -> Result<u64> {
        super::ledger::refusal_count(&self.db, ballot).await
    }

    async fn box_entry(&self, ballot: BallotId, tracker: Tracker) -> Result<Option<BoxEntry>> {
        super::paper::box_entry(&self.db, ballot, tracker).await
    }

    async fn box_entry_of_unit(&self, ballot: BallotId, unit: UnitId) -> Result<Option<BoxEntry>> {
        super::paper::box_entry_of_unit(&self.db, ballot, unit).await
    }

    async fn paper_piles(&self, ballot: BallotId) -> Result<Vec<PaperPile>> {
        super::paper::piles(&self.db, ballot).await
    }

    async fn paper_batches(&self, ballot: BallotId) -> Result<Vec<PaperBatch>> {
        super::paper::batches(&self.db, ballot).await
    }

    async fn voting_guards(&self) -> Result<Vec<String>> {
        crate::backend::voting_guards_present(&self.db).await
    }

    async fn voting_counts(&self) -> Result<(u64, u64, u64)> {
        super::counts(&self.db).await
    }

    async fn compact_ballot_box(&self) -> Result<()> {
        crate::backend::compact_ballot_box(&self.db).await
    }

    async fn vacuum_turnout_tables(&self) -> Result<()> {
        crate::backend::vacuum_turnout_tables(&self.db).await
    }
}

#[async_trait]
impl VotingWrites for SeaTx {
    async fn insert_unit(&mut self, unit: &Unit) -> Result<()> {
        super::insert_unit(&self.txn, unit).await
    }

    async fn insert_units(&mut self, units: &[Unit]) -> Result<()> {
        super::insert_units(&self.txn, units).await
    }

    async fn update_unit(&mut self, unit: &Unit) -> Result<()> {
        super::update_unit(&self.txn, unit).await
    }

    async fn insert_unit_owner(&mut self, owner: &UnitOwner) -> Result<()> {
        super::insert_unit_owner(&self.txn, owner).await
    }

    async fn update_unit_owner(&mut self, owner: &UnitOwner) -> Result<()> {
        super::update_unit_owner(&self.txn, owner).await
    }

    async fn delete_unit_owner(&mut self, unit: UnitId, subject: SubjectCode) -> Result<()> {
        super::delete_unit_owner(&self.txn, unit, subject).await
    }

    async fn insert_ballot(&mut self, ballot: &StoredBallot) -> Result<()> {
        super::insert_ballot(&self.txn, ballot).await
    }

    async fn lock_ballot(&mut self, id: BallotId, exclusive: bool) -> Result<Option<StoredBallot>> {
        super::lock_ballot(&self.txn, id, exclusive).await
    }

    async fn lock_box(&mut self, ballot: BallotId) -> Result<()> {
        super::lock_box(&self.txn, ballot).await
    }

    async fn record_shuffled(&mut self, ballot: BallotId, count: u64) -> Result<()> {
        super::record_shuffled(&self.txn, ballot, count).await
    }

    async fn participation_in_tx(&mut self, ballot: BallotId) -> Result<Vec<Participation>> {
        super::participation(&self.txn, ballot).await
    }

    async fn turnout_totals_in_tx(&mut self, ballot: BallotId) -> Result<TurnoutTotals> {
        super::lists::turnout_totals(&self.txn, ballot).await
    }

    async fn box_entries_after_in_tx(
        &mut self,
        ballot: BallotId,
        after: Option<Tracker>,
        limit: u64,
        columns: BoxColumns,
    ) -> Result<Vec<BoxEntry>> {
        if let Some(page) = self.box_reader.page(ballot, after, limit, columns).await {
            return page;
        }
        super::lists::box_entries_after(&self.txn, ballot, after, limit, columns).await
    }

    async fn box_reader_apart(
        &mut self,
        ballot: BallotId,
    ) -> Result<Option<Box<dyn BoxReaderApart>>> {
        self.box_reader.apart(&self.txn, ballot).await
    }

    async fn update_draft(
        &mut self,
        id: BallotId,
        definition: &str,
        hash: &Digest32,
        closes_at: Timestamp,
    ) -> Result<()> {
        super::update_draft(&self.txn, id, definition, hash, closes_at).await
    }

    async fn publish_ballot(
        &mut self,
        id: BallotId,
        at: Timestamp,
        eligible: &[EligibleUnit],
    ) -> Result<bool> {
        super::publish_ballot(&self.txn, id, at, eligible).await
    }

    async fn cancel_ballot(&mut self, id: BallotId, at: Timestamp) -> Result<bool> {
        super::cancel_ballot(&self.txn, id, at).await
    }

    async fn close_ballot(
        &mut self,
        id: BallotId,
        at: Timestamp,
        results: &str,
        checkpoint: &str,
    ) -> Result<bool> {
        super::close_ballot(&self.txn, id, at, results, checkpoint).await
    }

    async fn insert_participation(&mut self, participation: &Participation) -> Result<bool> {
        super::insert_participation(&self.txn, participation).await
    }

    async fn insert_participations_if_free(&mut self, rows: &[Participation]) -> Result<Vec<bool>> {
        super::insert_participations_if_free(&self.txn, rows).await
    }

    async fn insert_participations(&mut self, rows: &[Participation]) -> Result<()> {
        super::insert_participations(&self.txn, rows).await
    }

    async fn insert_box_entries(&mut self, entries: &[BoxEntry]) -> Result<()> {
        self.box_reader.box_written();
        super::insert_box_entries(&self.txn, entries).await
    }

    async fn insert_box_entry(&mut self, entry: &BoxEntry) -> Result<()> {
        self.box_reader.box_written();
        super::insert_box_entry(&self.txn, entry).await
    }

    async fn insert_box_entries_if_free(&mut self, entries: &[BoxEntry]) -> Result<bool> {
        if entries.is_empty() {
            return Ok(true);
        }
        self.box_reader.box_written();
        super::insert_box_entries_if_free(&self.txn, entries).await
    }

    async fn shuffle_box(&mut self, ballot: BallotId) -> Result<u64> {
        super::shuffle_box(&self.txn, ballot).await
    }

    async fn shuffle_box_part(
        &mut self,
        ballot: BallotId,
        after: Option<Tracker>,
        entries: u64,
    ) -> Result<ShuffledPart> {
        super::shuffle_box_part(&self.txn, ballot, after, entries).await
    }

    async fn insert_refusal(&mut self, refusal: &Refusal) -> Result<()> {
        super::insert_refusal(&self.txn, refusal).await
    }

    async fn add_to_paper_pile(&mut self, ballot: BallotId, weight: Weight) -> Result<()> {
        super::paper::add_to_pile(&self.txn, ballot, weight).await
    }

    async fn open_paper_batch(
        &mut self,
        ballot: BallotId,
        weight: Weight,
        at: Timestamp,
        by: Option<SubjectCode>,
    ) -> Result<Option<PaperBatch>> {
        super::paper::open_batch(&self.txn, ballot, weight, at, by).await
    }

    async fn count_into_paper_batch(&mut self, ballot: BallotId, number: u32) -> Result<bool> {
        super::paper::count_into_batch(&self.txn, ballot, number).await
    }

    async fn paper_in_tx(&mut self, ballot: BallotId) -> Result<(Vec<PaperPile>, Vec<PaperBatch>)> {
        Ok((
            super::paper::piles(&self.txn, ballot).await?,
            super::paper::batches(&self.txn, ballot).await?,
        ))
    }

    async fn claim_reminder(
        &mut self,
        ballot: BallotId,
        slot: &str,
        at: Timestamp,
    ) -> Result<bool> {
        super::claim_reminder(&self.txn, ballot, slot, at).await
    }
}
