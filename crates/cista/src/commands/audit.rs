//! `cista audit verify`: recompute the whole log and check every signed checkpoint.

use crate::cli::VerifyArgs;
use crate::runtime::{Failure, Runtime};
use std::process::ExitCode;

pub async fn verify(rt: &Runtime, args: &VerifyArgs) -> Result<ExitCode, Failure> {
    let cista = rt.open(false).await?;
    let report = cista.verify_audit(&rt.operator()).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure(e.to_string()))?
        );
    } else if let Some(problem) = &report.problem {
        match problem.first_bad_entry {
            Some(seq) => println!("audit log FAILED at entry {seq}: {}", problem.message),
            None => println!("audit log FAILED: {}", problem.message),
        }
        println!(
            "checked {} entries and {} signed checkpoints before stopping",
            report.entries_checked, report.checkpoints_checked
        );
    } else {
        println!(
            "audit log OK: {} entries, {} signed checkpoints verified, root {}",
            report.entries_checked, report.checkpoints_checked, report.root
        );
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
