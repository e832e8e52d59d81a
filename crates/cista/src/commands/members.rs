//! `cista members import FILE --org SLUG`: the roster from CSV. The file is checked whole
//! (every bad row by line and column, nothing imported until it is clean), the preview is
//! printed, and the import is applied after confirmation, with a progress bar.

use crate::cli::ImportArgs;
use crate::runtime::{Failure, Runtime};
use cista_core::Error;
use cista_core::products::voting::import::ImportPlan;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead as _, IsTerminal as _, Write as _};

fn print_plan(plan: &ImportPlan) {
    println!("Preview of the import:");
    println!("  {:<16} {}", "file read as", plan.file_format);
    println!("  {:<16} {}", "weights total", plan.weight_total);
    let list = |label: &str, items: &[String]| {
        println!("  {label:<16} {}", items.len());
        for item in items.iter().take(50) {
            println!("      {item}");
        }
        if items.len() > 50 {
            println!("      … and {} more", items.len() - 50);
        }
    };
    list("units added", &plan.units_added);
    let changed: Vec<String> = plan
        .units_changed
        .iter()
        .map(|c| format!("{}: {}", c.label, c.changes.join("; ")))
        .collect();
    list("units changed", &changed);
    list("units removed", &plan.units_retired);
    println!("  {:<16} {}", "units unchanged", plan.units_unchanged);
    let pairs = |v: &[(String, String)]| -> Vec<String> {
        v.iter().map(|(u, p)| format!("{u}: {p}")).collect()
    };
    list("owners added", &pairs(&plan.owners_added));
    list("owners removed", &pairs(&plan.owners_removed));
    println!("  {:<16} {}", "new people", plan.people_new);
    if !plan.warnings.is_empty() {
        println!("Check before applying:");
        for w in &plan.warnings {
            println!("  warning: {w}");
        }
    }
}

/// Asks on the terminal; anything but y/yes is no.
fn confirm(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

pub async fn import(rt: &Runtime, args: &ImportArgs) -> Result<(), Failure> {
    let bytes =
        std::fs::read(&args.file).map_err(|e| Failure(format!("{}: {e}", args.file.display())))?;
    let (cista, org) = rt.open_org(&args.org).await?;
    let operator = rt.operator();
    let plan = match cista.plan_import(&operator, org.id, &bytes).await {
        Ok(plan) => plan,
        Err(Error::ImportRejected { problems, total }) => {
            for p in &problems {
                eprintln!("{}: {p}", args.file.display());
            }
            if total > problems.len() {
                eprintln!(
                    "{}: the first {} are listed; the next run shows those that remain",
                    args.file.display(),
                    problems.len()
                );
            }
            return Err(Failure(format!(
                "{}: {}; nothing was imported. Fix the file and run the import again.",
                args.file.display(),
                cista_types::words::count(total, "problem", "problems")
            )));
        }
        Err(e) => return Err(e.into()),
    };
    print_plan(&plan);
    if plan.is_empty() {
        println!("Nothing to change: the roster on file already matches this file.");
        return Ok(());
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure(
                "not applied: run again with --yes to apply this preview".to_owned(),
            ));
        }
        if !confirm("Apply this import?") {
            println!("Not applied.");
            return Ok(());
        }
    }
    let bar = ProgressBar::new(plan.work());
    bar.set_style(
        ProgressStyle::with_template("  {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("writing");
    let progress_bar = bar.clone();
    let done = cista
        .apply_import(
            &operator,
            org.id,
            &bytes,
            &plan.fingerprint,
            &move |d, t| {
                progress_bar.set_length(t);
                progress_bar.set_position(d);
            },
        )
        .await?;
    bar.finish_and_clear();
    println!(
        "Imported into {}: {} units added, {} changed, {} removed; {} owners added, {} removed; {} new people.",
        org.name,
        done.units_added,
        done.units_changed,
        done.units_retired,
        done.owners_added,
        done.owners_removed,
        done.people_new
    );
    println!("Owners are told when a ballot is published (with a link to choose a password).");
    Ok(())
}
