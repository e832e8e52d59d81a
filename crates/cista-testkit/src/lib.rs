//! Helpers shared by Cista's test crates, never by the product: a dev-dependency only.
//! `postgres`: a private schema per test on the PostgreSQL test server (both-databases runs);
//! `s3`: a local S3-protocol server (moto) for the backup and blob store tests.
#![allow(clippy::panic, clippy::expect_used)]

pub mod postgres;
pub mod s3;

pub use s3::S3Server;
