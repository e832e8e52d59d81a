//! Records of association voting that cross the store port: units and their owners, ballots,
//! the eligibility snapshot, the participation ledger, the ballot box, refused attempts and
//! sent reminders.
//!
//! The participation ledger and the ballot box are the two stores DESIGN §3 describes: the
//! ledger names the unit, channel, origin and time; a secret ballot's box entry holds only its
//! tracker and sealed choices. No column of one refers to the other.
//!
//! The store's voting operations are a capability of their own, like `intake`: reads through
//! `Store::voting` (`VotingReads`), writes through `StoreTx::voting` (`VotingWrites`), written
//! once in `cista-store/src/voting.rs`.

use super::{Organization, StoredKey};
use crate::Result;
use async_trait::async_trait;
use cista_crypto::Digest32;
use cista_types::{BallotId, OrgId, SubjectCode, Timestamp, Tracker, UnitId, UnitLabel, Weight};
use serde::{Deserialize, Serialize};

mod writes;
pub use writes::VotingWrites;

/// Where a unit stands on online voting (FL-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentStatus {
    /// No consent on record: the unit votes on paper until it consents.
    None,
    Consented,
    /// The owner opted out of online voting: paper only.
    OptedOut,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Consented => "consented",
            Self::OptedOut => "opted-out",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "consented" => Some(Self::Consented),
            "opted-out" => Some(Self::OptedOut),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::None => "no consent on record (paper)",
            Self::Consented => "consented to online voting",
            Self::OptedOut => "opted out (paper only)",
        }
    }
}

/// A unit of an association: its label, voting weight and consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: UnitId,
    pub org: OrgId,
    pub label: UnitLabel,
    pub weight: Weight,
    pub consent: ConsentStatus,
    /// When and how the consent (or opt-out) was recorded.
    pub consent_at: Option<Timestamp>,
    pub consent_method: Option<String>,
    pub created_at: Timestamp,
    /// Set when a re-import removed the unit; it stays for the records that name it.
    pub retired_at: Option<Timestamp>,
}

/// A person who owns a unit; `designated` marks the one who votes for a multi-owner unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitOwner {
    pub unit: UnitId,
    pub subject: SubjectCode,
    pub designated: bool,
}

/// Where a ballot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BallotStatus {
    /// Being built; editable, invisible to owners.
    Draft,
    /// Immutable; open for votes between its opening and closing times.
    Published,
    /// Tallied; results, record and bulletin available.
    Closed,
    /// Withdrawn (a correction is a cancel and a reissue); its records stay.
    Cancelled,
}

impl BallotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "draft" => Some(Self::Draft),
            "published" => Some(Self::Published),
            "closed" => Some(Self::Closed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A ballot as stored. The definition is JSON, immutable once published (the database
/// refuses to change it); its SHA-256 is what forms, receipts and the bulletin refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBallot {
    pub id: BallotId,
    pub org: OrgId,
    pub status: BallotStatus,
    pub definition: String,
    pub definition_hash: Digest32,
    pub created_at: Timestamp,
    pub published_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    /// The cancelled ballot this one corrects.
    pub replaces: Option<BallotId>,
    /// Copied from the definition, so the store can find ballots due to close.
    pub closes_at: Timestamp,
    /// How many box entries the last shuffle wrote (see `Store::shuffle_ballot_box`).
    pub shuffled_count: i64,
    /// Set at close: the results (JSON) and the ballot list's signed checkpoint.
    pub results: Option<String>,
    pub checkpoint: Option<String>,
}

/// A unit on a ballot's roll, as it was when the ballot was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibleUnit {
    pub ballot: BallotId,
    pub unit: UnitId,
    pub label: UnitLabel,
    pub weight: Weight,
}

/// What a cast checks, read in one statement (`VotingReads::cast_context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CastContext {
    pub ballot: StoredBallot,
    pub organization: Organization,
    /// The organization's data key as stored (wrapped); `None` when it has none.
    pub data_key: Option<StoredKey>,
    /// `None` when the ballot's organization has no such unit.
    pub unit: Option<UnitForBallot>,
}

/// What a cast checks of one unit (part of [`CastContext`]): the unit, its row on the
/// ballot's frozen roll and its owners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitForBallot {
    pub unit: Unit,
    /// The unit's row on the ballot's roll; `None` when it is not on it.
    pub on_roll: Option<EligibleUnit>,
    /// Every owner link of the unit, by subject code; empty for a unit with no owners.
    pub owners: Vec<UnitOwner>,
}

/// How a vote arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VoteChannel {
    /// Online, signed in with a password.
    Web,
    /// Online, signed in with a one-time SMS code.
    SmsSession,
    /// On paper, entered by staff.
    Paper,
}

impl VoteChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::SmsSession => "sms-session",
            Self::Paper => "paper",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "web" => Some(Self::Web),
            "sms-session" => Some(Self::SmsSession),
            "paper" => Some(Self::Paper),
            _ => None,
        }
    }

    /// For sentences: "… already voted on 3 December at 14:05, online".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Web => "online",
            Self::SmsSession => "online (signed in by SMS code)",
            Self::Paper => "on paper (entered by staff)",
        }
    }
}

/// Where a vote (or a refused attempt) came from: the browser's address and user agent for
/// online votes, the staff member for paper ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VoteOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub staff: Option<SubjectCode>,
}

/// One row of the participation ledger: that a unit took part, how, when and from where.
/// Unique per (ballot, unit): the database refuses a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participation {
    pub ballot: BallotId,
    pub unit: UnitId,
    pub channel: VoteChannel,
    /// The owner who voted online (none for paper).
    pub voter: Option<SubjectCode>,
    pub origin: VoteOrigin,
    pub at: Timestamp,
    /// The unit's voting weight on the ballot's frozen roll (also on a ballot that counts one
    /// per unit): the turnout's voters' weight is the sum of this column, read from one index
    /// instead of a roll lookup per voter.
    pub roll_weight: Weight,
    /// SHA-256 of the voting form's submission id (online casts from a form only): a repeat of
    /// the same submission is the voter's own first cast, not a second attempt. The id itself
    /// lives only in the voter's page.
    pub submission: Option<Digest32>,
}

/// A ballot's roll and participation as the store sums them: units and weight (millionths)
/// on the roll, the units that took part per channel, and their weight on the roll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnoutTotals {
    pub eligible_units: u64,
    pub eligible_weight: i64,
    /// (channel, units) for each channel that has any.
    pub voted: Vec<(VoteChannel, u64)>,
    /// The roll weight of every unit that took part (millionths).
    pub voted_weight: i64,
}

/// The outer envelopes of a secret ballot's paper channel, for one voting weight: how many
/// were checked in (each is a participation row) and how many of those were opened into
/// batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaperPile {
    pub weight: Weight,
    pub checked_in: u64,
    pub opened: u64,
}

impl PaperPile {
    /// Envelopes checked in and not yet opened.
    pub fn waiting(&self) -> u64 {
        self.checked_in.saturating_sub(self.opened)
    }
}

/// A batch of opened outer envelopes of one weight: their inner ballots are entered into the
/// box with no unit, in any order, never more than `envelopes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperBatch {
    pub ballot: BallotId,
    /// 1, 2, 3… per ballot.
    pub number: u32,
    pub weight: Weight,
    pub envelopes: u64,
    pub entered: u64,
    pub opened_at: Timestamp,
    pub opened_by: Option<SubjectCode>,
}

impl PaperBatch {
    /// Inner ballots of this batch not yet entered.
    pub fn remaining(&self) -> u64 {
        self.envelopes.saturating_sub(self.entered)
    }
}

/// Which columns a page of a ballot box is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxColumns {
    /// The ballots alone: tracker, weight and sealed choices. Each entry's `unit` and
    /// `cast_at` come back `None`, unread. What a count, the published list, its leaves and
    /// the public bulletin need; a million-ballot close reads two values fewer per row.
    Ballots,
    /// Every column: a recorded ballot's entries with their unit and time (its record files).
    All,
}

/// A ballot's box read page by page apart from the transaction it came from
/// (`VotingWrites::box_reader_apart`).
#[async_trait]
pub trait BoxReaderApart: Send {
    /// Up to `limit` entries with a tracker above `after` (from the first when `None`), in
    /// tracker order, with no unit or time: `VotingWrites::box_entries_after_in_tx` with
    /// `BoxColumns::Ballots`. A reader reads its box once, in order: `after` is the last
    /// tracker of the page before (`None` for the first page), and an empty page is the end.
    ///
    /// # Errors
    /// The store's error; `Internal` for a page asked out of that order, or once the
    /// transaction has added entries to the box.
    async fn page(&mut self, after: Option<Tracker>, limit: u64) -> Result<Vec<BoxEntry>>;
}

/// What one part of a box's shuffle did (`VotingWrites::shuffle_box_part`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShuffledPart {
    /// The entries the part rewrote; for a box left as it was, the entries counted.
    pub written: u64,
    /// The part's last tracker, after which the next part starts; `None` when the part
    /// reached the end of the box.
    pub last: Option<Tracker>,
}

/// One entry of the ballot box. For a secret ballot: the tracker and the sealed choices,
/// nothing else. For a recorded ballot, also the unit and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxEntry {
    pub ballot: BallotId,
    pub tracker: Tracker,
    /// The weight the ballot counts with: the unit's voting weight on a weighted ballot, 1 on
    /// a one-vote-per-unit ballot. Public on the bulletin, so anyone can recount.
    pub weight: Weight,
    /// The choices, sealed under the organization's data key (bound to ballot and tracker).
    pub sealed_choices: Vec<u8>,
    pub unit: Option<UnitId>,
    pub cast_at: Option<Timestamp>,
}

/// A refused attempt to vote, kept for the association's counsel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub id: i64,
    pub ballot: BallotId,
    pub unit: UnitId,
    pub channel: VoteChannel,
    pub voter: Option<SubjectCode>,
    pub origin: VoteOrigin,
    pub at: Timestamp,
    /// The error code of the refusal (`already_voted`, `ballot_not_open`, …).
    pub reason: String,
}

/// The voting capability's reads: through `Store::voting`.
#[async_trait]
pub trait VotingReads: Send + Sync {
    // --- units and owners -------------------------------------------------------------

    /// Every unit of an organization, retired ones included, by label.
    async fn units(&self, org: OrgId) -> Result<Vec<Unit>>;

    async fn unit(&self, id: UnitId) -> Result<Option<Unit>>;

    /// Every owner link of an organization's units.
    async fn unit_owners(&self, org: OrgId) -> Result<Vec<UnitOwner>>;

    /// The units a person owns, in any organization.
    async fn owned_units(&self, subject: SubjectCode) -> Result<Vec<UnitOwner>>;

    async fn owners_of(&self, unit: UnitId) -> Result<Vec<UnitOwner>>;

    // --- ballots ---------------------------------------------------------------------------

    /// An organization's ballots, newest first.
    async fn ballots(&self, org: OrgId) -> Result<Vec<StoredBallot>>;

    async fn ballot(&self, id: BallotId) -> Result<Option<StoredBallot>>;

    /// Ballots in a status across organizations (the worker's view: published ones).
    async fn ballots_with_status(&self, status: BallotStatus) -> Result<Vec<StoredBallot>>;

    /// The roll frozen at publication.
    async fn eligible_units(&self, ballot: BallotId) -> Result<Vec<EligibleUnit>>;

    async fn eligible_unit(&self, ballot: BallotId, unit: UnitId) -> Result<Option<EligibleUnit>>;

    /// The rows of the roll frozen at publication for `units` (one `IN` list), in no order;
    /// a unit not on the roll has none.
    async fn eligible_units_of(
        &self,
        ballot: BallotId,
        units: &[UnitId],
    ) -> Result<Vec<EligibleUnit>>;

    /// What every cast checks, in one round trip: `ballot`, its organization with its data key
    /// (what `ballot`, `Store::organization` and `Store::org_data_key` give apart) and `unit`
    /// with its row on the ballot's roll and its owners (what `unit`, `eligible_unit` and
    /// `owners_of` give). `None` when there is no such ballot; the context's `unit` is `None` when the
    /// ballot's organization has no such unit.
    async fn cast_context(&self, ballot: BallotId, unit: UnitId) -> Result<Option<CastContext>>;

    /// The participation ledger of a ballot, oldest first.
    async fn participation(&self, ballot: BallotId) -> Result<Vec<Participation>>;

    /// Up to `limit` participation rows from position `offset` (0-based), newest first (time,
    /// then unit id), each with its unit's label on the roll (empty if not on it): a page.
    async fn participation_at(
        &self,
        ballot: BallotId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, Participation)>>;

    /// How many units took part in a ballot so far.
    async fn participation_count(&self, ballot: BallotId) -> Result<u64>;

    /// Up to `limit` units of a ballot's roll whose label's `UnitLabel::key` contains `folded`
    /// (`%`, `_`, `\` literal), in natural roll-label order (`natural_key`), each with its
    /// participation row if it voted.
    async fn roll_matching(
        &self,
        ballot: BallotId,
        folded: &str,
        limit: u64,
    ) -> Result<Vec<(EligibleUnit, Option<Participation>)>>;

    /// Up to `limit` units of a ballot's roll in natural roll-label order (the roll's stored
    /// `natural_key` bytes, then unit id), each with its stored key, after `after` (the
    /// stored key and unit id of the last unit of the part before, as read; `None` from the
    /// start): a part of the roll, read from an index in bounded memory however long the
    /// roll. The cursor is the stored key, never one computed again from the label, so that
    /// a key computed differently (a new toolchain's Unicode case tables) can neither skip
    /// units nor read a part again.
    async fn roll_in_order(
        &self,
        ballot: BallotId,
        after: Option<(&[u8], UnitId)>,
        limit: u64,
    ) -> Result<Vec<(Vec<u8>, EligibleUnit)>>;

    /// The units of a ballot's roll yet to take part (at most `limit`; all with `None`), in
    /// natural roll-label order.
    async fn units_yet_to_vote(
        &self,
        ballot: BallotId,
        limit: Option<u64>,
    ) -> Result<Vec<EligibleUnit>>;

    /// The unit of `org` on a ballot's roll whose label's `UnitLabel::key` is `key`, if any.
    async fn roll_unit_labelled(
        &self,
        org_ballot: (OrgId, BallotId),
        key: &str,
    ) -> Result<Option<EligibleUnit>>;

    async fn participation_of(
        &self,
        ballot: BallotId,
        unit: UnitId,
    ) -> Result<Option<Participation>>;

    /// The whole ballot box of a ballot, in tracker order, in memory: for tests and small
    /// boxes only. Whatever may meet a large ballot reads `box_entries_after` page by page.
    async fn box_entries(&self, ballot: BallotId) -> Result<Vec<BoxEntry>>;

    /// The box entry a unit's vote put in a recorded ballot's box (`None` when the unit has
    /// not voted, or the ballot is secret: its box names no unit). One read of the partial
    /// unique index `ix_ballot_box_unit`, which also keeps a unit to one entry.
    async fn box_entry_of_unit(&self, ballot: BallotId, unit: UnitId) -> Result<Option<BoxEntry>>;

    /// The roll and the participation summed in the database (one query each), rather than
    /// read row by row: a million units' turnout without a million rows.
    async fn turnout_totals(&self, ballot: BallotId) -> Result<TurnoutTotals>;

    /// Up to `limit` box entries with a tracker above `after` (from the first when `None`),
    /// in tracker order, read with `columns`: a ballot list read page by page in bounded
    /// memory.
    async fn box_entries_after(
        &self,
        ballot: BallotId,
        after: Option<Tracker>,
        limit: u64,
        columns: BoxColumns,
    ) -> Result<Vec<BoxEntry>>;

    /// Up to `limit` box entries with a tracker above `from.0` (from the first when `None`),
    /// skipping the first `from.1` of those, in tracker order, read with `columns`: a numbered
    /// page of the list, read from the mark before it (`box_marks`), so that its cost grows
    /// with the distance from that mark, not with the page's number.
    async fn box_entries_at(
        &self,
        ballot: BallotId,
        from: (Option<Tracker>, u64),
        limit: u64,
        columns: BoxColumns,
    ) -> Result<Vec<BoxEntry>>;

    /// How many box entries have a tracker above `after` (from the first when `None`) and
    /// below `tracker`: with no `after`, its 0-based position in tracker order when it is in
    /// the box.
    async fn box_position(
        &self,
        ballot: BallotId,
        after: Option<Tracker>,
        tracker: Tracker,
    ) -> Result<u64>;

    /// The trackers at positions `every - 1`, `2 * every - 1`, … of the box in tracker order
    /// (the last of each whole run of `every` entries): marks from which a numbered page or
    /// a tracker's position is found in at most `every` steps. One walk of the box's index;
    /// a closed ballot's marks never change. Errors: `invalid_input` when `every` is 0.
    async fn box_marks(&self, ballot: BallotId, every: u64) -> Result<Vec<Tracker>>;

    async fn box_count(&self, ballot: BallotId) -> Result<u64>;

    /// Refused attempts on a ballot, oldest first.
    async fn refusals(&self, ballot: BallotId) -> Result<Vec<Refusal>>;

    /// Up to `limit` refused attempts from `offset`, newest first, with their units' labels
    /// (on the roll, else the unit's own: a unit refused as not on it).
    async fn refusals_at(
        &self,
        ballot: BallotId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(String, Refusal)>>;

    /// The participation rows of `units` in a ballot (a part of a record file), in no order.
    async fn participation_of_units(
        &self,
        ballot: BallotId,
        units: &[UnitId],
    ) -> Result<Vec<Participation>>;

    /// The box entries of a ballot that name one of `units` (a recorded ballot's: a secret
    /// box names none), every column, in no order.
    async fn box_entries_of_units(
        &self,
        ballot: BallotId,
        units: &[UnitId],
    ) -> Result<Vec<BoxEntry>>;

    /// Up to `limit` refused attempts on a ballot after `after` (an attempt's time and id;
    /// from the first when `None`), oldest first, each with its unit's label (as
    /// `refusals_at`): keyset pages of the record file.
    async fn refusals_after(
        &self,
        ballot: BallotId,
        after: Option<(Timestamp, i64)>,
        limit: u64,
    ) -> Result<Vec<(String, Refusal)>>;

    /// How many attempts on a ballot were refused.
    async fn refusal_count(&self, ballot: BallotId) -> Result<u64>;

    /// One entry of a ballot's box, by tracker.
    async fn box_entry(&self, ballot: BallotId, tracker: Tracker) -> Result<Option<BoxEntry>>;

    /// The piles of checked-in outer envelopes of a ballot, by weight.
    async fn paper_piles(&self, ballot: BallotId) -> Result<Vec<PaperPile>>;

    /// The batches of opened envelopes of a ballot, by number.
    async fn paper_batches(&self, ballot: BallotId) -> Result<Vec<PaperBatch>>;

    /// The database triggers that guard voting records, read from the catalog.
    async fn voting_guards(&self) -> Result<Vec<String>>;

    /// How many ballots are published and closed, and how many units took part in all of
    /// them (for the trust page).
    async fn voting_counts(&self) -> Result<(u64, u64, u64)>;

    /// Removes the superseded row versions a shuffle leaves in the data files (PostgreSQL
    /// keeps them, with their original transaction ids, until a vacuum); a no-op elsewhere.
    async fn compact_ballot_box(&self) -> Result<()>;

    /// Brings the visibility map and statistics of the tables a turnout is summed from up to
    /// date (PostgreSQL's `VACUUM (ANALYZE)`), so that a close and the live turnout read them
    /// from their indexes rather than row by row; a no-op elsewhere.
    async fn vacuum_turnout_tables(&self) -> Result<()>;
}
