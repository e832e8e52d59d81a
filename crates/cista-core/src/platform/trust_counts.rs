//! The trust report's counts of whole tables (units that have voted, people on file and
//! erased, organizations, stored keys, ballots open and closed), taken at most once every
//! [`KEPT_FOR`] however many ask.
//!
//! `/security` and `/api/v1/trust` are public, and an exact count reads its whole table: on
//! PostgreSQL 15, 46–51 ms for a million participation rows (vacuumed, on the 2-core
//! development machine), against well under a millisecond for the rest of the report. Counted
//! on every request, the public could keep the database busy with a few requests a second.
//! Kept for a while instead, and counted by one request while the others wait for it, they
//! cost the database one count per [`KEPT_FOR`]. The report says when they were taken
//! (`counted_at`).

use crate::{Cista, Result};
use cista_types::Timestamp;

/// How long a count is shown before it is taken again.
pub const KEPT_FOR: time::Duration = time::Duration::seconds(30);

/// What the trust report counts, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableCounts {
    pub counted_at: Timestamp,
    pub ballots_open: u64,
    pub ballots_closed: u64,
    /// Participation rows: units that have voted, over every ballot.
    pub votes: u64,
    /// People in the vault, and their tombstones.
    pub people: u64,
    pub erased: u64,
    pub organizations: u64,
    pub stored_keys: u64,
}

/// The last counts taken. The lock is held while counting, so requests that arrive meanwhile
/// wait for that one count rather than start their own.
#[derive(Debug, Default)]
pub(crate) struct CountCache {
    last: tokio::sync::Mutex<Option<TableCounts>>,
}

impl Cista {
    /// The counts taken within the last [`KEPT_FOR`] by this instance's clock, or new ones.
    /// A clock set back counts again. Errors: the store's or the vault's, and nothing is kept.
    pub(crate) async fn table_counts(&self) -> Result<TableCounts> {
        let mut last = self.count_cache().last.lock().await;
        let now = self.clock().now();
        if let Some(counts) = *last
            && counts.counted_at <= now
            && now < counts.counted_at.plus(KEPT_FOR)
        {
            return Ok(counts);
        }
        let store = self.store();
        let (ballots_open, ballots_closed, votes) = store.voting().voting_counts().await?;
        let (people, erased) = self.vault().counts().await?;
        let counts = TableCounts {
            counted_at: now,
            ballots_open,
            ballots_closed,
            votes,
            people,
            erased,
            organizations: store.organization_count().await?,
            stored_keys: store.stored_key_count().await?,
        };
        *last = Some(counts);
        Ok(counts)
    }
}
