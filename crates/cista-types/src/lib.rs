//! Domain value types for Cista: identifiers, timestamps, names, and the `Clock` and `Rng`
//! seams through which the rest of the code reads time and randomness. No I/O lives here
//! except the two clearly named system implementations of those seams.

pub mod clock;
pub mod controls;
pub mod decimal;
pub mod glyphs;
pub mod ids;
pub mod names;
pub mod org;
pub mod person;
pub mod phone;
pub mod rng;
pub mod secret;
pub mod time_zone;
pub mod timestamp;
pub mod voting;
pub mod web_origin;
pub mod words;

pub use clock::{Clock, ManualClock, ShiftedClock, SystemClock};
pub use decimal::Percent;
pub use ids::{BallotId, FormId, KeyId, OrgId, SubmissionId, UnitId};
pub use org::{OrgName, OrgSlug};
pub use person::{Email, Password, PersonName, Role, SubjectCode};
pub use phone::{Phone, PhoneRegion};
pub use rng::{OsRng, Rng, SeededRng};
pub use secret::Secret;
pub use time_zone::TimeZoneName;
pub use timestamp::Timestamp;
pub use voting::{Tracker, UnitLabel, Weight};
pub use web_origin::WebOrigin;

/// Why a value was refused by its constructor. The message is safe to show a user: it names
/// the rule that was broken, never echoes secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The field or kind of value, e.g. `organization name`.
    pub what: &'static str,
    /// What was wrong, in words a user can act on.
    pub message: String,
}

impl ParseError {
    pub fn new(what: &'static str, message: impl Into<String>) -> Self {
        Self {
            what,
            message: message.into(),
        }
    }
}
