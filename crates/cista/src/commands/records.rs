//! `cista records export`: an organization's records as the review portal exports them (CSV
//! with photos as signed links, GeoJSON, or a ZIP with the delivered photos), read from the
//! store directly. The operator acts (and is named in the audit log) as `operator:USER`; a
//! CSV's links open on `server.public_url` for 15 minutes. A ZIP shows a progress bar on
//! standard error (records done of all), goes to `FILE.part` first and is renamed when whole,
//! so a broken export never looks finished.

use crate::cli::{RecordsExportArgs, RecordsFormat};
use crate::runtime::{Failure, Runtime};
use cista_core::products::collection::ReviewState;
use cista_core::products::collection::area::Area;
use cista_core::products::collection::export::ExportFormat;
use cista_core::products::collection::records::RecordFilter;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

fn filter(args: &RecordsExportArgs) -> Result<RecordFilter, Failure> {
    let state = match args.state.as_deref() {
        None => None,
        Some(text) => Some(ReviewState::parse(text).ok_or_else(|| {
            let known: Vec<&str> = ReviewState::ALL.iter().map(|s| s.as_str()).collect();
            Failure(format!(
                "--state {text:?} is no review state; give one of {}",
                known.join(", ")
            ))
        })?),
    };
    let area = match args.area.as_deref() {
        None => None,
        Some(text) => {
            Some(Area::parse_list(text).map_err(|e| Failure(format!("--area {text:?}: {e}")))?)
        }
    };
    Ok(RecordFilter {
        form: args.form.clone(),
        state,
        area,
        ..RecordFilter::default()
    })
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub async fn export(rt: &Runtime, args: &RecordsExportArgs) -> Result<(), Failure> {
    let filter = filter(args)?;
    let format = match args.format {
        RecordsFormat::Csv => ExportFormat::Csv,
        RecordsFormat::Geojson => ExportFormat::GeoJson,
        RecordsFormat::Zip => return export_zip(rt, args, &filter).await,
    };
    let (cista, org) = rt.open_org(&args.org).await?;
    let bytes = cista
        .export_records(&rt.operator(), org.id, &filter, format)
        .await?;
    match &args.out {
        // Records are personal data: readable by the owner only, as the data directory.
        Some(path) => crate::files::write_private(path, &bytes)
            .map_err(|e| Failure(format!("the export could not be written: {e}")))?,
        None => std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| Failure(format!("standard output: {e}")))?,
    }
    eprintln!(
        "{} of {} exported as {}",
        count(bytes.len(), "byte", "bytes"),
        org.slug,
        format.as_str()
    );
    Ok(())
}

/// `FILE.part`, beside `FILE`.
fn part_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

async fn export_zip(
    rt: &Runtime,
    args: &RecordsExportArgs,
    filter: &RecordFilter,
) -> Result<(), Failure> {
    if args.out.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure(
            "a ZIP is not for a terminal: give --out FILE, or redirect standard output".to_owned(),
        ));
    }
    let (cista, org) = rt.open_org(&args.org).await?;
    let blobs = super::backup::blob_store(rt)?;
    let plan = cista
        .plan_records_zip(&rt.operator(), org.id, filter)
        .await?;
    let (records, photos) = (plan.records(), plan.photos());
    let bar = ProgressBar::new(records as u64);
    bar.set_style(
        ProgressStyle::with_template("  {bar:40} {pos}/{len} records {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    match &args.out {
        Some(path) => {
            if path.is_dir() {
                return Err(Failure(format!(
                    "{} is a directory: give the name of the file to write",
                    path.display()
                )));
            }
            let part = part_of(path);
            let file = crate::files::create_private(&part)
                .await
                .map_err(|e| Failure(format!("the export could not be created: {e}")))?;
            let written = cista
                .write_records_zip(&blobs, plan, file, &mut progress)
                .await;
            if let Err(e) = written {
                let _ = std::fs::remove_file(&part);
                return Err(e.into());
            }
            std::fs::rename(&part, path).map_err(|e| {
                let _ = std::fs::remove_file(&part);
                Failure(format!("{} could not be written: {e}", path.display()))
            })?;
        }
        None => {
            cista
                .write_records_zip(&blobs, plan, tokio::io::stdout(), &mut progress)
                .await?;
        }
    }
    bar.finish_and_clear();
    eprintln!(
        "{} and {} of {} exported as zip",
        count(records, "record", "records"),
        count(photos, "photo", "photos"),
        org.slug
    );
    Ok(())
}
