//! Typst as a library: a template compiled with its data (JSON, read by the template from
//! `sys.inputs.data`) against the fonts bundled in the binary, then written as PDF/A-2b so
//! the certificate stays readable as long as it is kept. No file, package or network access:
//! the template is the only source, and it has nothing to import.

use crate::ReportError;
use serde::Serialize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use typst::diag::SourceDiagnostic;
use typst::foundations::{Bytes, Datetime, Dict, IntoValue};
use typst_as_lib::{TypstAsLibError, TypstEngine, TypstTemplateMainFile};
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards};

pub(crate) type Engine = TypstEngine<TypstTemplateMainFile>;

/// An engine for one template, with the fonts from `typst-assets` (Libertinus Serif, New
/// Computer Modern, DejaVu Sans Mono) borrowed from the binary, not copied.
pub(crate) fn engine(template: &'static str) -> Engine {
    let fonts: Vec<Bytes> = typst_assets::fonts().map(Bytes::new).collect();
    TypstEngine::builder()
        .main_file(template)
        .fonts(fonts)
        .build()
}

/// Lays out `engine`'s template with `data` and writes it as PDF, dated `at`.
pub(crate) fn pdf<T: Serialize>(
    engine: &Engine,
    data: &T,
    title: &str,
    at: cista_types::Timestamp,
) -> Result<Vec<u8>, ReportError> {
    let json = serde_json::to_vec(data).map_err(|e| ReportError::Data(e.to_string()))?;
    let mut inputs = Dict::new();
    inputs.insert("data".into(), Bytes::new(json).into_value());

    let options = PdfOptions {
        // A stable identifier per document: the same certificate, regenerated, is the same
        // document to a PDF reader.
        ident: typst::foundations::Smart::Custom(title.to_owned()),
        timestamp: Some(pdf_timestamp(at)?),
        standards: PdfStandards::new(&[PdfStandard::A_2b])
            .map_err(|e| ReportError::Pdf(e.message().to_string()))?,
        ..PdfOptions::default()
    };

    // Typst reports errors as values; a panic inside it would be a bug there, and must not
    // take a web request (or the server) down with it.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // The document type (typst-layout's PagedDocument) is inferred from typst-pdf.
        let doc = engine
            .compile_with_input(inputs)
            .output
            .map_err(|e| ReportError::Layout(describe_compile(e)))?;
        typst_pdf::pdf(&doc, &options).map_err(|e| ReportError::Pdf(describe(&e)))
    }));
    outcome.unwrap_or_else(|_| {
        Err(ReportError::Layout(
            "the layout engine failed unexpectedly".to_owned(),
        ))
    })
}

fn pdf_timestamp(at: cista_types::Timestamp) -> Result<typst_pdf::Timestamp, ReportError> {
    let t = at.as_offset();
    Datetime::from_ymd_hms(
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .map(typst_pdf::Timestamp::new_utc)
    .ok_or_else(|| ReportError::Data(format!("{} is not a printable date", at.to_rfc3339())))
}

fn describe_compile(error: TypstAsLibError) -> String {
    match error {
        TypstAsLibError::TypstSource(diagnostics) => describe(&diagnostics),
        other => other.to_string(),
    }
}

fn describe(diagnostics: &[SourceDiagnostic]) -> String {
    let messages: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            let mut m = d.message.to_string();
            for hint in &d.hints {
                m.push_str(" (hint: ");
                m.push_str(hint.v.as_str());
                m.push(')');
            }
            m
        })
        .collect();
    if messages.is_empty() {
        "unknown error".to_owned()
    } else {
        messages.join("; ")
    }
}
