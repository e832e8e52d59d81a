//! Opening a ballot box page by page: each page's sealed ballots are decrypted (AES-GCM),
//! parsed and, when asked, hashed into their Merkle leaves on every core, off the async
//! runtime, while the caller reads the next page from the store. The close and the published
//! list's leaf hashes and the record files all read a box this way, so a million ballots cost
//! one page of memory at a time.

use super::bundle::PublishedBallot;
use super::cast::{ChoicesAad, open_choices};
use crate::ports::{BoxColumns, BoxEntry, BoxReaderApart, StoreTx, VotingReads};
use crate::{Error, Result};
use cista_crypto::{DataKey, Digest32};
use cista_types::{BallotId, Tracker, UnitId};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc::error::TryRecvError;
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
/// (`None` on a secret ballot, whose box holds none, and wherever the page was read without
/// units: `BoxColumns::Ballots`) and, when hashing was asked for, their
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

/// Opens pages on the blocking threads, in the order they are started: `start` hands a
/// page over, `finish` returns the oldest one opened.
pub(crate) struct PageOpener {
    key: Arc<DataKey>,
    leaves: Option<Arc<LeafContext>>,
    in_flight: VecDeque<JoinHandle<Result<OpenedPage>>>,
}

impl PageOpener {
    /// Opens with `key`; hashes each ballot's leaf too when `leaves` is given.
    pub(crate) fn new(key: Arc<DataKey>, leaves: Option<LeafContext>) -> Self {
        Self {
            key,
            leaves: leaves.map(Arc::new),
            in_flight: VecDeque::new(),
        }
    }

    /// Starts opening `page` on the blocking threads; an empty page starts nothing.
    fn start(&mut self, page: Vec<BoxEntry>) {
        if !page.is_empty() {
            let (key, leaves) = (self.key.clone(), self.leaves.clone());
            self.in_flight
                .push_back(tokio::task::spawn_blocking(move || {
                    open_page(&key, leaves.as_deref(), page)
                }));
        }
    }

    /// The oldest page started, opened; `None` when none is being opened.
    pub(crate) async fn finish(&mut self) -> Result<Option<OpenedPage>> {
        match self.in_flight.pop_front() {
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
    /// What is read of each entry (its unit and time only where a record file names them).
    pub columns: BoxColumns,
}

#[async_trait::async_trait]
impl BoxPages for StoredBox<'_> {
    async fn page(&mut self, after: Option<Tracker>) -> Result<Vec<BoxEntry>> {
        self.voting
            .box_entries_after(self.ballot, after, OPENING_PAGE, self.columns)
            .await
    }
}

/// A ballot's box as a transaction sees it, its ballots alone (`BoxColumns::Ballots`: a
/// count needs no unit or time).
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
            .box_entries_after_in_tx(self.ballot, after, OPENING_PAGE, BoxColumns::Ballots)
            .await
    }
}

/// Pages read ahead of their opening: the store reads on while the cores open.
const PAGES_READ_AHEAD: usize = 2;

/// Pages being opened at once: the next page is already opening when the one before it is
/// folded, so the cores never wait for the fold.
const PAGES_OPENING: usize = 2;

/// A ballot's box read apart from the close's transaction
/// (`VotingWrites::box_reader_apart`), its ballots alone.
pub(crate) struct BoxApart(pub Box<dyn BoxReaderApart>);

#[async_trait::async_trait]
impl BoxPages for BoxApart {
    async fn page(&mut self, after: Option<Tracker>) -> Result<Vec<BoxEntry>> {
        self.0.page(after, OPENING_PAGE).await
    }
}

/// Reads a whole box from `pages` and opens it: each page is opened by `opener` and handed to
/// `fold` in tracker order, so a million ballots take a few pages of memory at a time. Three
/// stages run at once, each as fast as it can, joined by short queues: the store reads pages
/// ahead (on SQLite on a thread of its own: `cista_store`'s box reader), the blocking threads
/// open them, and this task folds them. Stops at the first error of any of them.
pub(crate) async fn open_box_by_pages(
    mut opener: PageOpener,
    pages: &mut dyn BoxPages,
    mut fold: impl FnMut(OpenedPage) -> Result<()> + Send,
) -> Result<()> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<BoxEntry>>(PAGES_READ_AHEAD);
    let read = async move {
        let mut after = None;
        loop {
            let page = pages.page(after).await?;
            let more = page.len() as u64 >= OPENING_PAGE;
            after = page.last().map(|e| e.tracker);
            // A closed queue means the other stages failed: theirs is the error returned.
            if page.is_empty() || sender.send(page).await.is_err() || !more {
                return Ok::<(), Error>(());
            }
        }
    };
    // Owns the queue's receiving end, so that when this stage stops (an error in opening or
    // folding) the queue closes and the reader, waiting to hand over a page, stops too
    // instead of waiting forever (with the close's write lock held).
    let open_and_fold = async move {
        let mut reading = true;
        loop {
            // Start every page read so far, up to `PAGES_OPENING`; wait for one only when
            // none is being opened.
            while reading && opener.in_flight.len() < PAGES_OPENING {
                let next = if opener.in_flight.is_empty() {
                    receiver.recv().await
                } else {
                    match receiver.try_recv() {
                        Ok(page) => Some(page),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => None,
                    }
                };
                match next {
                    Some(page) => opener.start(page),
                    None => reading = false,
                }
            }
            match opener.finish().await? {
                Some(opened) => fold(opened)?,
                None => return Ok::<(), Error>(()),
            }
        }
    };
    let (read, opened) = tokio::join!(read, open_and_fold);
    opened?;
    read
}

/// A ballot's leaf data (`leaf_data`) and its element of the published list (the compact JSON
/// of `PublishedBallot`), written with its choices serialized once and the ballot's id and
/// definition hash once per list: the close writes both for each of a million ballots. The
/// bytes are exactly those of `leaf_data` and of `serde_json::to_writer(ballot)`; a test
/// checks both against them.
struct BallotWriter {
    /// `["cista-ballot/1",<ballot>,<definition_sha256>,`
    leaf_prefix: Vec<u8>,
    /// One ballot's choices, tracker and weight as JSON, reused from ballot to ballot. A
    /// tracker and a weight serialize as the text `leaf_data` writes (their `Display`).
    choices: Vec<u8>,
    tracker: Vec<u8>,
    weight: Vec<u8>,
}

impl BallotWriter {
    /// For the ballots of `ballot` (its id as published) with `definition_sha256` (hex).
    fn new(ballot: &str, definition_sha256: &str) -> Result<Self> {
        let mut leaf_prefix = b"[".to_vec();
        for part in ["cista-ballot/1", ballot, definition_sha256] {
            json_into(&mut leaf_prefix, part)?;
            leaf_prefix.push(b',');
        }
        Ok(Self {
            leaf_prefix,
            choices: Vec::with_capacity(128),
            tracker: Vec::with_capacity(24),
            weight: Vec::with_capacity(24),
        })
    }

    /// Replaces `leaf` with `b`'s leaf data and appends `b`'s list element to `list`.
    fn write(&mut self, b: &PublishedBallot, leaf: &mut Vec<u8>, list: &mut Vec<u8>) -> Result<()> {
        // Each of these is written once and copied into both.
        self.choices.clear();
        json_into(&mut self.choices, &b.choices)?;
        self.tracker.clear();
        json_into(&mut self.tracker, &b.tracker)?;
        self.weight.clear();
        json_into(&mut self.weight, &b.weight)?;
        leaf.clear();
        leaf.extend_from_slice(&self.leaf_prefix);
        leaf.extend_from_slice(&self.tracker);
        leaf.push(b',');
        leaf.extend_from_slice(&self.weight);
        leaf.push(b',');
        leaf.extend_from_slice(&self.choices);
        leaf.push(b']');
        list.extend_from_slice(b"{\"tracker\":");
        list.extend_from_slice(&self.tracker);
        list.extend_from_slice(b",\"weight\":");
        list.extend_from_slice(&self.weight);
        list.extend_from_slice(b",\"choices\":");
        list.extend_from_slice(&self.choices);
        list.push(b'}');
        Ok(())
    }
}

/// Appends `value`'s compact JSON to `out`.
fn json_into(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) -> Result<()> {
    serde_json::to_writer(out, value).map_err(|e| Error::Internal(e.to_string()))
}

/// The threads a page's or a tree's hashing is split over: the machine's cores, at most 8.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
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
    let threads = cores();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::products::voting::bundle::leaf_data;
    use crate::products::voting::definition::{Answer, Choice, Choices};
    use cista_types::Weight;

    /// An endless box of ballots that do not open (their sealed bytes are not a sealed value),
    /// or that fails to read its third page.
    struct Endless {
        pages: u64,
        fail_read_at: Option<u64>,
    }

    #[async_trait::async_trait]
    impl BoxPages for Endless {
        async fn page(&mut self, after: Option<Tracker>) -> Result<Vec<BoxEntry>> {
            self.pages += 1;
            if self.fail_read_at == Some(self.pages) {
                return Err(Error::Internal("the store failed".to_owned()));
            }
            let first = after.map_or(0, |t| t.as_i64() + 1);
            Ok((0..OPENING_PAGE as i64)
                .map(|i| BoxEntry {
                    ballot: BallotId::from_i64(1),
                    tracker: Tracker::from_i64(first + i),
                    weight: cista_types::Weight::ONE,
                    sealed_choices: vec![0; 40],
                    unit: None,
                    cast_at: None,
                })
                .collect())
        }
    }

    /// A failure in any stage ends the whole read with that failure, however many pages the
    /// reader could still hand over: ballots that do not open (the reader must not wait
    /// forever to hand over its next page, which held the close's write lock), and a page the
    /// store cannot read while the pages before it open.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_stage_stops_the_others() {
        let key = Arc::new(DataKey::generate(&cista_types::OsRng));
        let within = std::time::Duration::from_secs(60);
        for fail_read_at in [None, Some(1), Some(3)] {
            let mut pages = Endless {
                pages: 0,
                fail_read_at,
            };
            let read =
                open_box_by_pages(PageOpener::new(key.clone(), None), &mut pages, |_| Ok(()));
            let failed = tokio::time::timeout(within, read)
                .await
                .expect("a stage waited for another that had stopped")
                .unwrap_err();
            if fail_read_at == Some(1) {
                assert_eq!(failed.code(), "internal_error", "{failed:?}");
            } else {
                assert_ne!(failed.code(), "internal_error", "{failed:?}");
            }
            assert!(
                pages.pages < 10,
                "the reader went on: {} pages",
                pages.pages
            );
        }
    }

    /// The writer the close uses gives exactly `leaf_data` and the ballot's own JSON, for
    /// ballots of every kind of choice, weight and tracker, one after another (nothing of a
    /// ballot stays behind in the next one's bytes), with ids and hashes that need escaping.
    #[test]
    fn the_ballot_writer_writes_the_leaf_and_list_bytes_of_serde() {
        let ballots = [
            Choices(vec![
                Choice::Candidates {
                    contest: 4,
                    candidates: vec![2, 5, 11],
                },
                Choice::Answer {
                    contest: 1,
                    answer: Answer::No,
                },
            ]),
            Choices(vec![Choice::Candidates {
                contest: 9,
                candidates: vec![],
            }]),
            Choices(vec![]),
            Choices(vec![Choice::Answer {
                contest: u32::MAX,
                answer: Answer::Abstain,
            }]),
        ];
        for (ballot, definition) in [("42", "ab"), ("7806171082920479310", "\"q\"\\é\n")] {
            let mut writer = BallotWriter::new(ballot, definition).unwrap();
            let (mut leaf, mut list) = (Vec::new(), Vec::new());
            let mut expected_list = Vec::new();
            for (i, choices) in ballots.iter().enumerate() {
                let b = PublishedBallot {
                    tracker: Tracker::from_i64(0x0fed_cba9_8765_4321 >> (i * 7)),
                    weight: Weight::from_micros([1, 1_500_000, 999_999_999, 0][i]),
                    choices: choices.clone(),
                };
                writer.write(&b, &mut leaf, &mut list).unwrap();
                assert_eq!(leaf, leaf_data(ballot, definition, &b).unwrap());
                expected_list.extend(serde_json::to_vec(&b).unwrap());
                assert_eq!(list, expected_list);
            }
        }
    }
}
