//! The published side of a closed ballot at any size: the bundle's head (everything but the
//! ballot list), the list read page by page in tracker order (keyset paging, so memory stays
//! bounded and page n costs what page 1 does), the whole bundle for callers that want it in
//! memory, and a tracker's place on the list with its inclusion proof. A closed ballot's list
//! never changes, so the leaf hashes a proof needs are computed once and kept for the most
//! recently looked-up ballot (32 bytes a ballot: 32 MB at a million).

use super::bundle::{BUNDLE_FORMAT, Bundle, BundleHead, PublishedBallot, leaf_data};
use super::close::sealed_results;
use crate::ports::BallotStatus;
use crate::{Cista, Error, Result};
use cista_crypto::Digest32;
use cista_crypto::merkle::{self, verify_inclusion};
use cista_types::{BallotId, OrgId, Tracker};
use std::sync::Arc;

/// Ballots read, opened and written per page of a published list.
pub const BALLOT_PAGE: u64 = 2_000;

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

/// The leaf hashes of the last closed ballot whose proofs were asked for; a lock held while
/// they are computed, so concurrent lookups compute them once.
#[derive(Default)]
pub(crate) struct LeafCache(tokio::sync::Mutex<Option<(BallotId, Arc<Vec<Digest32>>)>>);

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

    /// Up to `limit` ballots of a closed ballot's published list with a tracker above
    /// `after` (from the first when `None`), opened, in tracker order. Errors as
    /// `bundle_head`.
    pub async fn published_ballots(
        &self,
        id: BallotId,
        after: Option<Tracker>,
        limit: u64,
    ) -> Result<Vec<PublishedBallot>> {
        let org = self.closed_ballot_org(id).await?;
        let entries = self
            .store()
            .voting()
            .box_entries_after(id, after, limit)
            .await?;
        self.open_entries(org, &entries).await
    }

    /// Up to `limit` ballots of a closed ballot's published list from position `offset`
    /// (0-based), opened, in tracker order: a numbered page. Errors as `published_ballots`.
    pub async fn published_ballots_at(
        &self,
        id: BallotId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<PublishedBallot>> {
        let org = self.closed_ballot_org(id).await?;
        let entries = self
            .store()
            .voting()
            .box_entries_at(id, offset, limit)
            .await?;
        self.open_entries(org, &entries).await
    }

    /// The organization of a closed ballot, whose list is public; `not_found` for any other.
    async fn closed_ballot_org(&self, id: BallotId) -> Result<OrgId> {
        let ballot = self.load_ballot(id).await?;
        if ballot.status() != BallotStatus::Closed {
            return Err(Error::NotFound {
                what: "this ballot's list",
            });
        }
        Ok(ballot.org())
    }

    /// The public bundle of a closed ballot, whole in memory: anyone may fetch it and
    /// recount. For a large ballot, stream `bundle_head` and `published_ballots` instead.
    pub async fn election_bundle(&self, id: BallotId) -> Result<Bundle> {
        let head = self.bundle_head(id).await?;
        let mut ballots = Vec::new();
        loop {
            let page = self
                .published_ballots(
                    id,
                    ballots.last().map(|b: &PublishedBallot| b.tracker),
                    BALLOT_PAGE,
                )
                .await?;
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
    /// Errors as `bundle_head`.
    pub async fn locate_tracker(
        &self,
        head: &BundleHead,
        id: BallotId,
        tracker: Tracker,
    ) -> Result<Option<TrackerLocation>> {
        let Some(entry) = self.store().voting().box_entry(id, tracker).await? else {
            return Ok(None);
        };
        let ballot = self.load_ballot(id).await?;
        let Some(published) = self
            .open_entries(ballot.org(), std::slice::from_ref(&entry))
            .await?
            .pop()
        else {
            return Ok(None);
        };
        let index = self.store().voting().box_position(id, tracker).await?;
        let leaves = self.published_leaves(head, id).await?;
        let proven = (|| {
            let at = usize::try_from(index).ok()?;
            let path = merkle::inclusion_proof(&leaves, at).ok()?;
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
            of: leaves.len() as u64,
            ballot: published,
            proven,
        }))
    }

    /// The leaf hashes of a closed ballot's list, from the cache or read page by page.
    async fn published_leaves(
        &self,
        head: &BundleHead,
        id: BallotId,
    ) -> Result<Arc<Vec<Digest32>>> {
        let mut cached = self.leaf_cache().0.lock().await;
        if let Some((ballot, leaves)) = cached.as_ref()
            && *ballot == id
        {
            return Ok(leaves.clone());
        }
        let mut leaves = Vec::new();
        let mut after = None;
        loop {
            let page = self.published_ballots(id, after, BALLOT_PAGE).await?;
            for b in &page {
                leaves.push(merkle::leaf_hash(&leaf_data(
                    &head.ballot,
                    &head.definition_sha256,
                    b,
                )?));
            }
            after = page.last().map(|b| b.tracker);
            if page.len() < BALLOT_PAGE as usize {
                break;
            }
        }
        let leaves = Arc::new(leaves);
        *cached = Some((id, leaves.clone()));
        Ok(leaves)
    }
}
