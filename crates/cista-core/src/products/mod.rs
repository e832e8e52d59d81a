//! The products, one folder each. A product owns its domain, its error variants, audit kinds,
//! organization actions and notice kinds; the platform's enums take them in through one `From`
//! each, so adding a product touches no other product's files.

pub mod voting;
