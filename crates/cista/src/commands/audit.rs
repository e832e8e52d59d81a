//! `cista audit verify`: recompute the whole log and check every signed checkpoint.

use crate::cli::VerifyArgs;
use crate::runtime::{Failure, Runtime};
use std::process::ExitCode;

pub async fn verify(rt: &Runtime, args: &VerifyArgs) -> Result<ExitCode, Failure> {
    let mut kept = Vec::new();
    for path in &args.against {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("{} could not be read: {e}", path.display())))?;
        // A note ends with its last signature line's newline; blank lines a copy and paste
        // added around it are not part of it.
        kept.push(format!("{}\n", text.trim()));
    }
    let cista = rt.open(false).await?;
    let report = cista.verify_audit_against(&rt.operator(), &kept).await?;
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
        // Someone who can write the database but lacks the signing key can delete the
        // checkpoints and rewrite the entries consistently; a checkpoint kept elsewhere and
        // given back with --against shows it.
        if let Some(note) = &report.newest_checkpoint_note {
            println!(
                "\nThe newest signed checkpoint; keep it where the database's administrators \
                 cannot write, and check a later log against it with --against FILE:\n\n{note}"
            );
        }
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
