//! Organization names and slugs, parsed once at the edge and trusted afterwards.

use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The display name of an organization: 1 to 120 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgName(String);

impl OrgName {
    pub const MAX_CHARS: usize = 120;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ParseError::new("organization name", "must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::new(
                "organization name",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ParseError::new(
                "organization name",
                "must not contain control characters",
            ));
        }
        crate::names::check_visible(trimmed)
            .map_err(|why| ParseError::new("organization name", why))?;
        Ok(Self(trimmed.to_owned()))
    }

    /// A name as stored: only what any stored name must be (not empty, no control character).
    /// Names stored before the entry check refused invisible characters still load.
    pub fn from_stored(raw: &str) -> Result<Self, ParseError> {
        if raw.trim().is_empty() || raw.chars().any(char::is_control) {
            return Err(ParseError::new("organization name", "is not a stored name"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<OrgName> for String {
    fn from(value: OrgName) -> Self {
        value.0
    }
}

impl TryFrom<String> for OrgName {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

/// The short name used in URLs: 2 to 40 of `a-z`, `0-9` and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let what = "organization slug";
        let len = raw.len();
        if !(2..=40).contains(&len) {
            return Err(ParseError::new(what, "must be 2 to 40 characters long"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ParseError::new(
                what,
                "may contain only lowercase letters a-z, digits and hyphens",
            ));
        }
        if raw.starts_with('-') || raw.ends_with('-') || raw.contains("--") {
            return Err(ParseError::new(
                what,
                "must not start or end with a hyphen or contain two in a row",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<OrgSlug> for String {
    fn from(value: OrgSlug) -> Self {
        value.0
    }
}

impl TryFrom<String> for OrgSlug {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_kept() {
        assert_eq!(
            OrgName::parse("  Palm Court HOA ").unwrap().as_str(),
            "Palm Court HOA"
        );
    }

    #[test]
    fn empty_long_and_control_character_names_are_refused() {
        assert!(OrgName::parse("   ").is_err());
        assert!(OrgName::parse(&"x".repeat(121)).is_err());
        assert!(OrgName::parse("bad\u{7}name").is_err());
        // Invisible characters that could make a name read otherwise than it is.
        for hidden in ["Evil\u{202e}Org", "Palm\u{200b}Court", "\u{2066}Palm Court"] {
            assert!(OrgName::parse(hidden).is_err(), "{hidden:?}");
            assert!(
                OrgName::from_stored(hidden).is_ok(),
                "stored before: {hidden:?}"
            );
        }
        assert!(OrgName::parse("Résidences Côte-d'Azur 🌴").is_ok());
    }

    #[test]
    fn slugs_accept_only_the_url_alphabet() {
        assert!(OrgSlug::parse("palm-court").is_ok());
        for bad in [
            "P",
            "Palm",
            "-palm",
            "palm-",
            "pa--lm",
            "palm court",
            "pälm",
            &"a".repeat(41),
        ] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
