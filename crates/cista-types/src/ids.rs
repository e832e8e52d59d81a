//! Identifiers. Rows are keyed by random 63-bit numbers (never sequential, so an id reveals
//! neither order nor count); each kind has its own type so one cannot be passed for another.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub fn new(rng: &dyn crate::Rng) -> Self {
                Self(rng.id63())
            }

            /// Wraps a value read back from storage.
            pub fn from_i64(value: i64) -> Self {
                Self(value)
            }

            pub fn as_i64(&self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

random_id!(
    /// An organization (tenant).
    OrgId
);
random_id!(
    /// A wrapped key held in the database (a data key or the instance signing key).
    KeyId
);
random_id!(
    /// A unit of an association (an apartment, a lot).
    UnitId
);
random_id!(
    /// A ballot (a voting form and its window).
    BallotId
);
random_id!(
    /// One published version of a form (an assessment, a record form).
    FormId
);
random_id!(
    /// A submission of a form.
    SubmissionId
);
