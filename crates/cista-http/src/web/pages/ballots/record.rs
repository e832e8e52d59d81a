//! The official record of a ballot as CSV downloads (FL-08): `votes.csv` (recorded ballots
//! only), `ballots.csv` (the anonymous ballot list), `participation.csv` and
//! `refused-attempts.csv`. The core decides what may be read when (ballot contents only after
//! the close) and audits every export.

use super::org_and_ballot;
use crate::AppState;
use crate::error::AppError;
use crate::web::extract::SignedIn;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_core::Error;
use cista_core::products::voting::record::RecordFile;

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

pub async fn download(
    State(state): State<AppState>,
    SignedIn { actor, .. }: SignedIn,
    Path((slug, id, file)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let (org, ballot) = org_and_ballot(&state, &actor, &slug, &id).await?;
    let file = record_file(&file).ok_or(Error::NotFound {
        what: "this record file",
    })?;
    let csv = state
        .cista
        .export_record(&actor, org.id, ballot.id(), file)
        .await?;
    // Names and titles may be in any script. The file is UTF-8, and says so with a byte order
    // mark: without one, Excel opens a CSV in the machine's legacy code page and garbles them.
    let mut bytes = Vec::with_capacity(UTF8_BOM.len() + csv.len());
    bytes.extend_from_slice(UTF8_BOM);
    bytes.extend_from_slice(&csv);
    let disposition = format!("attachment; filename=\"{}\"", file.file_name(ballot.id()));
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
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
