//! The exports of the review portal (issue 13, item 6): what the list's filters show (the area
//! among them), as **CSV** (photos as signed links, valid 15 minutes), **GeoJSON**, or a
//! **ZIP** with `records.csv` and the delivered photos. A filter that does not hold is a coded
//! `400`: an export holds exactly what was asked, never more. The ZIP is streamed as it is
//! written (never built whole in memory) and announces its length, so the records page's
//! script (`static/forms.js`) can show how much has arrived; without the script the link
//! downloads it all the same.

use super::records::{ListQuery, exact_filter_of};
use crate::AppState;
use crate::error::AppError;
use crate::web::extract::SignedIn;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use cista_core::products::collection::export::ExportFormat;
use tokio::io::{AsyncReadExt as _, DuplexStream};

/// How much of a streamed download (the archive, a ballot's record file) may wait between
/// its writer and the response, in bytes.
pub(crate) const PIPE_BYTES: usize = 64 * 1024;

fn download(response: &mut Response, media_type: &'static str, file_name: &str) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
}

async fn export(
    state: AppState,
    actor: cista_core::Actor,
    slug: String,
    query: ListQuery,
    format: ExportFormat,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let filter = exact_filter_of(&state, &query)?;
    let bytes = state
        .cista
        .export_records(&actor, org.id, &filter, format)
        .await?;
    let mut response = Response::new(Body::from(bytes));
    let name = format!("{}-records.{}", org.slug, format.as_str());
    download(&mut response, format.media_type(), &name);
    Ok(response)
}

/// `GET /admin/{org}/records.csv`.
pub async fn csv(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    export(state, actor, slug, query, ExportFormat::Csv).await
}

/// `GET /admin/{org}/records.geojson`.
pub async fn geojson(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    export(state, actor, slug, query, ExportFormat::GeoJson).await
}

/// `GET /admin/{org}/records.zip`: planned (and audited) before the response starts, then
/// written by a task into a small pipe that the response body drains, so at most
/// `PIPE_BYTES` and one photo are held for it. A failure while writing ends the body with an
/// error (the client sees a broken download, never a short archive that looks whole).
pub async fn zip(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let filter = exact_filter_of(&state, &query)?;
    let plan = state
        .cista
        .plan_records_zip(&actor, org.id, &filter)
        .await?;
    let length = plan.length();
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let (done, outcome) = tokio::sync::oneshot::channel();
    let (cista, blobs) = (state.cista.clone(), state.blobs.clone());
    tokio::spawn(async move {
        let written = cista
            .write_records_zip(blobs.as_ref(), plan, writer, &mut |_, _| {})
            .await
            .map(drop);
        if let Err(e) = &written {
            tracing::warn!(error = %e, code = e.code(), "the ZIP export stopped");
        }
        let _ = done.send(written);
    });
    let mut response = Response::new(Body::from_stream(drain(reader, outcome)));
    download(
        &mut response,
        "application/zip",
        &format!("{}-records.zip", org.slug),
    );
    if let Some(length) = length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(response)
}

pub(crate) type Outcome = tokio::sync::oneshot::Receiver<cista_core::Result<()>>;

/// The pipe's bytes as a body stream; at its end, the writer's outcome: nothing more when it
/// finished, an error when it did not.
pub(crate) fn drain(
    reader: DuplexStream,
    outcome: Outcome,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures::stream::unfold(
        (reader, Some(outcome)),
        |(mut reader, outcome)| async move {
            let mut piece = vec![0u8; PIPE_BYTES];
            match reader.read(&mut piece).await {
                Ok(0) => {
                    let failed = match outcome?.await {
                        Ok(Ok(())) => return None,
                        Ok(Err(e)) => std::io::Error::other(e.code()),
                        Err(_) => std::io::Error::other("the writer stopped"),
                    };
                    Some((Err(failed), (reader, None)))
                }
                Ok(n) => {
                    piece.truncate(n);
                    Some((Ok(piece), (reader, outcome)))
                }
                Err(e) => Some((Err(e), (reader, None))),
            }
        },
    )
}
