//! The published side of a closed ballot at any size: the bundle's head (everything but the
//! ballot list), the list read page by page in tracker order (keyset or numbered pages, so
//! memory stays bounded; numbered pages start from the list's marks, see `list_marks`), the
//! whole bundle for callers that want it in memory, and a tracker's place on the list with its
//! inclusion proof. A closed ballot's list never changes, so the leaf hashes a proof needs are
//! computed once and kept for the most recently looked-up ballots, up to a budget of leaves
//! (32 bytes a ballot: 32 MB at a million).

use super::Ballot;
use super::bundle::{BUNDLE_FORMAT, Bundle, BundleHead, PublishedBallot, leaf_data};
use super::close::sealed_results;
use super::list_marks::{MARKS_FROM, mark_below, read_from};
use super::opening::{
    LeafContext, OpenedPage, PageOpener, StoredBox, open_box_by_pages, open_page,
};
use crate::ports::{BallotStatus, BoxColumns, BoxEntry};
use crate::{Cista, Error, Result};
use cista_crypto::merkle::{self, verify_inclusion};
use cista_crypto::{DataKey, Digest32};
use cista_types::{BallotId, Tracker};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Ballots read, opened and written per page of a streamed bundle.
pub const BALLOT_PAGE: u64 = 2_000;

/// Leaf hashes kept at once over all ballots: 2^20, 32 MiB. The ballot looked up last is
/// kept whatever its size.
const LEAF_CACHE_LEAVES: usize = 1 << 20;

/// Closed ballots whose leaf hashes are kept at once, however small.
const LEAF_CACHE_BALLOTS: usize = 256;

/// Where a tracker is on a closed ballot's published list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerLocation {
    /// 0-based position in tracker order.
    pub index: u64,
    /// Ballots on the list.
    pub of: u64,
    pub ballot: PublishedBallot,
    /// Whether its RFC 9162 inclusion proof leads to the root of the signed checkpoint.
    pub proven: bool,
}

/// A closed ballot's published list, checked once (closed, its organization's data key
/// unwrapped): pages are then read with `Cista::published_page` / `published_page_at`
/// without loading the ballot or calling the key provider again.
#[derive(Debug, Clone)]
pub struct PublishedList {
    id: BallotId,
    key: Arc<DataKey>,
}

impl PublishedList {
    pub fn ballot(&self) -> BallotId {
        self.id
    }
}

/// The leaf hashes of the closed ballots whose proofs were asked for last, one cell per
/// ballot, least recently used first: concurrent lookups of one ballot compute its leaves
/// once. The tracker lookup is public, and computing a ballot's leaves reads, opens and
/// hashes its whole list; so the cache keeps as many ballots as fit in `LEAF_CACHE_LEAVES`
/// (a rotation over a few ballots, which emptied a cache of four, finds them kept), and
/// computes one ballot's leaves at a time (lookups that miss take one core at most).
pub(crate) struct LeafCache {
    kept: Mutex<Vec<(BallotId, LeafCell)>>,
    computing: tokio::sync::Semaphore,
}

impl Default for LeafCache {
    fn default() -> Self {
        Self {
            kept: Mutex::default(),
            computing: tokio::sync::Semaphore::new(1),
        }
    }
}

/// One ballot's leaf hashes, computed by the first lookup that needs them.
type LeafCell = Arc<OnceCell<Arc<Vec<Digest32>>>>;

impl LeafCache {
    fn kept(&self) -> std::sync::MutexGuard<'_, Vec<(BallotId, LeafCell)>> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cell of `id`'s leaves, made (and the least recently used dropped while over the
    /// budget) when it is not kept.
    fn cell(&self, id: BallotId) -> LeafCell {
        let mut kept = self.kept();
        if let Some(at) = kept.iter().position(|(ballot, _)| *ballot == id) {
            let hit = kept.remove(at);
            let cell = hit.1.clone();
            kept.push(hit);
            return cell;
        }
        let cell = Arc::new(OnceCell::new());
        kept.push((id, cell.clone()));
        trim(&mut kept);
        cell
    }

    /// Drops the least recently used ballots once a computed cell has made the kept leaves
    /// more than the budget.
    fn settle(&self) {
        trim(&mut self.kept());
    }
}

/// Drops the least recently used cells while more than `LEAF_CACHE_BALLOTS` are kept or the
/// computed ones hold more than `LEAF_CACHE_LEAVES` leaves; the last cell always stays.
fn trim(kept: &mut Vec<(BallotId, LeafCell)>) {
    let size = |cell: &LeafCell| cell.get().map_or(0, |leaves| leaves.len());
    let mut leaves: usize = kept.iter().map(|(_, cell)| size(cell)).sum();
    while kept.len() > 1 && (kept.len() > LEAF_CACHE_BALLOTS || leaves > LEAF_CACHE_LEAVES) {
        let (_, dropped) = kept.remove(0);
        leaves -= size(&dropped);
    }
}

impl std::fmt::Debug for LeafCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeafCache")
    }
}

impl Cista {
    /// A closed ballot's bundle without its ballot list. Errors: `not_found` for a draft or
    /// an unknown ballot, `results_sealed` before the close (and for a cancelled ballot),
    /// `integrity` when a closed ballot has no checkpoint.
    pub async fn bundle_head(&self, id: BallotId) -> Result<BundleHead> {
        let ballot = self.load_ballot(id).await?;
        if ballot.status() == BallotStatus::Draft {
            return Err(Error::NotFound {
                what: "this ballot",
            });
        }
        let results = sealed_results(&ballot)?;
        let checkpoint = ballot
            .stored
            .checkpoint
            .clone()
            .ok_or_else(|| Error::Integrity("a closed ballot has no checkpoint".to_owned()))?;
        let organization = self
            .store()
            .organization(ballot.org())
            .await?
            .map(|o| o.name.to_string())
            .unwrap_or_default();
        Ok(BundleHead {
            format: BUNDLE_FORMAT.to_owned(),
            organization,
            ballot: id.to_string(),
            title: ballot.definition.title.clone(),
            definition_json: ballot.stored.definition.clone(),
            definition_sha256: results.definition_sha256.clone(),
            verifier_key: self.signer().verifier().to_verifier_key(),
            checkpoint,
            turnout: results.tally.turnout,
            results,
        })
    }

    /// A closed ballot's list, to read page by page. Errors: `not_found` for any ballot that
    /// is not closed (its list is public only then).
    pub async fn published_list(&self, id: BallotId) -> Result<PublishedList> {
        self.published_list_of(&self.load_ballot(id).await?).await
    }

    /// `published_list` of a ballot already loaded (the record export has it).
    pub(crate) async fn published_list_of(&self, ballot: &Ballot) -> Result<PublishedList> {
        if ballot.status() != BallotStatus::Closed {
            return Err(Error::NotFound {
                what: "this ballot's list",
            });
        }
        Ok(PublishedList {
            id: ballot.id(),
            key: Arc::new(self.org_data_key(ballot.org()).await?),
        })
    }

    /// Up to `limit` ballots of the list with a tracker above `after` (from the first when
    /// `None`), opened, in tracker order: keyset paging, so page n costs what page 1 does.
    pub async fn published_page(
        &self,
        list: &PublishedList,
        after: Option<Tracker>,
        limit: u64,
    ) -> Result<Vec<PublishedBallot>> {
        let entries = self
            .store()
            .voting()
            .box_entries_after(list.id, after, limit, BoxColumns::Ballots)
            .await?;
        open_off_runtime(list, entries).await
    }

    /// Up to `limit` ballots of the list from position `offset` (0-based), opened, in
    /// tracker order: a numbered page, read from the list's mark before it when the marks are
    /// kept (see `list_marks`), else counted from the list's start below `MARKS_FROM`; the
    /// first page at or past `MARKS_FROM`, or the first tracker lookup, reads the marks.
    pub async fn published_page_at(
        &self,
        list: &PublishedList,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<PublishedBallot>> {
        let from = match self.kept_list_marks(list.id) {
            Some(marks) => read_from(&marks, offset),
            None if offset < MARKS_FROM => (None, offset),
            None => read_from(&self.closed_list_marks(list.id).await?, offset),
        };
        let entries = self
            .store()
            .voting()
            .box_entries_at(list.id, from, limit, BoxColumns::Ballots)
            .await?;
        open_off_runtime(list, entries).await
    }

    /// The public bundle of a closed ballot, whole in memory: anyone may fetch it and
    /// recount. For a large ballot, stream `bundle_head` and `published_page` instead.
    /// Errors as `bundle_head`.
    pub async fn election_bundle(&self, id: BallotId) -> Result<Bundle> {
        let head = self.bundle_head(id).await?;
        let list = self.published_list(id).await?;
        let mut ballots = Vec::new();
        loop {
            let after = ballots.last().map(|b: &PublishedBallot| b.tracker);
            let page = self.published_page(&list, after, BALLOT_PAGE).await?;
            let last = page.len() < BALLOT_PAGE as usize;
            ballots.extend(page);
            if last {
                break;
            }
        }
        Ok(head.with_ballots(ballots))
    }

    /// Where `tracker` is on a closed ballot's published list, and whether its inclusion
    /// proof holds against the signed checkpoint; `None` when it is not on the list. The
    /// first lookup of a ballot reads the whole list once (its leaf hashes are then kept).
    /// Errors as `published_list`.
    pub async fn locate_tracker(
        &self,
        head: &BundleHead,
        id: BallotId,
        tracker: Tracker,
    ) -> Result<Option<TrackerLocation>> {
        let list = self.published_list(id).await?;
        let Some(entry) = self.store().voting().box_entry(id, tracker).await? else {
            return Ok(None);
        };
        let Some(published) = open_page(&list.key, None, vec![entry])?.ballots.pop() else {
            return Ok(None);
        };
        let (mark, before) = mark_below(&self.closed_list_marks(id).await?, tracker);
        let index = before
            + self
                .store()
                .voting()
                .box_position(id, mark, tracker)
                .await?;
        let leaves = self.published_leaves(head, &list).await?;
        let of = leaves.len() as u64;
        // The path hashes the whole list again (a million SHA-256 at a million ballots):
        // off the runtime's threads, as opening a page is.
        let path = tokio::task::spawn_blocking(move || {
            let at = usize::try_from(index).ok()?;
            merkle::inclusion_proof(&leaves, at).ok()
        })
        .await
        .map_err(|e| Error::Internal(format!("the inclusion proof stopped: {e}")))?;
        let proven = (|| {
            let path = path?;
            let checkpoint = self.signer().verifier().verify(&head.checkpoint).ok()?;
            let data = leaf_data(&head.ballot, &head.definition_sha256, &published).ok()?;
            Some(
                verify_inclusion(
                    &merkle::leaf_hash(&data),
                    index,
                    checkpoint.size,
                    &path,
                    &checkpoint.root,
                )
                .is_ok(),
            )
        })()
        .unwrap_or(false);
        Ok(Some(TrackerLocation {
            index,
            of,
            ballot: published,
            proven,
        }))
    }

    /// Reads and opens a whole published list page by page, each entry read with `columns`
    /// (with each ballot's leaf hash when `leaves` is given), and hands each page to `fold`
    /// in tracker order: one page of memory at a time however long the list.
    pub(crate) async fn open_published_list(
        &self,
        list: &PublishedList,
        columns: BoxColumns,
        leaves: Option<LeafContext>,
        fold: impl FnMut(OpenedPage) -> Result<()> + Send,
    ) -> Result<()> {
        let mut pages = StoredBox {
            voting: self.store().voting(),
            ballot: list.id,
            columns,
        };
        open_box_by_pages(PageOpener::new(list.key.clone(), leaves), &mut pages, fold).await
    }

    /// The leaf hashes of a closed ballot's list, kept or read page by page (the next page
    /// read while the one before is opened and hashed). The reading runs in a task of its
    /// own that fills the cache, so a lookup that gives up (its client gone, its request's
    /// time out, perhaps while it waited its turn) leaves the leaves to be kept for the next.
    async fn published_leaves(
        &self,
        head: &BundleHead,
        list: &PublishedList,
    ) -> Result<Arc<Vec<Digest32>>> {
        let cell = self.leaf_cache().cell(list.id);
        if let Some(leaves) = cell.get() {
            return Ok(leaves.clone());
        }
        let (this, list) = (self.clone(), list.clone());
        let context = LeafContext {
            ballot: head.ballot.clone(),
            definition_sha256: head.definition_sha256.clone(),
        };
        tokio::spawn(async move {
            let cache = this.leaf_cache();
            let leaves = cell
                .get_or_try_init(|| async {
                    let _one_at_a_time =
                        cache.computing.acquire().await.map_err(|_| {
                            Error::Internal("the leaf cache was shut down".to_owned())
                        })?;
                    let mut leaves = Vec::new();
                    this.open_published_list(&list, BoxColumns::Ballots, Some(context), |opened| {
                        leaves.extend(opened.leaves);
                        Ok(())
                    })
                    .await?;
                    Ok::<_, Error>(Arc::new(leaves))
                })
                .await?
                .clone();
            cache.settle();
            Ok(leaves)
        })
        .await
        .map_err(|e| Error::Internal(format!("reading the leaf hashes stopped: {e}")))?
    }
}

/// Opens a page of `list` on a blocking thread (a page of ballots is milliseconds of AES-GCM
/// and JSON, which would otherwise hold up the runtime's other requests).
/// Opens `entries` on the blocking threads, each with the unit it names (a recorded
/// ballot's; `None` in a secret box).
pub(crate) async fn open_with_units(
    list: &PublishedList,
    entries: Vec<BoxEntry>,
) -> Result<super::opening::OpenedPage> {
    let key = list.key.clone();
    tokio::task::spawn_blocking(move || open_page(&key, None, entries))
        .await
        .map_err(|e| Error::Internal(format!("opening ballots stopped: {e}")))?
}

async fn open_off_runtime(
    list: &PublishedList,
    entries: Vec<BoxEntry>,
) -> Result<Vec<PublishedBallot>> {
    Ok(open_with_units(list, entries).await?.ballots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Arc<Vec<Digest32>> {
        Arc::new(vec![merkle::leaf_hash(b"ballot"); n])
    }

    /// Lookups of one ballot share one cell (its leaves are computed once); the least
    /// recently used ballots go once the computed leaves pass the budget, and the last
    /// ballot stays whatever its size.
    #[test]
    fn the_leaf_cache_keeps_the_last_ballots_within_its_budget_of_leaves() {
        let cache = LeafCache::default();
        let ballot = |n| BallotId::from_i64(n);
        let first = cache.cell(ballot(1));
        assert!(Arc::ptr_eq(&first, &cache.cell(ballot(1))));
        first.set(leaves(LEAF_CACHE_LEAVES / 4)).unwrap();
        let second = cache.cell(ballot(2));
        assert!(!Arc::ptr_eq(&first, &second));
        second.set(leaves(LEAF_CACHE_LEAVES / 4)).unwrap();
        // Many small ballots fit beside them: a rotation over them misses nothing.
        for n in 3..=40 {
            cache.cell(ballot(n)).set(leaves(100)).unwrap();
        }
        cache.settle();
        for n in 1..=40 {
            assert!(
                cache.cell(ballot(n)).initialized(),
                "ballot {n} was dropped"
            );
        }
        // 1 was used after 2: 2 is the least recently used and goes when a third quarter
        // and more comes.
        assert!(Arc::ptr_eq(&first, &cache.cell(ballot(1))));
        cache
            .cell(ballot(41))
            .set(leaves(LEAF_CACHE_LEAVES / 2 + 1))
            .unwrap();
        cache.settle();
        assert!(Arc::ptr_eq(&first, &cache.cell(ballot(1))));
        assert!(!cache.cell(ballot(2)).initialized(), "2 was kept");
        // A ballot larger than the budget is kept alone while it is the last one asked for.
        let huge = cache.cell(ballot(42));
        huge.set(leaves(LEAF_CACHE_LEAVES + 1)).unwrap();
        cache.settle();
        assert_eq!(cache.kept().len(), 1);
        assert!(Arc::ptr_eq(&huge, &cache.cell(ballot(42))));
    }

    /// However many empty ballots are asked for, no more than `LEAF_CACHE_BALLOTS` cells stay.
    #[test]
    fn the_leaf_cache_keeps_a_bounded_number_of_ballots() {
        let cache = LeafCache::default();
        for n in 0..1000 {
            cache.cell(BallotId::from_i64(n)).set(leaves(0)).unwrap();
        }
        assert_eq!(cache.kept().len(), LEAF_CACHE_BALLOTS);
        assert!(cache.cell(BallotId::from_i64(999)).initialized());
        assert!(!cache.cell(BallotId::from_i64(0)).initialized());
    }
}
