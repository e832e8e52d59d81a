//! The official record of a ballot as CSV downloads (FL-08): `votes.csv` (recorded ballots
//! only), `ballots.csv` (the anonymous ballot list), `participation.csv` and
//! `refused-attempts.csv`. The core decides what may be read when (ballot contents only after
//! the close) and audits every export; each file is streamed as it is written.

use super::org_and_ballot;
use crate::AppState;
use crate::error::AppError;
use crate::web::extract::SignedIn;
use crate::web::pages::records_export::{PIPE_BYTES, drain};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use cista_core::Error;
use cista_core::products::voting::record::RecordFile;
use tokio::io::AsyncWriteExt as _;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The file named in the URL.
fn record_file(name: &str) -> Option<RecordFile> {
    match name {
        "votes.csv" => Some(RecordFile::RecordedVotes),
        "ballots.csv" => Some(RecordFile::AnonymousBallots),
        "participation.csv" => Some(RecordFile::Participation),
        "refused-attempts.csv" => Some(RecordFile::Refusals),
        _ => None,
    }
}

/// `GET /admin/{org}/ballots/{id}/record/{file}`: checked and audited before the response
/// starts, then written by a task a part at a time into a small pipe that the body drains, so
/// a million-unit ballot's file is never whole in memory. A failure part-way ends the body
/// with an error: the client sees a broken download, never a short file that looks whole.
pub async fn download(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id, file)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let (org, ballot) = org_and_ballot(&state, &actor, &slug, &id).await?;
    let file = record_file(&file).ok_or(Error::NotFound {
        what: "this record file",
    })?;
    let plan = state
        .cista
        .plan_record(&actor, org.id, ballot.id(), file)
        .await?;
    let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let (mut done, outcome) = tokio::sync::oneshot::channel();
    let cista = state.cista.clone();
    tokio::spawn(async move {
        // Names and titles may be in any script. The file is UTF-8, and says so with a byte
        // order mark: without one, Excel opens a CSV in the machine's legacy code page and
        // garbles them.
        let write = async {
            match writer.write_all(UTF8_BOM).await {
                Ok(()) => cista.write_record(&plan, &mut writer).await,
                Err(e) => Err(Error::Internal(format!("writing the record file: {e}"))),
            }
        };
        // A client that goes away drops the body and with it the outcome's receiver: the
        // writer stops there, even between parts that write nothing (no unit voted).
        let written = tokio::select! {
            written = write => written,
            () = done.closed() => return,
        };
        if let Err(e) = &written {
            tracing::warn!(error = %e, code = e.code(), "a ballot's record file stopped");
        }
        let _ = done.send(written);
    });
    let disposition = format!("attachment; filename=\"{}\"", file.file_name(ballot.id()));
    let mut response = Response::new(Body::from_stream(drain(reader, outcome)));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_record_files_are_named() {
        assert_eq!(record_file("votes.csv"), Some(RecordFile::RecordedVotes));
        assert_eq!(
            record_file("refused-attempts.csv"),
            Some(RecordFile::Refusals)
        );
        assert_eq!(record_file("votes"), None);
        assert_eq!(record_file("../etc/passwd"), None);
    }
}
