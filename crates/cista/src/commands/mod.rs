//! One module per command.

pub mod app_token;
pub mod assessment;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod bench_assessment;
pub(crate) mod bench_clients;
pub mod bench_collection;
pub(crate) mod bench_memory;
pub(crate) mod bench_overload;
pub mod blobs;
pub mod breach;
pub mod configtest;
pub mod crash;
pub mod demo_data;
pub mod demo_firm;
mod demo_river;
pub mod erase;
pub mod init;
pub mod keys;
pub mod members;
pub mod migrate;
pub mod org;
pub mod record_form;
pub mod records;
pub mod serve;
pub mod verify_election;
