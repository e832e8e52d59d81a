//! The public bulletin of a closed ballot: trackers with their choices, a page of
//! `ROWS_PER_PAGE` at a time, the signed checkpoint, a tracker lookup with its inclusion proof,
//! and the bundle anyone can recount from, streamed page by page so a million ballots take no
//! more memory than a few thousand. No sign-in; before the close it says when the bulletin will
//! appear and shows no counts (FL-09).

use super::chrome::{Chrome, render};
use super::vote::ballot_id;
use super::vote::results::ResultsView;
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use cista_core::Error;
use cista_core::ports::BallotStatus;
use cista_core::products::voting::VotingError;
use cista_core::products::voting::bundle::{BundleHead, JSON_SUFFIX, PublishedBallot};
use cista_core::products::voting::definition::BallotDefinition;
use cista_core::products::voting::published::{BALLOT_PAGE, PublishedList, TrackerLocation};
use cista_types::{BallotId, Tracker};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/e/{ballot}/bulletin", get(bulletin))
        .route("/e/{ballot}/bundle.json", get(bundle_json))
}

/// Ballots one page of the bulletin lists (`?page=n` is ballots `(n-1)·500 …`).
pub const ROWS_PER_PAGE: u64 = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LookupQuery {
    tracker: Option<String>,
    /// The page of the list, from 1; text, so a malformed one is explained, not a 400 page
    /// from the extractor.
    page: Option<String>,
}

/// A ballot that has no bulletin yet: why, and when it will have one.
#[derive(Template)]
#[template(path = "bulletin/pending.html")]
struct PendingPage {
    chrome: Chrome,
    title: String,
    message: String,
}

struct BallotRow {
    tracker: String,
    weight: String,
    choices: Vec<String>,
    found: bool,
}

/// The answer to a tracker lookup.
struct Lookup {
    tracker: String,
    found: bool,
    message: String,
}

#[derive(Template)]
#[template(path = "bulletin/closed.html")]
struct ClosedPage {
    chrome: Chrome,
    id: String,
    title: String,
    organization: String,
    results: ResultsView,
    checkpoint: String,
    verifier_key: String,
    definition_sha256: String,
    ballot_list_sha256: String,
    root_sha256: String,
    rows: Vec<BallotRow>,
    pages: Pages,
    query: String,
    lookup: Option<Lookup>,
}

/// Where the shown page is in the list, for its heading and links.
struct Pages {
    total: u64,
    /// 1-based positions of the first and last ballot shown (0 and 0 when none).
    first: u64,
    last: u64,
    page: u64,
    count: u64,
}

impl Pages {
    fn new(total: u64, page: u64, shown: usize) -> Self {
        let count = total.div_ceil(ROWS_PER_PAGE).max(1);
        let first = (page - 1) * ROWS_PER_PAGE + 1;
        Self {
            total,
            first: if shown == 0 { 0 } else { first },
            last: if shown == 0 {
                0
            } else {
                first + shown as u64 - 1
            },
            page,
            count,
        }
    }

    fn previous(&self) -> Option<u64> {
        (self.page > 1).then(|| self.page - 1)
    }

    fn next(&self) -> Option<u64> {
        (self.page < self.count).then(|| self.page + 1)
    }
}

/// Looks a tracker up on the bulletin; a malformed one is explained, not an error page.
/// Returns the status, the location when found, and the answer to show.
async fn lookup(
    state: &AppState,
    head: &BundleHead,
    id: BallotId,
    raw: &str,
) -> Result<(StatusCode, Option<TrackerLocation>, Lookup), AppError> {
    let tracker = match Tracker::parse(raw) {
        Ok(t) => t,
        Err(e) => {
            let message = format!("That is not a tracker: it {}.", e.message);
            return Ok((
                StatusCode::BAD_REQUEST,
                None,
                Lookup {
                    tracker: String::new(),
                    found: false,
                    message,
                },
            ));
        }
    };
    let hit = state.cista.locate_tracker(head, id, tracker).await?;
    let message = match &hit {
        Some(l) if l.proven => format!(
            "Found: position {} of {}; its inclusion proof verifies against the signed \
             checkpoint. Your ballot was counted as published below.",
            l.index + 1,
            l.of
        ),
        Some(l) => format!(
            "Found at position {} of {}, but its inclusion proof does NOT verify against \
             the signed checkpoint. Report this to the association and keep your receipt.",
            l.index + 1,
            l.of
        ),
        None => format!(
            "Tracker {tracker} is not on this ballot's list. Check it against your receipt; \
             if it is right, report this to the association and keep your receipt."
        ),
    };
    let found = hit.as_ref().is_some_and(|l| l.proven);
    Ok((
        StatusCode::OK,
        hit,
        Lookup {
            tracker: tracker.to_string(),
            found,
            message,
        },
    ))
}

fn rows(
    ballots: &[PublishedBallot],
    definition: &BallotDefinition,
    found: Option<Tracker>,
) -> Vec<BallotRow> {
    ballots
        .iter()
        .map(|b| BallotRow {
            tracker: b.tracker.to_string(),
            weight: b.weight.to_string(),
            choices: b
                .choices
                .describe(definition)
                .into_iter()
                .map(|(contest, chosen)| format!("{contest}: {}", chosen.join(", ")))
                .collect(),
            found: Some(b.tracker) == found,
        })
        .collect()
}

/// The page asked for: 1 when none; a malformed one is a `bad_request`.
fn page_number(raw: Option<&str>) -> Result<u64, AppError> {
    match raw.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(1),
        Some(text) => text.parse::<u64>().ok().filter(|&n| n >= 1).ok_or_else(|| {
            AppError(Error::BadRequest {
                reason: "page must be a whole number from 1".to_owned(),
            })
        }),
    }
}

/// A ballot as the bulletin sees it: published, or not yet (and why).
enum Published {
    Head(Box<BundleHead>),
    Pending { title: String, message: String },
}

async fn published(state: &AppState, id: BallotId) -> Result<Published, AppError> {
    match state.cista.bundle_head(id).await {
        Ok(head) => Ok(Published::Head(Box::new(head))),
        Err(Error::Voting(VotingError::ResultsSealed(_))) => {
            // Sealed: say when the bulletin appears, from the published definition.
            let stored = state
                .cista
                .store()
                .voting()
                .ballot(id)
                .await?
                .ok_or(Error::NotFound {
                    what: "this ballot",
                })?;
            let d = BallotDefinition::from_json(&stored.definition)?;
            let closes = d.time_zone.format(d.closes_at);
            let now = state.cista.clock().now();
            let message = match stored.status {
                BallotStatus::Cancelled => {
                    "This ballot was cancelled: it has no results and no bulletin.".to_owned()
                }
                _ if now >= d.closes_at => format!(
                    "Voting closed on {closes}. The bulletin appears here as soon as the count \
                     is sealed, within a few minutes."
                ),
                _ => format!(
                    "The bulletin is published when voting closes on {closes}. Until then no \
                     one, staff included, can see any count."
                ),
            };
            Ok(Published::Pending {
                title: d.title,
                message,
            })
        }
        Err(e) => Err(AppError(e)),
    }
}

pub async fn bulletin(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(raw): Path<String>,
    Query(query): Query<LookupQuery>,
) -> Result<Response, AppError> {
    let id = ballot_id(&raw)?;
    let chrome = Chrome::new(&ctx, &state);
    let head = match published(&state, id).await? {
        Published::Head(head) => head,
        Published::Pending { title, message } => {
            return render(
                StatusCode::OK,
                PendingPage {
                    chrome,
                    title,
                    message,
                },
            );
        }
    };
    let definition = BallotDefinition::from_json(&head.definition_json)?;
    let query_text = query.tracker.unwrap_or_default();
    let (status, found, lookup) = if query_text.trim().is_empty() {
        (StatusCode::OK, None, None)
    } else {
        let (status, found, lookup) = lookup(&state, &head, id, &query_text).await?;
        (status, found, Some(lookup))
    };
    // The page holding a found tracker, else the one asked for (past the end: the last).
    let total = head.results.tree_size;
    let last_page = total.div_ceil(ROWS_PER_PAGE).max(1);
    let page = match &found {
        Some(l) => l.index / ROWS_PER_PAGE + 1,
        None => page_number(query.page.as_deref())?.min(last_page),
    };
    let list = state.cista.published_list(id).await?;
    let ballots = state
        .cista
        .published_page_at(&list, (page - 1) * ROWS_PER_PAGE, ROWS_PER_PAGE)
        .await?;
    render(
        status,
        ClosedPage {
            chrome,
            id: id.to_string(),
            title: head.title.clone(),
            organization: head.organization.clone(),
            results: ResultsView::of(&definition, &head.results),
            rows: rows(&ballots, &definition, found.map(|l| l.ballot.tracker)),
            pages: Pages::new(total, page, ballots.len()),
            checkpoint: head.checkpoint.clone(),
            verifier_key: head.verifier_key.clone(),
            definition_sha256: head.definition_sha256.clone(),
            ballot_list_sha256: head.results.ballot_list_sha256.clone(),
            root_sha256: head.results.root_sha256.clone(),
            query: query_text.chars().take(40).collect(),
            lookup,
        },
    )
}

/// The bundle as a download: anyone can recount it with `cista verify-election`. Streamed:
/// the head, then the ballot list `BALLOT_PAGE` ballots at a time as the client reads, so a
/// million ballots take the memory of one page. An error part-way ends the response without
/// its closing bytes (the client sees a broken download, never a short valid list). At most
/// `Limits::bundle_readers` pages of bundles are read and opened at once, however many
/// downloads run: the others wait their turn, a page at a time.
pub async fn bundle_json(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let id = ballot_id(&raw)?;
    let head = state.cista.bundle_head(id).await?;
    let list = state.cista.published_list(id).await?;
    let prefix = head.json_prefix()?;
    let body = Body::from_stream(bundle_chunks(state, list, prefix));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"cista-ballot-{id}.json\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// The bundle's bytes: the head, one chunk per page of ballots, the closing brackets. A task
/// reads and writes the pages one ahead of the client (a channel of one chunk), so the next
/// page is read from the store while the last one is on the wire; it stops when the client
/// goes away (the channel closes). Each page is read and opened holding a place among
/// `Limits::bundle_readers`, given back before the chunk waits for the client: a client
/// that reads slowly, or not at all, holds no place.
fn bundle_chunks(
    state: AppState,
    list: PublishedList,
    prefix: Vec<u8>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        if tx.send(Ok(Bytes::from(prefix))).await.is_err() {
            return;
        }
        let mut after = None;
        loop {
            let read = async {
                let _place = state
                    .bundle_readers
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| {
                        Error::Internal("the bundle readers' places were closed".to_owned())
                    })?;
                bundle_page(&state, &list, after).await
            };
            let (chunk, more) = match read.await {
                Ok((chunk, last)) => {
                    after = last;
                    (Ok(chunk), after.is_some())
                }
                Err(e) => {
                    let id = list.ballot();
                    tracing::error!(ballot = %id, code = e.code(), cause = %e.chain(), "the bundle stopped part-way");
                    (Err(std::io::Error::other("the bundle stopped")), false)
                }
            };
            if tx.send(chunk).await.is_err() || !more {
                return;
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// One chunk of the bundle: the ballots after `after`, each but the list's first preceded by a
/// comma, and the closing brackets after the last page; with the tracker to read on from
/// (`None` once the list is done).
async fn bundle_page(
    state: &AppState,
    list: &PublishedList,
    after: Option<Tracker>,
) -> Result<(Bytes, Option<Tracker>), Error> {
    let page = state.cista.published_page(list, after, BALLOT_PAGE).await?;
    let mut chunk = Vec::with_capacity(page.len() * 160);
    for (i, b) in page.iter().enumerate() {
        if after.is_some() || i > 0 {
            chunk.push(b',');
        }
        serde_json::to_writer(&mut chunk, b).map_err(|e| Error::Internal(e.to_string()))?;
    }
    let next = match page.last() {
        Some(last) if page.len() == BALLOT_PAGE as usize => Some(last.tracker),
        _ => {
            chunk.extend_from_slice(JSON_SUFFIX);
            None
        }
    };
    Ok((Bytes::from(chunk), next))
}
