//! Phone numbers, parsed and validated once with libphonenumber's rules and metadata (the
//! `phonenumber` crate, a port of Google's libphonenumber) and kept in international E.164
//! form. A number typed without its country code is read in the organization's region.

use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The country or region whose national numbering plan applies to numbers typed without a
/// country code: an ISO 3166-1 two-letter code that libphonenumber knows (`US`, `CA`, `GB`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneRegion(phonenumber::country::Id);

impl PhoneRegion {
    /// The region of the United States (and of the other countries of the North American
    /// Numbering Plan for numbers typed with their +1).
    pub const US: PhoneRegion = PhoneRegion(phonenumber::country::Id::US);

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 2
            && let Ok(id) = phonenumber::country::Id::from_str(&code)
        {
            return Ok(Self(id));
        }
        Err(ParseError::new(
            "country for phone numbers",
            "must be a two-letter country code such as US, CA, GB or ES",
        ))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// The country calling code numbers of this region start with, e.g. 1 for US.
    pub fn calling_code(&self) -> Option<u16> {
        phonenumber::metadata::DATABASE
            .by_id(self.as_str())
            .map(|m| m.country_code())
    }
}

impl fmt::Debug for PhoneRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneRegion({})", self.as_str())
    }
}

impl fmt::Display for PhoneRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<PhoneRegion> for String {
    fn from(value: PhoneRegion) -> Self {
        value.as_str().to_owned()
    }
}

impl TryFrom<String> for PhoneRegion {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

/// A phone number in international E.164 form, e.g. `+13055550100`: what SMS gateways take
/// and what the blind index is computed on, so one number has one spelling.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(<personal>)")
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Phone> for String {
    fn from(value: Phone) -> Self {
        value.0
    }
}

/// Values read back (from the vault) were checked when they were entered; they are read with
/// the shape check only, so a number accepted under older, looser rules stays readable and
/// its person is not locked out of their own record.
impl TryFrom<String> for Phone {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_stored(&value)
    }
}

const WHAT: &str = "phone number";

impl Phone {
    /// Parses a number as a person types it: international (`+44 7700 900123`, `00 44 …`
    /// where that is the region's international prefix) or, when `region` is given, national
    /// (`(305) 555-0100` in the US). Spaces, dots, hyphens and parentheses are ignored. The
    /// number must be valid by libphonenumber's metadata (right length and a range in use);
    /// a national trunk prefix written after the country code, as in `+44 (0)7700 900123`,
    /// is dropped the way libphonenumber does, since the number meant is unambiguous.
    pub fn parse(raw: &str, region: Option<PhoneRegion>) -> Result<Self, ParseError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(ParseError::new(WHAT, "must not be empty"));
        }
        let international = value.starts_with('+');
        let example = match region {
            Some(r) => format!(
                "write it with + and the country code, e.g. +1 305 555 0100, or as a {r} national number"
            ),
            None => "must start with + and the country code, e.g. +1 305 555 0100".to_owned(),
        };
        if value
            .chars()
            .any(|c| !(c.is_ascii_digit() || " .-()/+".contains(c)))
        {
            let lowered = value.to_ascii_lowercase();
            let message = if ["ext", "x", "#", ";"]
                .iter()
                .any(|marker| lowered.contains(marker))
            {
                "must not have an extension: a text message cannot reach one".to_owned()
            } else {
                format!("may contain only digits, spaces, dots, hyphens and parentheses; {example}")
            };
            return Err(ParseError::new(WHAT, message));
        }
        if !international && region.is_none() {
            return Err(ParseError::new(WHAT, example));
        }
        // A number with its country code is read without the region: the port applies the
        // given region's trunk prefix even to another country's number (so +44 121… read
        // with US would lose its 1), which libphonenumber itself does not.
        let parse_region = if international { None } else { region };
        let parsed = phonenumber::parse(parse_region.map(|r| r.0), value).map_err(|e| {
            use phonenumber::ParseError as E;
            let message = match e {
                E::InvalidCountryCode if international => {
                    "starts with a country code that does not exist".to_owned()
                }
                E::InvalidCountryCode => example.clone(),
                E::TooShortNsn | E::TooShortAfterIdd | E::NoNumber => {
                    "has too few digits".to_owned()
                }
                E::TooLong => "has too many digits".to_owned(),
                E::MalformedInteger(_) => example.clone(),
            };
            ParseError::new(WHAT, message)
        })?;
        // A national number that turned out to dial another country (an international
        // prefix such as 011 or 00) was read with this region's rules: ask for the + form.
        if let Some(r) = parse_region
            && r.calling_code() != Some(parsed.code().value())
        {
            return Err(ParseError::new(
                WHAT,
                "dials another country: write it with + and its country code instead of an \
                 international prefix, e.g. +44 121 496 0000",
            ));
        }
        if parsed.extension().is_some() {
            return Err(ParseError::new(
                WHAT,
                "must not have an extension: a text message cannot reach one",
            ));
        }
        if !parsed.is_valid() {
            let code = parsed.code().value();
            let message = match (international, region) {
                (false, Some(r)) => format!(
                    "is not a valid {r} number (wrong length, or a range not in use); if it is \
                     from another country, write it with + and its country code"
                ),
                _ => format!(
                    "is not a valid number for country code +{code} (wrong length, or a range \
                     not in use)"
                ),
            };
            return Err(ParseError::new(WHAT, message));
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Self(e164))
    }

    /// Reads back a number stored in E.164 form: `+` and 2 to 15 digits.
    pub fn from_stored(raw: &str) -> Result<Self, ParseError> {
        let digits = raw.strip_prefix('+').unwrap_or("");
        if (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
        {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new(WHAT, "is not in international E.164 form"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four digits, for messages like "we sent a code to the number ending 0100".
    pub fn last_four(&self) -> &str {
        self.0.get(self.0.len().saturating_sub(4)..).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn us() -> Option<PhoneRegion> {
        Some(PhoneRegion::US)
    }

    #[test]
    fn international_numbers_become_e164() {
        assert_eq!(
            Phone::parse("+1 (305) 555-0100", None).unwrap().as_str(),
            "+13055550100"
        );
        assert_eq!(
            Phone::parse("+44 20 7946 0958", None).unwrap().last_four(),
            "0958"
        );
        assert_eq!(
            Phone::parse("+34 612 34 56 78", us()).unwrap().as_str(),
            "+34612345678"
        );
    }

    #[test]
    fn a_trunk_zero_after_the_country_code_is_dropped_as_libphonenumber_does() {
        // "+44 07400 123456" and "+44 (0)7400 123456" mean +44 7400 123456: libphonenumber
        // strips the national prefix written after the country code, so the number is stored
        // right instead of as the impossible +4407400123456.
        for written in ["+44 07400 123456", "+44 (0)7400 123456", "+447400123456"] {
            assert_eq!(
                Phone::parse(written, None).unwrap().as_str(),
                "+447400123456",
                "{written}"
            );
        }
    }

    #[test]
    fn the_issues_uk_number_is_refused_because_its_range_is_reserved_for_fiction() {
        // "+44 07700 900123" is +44 7700 900123 with a trunk zero, but 07700 900000 to 900999
        // is Ofcom's range reserved for drama, never assigned: libphonenumber's metadata does
        // not list it as in use, so it is refused (it used to be stored as +4407700900123).
        for region in [None, Some(PhoneRegion::US)] {
            let e = Phone::parse("+44 07700 900123", region).unwrap_err();
            assert_eq!(
                e.message,
                "is not a valid number for country code +44 (wrong length, or a range not in \
                 use)"
            );
        }
    }

    #[test]
    fn national_numbers_are_read_in_the_default_region() {
        for written in [
            "(305) 555-0142",
            "305.555.0142",
            "1 305 555 0142",
            "3055550142",
        ] {
            assert_eq!(
                Phone::parse(written, us()).unwrap().as_str(),
                "+13055550142",
                "{written}"
            );
        }
        let gb = PhoneRegion::parse("gb").unwrap();
        assert_eq!(
            Phone::parse("07400 123456", Some(gb)).unwrap().as_str(),
            "+447400123456"
        );
        // Another country's number keeps its digits whatever the region; one dialled with an
        // international prefix is asked for in + form.
        assert_eq!(
            Phone::parse("+44 121 496 0000", us()).unwrap().as_str(),
            "+441214960000"
        );
        let e = Phone::parse("011 44 121 496 0000", us()).unwrap_err();
        assert!(e.message.contains("dials another country"), "{}", e.message);
        // Without a region a national number cannot be read.
        let e = Phone::parse("305 555 0100", None).unwrap_err();
        assert!(e.message.contains("country code"), "{}", e.message);
    }

    #[test]
    fn invalid_numbers_are_refused_with_the_reason() {
        let cases = [
            ("+1", "too few digits"),
            ("+1234567", "country code +1"),
            ("+1 305 555 0100 ext 2", "extension"),
            (
                "+1234567890123456",
                "not a valid number for country code +1",
            ),
            ("+999 1234 5678", "does not exist"),
            ("+1 055 555 0100", "not a valid number for country code +1"),
            ("555 0100", "not a valid US number"),
            ("+44 7700 90012", "not a valid number for country code +44"),
            ("call me", "may contain only digits"),
            ("", "must not be empty"),
        ];
        for (bad, why) in cases {
            let e = Phone::parse(bad, us()).unwrap_err();
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn stored_numbers_read_back_by_shape_only() {
        assert_eq!(
            Phone::from_stored("+4407700900123").unwrap().as_str(),
            "+4407700900123"
        );
        assert!(Phone::from_stored("3055550100").is_err());
        assert!(Phone::from_stored("+0123").is_err());
        let back: Phone = serde_json::from_str("\"+13055550100\"").unwrap();
        assert_eq!(back.as_str(), "+13055550100");
    }

    #[test]
    fn regions_are_two_letter_codes_libphonenumber_knows() {
        assert_eq!(PhoneRegion::parse(" us ").unwrap(), PhoneRegion::US);
        assert_eq!(PhoneRegion::US.calling_code(), Some(1));
        for bad in ["", "USA", "ZZ", "1", "u"] {
            assert!(PhoneRegion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_never_print_in_debug() {
        let p = Phone::parse("+13055550100", None).unwrap();
        assert_eq!(format!("{p:?}"), "Phone(<personal>)");
    }
}
