//! Helpers shared by Cista's test crates, never by the product: a dev-dependency only. Today:
//! `S3Server`, a local S3-protocol server (moto) for the backup and blob store tests.
#![allow(clippy::panic, clippy::expect_used)]

pub mod s3;

pub use s3::S3Server;
