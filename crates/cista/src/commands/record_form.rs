//! `cista record-form import|export`: a record form of field data collection as a file
//! (`docs/collection.md`), checked whole and published as staff publish it, and read back in
//! its normal form (every default spelled out). The operator acts (and is named in the audit
//! log) as `operator:USER`.

use crate::cli::RecordFormCommand;
use crate::runtime::{Failure, Runtime};
use cista_core::platform::intake::FormProduct;

pub async fn run(rt: &Runtime, command: &RecordFormCommand) -> Result<(), Failure> {
    match command {
        RecordFormCommand::Import(args) => {
            let definition =
                crate::files::read_json_file(&args.file, crate::files::DEFINITION_FILE_BYTES)
                    .map_err(Failure)?;
            let (cista, org) = rt.open_org(&args.org).await?;
            let form = cista
                .publish_form(
                    &rt.operator(),
                    org.id,
                    FormProduct::Collection,
                    &args.key,
                    &definition,
                )
                .await
                .map_err(|e| Failure(format!("{} was not imported: {e}", args.file.display())))?;
            let read = cista
                .record_form_version(&rt.operator(), org.id, form.id)
                .await?;
            println!(
                "{} version {} of {} ({} fields): {}",
                form.key,
                form.version,
                org.slug,
                read.definition.fields.len(),
                read.definition.title
            );
            println!("  definition sha-256 {}", form.definition_sha256.to_hex());
            Ok(())
        }
        RecordFormCommand::Export(args) => {
            let (cista, org) = rt.open_org(&args.org).await?;
            let newest = cista
                .record_forms(&rt.operator(), org.id)
                .await?
                .into_iter()
                .find(|v| v.form.key == args.key)
                .ok_or_else(|| Failure(format!("{} has no record form {}", org.slug, args.key)))?;
            let text = serde_json::to_string_pretty(&newest.definition.normal_form()?)
                .map_err(|e| Failure(e.to_string()))?;
            println!("{text}");
            Ok(())
        }
    }
}
