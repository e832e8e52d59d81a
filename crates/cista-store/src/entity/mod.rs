//! SeaORM entities: one per table, used by both backends alike.

pub mod audit_checkpoint;
pub mod audit_entry;
pub mod audit_head;
pub mod instance;
pub mod organization;
pub mod stored_key;
