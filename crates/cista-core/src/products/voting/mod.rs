//! Association voting (DESIGN §3, FLORIDA.md): units and owners, consent, ballots and their
//! builder, casting online and on paper under a one-vote-per-unit constraint, secret and
//! recorded ballots, receipts, sealed results, the tally at close, the public bulletin and
//! the export bundle anyone can recount from. Who may vote, with the sentence each refusal
//! carries, is written once in `eligibility`; the words of an outcome once in `summary`.

pub mod actions;
pub mod audit;
pub mod ballots;
pub mod bulk;
pub mod bundle;
pub mod cast;
pub mod close;
pub mod definition;
pub mod directory;
pub mod eligibility;
pub mod error;
pub mod import;
pub mod ledger;
pub mod list_marks;
pub mod names;
pub mod notices;
pub mod opening;
pub mod paper;
pub mod published;
pub mod record;
pub mod spreadsheet;
pub mod summary;
pub mod tally;
pub mod units;

use crate::ports::{BallotStatus, EligibleUnit, StoredBallot};
use crate::{Actor, Cista, Error, Result};
pub use actions::VotingAction;
pub use audit::VotingAuditKind;
use cista_crypto::Digest32;
use cista_types::{BallotId, OrgId, Timestamp};
use definition::BallotDefinition;
pub use error::VotingError;
pub use notices::VotingNotice;
use std::sync::Arc;

/// A ballot with its definition read.
#[derive(Debug, Clone)]
pub struct Ballot {
    pub stored: StoredBallot,
    pub definition: BallotDefinition,
}

/// Where a published ballot's window stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    NotYetOpen,
    Open,
    /// The closing time passed; the ballot is closed (or about to be, by the worker).
    Over,
}

impl Ballot {
    pub fn id(&self) -> BallotId {
        self.stored.id
    }

    pub fn org(&self) -> OrgId {
        self.stored.org
    }

    pub fn status(&self) -> BallotStatus {
        self.stored.status
    }

    pub fn window(&self, now: Timestamp) -> Window {
        if now < self.definition.opens_at {
            Window::NotYetOpen
        } else if now < self.definition.closes_at {
            Window::Open
        } else {
            Window::Over
        }
    }

    /// Whether votes are accepted now: published and inside the window.
    pub fn accepts_votes(&self, now: Timestamp) -> bool {
        self.status() == BallotStatus::Published && self.window(now) == Window::Open
    }

    /// `3 December 2026, 14:05 EST` in the ballot's own zone.
    pub fn local(&self, at: Timestamp) -> String {
        self.definition.time_zone.format(at)
    }

    fn from_stored(stored: StoredBallot) -> Result<Self> {
        let definition = BallotDefinition::from_json(&stored.definition)?;
        if !BallotDefinition::hash_of(&stored.definition).ct_eq(&stored.definition_hash) {
            return Err(Error::Integrity(
                "a ballot's definition does not match its hash".to_owned(),
            ));
        }
        Ok(Self { stored, definition })
    }
}

/// How many published ballots' definitions are kept parsed; past it the cache starts afresh.
const CACHED_DEFINITIONS: usize = 256;

/// Published ballots' definitions, parsed and checked against their hash once. A definition
/// is immutable from publication (its hash is on every receipt and in the bulletin), so it is
/// safe to keep; the ballot's row (status, shuffle, results) is read each time, and an entry
/// is used only while the row still carries the same definition hash. Drafts are never kept.
#[derive(Default)]
pub(crate) struct DefinitionCache(
    std::sync::Mutex<std::collections::HashMap<BallotId, (Digest32, Arc<BallotDefinition>)>>,
);

impl std::fmt::Debug for DefinitionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DefinitionCache")
    }
}

impl DefinitionCache {
    fn get(&self, stored: &StoredBallot) -> Option<Arc<BallotDefinition>> {
        let cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&stored.id)
            .filter(|(hash, _)| hash.ct_eq(&stored.definition_hash))
            .map(|(_, definition)| definition.clone())
    }

    fn put(&self, stored: &StoredBallot, definition: &BallotDefinition) {
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHED_DEFINITIONS {
            cache.clear();
        }
        cache.insert(
            stored.id,
            (stored.definition_hash, Arc::new(definition.clone())),
        );
    }
}

impl Cista {
    /// Any ballot, for the core's own use (no authorization: callers check).
    pub(crate) async fn load_ballot(&self, id: BallotId) -> Result<Ballot> {
        let stored = self
            .store()
            .voting()
            .ballot(id)
            .await?
            .ok_or(Error::NotFound {
                what: "this ballot",
            })?;
        self.ballot_from_stored(stored)
    }

    /// A stored ballot with its definition read, from the cache of published definitions
    /// (immutable, keyed by ballot and definition hash) when it is there. A draft's
    /// definition can change, so it is read every time. Errors: `Integrity` when the stored
    /// definition does not parse.
    pub(crate) fn ballot_from_stored(&self, stored: StoredBallot) -> Result<Ballot> {
        if stored.status == BallotStatus::Draft {
            return Ballot::from_stored(stored);
        }
        if let Some(definition) = self.definition_cache().get(&stored) {
            return Ok(Ballot {
                stored,
                definition: (*definition).clone(),
            });
        }
        let ballot = Ballot::from_stored(stored)?;
        self.definition_cache()
            .put(&ballot.stored, &ballot.definition);
        Ok(ballot)
    }

    /// The units on `ballot`'s frozen roll that have not taken part yet: whom
    /// reminders go to (paper entry reads them up to a bound: `paper_candidates`).
    pub(crate) async fn yet_to_vote(&self, ballot: BallotId) -> Result<Vec<EligibleUnit>> {
        self.store().voting().units_yet_to_vote(ballot, None).await
    }

    /// A ballot of `org`, for staff who may see its ballots.
    pub async fn ballot(&self, actor: &Actor, org: OrgId, id: BallotId) -> Result<Ballot> {
        actor.authorize_in(org, VotingAction::ViewBallots)?;
        let ballot = self.load_ballot(id).await?;
        if ballot.org() != org {
            return Err(Error::NotFound {
                what: "this ballot",
            });
        }
        Ok(ballot)
    }

    /// An organization's ballots, newest first.
    pub async fn ballots(&self, actor: &Actor, org: OrgId) -> Result<Vec<Ballot>> {
        actor.authorize_in(org, VotingAction::ViewBallots)?;
        self.store()
            .voting()
            .ballots(org)
            .await?
            .into_iter()
            .map(Ballot::from_stored)
            .collect()
    }
}
