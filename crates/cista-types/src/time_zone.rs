//! An organization's time zone: windows and deadlines are entered and shown in it.

use crate::{ParseError, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The years a date or time typed into a form may name. The storage holds four-digit years
/// only (`Timestamp`), and keeps no instant before 2000 (PostgreSQL's epoch, the columns'
/// rule): a year outside is a slip of the keyboard (`0226` for `2026`) or a probe, refused
/// with this message rather than stored.
const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i16> = 2000..=9999;
const PLAUSIBLE_YEARS_MESSAGE: &str = "must be in the years 2000 to 9999";

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
        if !PLAUSIBLE_YEARS.contains(&civil.year()) {
            return Err(bad(PLAUSIBLE_YEARS_MESSAGE));
        }
        let ambiguous = self.zone().to_ambiguous_zoned(civil);
        if ambiguous.is_ambiguous() {
            return Err(bad(
                "falls in a daylight-saving change in this time zone; choose another time",
            ));
        }
        // Unambiguous, yet past the last instant the calendar holds (late on 31 December
        // 9999 east of UTC): out of range, not a daylight-saving change.
        let out_of_range = || bad("is outside the supported range");
        let zoned = ambiguous.unambiguous().map_err(|_| out_of_range())?;
        Timestamp::from_unix_micros(zoned.timestamp().as_microsecond()).map_err(|_| out_of_range())
    }

    /// The first instant of the local date `raw` (`2026-12-03`, an `<input type="date">`'s
    /// value) in this zone: midnight, or the first moment after it where a daylight-saving
    /// change skips midnight.
    pub fn start_of_day(&self, raw: &str, what: &'static str) -> Result<Timestamp, ParseError> {
        self.day_start(raw, what, 0)
    }

    /// The first instant of the day after the local date `raw` in this zone: where a day
    /// given as the last one of a range ends.
    pub fn start_of_next_day(
        &self,
        raw: &str,
        what: &'static str,
    ) -> Result<Timestamp, ParseError> {
        self.day_start(raw, what, 1)
    }

    fn day_start(
        &self,
        raw: &str,
        what: &'static str,
        after: i32,
    ) -> Result<Timestamp, ParseError> {
        let bad = |message: &str| ParseError::new(what, message.to_owned());
        let date: jiff::civil::Date = raw
            .trim()
            .parse()
            .map_err(|_| bad("must be a date such as 2026-12-03"))?;
        if !PLAUSIBLE_YEARS.contains(&date.year()) {
            return Err(bad(PLAUSIBLE_YEARS_MESSAGE));
        }
        let date = date
            .checked_add(jiff::Span::new().days(after))
            .map_err(|_| bad("is outside the supported range"))?;
        let zoned = date
            .to_zoned(self.zone())
            .map_err(|_| bad("is outside the supported range"))?;
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
    fn a_day_starts_at_local_midnight_or_when_a_change_skips_it() {
        let ny = TimeZoneName::parse("America/New_York").unwrap();
        let start = ny.start_of_day("2026-12-03", "from").unwrap();
        assert_eq!(start.to_rfc3339(), "2026-12-03T05:00:00.000000Z");
        // Santiago skipped midnight on 2026-09-06 (clocks went from 00:00 to 01:00).
        let santiago = TimeZoneName::parse("America/Santiago").unwrap();
        let skipped = santiago.start_of_day("2026-09-06", "from").unwrap();
        assert_eq!(skipped.to_rfc3339(), "2026-09-06T04:00:00.000000Z");
        assert!(ny.start_of_day("3 December", "from").is_err());
        let end = ny.start_of_next_day("2026-12-31", "to").unwrap();
        assert_eq!(end.to_rfc3339(), "2027-01-01T05:00:00.000000Z");
    }

    #[test]
    fn local_times_round_trip_in_their_zone() {
        let ny = TimeZoneName::parse("America/New_York").unwrap();
        let t = ny.parse_local("2026-12-03T14:05", "opens").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-03T19:05:00.000000Z");
        assert_eq!(ny.to_local_input(t), "2026-12-03T14:05");
        assert_eq!(ny.format(t), "3 December 2026, 14:05 EST");
        // 02:30 on the spring-forward night does not exist in New York.
        let e = ny.parse_local("2026-03-08T02:30", "opens").unwrap_err();
        assert!(e.message.contains("daylight-saving"), "{e:?}");
        // Past the last instant the calendar holds: out of range, not a daylight-saving change.
        let e = ny.parse_local("9999-12-31T12:00", "to").unwrap_err();
        assert!(e.message.contains("outside the supported range"), "{e:?}");
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn a_year_the_storage_cannot_hold_or_nobody_means_is_refused() {
        let ny = TimeZoneName::parse("America/New_York").unwrap();
        for raw in [
            "-000001-06-01T09:00",
            "0001-06-01T09:00",
            "1999-12-31T23:59",
        ] {
            let e = ny.parse_local(raw, "opens").unwrap_err();
            assert!(e.message.contains("2000 to 9999"), "{raw}: {e:?}");
        }
        for raw in ["-000001-06-01", "0226-01-01", "+010000-01-01"] {
            assert!(ny.start_of_day(raw, "from").is_err(), "{raw}");
        }
        assert!(ny.start_of_next_day("9999-12-31", "to").is_err());
        assert!(ny.parse_local("2000-01-01T00:00", "opens").is_ok());
    }
}
