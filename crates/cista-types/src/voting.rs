//! Values of association voting: unit labels, voting weights (exact decimals) and ballot
//! trackers. Weights are fixed-point integers, so tallies are exact: no float ever decides an
//! election.

use crate::decimal::{parse_fixed, write_fixed};
use crate::{ParseError, Rng};
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

/// A unit's voting weight (its voting interest): a positive decimal with up to six places,
/// e.g. `1`, `0.8234` or `2.5`, held exactly as millionths. As JSON, that decimal as a
/// string (`"0.8234"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
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
        write_fixed(f, self.0, Self::PLACES)
    }
}

impl Serialize for Weight {
    /// Its `Display`, written straight into the output (a million-ballot list writes one
    /// per ballot).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_fixed(&mut out, micros, Weight::PLACES);
    out
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
    /// `XXXX-XXXX-XXXX`: the low 60 bits, five to a Crockford letter, most significant first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0 as u64;
        let mut shown = [b'-'; 14];
        let places = (0..14).filter(|i| i % 5 != 4);
        for (i, place) in places.enumerate() {
            let digit = ((value >> (5 * (11 - i))) & 31) as usize;
            if let (Some(out), Some(c)) = (shown.get_mut(place), CROCKFORD.get(digit)) {
                *out = *c;
            }
        }
        // Only ASCII was written.
        f.write_str(std::str::from_utf8(&shown).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Tracker {
    /// Its `Display`, written straight into the output (a million-ballot list writes one
    /// per ballot).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Tracker {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
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
        // Sums beyond any one weight's range are written like a weight.
        assert_eq!(format_weight_sum(1), "0.000001");
        assert_eq!(
            format_weight_sum(10_i128.pow(21) + 250_000),
            "1000000000000000.25"
        );
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

    /// Trackers and weights print, and serialize as JSON strings, exactly as receipts, the
    /// bulletin and published lists have always shown them.
    #[test]
    fn trackers_and_weights_are_written_as_published() {
        for (value, shown) in [
            (0, "0000-0000-0000"),
            ((1 << 60) - 1, "ZZZZ-ZZZZ-ZZZZ"),
            (0x0123_4567_89ab_cdef, "28T5-CY4T-QKFF"),
            (0x0fed_cba9_8765_4321, "ZVEB-N63P-AGS1"),
        ] {
            let t = Tracker::from_i64(value);
            assert_eq!(t.to_string(), shown);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{shown}\""));
            assert_eq!(
                serde_json::from_str::<Tracker>(&format!("\"{shown}\"")).unwrap(),
                t
            );
        }
        for (micros, shown) in [(1, "0.000001"), (823_400, "0.8234"), (2_500_000, "2.5")] {
            let w = Weight::from_micros(micros);
            assert_eq!(w.to_string(), shown);
            assert_eq!(String::from(w), shown);
            assert_eq!(serde_json::to_string(&w).unwrap(), format!("\"{shown}\""));
            assert_eq!(
                serde_json::from_str::<Weight>(&format!("\"{shown}\"")).unwrap(),
                w
            );
        }
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
}
