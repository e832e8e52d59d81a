//! Typst as a library: a template compiled with its data (JSON, read by the template from
//! `sys.inputs.data`) against the fonts bundled in the binary, then written as PDF/A-2b so
//! the certificate stays readable as long as it is kept. No file, package or network access:
//! the template is the only source, and it has nothing to import.

use crate::{ReportError, fonts};
use serde::Serialize;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use typst::diag::SourceDiagnostic;
use typst::foundations::{Bytes, Datetime, Dict, IntoValue};
use typst::layout::{Frame, FrameItem};
use typst_as_lib::{TypstAsLibError, TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards};

pub(crate) type Engine = TypstEngine<TypstTemplateMainFile>;

/// An engine for one template, with every bundled font (see `fonts`).
pub(crate) fn engine(template: &'static str) -> Result<Engine, String> {
    let fonts = fonts::ALL.as_ref().map_err(Clone::clone)?;
    Ok(TypstEngine::builder()
        .main_file(template)
        .fonts(fonts.iter().cloned())
        .build())
}

/// Lays out `engine`'s template with `data`.
pub(crate) fn layout<T: Serialize>(
    engine: &Result<Engine, String>,
    data: &T,
) -> Result<PagedDocument, ReportError> {
    let engine = engine.as_ref().map_err(|e| ReportError::Fonts(e.clone()))?;
    let json = serde_json::to_vec(data).map_err(|e| ReportError::Data(e.to_string()))?;
    let mut inputs = Dict::new();
    inputs.insert("data".into(), Bytes::new(json).into_value());
    // Typst reports errors as values; a panic inside it would be a bug there, and must not
    // take a web request (or the server) down with it.
    catch_unwind(AssertUnwindSafe(|| {
        engine
            .compile_with_input::<_, PagedDocument>(inputs)
            .output
            .map_err(|e| ReportError::Layout(describe_compile(e)))
    }))
    .unwrap_or_else(|_| Err(unexpected()))
}

/// The characters `doc` sets with a font's "missing glyph" box: those no bundled font could
/// draw where they stand. (PDF/A forbids that box, so such a document cannot be written.)
pub(crate) fn missing_glyphs(doc: &PagedDocument) -> BTreeSet<char> {
    fn walk(frame: &Frame, found: &mut BTreeSet<char>) {
        for (_, item) in frame.items() {
            match item {
                FrameItem::Group(group) => walk(&group.frame, found),
                FrameItem::Text(text) => {
                    for glyph in text.glyphs.iter().filter(|g| g.id == 0) {
                        if let Some(s) = text.text.get(glyph.range()) {
                            found.extend(s.chars());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut found = BTreeSet::new();
    for page in doc.pages() {
        walk(&page.frame, &mut found);
    }
    found
}

/// Writes a laid-out document as PDF/A-2b, dated `at`, refusing one with a missing glyph
/// (naming the character) before the PDF writer does so in its own words.
pub(crate) fn pdf(
    doc: &PagedDocument,
    title: &str,
    at: cista_types::Timestamp,
) -> Result<Vec<u8>, ReportError> {
    if let Some(&character) = missing_glyphs(doc).iter().next() {
        return Err(ReportError::Unprintable {
            what: "text",
            text: character.to_string(),
            reason: cista_types::glyphs::Unprintable { character },
        });
    }
    let options = PdfOptions {
        // A stable identifier per document: the same certificate, regenerated, is the same
        // document to a PDF reader.
        ident: typst::foundations::Smart::Custom(title.to_owned()),
        timestamp: Some(pdf_timestamp(at)?),
        standards: PdfStandards::new(&[PdfStandard::A_2b])
            .map_err(|e| ReportError::Pdf(e.message().to_string()))?,
        ..PdfOptions::default()
    };
    catch_unwind(AssertUnwindSafe(|| {
        typst_pdf::pdf(doc, &options).map_err(|e| ReportError::Pdf(describe(&e)))
    }))
    .unwrap_or_else(|_| Err(unexpected()))
}

fn unexpected() -> ReportError {
    ReportError::Layout("the layout engine failed unexpectedly".to_owned())
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
