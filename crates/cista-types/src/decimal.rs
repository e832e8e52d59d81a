//! Exact decimals held as scaled integers, and the percentage built on them. Tallies and
//! thresholds compare integers, so no float ever decides an outcome.

use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Parses a non-negative decimal with at most `places` fractional digits into an integer
/// scaled by 10^places. No exponent, no sign, no thousands separators.
pub(crate) fn parse_fixed(raw: &str, places: u32, what: &'static str) -> Result<i64, ParseError> {
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

/// Writes `value` scaled by 10^places as a decimal with no trailing zeros (`1`, `0.8234`,
/// `2.5`, `-0.25`), without allocating: a million-ballot close writes a weight per ballot.
/// Takes `i128` so sums of weights (`voting::format_weight_sum`) are written the same way.
pub(crate) fn write_fixed(
    out: &mut impl fmt::Write,
    value: impl Into<i128>,
    places: u32,
) -> fmt::Result {
    let value: i128 = value.into();
    let scale = 10_i128.pow(places);
    let whole = value / scale;
    let frac = (value % scale).unsigned_abs();
    if value < 0 && whole == 0 {
        // `-0` would not print its sign.
        out.write_char('-')?;
    }
    write!(out, "{whole}")?;
    if frac == 0 {
        return Ok(());
    }
    let (mut digits, mut width) = (frac, places as usize);
    while digits % 10 == 0 {
        digits /= 10;
        width -= 1;
    }
    write!(out, ".{digits:0width$}")
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
        write_fixed(f, self.0, Self::PLACES)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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

    /// The decimal written is the one `parse_fixed` reads back, digit for digit, with no
    /// trailing zeros; signs and the extremes of `i64` are written too.
    #[test]
    fn fixed_decimals_are_written_exactly() {
        let written = |value: i64, places: u32| {
            let mut out = String::new();
            write_fixed(&mut out, value, places).unwrap();
            out
        };
        for (value, places, text) in [
            (0, 6, "0"),
            (1, 6, "0.000001"),
            (1_000_000, 6, "1"),
            (2_500_000, 6, "2.5"),
            (823_400, 6, "0.8234"),
            (1_234_567_890, 6, "1234.56789"),
            (-250_000, 6, "-0.25"),
            (-1_500_000, 6, "-1.5"),
            (6667, 2, "66.67"),
            (3000, 2, "30"),
            (7, 0, "7"),
            (i64::MAX, 6, "9223372036854.775807"),
            (i64::MIN, 6, "-9223372036854.775808"),
        ] {
            assert_eq!(written(value, places), text, "{value} at {places} places");
        }
        let mut value: i64 = 1;
        for _ in 0..2_000 {
            value = value
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1)
                & i64::MAX;
            let text = written(value, 6);
            assert_eq!(parse_fixed(&text, 6, "n").unwrap(), value, "{text}");
            assert!(!text.ends_with('0') || !text.contains('.'), "{text}");
        }
    }
}
