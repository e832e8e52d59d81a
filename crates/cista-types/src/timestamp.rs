//! `Timestamp`: a UTC instant with microsecond precision, the precision both databases keep,
//! so a value written and read back is exactly equal (the audit log hashes it).

use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

/// A UTC instant in the years 0000 to 9999 ([`Timestamp::EARLIEST`], [`Timestamp::LATEST`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The first instant a `Timestamp` holds: year 0000, the first RFC 3339's four-digit
    /// year writes. A negative year has no RFC 3339 text, so the canonical text could not be
    /// read back, and sqlx cannot write it to SQLite (whose times are that text).
    pub const EARLIEST: Self = Self(time::macros::datetime!(0000-01-01 0:00 UTC));
    /// The last instant a `Timestamp` holds: the end of year 9999, the last four-digit year.
    pub const LATEST: Self = Self(time::macros::datetime!(9999-12-31 23:59:59.999999 UTC));

    /// Converts to UTC and drops anything finer than a microsecond; an instant outside
    /// [`Self::EARLIEST`]..=[`Self::LATEST`] becomes the nearer end, as [`Self::plus`]
    /// saturates.
    pub fn from_offset(value: OffsetDateTime) -> Self {
        let utc = value.to_offset(UtcOffset::UTC);
        let micros = utc.microsecond();
        let t = utc.replace_nanosecond(micros * 1_000).unwrap_or(utc);
        Self(t.clamp(Self::EARLIEST.0, Self::LATEST.0))
    }

    /// The instant `micros` microseconds after 1970-01-01T00:00:00Z; an error outside
    /// [`Self::EARLIEST`]..=[`Self::LATEST`].
    pub fn from_unix_micros(micros: i64) -> Result<Self, ParseError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
            .ok()
            .and_then(Self::within_range)
            .ok_or_else(|| {
                ParseError::new(
                    "timestamp",
                    "is outside the supported range (the years 0000 to 9999)",
                )
            })
    }

    /// `value` in UTC, if it lies within the range a `Timestamp` holds.
    fn within_range(value: OffsetDateTime) -> Option<Self> {
        let utc = value.to_offset(UtcOffset::UTC);
        (Self::EARLIEST.0..=Self::LATEST.0)
            .contains(&utc)
            .then(|| Self::from_offset(utc))
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

    /// Reads an RFC 3339 time; an error for text that is not one, or (with its offset) falls
    /// outside [`Self::EARLIEST`]..=[`Self::LATEST`].
    pub fn parse_rfc3339(text: &str) -> Result<Self, ParseError> {
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .and_then(Self::within_range)
            .ok_or_else(|| {
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
    fn only_instants_with_a_four_digit_year_are_held() {
        let micros = |t: &str| {
            OffsetDateTime::parse(t, &Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000) as i64)
                .unwrap()
        };
        let first = micros("0000-01-01T00:00:00Z");
        let last = micros("9999-12-31T23:59:59.999999Z");
        assert_eq!(
            Timestamp::from_unix_micros(first).unwrap(),
            Timestamp::EARLIEST
        );
        assert_eq!(
            Timestamp::from_unix_micros(last).unwrap(),
            Timestamp::LATEST
        );
        assert!(Timestamp::from_unix_micros(first - 1).is_err());
        assert!(Timestamp::from_unix_micros(last + 1).is_err());
        assert!(Timestamp::from_unix_micros(i64::MIN).is_err());
        // An offset can carry a four-digit year's text into a negative year.
        assert!(Timestamp::parse_rfc3339("0000-01-01T00:30:00+01:00").is_err());
        for t in [Timestamp::EARLIEST, Timestamp::LATEST] {
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
        }
        let before = OffsetDateTime::from_unix_timestamp_nanos(i128::from(first - 1) * 1_000);
        assert_eq!(Timestamp::from_offset(before.unwrap()), Timestamp::EARLIEST);
        assert_eq!(
            Timestamp::EARLIEST.plus(Duration::days(-1)),
            Timestamp::EARLIEST
        );
    }

    #[test]
    fn a_malformed_time_is_refused_with_an_example() {
        let err = Timestamp::parse_rfc3339("yesterday").unwrap_err();
        assert!(err.message.contains("2026-11-22T14:03:00Z"));
    }
}
