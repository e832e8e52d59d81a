//! The part of a ballot's staff page that lists who took part: a search of the roll by unit
//! label (whether, how and when each unit found voted), the units that voted and the refused
//! attempts, each newest first and `ROWS_PER_PAGE` a page (`?page=`, `?refused=`), so the
//! page of a million-unit ballot is as small as a small one's. The whole lists are the
//! record's CSV files.

use super::view::{ParticipationLine, RefusalLine};
use crate::AppState;
use crate::error::AppError;
use crate::web::pages::pager::{Pager, requested_page, requested_search};
use cista_core::Actor;
use cista_core::products::voting::Ballot;
use cista_core::products::voting::ledger::SEARCH_LIMIT;
use cista_types::words::count;
use serde::Deserialize;

/// What a ballot page's address asks of its lists: `?q=` searches the roll, `?page=` and
/// `?refused=` name the pages (from 1) of the two lists.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct LedgerQuery {
    q: String,
    page: Option<String>,
    refused: Option<String>,
}

/// A unit a search found, and whether it voted.
pub struct FoundLine {
    pub unit: String,
    /// How and when it voted; `None` if it has not.
    pub voted: Option<ParticipationLine>,
}

/// The lists of a published, closed or cancelled ballot's page (`ballots/participation.html`).
pub struct Ledger {
    /// The search as typed (empty: none).
    pub q: String,
    /// What the search found (`None` without a search).
    pub found: Option<Vec<FoundLine>>,
    /// "More than 200 units match: type more of the label."
    pub found_more: Option<String>,
    /// "3 units have voted, newest first."
    pub voted_summary: String,
    pub voted: Vec<ParticipationLine>,
    pub voted_pages: Pager,
    /// "2 attempts were refused, newest first."
    pub refused_summary: String,
    pub refused: Vec<RefusalLine>,
    pub refused_pages: Pager,
}

impl Ledger {
    /// The lists of `ballot`'s page at `path`, as `query` asks.
    pub async fn read(
        state: &AppState,
        actor: &Actor,
        ballot: &Ballot,
        path: &str,
        query: &LedgerQuery,
    ) -> Result<Self, AppError> {
        let zone = &ballot.definition.time_zone;
        let cista = &state.cista;
        let q = &requested_search(&query.q);
        let (found, found_more) = if q.is_empty() {
            (None, None)
        } else {
            let search = cista.roll_search(actor, ballot, q).await?;
            let lines = search
                .units
                .into_iter()
                .map(|(unit, voted)| {
                    let label = unit.label.to_string();
                    FoundLine {
                        voted: voted.map(|p| ParticipationLine::of(zone, (label.clone(), p))),
                        unit: label,
                    }
                })
                .collect();
            let more = search
                .more
                .then(|| format!("More than {SEARCH_LIMIT} units match: type more of the label."));
            (Some(lines), more)
        };
        let voted = cista
            .participation_page(actor, ballot, requested_page(query.page.as_deref()))
            .await?;
        let refused = cista
            .refusals_page(actor, ballot, requested_page(query.refused.as_deref()))
            .await?;
        let voted_summary = summary(voted.total, ("unit has", "units have"), "voted");
        let refused_summary = summary(refused.total, ("attempt was", "attempts were"), "refused");
        let voted_pages = Pager::with_parameter(
            "Pages of the units that voted",
            ("page", Some(("refused", refused.page))),
            (path, "participation"),
            q,
            &voted,
        );
        let refused_pages = Pager::with_parameter(
            "Pages of the refused attempts",
            ("refused", Some(("page", voted.page))),
            (path, "refused"),
            q,
            &refused,
        );
        Ok(Self {
            q: q.to_owned(),
            found,
            found_more,
            voted_summary,
            voted: voted
                .items
                .into_iter()
                .map(|line| ParticipationLine::of(zone, line))
                .collect(),
            voted_pages,
            refused_summary,
            refused: refused
                .items
                .into_iter()
                .map(|line| RefusalLine::of(zone, line))
                .collect(),
            refused_pages,
        })
    }
}

/// "3 units have voted, newest first.": how many a list holds, and its order when it has one.
fn summary(total: usize, (one, many): (&str, &str), what: &str) -> String {
    let order = if total > 1 { ", newest first" } else { "" };
    format!("{} {what}{order}.", count(total, one, many))
}
