//! Helpers shared by Cista's test crates, never by the product: a dev-dependency only.
//! - `db`: the both-databases harness (`TestDatabase`, `both_databases!`);
//! - `postgres`: a private schema per test on the PostgreSQL test server;
//! - `instance`: an initialized Cista on a migrated store with a fresh key file;
//! - `app`: `spawn_app`, a real HTTPS server on a free port whose clock the test moves forward;
//! - `fixtures`: the test password, invitees, link and CSRF tokens, free ports;
//! - `s3`: a local S3-protocol server (moto) for the backup and blob store tests.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    missing_debug_implementations
)]

pub mod app;
pub mod db;
pub mod fixtures;
pub mod instance;
pub mod postgres;
pub mod s3;

pub use app::{Options, TestServer, spawn_app};
pub use s3::S3Server;
