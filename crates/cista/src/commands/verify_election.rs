//! `cista verify-election BUNDLE`: an independent recount of a closed ballot from its public
//! bundle, with every signature, hash and inclusion proof checked. Needs no database and no
//! key file: a voter, an inspector or a court can run it.

use crate::cli::VerifyElectionArgs;
use crate::runtime::Failure;
use cista_core::products::voting::bundle::{Bundle, verify_bundle};
use std::process::ExitCode;

pub fn run(args: &VerifyElectionArgs) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(&args.bundle)
        .map_err(|e| Failure(format!("{}: {e}", args.bundle.display())))?;
    let bundle: Bundle = serde_json::from_str(&text).map_err(|e| {
        Failure(format!(
            "{}: not a Cista election bundle ({e})",
            args.bundle.display()
        ))
    })?;
    let verification = verify_bundle(&bundle, args.key.as_deref());
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
