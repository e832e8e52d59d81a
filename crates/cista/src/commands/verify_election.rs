//! `cista verify-election BUNDLE`: an independent recount of a closed ballot from its public
//! bundle, with every signature, hash and inclusion proof checked. Needs no database and no
//! key file: a voter, an inspector or a court can run it.

use crate::cli::VerifyElectionArgs;
use crate::runtime::Failure;
use cista_core::products::voting::bundle::{Bundle, Verification, verify_bundle};
use std::path::Path;
use std::process::ExitCode;

/// Reads the bundle at `path` and checks it (`verify_bundle`), against `key` when pinned.
/// Errors: the file cannot be read, or is not a bundle.
pub(crate) fn verify_file(
    path: &Path,
    key: Option<&str>,
) -> Result<(Bundle, Verification), Failure> {
    // Read whole, then parsed: serde_json parses a slice several times faster than a reader.
    let bytes = std::fs::read(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    let bundle: Bundle = serde_json::from_slice(&bytes).map_err(|e| {
        Failure(format!(
            "{}: not a Cista election bundle ({e})",
            path.display()
        ))
    })?;
    let verification = verify_bundle(&bundle, key);
    Ok((bundle, verification))
}

pub fn run(args: &VerifyElectionArgs) -> Result<ExitCode, Failure> {
    let (bundle, verification) = verify_file(&args.bundle, args.key.as_deref())?;
    if args.json {
        let json =
            serde_json::to_string_pretty(&verification).map_err(|e| Failure(e.to_string()))?;
        println!("{json}");
    } else {
        println!("{} — {}", bundle.organization, bundle.title);
        println!("ballot {}", bundle.ballot);
        for check in &verification.checks {
            println!(
                "  {} {:<22} {}",
                if check.ok { "ok  " } else { "FAIL" },
                check.name,
                check.detail
            );
        }
        if verification.ok() {
            println!(
                "The bundle is intact and the recount of {} ballots matches the published results.",
                bundle.ballots.len()
            );
        } else {
            println!("The bundle does NOT verify: see the failed checks above.");
        }
    }
    Ok(if verification.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
