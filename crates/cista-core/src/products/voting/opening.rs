//! Opening a ballot box page by page: each page's sealed ballots are decrypted (AES-GCM),
//! parsed and, when asked, hashed into their Merkle leaves on every core, off the async
//! runtime, while the caller reads the next page from the store. The close and the published
//! list's leaf hashes and the record files all read a box this way, so a million ballots cost
//! one page of memory at a time.

use super::bundle::{BallotWriter, PublishedBallot};
use super::cast::{ChoicesAad, open_choices};
use crate::ports::{BoxEntry, StoreTx, VotingReads};
use crate::{Error, Result};
use cista_crypto::{DataKey, Digest32};
use cista_types::{BallotId, Tracker, UnitId};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Box entries read from the store per page when a whole box is opened (the close, the leaf
/// hashes of a published list): large enough that a page's hand-off costs little (245 pages
/// for a million ballots), small enough that a page's sealed and opened ballots take about a
/// megabyte. The conformance test's large ballot spans two pages.
pub const OPENING_PAGE: u64 = 4_096;

/// What a leaf is bound to besides the ballot itself (`bundle::leaf_data`).
#[derive(Debug, Clone)]
pub(crate) struct LeafContext {
    /// The ballot's id, as published.
    pub ballot: String,
    /// The SHA-256 of its definition, lowercase hex.
    pub definition_sha256: String,
}

/// One opened page: its ballots in tracker order, the unit each came from in the same order
/// (`None` on a secret ballot, whose box holds none) and, when hashing was asked for, their
/// Merkle leaf hashes in the same order and their compact JSON joined by commas (the page's
/// part of the published list's bytes, for `BallotListHasher::add_json`); both empty
/// otherwise.
#[derive(Debug, Default)]
pub(crate) struct OpenedPage {
    pub ballots: Vec<PublishedBallot>,
    pub units: Vec<Option<UnitId>>,
    pub leaves: Vec<Digest32>,
    pub list_json: Vec<u8>,
}

/// Opens pages in order, one in flight while the caller reads the next: `start` hands over a
/// page, `finish` returns it opened.
pub(crate) struct PageOpener {
    key: Arc<DataKey>,
    leaves: Option<Arc<LeafContext>>,
    in_flight: Option<JoinHandle<Result<OpenedPage>>>,
}

impl PageOpener {
    /// Opens with `key`; hashes each ballot's leaf too when `leaves` is given.
    pub(crate) fn new(key: Arc<DataKey>, leaves: Option<LeafContext>) -> Self {
        Self {
            key,
            leaves: leaves.map(Arc::new),
            in_flight: None,
        }
    }

    /// Starts opening `page` on the blocking threads; an empty page starts nothing. The page
    /// before it must have been taken with `finish` (pages come back in the order given).
    fn start(&mut self, page: Vec<BoxEntry>) -> Result<()> {
        if self.in_flight.is_some() {
            return Err(Error::Internal(
                "a page was started before the one before it was taken".to_owned(),
            ));
        }
        if !page.is_empty() {
            let (key, leaves) = (self.key.clone(), self.leaves.clone());
            self.in_flight = Some(tokio::task::spawn_blocking(move || {
                open_page(&key, leaves.as_deref(), page)
            }));
        }
        Ok(())
    }

    /// The page in flight, opened; `None` when there is none.
    pub(crate) async fn finish(&mut self) -> Result<Option<OpenedPage>> {
        match self.in_flight.take() {
            None => Ok(None),
            Some(task) => task
                .await
                .map_err(|e| Error::Internal(format!("opening ballots stopped: {e}")))?
                .map(Some),
        }
    }
}

/// Where a whole box is read from, a page at a time: the store as it stands (a published
/// list) or a transaction (the close, under the ballot's lock).
#[async_trait::async_trait]
pub(crate) trait BoxPages: Send {
    /// Up to `OPENING_PAGE` entries with a tracker above `after` (from the first when
    /// `None`), in tracker order.
    async fn page(&mut self, after: Option<Tracker>) -> Result<Vec<BoxEntry>>;
}

/// A ballot's box as the store holds it.
pub(crate) struct StoredBox<'a> {
    /// The store's voting reads.
    pub voting: &'a dyn VotingReads,
    /// Whose box.
    pub ballot: BallotId,
}

#[async_trait::async_trait]
impl BoxPages for StoredBox<'_> {
    async fn page(&mut self, after: Option<Tracker>) -> Result<Vec<BoxEntry>> {
        self.voting
            .box_entries_after(self.ballot, after, OPENING_PAGE)
            .await
    }
}

/// A ballot's box as a transaction sees it.
pub(crate) struct BoxInTx<'a> {
    /// The transaction (the close's, holding the ballot's lock).
    pub tx: &'a mut dyn StoreTx,
    /// Whose box.
    pub ballot: BallotId,
}

#[async_trait::async_trait]
impl BoxPages for BoxInTx<'_> {
    async fn page(&mut self, after: Option<Tracker>) -> Result<Vec<BoxEntry>> {
        self.tx
            .voting()
            .box_entries_after_in_tx(self.ballot, after, OPENING_PAGE)
            .await
    }
}

/// Reads a whole box from `pages` and opens it: each page is opened by `opener` and handed to
/// `fold` in tracker order while the next is read, so a million ballots take a few pages of
/// memory at a time. Stops at the first error of any of them.
pub(crate) async fn open_box_by_pages(
    mut opener: PageOpener,
    pages: &mut dyn BoxPages,
    mut fold: impl FnMut(OpenedPage) -> Result<()> + Send,
) -> Result<()> {
    let mut after = None;
    loop {
        // Three stages at once: the database reads page n (on SQLite, sqlx's worker thread
        // fills its row buffer, the store's `SQLITE_ROW_BUFFER`, with no one waiting for each
        // row), the blocking threads open page n - 1, and this task folds it once opened.
        let fold_previous = async {
            match opener.finish().await? {
                Some(opened) => fold(opened),
                None => Ok(()),
            }
        };
        let (page, folded) = tokio::join!(pages.page(after), fold_previous);
        folded?;
        let page = page?;
        let more = page.len() as u64 >= OPENING_PAGE;
        after = page.last().map(|e| e.tracker);
        opener.start(page)?;
        if !more {
            break;
        }
    }
    if let Some(opened) = opener.finish().await? {
        fold(opened)?;
    }
    Ok(())
}

/// Opens `entries` with `key`, in tracker order, split over the machine's cores (AES-GCM, JSON
/// and SHA-256 for each ballot are the CPU work of a close); with `leaves`, each ballot's
/// Merkle leaf hash and the page's list bytes too. Blocking: call from a blocking thread.
pub(crate) fn open_page(
    key: &DataKey,
    leaves: Option<&LeafContext>,
    mut entries: Vec<BoxEntry>,
) -> Result<OpenedPage> {
    // Pages come in tracker order from the store; sorting sorted entries is one pass.
    entries.sort_by_key(|e| e.tracker);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    // Below this a thread costs more than it saves.
    let per_thread = entries.len().div_ceil(threads).max(500);
    let open_part = |part: &[BoxEntry]| -> Result<OpenedPage> {
        let mut out = OpenedPage {
            ballots: Vec::with_capacity(part.len()),
            units: part.iter().map(|e| e.unit).collect(),
            ..OpenedPage::default()
        };
        let mut writer = leaves
            .map(|c| BallotWriter::new(&c.ballot, &c.definition_sha256))
            .transpose()?;
        let mut leaf = Vec::new();
        let opener = key.opener()?;
        let mut aad = ChoicesAad::default();
        for e in part {
            let b = PublishedBallot {
                tracker: e.tracker,
                weight: e.weight,
                choices: open_choices(&opener, aad.of(e.ballot, e.tracker), e)?,
            };
            if let Some(writer) = writer.as_mut() {
                if !out.list_json.is_empty() {
                    out.list_json.push(b',');
                }
                writer.write(&b, &mut leaf, &mut out.list_json)?;
                out.leaves.push(cista_crypto::merkle::leaf_hash(&leaf));
            }
            out.ballots.push(b);
        }
        Ok(out)
    };
    if entries.len() <= per_thread {
        return open_part(&entries);
    }
    let open_part = &open_part;
    let parts: Vec<Result<OpenedPage>> = std::thread::scope(|scope| {
        let workers: Vec<_> = entries
            .chunks(per_thread)
            .map(|part| scope.spawn(move || open_part(part)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(Error::Internal(
                        "a thread opening ballots panicked".to_owned(),
                    ))
                })
            })
            .collect()
    });
    let mut whole = OpenedPage {
        ballots: Vec::with_capacity(entries.len()),
        ..OpenedPage::default()
    };
    for part in parts {
        let part = part?;
        whole.ballots.extend(part.ballots);
        whole.units.extend(part.units);
        whole.leaves.extend(part.leaves);
        if !whole.list_json.is_empty() && !part.list_json.is_empty() {
            whole.list_json.push(b',');
        }
        whole.list_json.extend(part.list_json);
    }
    Ok(whole)
}
