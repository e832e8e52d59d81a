//! The products, one folder each (association voting today; embedded assessment and field data
//! collection to come). A product's domain lives in its own folder. Its error variants, audit
//! kinds, organization actions and notice kinds are still variants of the platform's enums in
//! `error.rs` and `platform/`; moving them here, each folded in through one `From`, is the
//! next step of issue 11.

pub mod voting;
