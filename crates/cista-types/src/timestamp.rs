//! `Timestamp`: a UTC instant with microsecond precision, the precision both databases keep,
//! so a value written and read back is exactly equal (the audit log hashes it).

use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Converts to UTC and drops anything finer than a microsecond.
    pub fn from_offset(value: OffsetDateTime) -> Self {
        let utc = value.to_offset(UtcOffset::UTC);
        let micros = utc.microsecond();
        Self(utc.replace_nanosecond(micros * 1_000).unwrap_or(utc))
    }

    pub fn from_unix_micros(micros: i64) -> Result<Self, ParseError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
            .map(Self)
            .map_err(|_| ParseError::new("timestamp", "is outside the supported range"))
    }

    pub fn unix_micros(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000) as i64
    }

    pub fn as_offset(&self) -> OffsetDateTime {
        self.0
    }

    pub fn plus(&self, by: Duration) -> Self {
        Self::from_offset(self.0.saturating_add(by))
    }

    /// RFC 3339 in UTC with exactly six fractional digits: one canonical text per instant.
    pub fn to_rfc3339(&self) -> String {
        let d = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.microsecond()
        )
    }

    pub fn parse_rfc3339(text: &str) -> Result<Self, ParseError> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self::from_offset)
            .map_err(|_| {
                ParseError::new(
                    "timestamp",
                    format!("`{text}` is not an RFC 3339 time such as 2026-11-22T14:03:00Z"),
                )
            })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl From<Timestamp> for String {
    fn from(value: Timestamp) -> Self {
        value.to_rfc3339()
    }
}

impl TryFrom<String> for Timestamp {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse_rfc3339(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_text_round_trips_and_drops_nanoseconds() {
        let t = Timestamp::parse_rfc3339("2026-11-22T14:03:00.123456789+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-22T12:03:00.123456Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(Timestamp::from_unix_micros(t.unix_micros()).unwrap(), t);
    }

    #[test]
    fn a_malformed_time_is_refused_with_an_example() {
        let err = Timestamp::parse_rfc3339("yesterday").unwrap_err();
        assert!(err.message.contains("2026-11-22T14:03:00Z"));
    }
}
