//! One module per command.

pub mod audit;
pub mod configtest;
pub mod erase;
pub mod init;
pub mod keys;
pub mod migrate;
pub mod org;
pub mod serve;
