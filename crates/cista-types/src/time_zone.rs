//! An organization's time zone: windows and deadlines are entered and shown in it.

use crate::{ParseError, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An IANA time zone name (`America/New_York`), checked against the bundled time zone
/// database. Ballot windows are entered and shown in the organization's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let name = raw.trim();
        jiff::tz::TimeZone::get(name).map_err(|_| {
            ParseError::new(
                "time zone",
                "must be a time zone name such as America/New_York or Europe/Madrid",
            )
        })?;
        Ok(Self(name.to_owned()))
    }

    pub fn utc() -> Self {
        Self("UTC".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.0).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    fn zoned(&self, at: Timestamp) -> Option<jiff::Zoned> {
        jiff::Timestamp::from_microsecond(at.unix_micros())
            .ok()
            .map(|t| t.to_zoned(self.zone()))
    }

    /// `3 December 2026, 14:05 EST`: how a time is shown to people.
    pub fn format(&self, at: Timestamp) -> String {
        match self.zoned(at) {
            Some(z) => z.strftime("%-d %B %Y, %H:%M %Z").to_string(),
            None => at.to_rfc3339(),
        }
    }

    /// `3 December 2026, 14:05:09 EST`: with seconds, for receipts and records.
    pub fn format_precise(&self, at: Timestamp) -> String {
        match self.zoned(at) {
            Some(z) => z.strftime("%-d %B %Y, %H:%M:%S %Z").to_string(),
            None => at.to_rfc3339(),
        }
    }

    /// `2026-12-03T14:05`: the value of an `<input type="datetime-local">`.
    pub fn to_local_input(&self, at: Timestamp) -> String {
        match self.zoned(at) {
            Some(z) => z.strftime("%Y-%m-%dT%H:%M").to_string(),
            None => String::new(),
        }
    }

    /// Reads a local date and time (`2026-12-03T14:05`, seconds optional) in this zone. A
    /// time that does not exist (skipped by a daylight-saving change) or exists twice is
    /// refused rather than guessed.
    pub fn parse_local(&self, raw: &str, what: &'static str) -> Result<Timestamp, ParseError> {
        let bad = |message: &str| ParseError::new(what, message.to_owned());
        let civil: jiff::civil::DateTime = raw
            .trim()
            .parse()
            .map_err(|_| bad("must be a date and time such as 2026-12-03T14:05"))?;
        let zoned = self
            .zone()
            .to_ambiguous_zoned(civil)
            .unambiguous()
            .map_err(|_| {
                bad("falls in a daylight-saving change in this time zone; choose another time")
            })?;
        Timestamp::from_unix_micros(zoned.timestamp().as_microsecond())
            .map_err(|_| bad("is outside the supported range"))
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<TimeZoneName> for String {
    fn from(value: TimeZoneName) -> Self {
        value.0
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn local_times_round_trip_in_their_zone() {
        let ny = TimeZoneName::parse("America/New_York").unwrap();
        let t = ny.parse_local("2026-12-03T14:05", "opens").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-03T19:05:00.000000Z");
        assert_eq!(ny.to_local_input(t), "2026-12-03T14:05");
        assert_eq!(ny.format(t), "3 December 2026, 14:05 EST");
        // 02:30 on the spring-forward night does not exist in New York.
        assert!(ny.parse_local("2026-03-08T02:30", "opens").is_err());
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
    }
}
