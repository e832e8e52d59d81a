//! What the staff's ballot page lists, a page at a time: the units that took part (newest
//! first), the refused attempts (newest first), and a search of the roll by unit label that
//! says of each unit found whether, how and when it voted. Each read holds one page, so the
//! page of a million-unit ballot takes the memory of a small one's (the database still walks
//! the ballot's rows to order them); the whole lists are the record's CSV files (`record`).

use super::Ballot;
use super::VotingAction;
use super::directory::{Paged, ROWS_PER_PAGE, folded};
use crate::ports::{EligibleUnit, Participation, Refusal};
use crate::{Actor, Cista, Result};

/// How many units a search of the roll shows at most.
pub const SEARCH_LIMIT: usize = 200;

/// The units of a ballot's roll a search found (`Cista::roll_search`).
#[derive(Debug, Clone, Default)]
pub struct RollSearch {
    /// The units found, labels in natural order, each with its participation row if it voted.
    pub units: Vec<(EligibleUnit, Option<Participation>)>,
    /// More units matched than `SEARCH_LIMIT`: the search should be narrowed.
    pub more: bool,
}

/// Page `page` of a list of `total` rows, its rows read by `read(offset, limit)`.
async fn numbered_page<T, Fut>(
    total: u64,
    page: usize,
    read: impl FnOnce(u64, u64) -> Fut,
) -> Result<Paged<T>>
where
    Fut: Future<Output = Result<Vec<T>>>,
{
    let shape = Paged::numbered(as_index(total), page);
    let rows = read(as_count(shape.first_index()), as_count(ROWS_PER_PAGE)).await?;
    Ok(shape.with_items(rows))
}

/// A row count as an index (a page's offset and total are far below `usize::MAX`).
fn as_index(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A page size or offset as the store takes it.
fn as_count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Cista {
    /// Page `page` (from 1; past the last, the last) of the units that took part in `ballot`,
    /// newest first, each with its label on the roll. Needs the right to view ballots.
    ///
    /// # Errors
    /// `forbidden` without that right; the store's errors.
    pub async fn participation_page(
        &self,
        actor: &Actor,
        ballot: &Ballot,
        page: usize,
    ) -> Result<Paged<(String, Participation)>> {
        actor.authorize_in(ballot.org(), VotingAction::ViewBallots)?;
        let voting = self.store().voting();
        let total = voting.participation_count(ballot.id()).await?;
        numbered_page(total, page, |offset, limit| {
            voting.participation_at(ballot.id(), offset, limit)
        })
        .await
    }

    /// Page `page` of the attempts on `ballot` that were refused, newest first, each with its
    /// unit's label. Needs the right to view ballots.
    ///
    /// # Errors
    /// `forbidden` without that right; the store's errors.
    pub async fn refusals_page(
        &self,
        actor: &Actor,
        ballot: &Ballot,
        page: usize,
    ) -> Result<Paged<(String, Refusal)>> {
        actor.authorize_in(ballot.org(), VotingAction::ViewBallots)?;
        let voting = self.store().voting();
        let total = voting.refusal_count(ballot.id()).await?;
        numbered_page(total, page, |offset, limit| {
            voting.refusals_at(ballot.id(), offset, limit)
        })
        .await
    }

    /// The units of `ballot`'s roll whose label contains `query` (ignoring case and extra
    /// spaces, as the units list's search), at most `SEARCH_LIMIT`, each with whether, how and
    /// when it voted. An empty query finds nothing. Needs the right to view ballots.
    ///
    /// # Errors
    /// `forbidden` without that right; the store's errors.
    pub async fn roll_search(
        &self,
        actor: &Actor,
        ballot: &Ballot,
        query: &str,
    ) -> Result<RollSearch> {
        actor.authorize_in(ballot.org(), VotingAction::ViewBallots)?;
        let folded = folded(query);
        if folded.is_empty() {
            return Ok(RollSearch::default());
        }
        let mut units = self
            .store()
            .voting()
            .roll_matching(ballot.id(), &folded, as_count(SEARCH_LIMIT + 1))
            .await?;
        let more = units.len() > SEARCH_LIMIT;
        units.truncate(SEARCH_LIMIT);
        Ok(RollSearch { units, more })
    }
}
