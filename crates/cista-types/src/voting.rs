//! Values of association voting: unit labels, voting weights (exact decimals), percentages,
//! ballot trackers and an organization's time zone. Weights and percentages are fixed-point
//! integers, so tallies and thresholds are exact: no float ever decides an election.

use crate::{ParseError, Rng, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A unit's label as the association writes it (`12B`, `Lot 7`): 1 to 40 characters in NFC,
/// single-spaced, with no invisible character out of place. Two labels that differ only in
/// letter case name the same unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UnitLabel(String);

impl UnitLabel {
    pub const MAX_CHARS: usize = 40;

    /// Cleans a label as typed (NFC, single spaces) and refuses invisible characters; see
    /// `crate::names`.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        crate::names::clean_name(raw, "unit", Self::MAX_CHARS).map(Self)
    }

    /// Reads back a stored label, checked when it was entered (rules for new labels may
    /// tighten; units on file stay readable).
    pub fn from_stored(raw: &str) -> Result<Self, ParseError> {
        if raw.trim().is_empty() {
            return Err(ParseError::new("unit", "must not be empty"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is checked on: lower case, inner spaces collapsed.
    pub fn key(&self) -> String {
        self.0
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }
}

impl fmt::Display for UnitLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<UnitLabel> for String {
    fn from(value: UnitLabel) -> Self {
        value.0
    }
}

impl TryFrom<String> for UnitLabel {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_stored(&value)
    }
}

/// Parses a non-negative decimal with at most `places` fractional digits into an integer
/// scaled by 10^places. No exponent, no sign, no thousands separators.
fn parse_fixed(raw: &str, places: u32, what: &'static str) -> Result<i64, ParseError> {
    let text = raw.trim();
    let bad = || {
        ParseError::new(
            what,
            format!("must be a number such as 1 or 0.25, with at most {places} decimal places"),
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad());
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if fraction.len() > places as usize {
        return Err(bad());
    }
    let scale = 10_i64.pow(places);
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut frac: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| bad())?
    };
    for _ in fraction.len()..places as usize {
        frac *= 10;
    }
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

fn format_fixed(value: i64, places: u32) -> String {
    let scale = 10_i64.pow(places);
    let whole = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:0width$}", width = places as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// A unit's voting weight (its voting interest): a positive decimal with up to six places,
/// e.g. `1`, `0.8234` or `2.5`, held exactly as millionths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Weight(i64);

impl Weight {
    pub const PLACES: u32 = 6;
    pub const ONE: Weight = Weight(1_000_000);
    /// No unit weighs more than a million: a typo guard, far above any real voting interest.
    pub const MAX: Weight = Weight(1_000_000 * 1_000_000);

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let micros = parse_fixed(raw, Self::PLACES, "voting weight")?;
        if micros <= 0 {
            return Err(ParseError::new("voting weight", "must be greater than 0"));
        }
        if micros > Self::MAX.0 {
            return Err(ParseError::new("voting weight", "must be at most 1000000"));
        }
        Ok(Self(micros))
    }

    /// Wraps millionths read back from storage.
    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub fn micros(&self) -> i64 {
        self.0
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_fixed(self.0, Self::PLACES))
    }
}

impl From<Weight> for String {
    fn from(value: Weight) -> Self {
        value.to_string()
    }
}

impl TryFrom<String> for Weight {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

/// A sum of weights, for totals and tallies (never overflows for any real association).
pub fn format_weight_sum(micros: i128) -> String {
    let scale = 1_000_000_i128;
    let whole = micros / scale;
    let frac = micros % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// A percentage from 0 to 100 with up to two decimal places (`50`, `66.67`, `30`), held as
/// hundredths of a percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Percent(u32);

impl Percent {
    pub const PLACES: u32 = 2;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let raw = raw.trim().trim_end_matches('%').trim_end();
        let hundredths = parse_fixed(raw, Self::PLACES, "percentage")?;
        if hundredths > 10_000 {
            return Err(ParseError::new("percentage", "must be at most 100"));
        }
        u32::try_from(hundredths)
            .map(Self)
            .map_err(|_| ParseError::new("percentage", "must be between 0 and 100"))
    }

    pub fn from_hundredths(hundredths: u32) -> Self {
        Self(hundredths.min(10_000))
    }

    /// Hundredths of a percent: `50%` is 5000.
    pub fn hundredths(&self) -> u32 {
        self.0
    }

    /// Whether `part` is at least this share of `whole` (exactly, in integers).
    pub fn reached_by(&self, part: i128, whole: i128) -> bool {
        part * 10_000 >= whole * i128::from(self.0)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_fixed(i64::from(self.0), Self::PLACES))
    }
}

impl From<Percent> for String {
    fn from(value: Percent) -> Self {
        value.to_string()
    }
}

impl TryFrom<String> for Percent {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

/// Crockford's base32 alphabet: no I, L, O or U, so a tracker read aloud or copied by hand
/// survives.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ballot tracker: 60 random bits, shown as `XXXX-XXXX-XXXX`. It is on the voter's receipt
/// and on the public bulletin, and nowhere links to who cast it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tracker(i64);

impl Tracker {
    const BITS: u32 = 60;

    pub fn new(rng: &dyn Rng) -> Self {
        let mut bytes = [0u8; 8];
        rng.fill(&mut bytes);
        Self::from_uniform_bytes(bytes)
    }

    /// Wraps a value read back from storage.
    pub fn from_i64(value: i64) -> Self {
        Self(value)
    }

    /// The tracker made of the top 60 bits of 8 uniformly random bytes (a keyed hash's
    /// output, when a tracker must be re-derivable from a secret the voter holds).
    pub fn from_uniform_bytes(bytes: [u8; 8]) -> Self {
        Self((u64::from_le_bytes(bytes) >> (64 - Self::BITS)) as i64)
    }

    pub fn as_i64(&self) -> i64 {
        self.0
    }

    /// Reads a tracker as printed, forgiving case, spaces, hyphens and the letters Crockford
    /// maps to digits (O→0, I/L→1).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError::new(
                "tracker",
                "must be the 12 letters and digits on your receipt, like 7KQ2-M9XD-4TNB",
            )
        };
        let mut value: u64 = 0;
        let mut count = 0;
        for c in raw.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            let digit = CROCKFORD
                .iter()
                .position(|&a| char::from(a) == c)
                .ok_or_else(bad)?;
            value = (value << 5) | digit as u64;
            count += 1;
            if count > 12 {
                return Err(bad());
            }
        }
        if count != 12 {
            return Err(bad());
        }
        Ok(Self(value as i64))
    }
}

impl fmt::Display for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0 as u64;
        for i in 0..12 {
            if i == 4 || i == 8 {
                f.write_str("-")?;
            }
            let shift = 5 * (11 - i);
            let digit = ((value >> shift) & 31) as usize;
            let c = CROCKFORD.get(digit).copied().unwrap_or(b'0');
            write!(f, "{}", char::from(c))?;
        }
        Ok(())
    }
}

impl Serialize for Tracker {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Tracker {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

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
    use crate::SeededRng;

    #[test]
    fn weights_are_exact_decimals() {
        assert_eq!(Weight::parse("1").unwrap().micros(), 1_000_000);
        assert_eq!(Weight::parse("0.8234").unwrap().micros(), 823_400);
        assert_eq!(Weight::parse(" 2.5 ").unwrap().to_string(), "2.5");
        assert_eq!(Weight::parse(".125").unwrap().to_string(), "0.125");
        assert_eq!(Weight::parse("0.000001").unwrap().micros(), 1);
        for bad in [
            "",
            "0",
            "-1",
            "1e3",
            "1,5",
            "0.0000001",
            "abc",
            ".",
            "1.2.3",
        ] {
            assert!(Weight::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(format_weight_sum(1_500_000), "1.5");
        assert_eq!(format_weight_sum(40_000_000), "40");
    }

    #[test]
    fn percentages_compare_exactly() {
        let two_thirds = Percent::parse("66.67").unwrap();
        assert_eq!(two_thirds.hundredths(), 6667);
        assert_eq!(Percent::parse("30%").unwrap().to_string(), "30");
        assert!(Percent::parse("100.01").is_err());
        let half = Percent::parse("50").unwrap();
        assert!(half.reached_by(5, 10));
        assert!(!half.reached_by(4, 10));
    }

    #[test]
    fn trackers_print_and_parse_back() {
        let rng = SeededRng::new(3);
        for _ in 0..100 {
            let t = Tracker::new(&rng);
            assert!(t.as_i64() >= 0 && t.as_i64() < 1 << 60);
            let printed = t.to_string();
            assert_eq!(printed.len(), 14);
            assert_eq!(Tracker::parse(&printed).unwrap(), t);
            assert_eq!(Tracker::parse(&printed.to_lowercase()).unwrap(), t);
        }
        assert_eq!(
            Tracker::parse("0000-0000-000O").unwrap(),
            Tracker::parse("0000 0000 0000").unwrap()
        );
        assert!(Tracker::parse("0000-0000-00").is_err());
        assert!(Tracker::parse("0000-0000-000U").is_err());
    }

    #[test]
    fn unit_labels_compare_without_case() {
        let a = UnitLabel::parse(" 12b ").unwrap();
        let b = UnitLabel::parse("12B").unwrap();
        assert_eq!(a.key(), b.key());
        assert_eq!(a.as_str(), "12b");
        assert!(UnitLabel::parse("").is_err());
        assert!(UnitLabel::parse(&"x".repeat(41)).is_err());
        assert_eq!(UnitLabel::parse("Lot  7").unwrap().as_str(), "Lot 7");
        assert!(UnitLabel::parse("10\u{200b}1").is_err());
        assert_eq!(
            UnitLabel::parse("Caf\u{65}\u{301}").unwrap(),
            UnitLabel::parse("Caf\u{e9}").unwrap()
        );
    }

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
