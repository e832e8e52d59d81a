//! Cista's documents, laid out with parley and written as PDF/A by krilla (fonts embedded, no
//! network): the certified results of a closed ballot, and the advisor's report of an
//! assessment result.
//!
//! Names print in any script people write them in: Noto fallback fonts are bundled (see
//! `fonts`), and `cista_types::glyphs` says which characters they draw, so the core refuses
//! any other at entry.
//!
//! Untrusted text (organization names, ballot titles, candidate names) is only ever the text of
//! a paragraph: there is no markup language in between, so a name like `#panic("x")` or
//! `<b>x</b>` is printed as written, never interpreted.

mod assessment;
mod certificate;
mod flow;
mod fonts;
mod layout;
mod numbers;
mod pdf;
mod results;
mod subject_access;

pub use assessment::{Drawn, assessment_report, assessment_report_pdf};
pub use fonts::coverage as font_coverage;
pub use results::{ResultsDocument, certified_results_pdf, unprintable_characters};
pub use subject_access::subject_access_pdf;

/// Why a document could not be produced. The message says what failed; nothing here panics.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The results handed in do not belong to the ballot, or contradict themselves: a
    /// certificate is refused rather than printed wrong.
    #[error("the results cannot be certified: {0}")]
    Inconsistent(String),
    /// A name or title holds a character no bundled font can draw. The core refuses such
    /// text where it is entered; this catches text stored before that check existed, before
    /// any layout is attempted.
    #[error("the {what} “{text}” {reason}")]
    Unprintable {
        what: &'static str,
        text: String,
        reason: cista_types::glyphs::Unprintable,
    },
    /// A bundled font could not be loaded (a damaged build).
    #[error("the fonts could not be loaded: {0}")]
    Fonts(String),
    /// The document's data could not be prepared for the template.
    #[error("the document's data could not be prepared: {0}")]
    Data(String),
    /// The document could not be laid out.
    #[error("the document could not be laid out: {0}")]
    Layout(String),
    /// The laid-out document could not be written as PDF.
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}
