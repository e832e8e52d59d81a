//! Cista's documents, laid out with Typst (fonts embedded, no network): the certified results
//! of a closed ballot as a PDF.
//!
//! Untrusted text (organization names, ballot titles, candidate names) never becomes Typst
//! source: each document is a static template under `templates/` that reads its data as JSON
//! from `sys.inputs`, so a name like `#panic("x")` is printed, never evaluated.

mod numbers;
mod render;
mod results;

pub use results::{ResultsDocument, certified_results_pdf};

/// Why a document could not be produced. The message says what failed; nothing here panics.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The results handed in do not belong to the ballot, or contradict themselves: a
    /// certificate is refused rather than printed wrong.
    #[error("the results cannot be certified: {0}")]
    Inconsistent(String),
    /// The document's data could not be prepared for the template.
    #[error("the document's data could not be prepared: {0}")]
    Data(String),
    /// Typst could not lay the document out.
    #[error("the document could not be laid out: {0}")]
    Layout(String),
    /// The laid-out document could not be written as PDF.
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}
