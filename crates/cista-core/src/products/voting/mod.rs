//! Association voting (DESIGN §3, FLORIDA.md): units and owners, consent, ballots and their
//! builder, casting online and on paper under a one-vote-per-unit constraint, secret and
//! recorded ballots, receipts, sealed results, the tally at close, the public bulletin and
//! the export bundle anyone can recount from. Who may vote, with the sentence each refusal
//! carries, is written once in `eligibility`; the words of an outcome once in `summary`.

pub mod actions;
pub mod audit;
pub mod ballots;
pub mod bundle;
pub mod cast;
pub mod close;
pub mod definition;
pub mod directory;
pub mod eligibility;
pub mod error;
pub mod import;
pub mod names;
pub mod notices;
pub mod paper;
pub mod record;
pub mod spreadsheet;
pub mod summary;
pub mod tally;
pub mod units;

use crate::ports::{BallotStatus, StoredBallot};
use crate::{Actor, Cista, Error, Result};
pub use actions::VotingAction;
pub use audit::VotingAuditKind;
use cista_types::{BallotId, OrgId, Timestamp};
use definition::BallotDefinition;
pub use error::VotingError;
pub use notices::VotingNotice;

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
        Ballot::from_stored(stored)
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
