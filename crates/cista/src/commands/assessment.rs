//! `cista assessment import|export`: an embedded assessment as a file, published as staff
//! publish it on the admin pages (checked whole first: questions, scoring rules, bands) and
//! read back in its normal form. The operator acts (and is named in the audit log) as
//! `operator:USER`.

use crate::cli::AssessmentCommand;
use crate::runtime::{Failure, Runtime};

pub async fn run(rt: &Runtime, command: &AssessmentCommand) -> Result<(), Failure> {
    match command {
        AssessmentCommand::Import(args) => {
            let definition =
                crate::files::read_json_file(&args.file, crate::files::DEFINITION_FILE_BYTES)
                    .map_err(Failure)?;
            let (cista, org) = rt.open_org(&args.org).await?;
            let published = cista
                .publish_assessment(&rt.operator(), org.id, &args.key, &definition)
                .await
                .map_err(|e| Failure(format!("{} was not imported: {e}", args.file.display())))?;
            let form = &published.form;
            println!(
                "{} version {} of {} ({} questions, {} scores, {} bands)",
                form.key,
                form.version,
                org.slug,
                published.assessment.definition.questions().count(),
                published.assessment.definition.scores.len(),
                published.assessment.definition.result.bands.len(),
            );
            for (id, range) in published.assessment.rules.ranges() {
                println!("  score {id}: from {} to {}", range.lo, range.hi);
            }
            println!("  definition sha-256 {}", form.definition_sha256.to_hex());
            Ok(())
        }
        AssessmentCommand::Export(args) => {
            let (cista, org) = rt.open_org(&args.org).await?;
            let published = cista
                .latest_assessment(&rt.operator(), org.id, &args.key)
                .await?;
            let text = serde_json::to_string_pretty(&published.assessment.definition)
                .map_err(|e| Failure(e.to_string()))?;
            println!("{text}");
            Ok(())
        }
    }
}
