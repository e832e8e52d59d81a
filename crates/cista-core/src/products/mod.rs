//! The products, one folder each (association voting; the embedded assessment; field data
//! collection, its record forms so far). A product's folder holds its domain and everything it adds to the
//! platform: its error variants (`error.rs`), audit kinds (`audit.rs`), organization actions
//! (`actions.rs`) and notice kinds (`notices.rs`), each folded into the platform's enum through
//! one `From` (`Error::Voting`, `AuditKind::Voting`, `OrgAction::Voting`, `Notice::Voting`), so a
//! new product adds one variant to each and touches no other product's files.

pub mod assessment;
pub mod collection;
pub mod voting;
