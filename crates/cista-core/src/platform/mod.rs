//! The platform every product stands on: organizations and their settings, people and the
//! person vault, access (sign-in, sessions, invitations, app tokens), the audit log and its
//! checkpoints, keys, notices, the trust report, and the intake pipeline (forms, submissions,
//! attachments in the blob store) that the form-based products share.

pub mod access;
pub mod actor;
pub mod audit;
pub mod blobs;
pub mod breach;
pub mod instance;
pub(crate) mod instance_keys;
pub mod intake;
pub mod keys;
pub mod notices;
pub mod org;
pub mod people;
pub(crate) mod public_id;
pub mod resubmit;
pub mod settings;
pub mod spreadsheet;
pub mod subject_access;
pub(crate) mod submission_pages;
pub mod trust;
pub(crate) mod trust_counts;
