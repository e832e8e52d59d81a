//! Marks on closed ballots' published lists: every `MARK_EVERY`-th tracker in tracker order,
//! read once a ballot (one statement stepping through the box's index once) and kept, so that
//! a numbered page of the public bulletin and a tracker's position are read from the mark
//! before them rather than counted from the list's start. A deep page of a million-ballot list
//! stepped through up to a million index entries on every request (92 ms on SQLite, 315 ms on
//! PostgreSQL for the last page, `bench tally`); from its mark it steps through fewer than
//! `MARK_EVERY`. Pages before `MARKS_FROM` are counted from the start while no marks are kept,
//! which costs less than reading them. A closed ballot's list never changes, so its marks
//! never go stale.

use crate::{Cista, Result};
use cista_types::{BallotId, Tracker};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Entries between two marks: the bulletin's page (`ROWS_PER_PAGE`, 500), so a page starts at
/// a mark. A million-ballot list has 2,000 marks (16 KB).
pub const MARK_EVERY: u64 = 500;

/// The position from which a numbered page reads its list's marks when they are not kept yet.
/// Below it, stepping through the entries from the list's start (at most 10,000 index
/// entries, about a millisecond) costs less than reading the marks, which steps through the
/// whole box once (about 100 ms on SQLite and 230 ms on PostgreSQL at a million ballots,
/// `bench tally`): the first twenty pages of a large list, and every page of a list this
/// short, are read without them.
pub const MARKS_FROM: u64 = 20 * MARK_EVERY;

/// Closed ballots whose marks are kept at once, the least recently used dropped first: as
/// many as the leaf hashes are kept for (`LEAF_CACHE_BALLOTS`).
const MARKED_BALLOTS: usize = 256;

/// One ballot's marks, read by the first request that needs them.
type MarkCell = Arc<OnceCell<Arc<Vec<Tracker>>>>;

/// The marks of the closed ballots whose lists were last read past their first page or
/// looked a tracker up on. The bulletin is public, so marks are read for one ballot at a time:
/// requests that rotate over more ballots than are kept wait their turn rather than walk
/// several boxes at once.
#[derive(Debug)]
pub(crate) struct MarkCache {
    kept: Mutex<Vec<(BallotId, MarkCell)>>,
    reading: tokio::sync::Semaphore,
}

impl Default for MarkCache {
    fn default() -> Self {
        Self {
            kept: Mutex::default(),
            reading: tokio::sync::Semaphore::new(1),
        }
    }
}

impl MarkCache {
    /// The cell of `id`'s marks, made (and the least recently used dropped past
    /// `MARKED_BALLOTS`) when it is not kept.
    fn cell(&self, id: BallotId) -> MarkCell {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let cell = match kept.iter().position(|(ballot, _)| *ballot == id) {
            Some(at) => kept.remove(at).1,
            None => Arc::new(OnceCell::new()),
        };
        kept.push((id, cell.clone()));
        if kept.len() > MARKED_BALLOTS {
            kept.remove(0);
        }
        cell
    }

    /// `id`'s marks if they are kept and read, made the most recently used when `touch`;
    /// never reads them nor makes a cell for them.
    fn kept(&self, id: BallotId, touch: bool) -> Option<Arc<Vec<Tracker>>> {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = kept.iter().position(|(ballot, _)| *ballot == id)?;
        let marks = kept.get(at)?.1.get()?.clone();
        if touch {
            let entry = kept.remove(at);
            kept.push(entry);
        }
        Some(marks)
    }
}

impl Cista {
    /// The marks of closed ballot `id`'s list if they are kept, without reading them.
    pub(crate) fn kept_list_marks(&self, id: BallotId) -> Option<Arc<Vec<Tracker>>> {
        self.mark_cache().kept(id, true)
    }

    /// Whether the marks of closed ballot `id`'s list are kept (read and not yet dropped).
    /// Asking changes nothing: for `bench tally` and the tests.
    pub fn list_marks_kept(&self, id: BallotId) -> bool {
        self.mark_cache().kept(id, false).is_some()
    }

    /// The marks of closed ballot `id`'s list (`VotingReads::box_marks` every `MARK_EVERY`),
    /// read by the first caller and then kept; concurrent callers wait for that one read.
    /// Only for a closed ballot: an open box's marks would move with every cast. The read
    /// runs in a task of its own that fills the cache, as the leaf hashes' does, so a request
    /// that gives up (its client gone, its time out) leaves the marks kept for the next.
    pub(crate) async fn closed_list_marks(&self, id: BallotId) -> Result<Arc<Vec<Tracker>>> {
        let cell = self.mark_cache().cell(id);
        if let Some(marks) = cell.get() {
            return Ok(marks.clone());
        }
        let this = self.clone();
        tokio::spawn(async move {
            let cache = this.mark_cache();
            cell.get_or_try_init(|| async {
                let _turn = cache.reading.acquire().await.map_err(|_| {
                    crate::Error::Internal("the list marks' reader was shut down".to_owned())
                })?;
                let marks = this.store().voting().box_marks(id, MARK_EVERY).await?;
                Ok::<_, crate::Error>(Arc::new(marks))
            })
            .await
            .cloned()
        })
        .await
        .map_err(|e| crate::Error::Internal(format!("reading the list's marks stopped: {e}")))?
    }
}

/// Where a read from 0-based position `offset` starts: after the last mark before it (none
/// for the first `MARK_EVERY` entries), skipping the entries between. Past the list's last
/// mark, from that mark.
pub(crate) fn read_from(marks: &[Tracker], offset: u64) -> (Option<Tracker>, u64) {
    let runs = (offset / MARK_EVERY).min(marks.len() as u64);
    match runs
        .checked_sub(1)
        .and_then(|i| marks.get(usize::try_from(i).ok()?))
    {
        Some(mark) => (Some(*mark), offset - runs * MARK_EVERY),
        None => (None, offset),
    }
}

/// The last mark below `tracker` (none when it is in the first run) and the entries up to and
/// including it: `tracker`'s position is that count plus the entries between the mark and it.
pub(crate) fn mark_below(marks: &[Tracker], tracker: Tracker) -> (Option<Tracker>, u64) {
    let runs = marks.partition_point(|mark| *mark < tracker);
    match runs.checked_sub(1).and_then(|i| marks.get(i)) {
        Some(mark) => (Some(*mark), runs as u64 * MARK_EVERY),
        None => (None, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list of `n` trackers 10, 20, 30, … and its marks, as `box_marks` reads them.
    fn list(n: u64) -> (Vec<Tracker>, Vec<Tracker>) {
        let trackers: Vec<Tracker> = (1..=n)
            .map(|i| Tracker::from_i64(i64::try_from(i * 10).unwrap()))
            .collect();
        let marks = trackers
            .iter()
            .skip(usize::try_from(MARK_EVERY - 1).unwrap())
            .step_by(usize::try_from(MARK_EVERY).unwrap())
            .copied()
            .collect();
        (trackers, marks)
    }

    /// Reading from `read_from`'s start gives the entries at every offset, and `mark_below`
    /// gives every tracker's position, on lists ending on, before and after a mark.
    #[test]
    fn reads_from_the_marks_find_what_counting_from_the_start_finds() {
        for n in [
            0,
            1,
            MARK_EVERY - 1,
            MARK_EVERY,
            MARK_EVERY + 1,
            3 * MARK_EVERY + 7,
        ] {
            let (trackers, marks) = list(n);
            for offset in (0..n + 2 * MARK_EVERY).step_by(7) {
                let (after, skip) = read_from(&marks, offset);
                assert!(skip < MARK_EVERY || marks.len() as u64 * MARK_EVERY <= offset);
                let read: Vec<&Tracker> = trackers
                    .iter()
                    .filter(|t| after.is_none_or(|a| **t > a))
                    .skip(usize::try_from(skip).unwrap())
                    .take(3)
                    .collect();
                let counted: Vec<&Tracker> = trackers
                    .iter()
                    .skip(usize::try_from(offset).unwrap())
                    .take(3)
                    .collect();
                assert_eq!(read, counted, "{n} entries, offset {offset}");
            }
            for (position, tracker) in trackers.iter().enumerate() {
                let (after, before) = mark_below(&marks, *tracker);
                let between = trackers
                    .iter()
                    .filter(|t| after.is_none_or(|a| **t > a) && **t < *tracker)
                    .count();
                assert!(between < usize::try_from(MARK_EVERY).unwrap());
                assert_eq!(before + between as u64, position as u64, "{n}: {tracker:?}");
            }
        }
    }

    #[test]
    fn the_least_recently_used_ballots_marks_are_dropped_first() {
        let cache = MarkCache::default();
        let first = cache.cell(BallotId::from_i64(0));
        for id in 1..i64::try_from(MARKED_BALLOTS).unwrap() {
            cache.cell(BallotId::from_i64(id));
        }
        // Used again: the least recently used is now ballot 1.
        assert!(Arc::ptr_eq(&first, &cache.cell(BallotId::from_i64(0))));
        cache.cell(BallotId::from_i64(-1));
        let kept = cache.kept.lock().unwrap();
        assert_eq!(kept.len(), MARKED_BALLOTS);
        assert!(kept.iter().any(|(id, _)| id.as_i64() == 0));
        assert!(!kept.iter().any(|(id, _)| id.as_i64() == 1));
    }

    #[test]
    fn asking_for_kept_marks_never_reads_nor_keeps_a_cell() {
        let cache = MarkCache::default();
        let id = BallotId::from_i64(7);
        assert!(cache.kept(id, true).is_none());
        assert!(cache.kept.lock().unwrap().is_empty(), "no cell made");
        // A cell whose marks are still being read is not kept marks.
        let cell = cache.cell(id);
        assert!(cache.kept(id, true).is_none());
        cell.set(Arc::new(vec![])).unwrap();
        assert!(cache.kept(id, false).is_some());
        // Touched, a ballot is the most recently used; merely asked, it is not.
        cache.cell(BallotId::from_i64(8));
        cache.kept(id, false);
        assert_eq!(cache.kept.lock().unwrap()[0].0, id);
        cache.kept(id, true);
        assert_eq!(cache.kept.lock().unwrap()[1].0, id);
    }
}
