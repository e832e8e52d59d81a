//! The voting capability's writes (`VotingWrites`), inside one `StoreTx`: units and owners,
//! ballots and their roll, casts (participation rows and box entries), refusals, reminders,
//! paper piles and batches, and the box's shuffles.

use super::*;

/// The voting capability's writes, inside one `StoreTx`: through `StoreTx::voting`.
#[async_trait]
pub trait VotingWrites: Send {
    // --- units and owners -------------------------------------------------------------

    /// Adds a unit; a label already used in the organization (ignoring case) is a `conflict`.
    async fn insert_unit(&mut self, unit: &Unit) -> Result<()>;

    /// Adds many units at once (multi-row inserts); a label used twice, or already used in
    /// the organization, is a `conflict`. For bulk loads such as `cista bench tally`.
    async fn insert_units(&mut self, units: &[Unit]) -> Result<()>;

    /// Writes label, weight, consent and retirement of an existing unit.
    async fn update_unit(&mut self, unit: &Unit) -> Result<()>;

    async fn insert_unit_owner(&mut self, owner: &UnitOwner) -> Result<()>;

    async fn update_unit_owner(&mut self, owner: &UnitOwner) -> Result<()>;

    async fn delete_unit_owner(&mut self, unit: UnitId, subject: SubjectCode) -> Result<()>;

    // --- ballots -----------------------------------------------------------------------------

    async fn insert_ballot(&mut self, ballot: &StoredBallot) -> Result<()>;

    /// Reads a ballot inside the transaction and locks it: shared (a vote being cast) or
    /// exclusive (closing). A close waits for votes in flight, and votes that come after it
    /// see the ballot closed, so no vote slips between the last read and the tally.
    async fn lock_ballot(&mut self, id: BallotId, exclusive: bool) -> Result<Option<StoredBallot>>;

    /// Takes the lock of a ballot's box for the rest of the transaction: one rewrite of the
    /// box (`shuffle_box`: the worker's, or a close's) at a time, in every process, while
    /// casts, which never take it, go on. A close takes it before the ballot's exclusive
    /// lock, so a close never holds the ballot while it waits for a shuffle's entries.
    async fn lock_box(&mut self, ballot: BallotId) -> Result<()>;

    /// The participation ledger as this transaction sees it.
    async fn participation_in_tx(&mut self, ballot: BallotId) -> Result<Vec<Participation>>;

    /// `VotingReads::turnout_totals` as this transaction sees it.
    async fn turnout_totals_in_tx(&mut self, ballot: BallotId) -> Result<TurnoutTotals>;

    /// `VotingReads::box_entries_after` as this transaction sees it: the close reads the box
    /// page by page under the ballot's lock.
    async fn box_entries_after_in_tx(
        &mut self,
        ballot: BallotId,
        after: Option<Tracker>,
        limit: u64,
        columns: BoxColumns,
    ) -> Result<Vec<BoxEntry>>;

    /// A reader of `ballot`'s box, its ballots alone (`BoxColumns::Ballots`), that sees the
    /// box as this transaction does but needs nothing of the transaction while it reads, so
    /// the transaction may run other statements meanwhile: the close sums the turnout while
    /// the box is read. Once this transaction adds box entries, the reader's pages fail
    /// (`Internal`) instead of missing them. `None` where the store reads a box only on the
    /// transaction's own connection, or has no connection to spare for another (then
    /// `box_entries_after_in_tx` reads it).
    ///
    /// # Errors
    /// The store's error if the database refuses what the reader needs (on PostgreSQL, the
    /// transaction's snapshot exported and imported).
    async fn box_reader_apart(
        &mut self,
        ballot: BallotId,
    ) -> Result<Option<Box<dyn BoxReaderApart>>>;

    /// Replaces a draft's definition; a ballot that is no longer a draft is a `conflict`.
    async fn update_draft(
        &mut self,
        id: BallotId,
        definition: &str,
        hash: &Digest32,
        closes_at: Timestamp,
    ) -> Result<()>;

    /// Draft → published, with the roll frozen as `eligible`. False if it was not a draft.
    async fn publish_ballot(
        &mut self,
        id: BallotId,
        at: Timestamp,
        eligible: &[EligibleUnit],
    ) -> Result<bool>;

    /// Draft or published → cancelled. False if it was neither.
    async fn cancel_ballot(&mut self, id: BallotId, at: Timestamp) -> Result<bool>;

    /// Published → closed, with its results and checkpoint. False if it was not published
    /// (another process closed it first).
    async fn close_ballot(
        &mut self,
        id: BallotId,
        at: Timestamp,
        results: &str,
        checkpoint: &str,
    ) -> Result<bool>;

    /// Adds a participation row unless the unit already took part in the ballot: returns
    /// false then, and writes nothing. The uniqueness is the database's, not a prior read.
    async fn insert_participation(&mut self, participation: &Participation) -> Result<bool>;

    /// Adds participation rows at once, each unless its unit already took part in the ballot
    /// (before, or in an earlier row of `rows`): whether each row was written, in order. As
    /// with `insert_participation`, the uniqueness is the database's.
    async fn insert_participations_if_free(&mut self, rows: &[Participation]) -> Result<Vec<bool>>;

    /// Adds many participation rows at once; a unit that took part already is a `conflict`.
    async fn insert_participations(&mut self, rows: &[Participation]) -> Result<()>;

    /// Adds many ballots to the box at once, written in the order given; a tracker already
    /// in use in its ballot is a `conflict`.
    async fn insert_box_entries(&mut self, entries: &[BoxEntry]) -> Result<()>;

    /// Adds a ballot to the box; a tracker already in use in its ballot is a `conflict`.
    async fn insert_box_entry(&mut self, entry: &BoxEntry) -> Result<()>;

    /// Adds ballots to the box at once, in the order given, unless a tracker is taken: returns
    /// false then, without an error, having written the others; the caller abandons the
    /// transaction (a group commit writes its casts again one by one).
    async fn insert_box_entries_if_free(&mut self, entries: &[BoxEntry]) -> Result<bool>;

    /// Rewrites a published ballot's box in tracker order, so neither storage order nor
    /// any row's write history reflects casting order; returns the entries it wrote. A box
    /// nothing was added to since its last shuffle is left as it is (and its entries
    /// counted). The caller holds the box's lock (`lock_box`) and then records the count
    /// (`record_shuffled`). Casts may commit meanwhile: an entry the rewrite did not see
    /// stays as it was written, and is not in the count, so the next shuffle takes it.
    async fn shuffle_box(&mut self, ballot: BallotId) -> Result<u64>;

    /// `shuffle_box` for one part of the box: rewrites, in tracker order, the entries with a
    /// tracker above `after` (from the first when `None`) that this transaction sees, at most
    /// `entries` of them where writes take turns (SQLite), so that a cast into a large box
    /// being shuffled waits for one part, a transaction of its own, not for the whole box.
    /// Where casts go on beside a rewrite (PostgreSQL) the part is the rest of the box, so
    /// the box is stored in tracker order as a whole, not part by part. The first part
    /// (`after` of `None`) leaves a box nothing was added to since its last shuffle as it is
    /// and counts it. Returns the entries written and the part's last tracker, after which
    /// the next part starts (`None`: the part reached the end of the box). A part keeps what
    /// a whole shuffle keeps: an entry cast into a part already rewritten stays as it was
    /// written, and is not counted, so the next shuffle takes it.
    async fn shuffle_box_part(
        &mut self,
        ballot: BallotId,
        after: Option<Tracker>,
        entries: u64,
    ) -> Result<ShuffledPart>;

    /// Records `count` as a published ballot's `shuffled_count`: a box holding exactly that
    /// many entries is wholly in tracker order (entries are only ever added, and a rewrite
    /// counts what it wrote). A ballot no longer open is left as it is. It
    /// updates the ballot's row, so it waits for casts in flight: the worker records in a
    /// transaction of its own, after the rewrite's commit, so a cast waiting for one of the
    /// rewrite's rows never waits on a rewrite that waits on it.
    async fn record_shuffled(&mut self, ballot: BallotId, count: u64) -> Result<()>;

    async fn insert_refusal(&mut self, refusal: &Refusal) -> Result<()>;

    /// Adds one checked-in outer envelope to the pile of its weight.
    async fn add_to_paper_pile(&mut self, ballot: BallotId, weight: Weight) -> Result<()>;

    /// Opens every waiting envelope of one weight as a new batch (numbered after the last);
    /// `None` when none is waiting.
    async fn open_paper_batch(
        &mut self,
        ballot: BallotId,
        weight: Weight,
        at: Timestamp,
        by: Option<SubjectCode>,
    ) -> Result<Option<PaperBatch>>;

    /// Counts one inner ballot of a batch as entered; false (and nothing written) when the
    /// batch is complete or does not exist. The count never exceeds the envelopes opened.
    async fn count_into_paper_batch(&mut self, ballot: BallotId, number: u32) -> Result<bool>;

    /// The piles and batches of a ballot, read inside the transaction (a close checks that
    /// no envelope still waits for its inner ballot).
    async fn paper_in_tx(&mut self, ballot: BallotId) -> Result<(Vec<PaperPile>, Vec<PaperBatch>)>;

    /// Records that a reminder `slot` of a ballot went out; false if it already had.
    async fn claim_reminder(&mut self, ballot: BallotId, slot: &str, at: Timestamp)
    -> Result<bool>;
}
