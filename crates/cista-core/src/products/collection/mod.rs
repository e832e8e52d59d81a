//! Field data collection (seed `002`, issue 13): record forms that collectors fill on their
//! phones. So far: the record form's definition and its checks (`definition`), which the
//! platform's form pipeline applies when a record form is published.

pub mod definition;

pub use definition::{Choice, Field, FieldKind, RecordForm};
