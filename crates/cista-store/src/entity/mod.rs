//! SeaORM entities: one per table, used by both backends alike.

pub mod access_attempt;
pub mod account;
pub mod audit_checkpoint;
pub mod audit_entry;
pub mod audit_head;
pub mod ballot;
pub mod ballot_box;
pub mod ballot_reminder;
pub mod ballot_roll;
pub mod credential;
pub mod form_submission;
pub mod instance;
pub mod membership;
pub mod organization;
pub mod outbox;
pub mod paper_batch;
pub mod paper_pile;
pub mod participation;
pub mod recovery_code;
pub mod session;
pub mod stored_key;
pub mod unit;
pub mod unit_owner;
pub mod vault_person;
pub mod vault_tombstone;
pub mod vote_refusal;
