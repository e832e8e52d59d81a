//! People: subject codes and the personal fields (names, email; the phone is in `phone`), each
//! parsed once at the edge. Personal values never print in `Debug` output, so they cannot leak into logs.

use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a person is referred to everywhere outside the vault: a random 63-bit number, never
/// sequential and never a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubjectCode(i64);

impl SubjectCode {
    pub fn new(rng: &dyn crate::Rng) -> Self {
        Self(rng.id63())
    }

    pub fn from_i64(value: i64) -> Self {
        Self(value)
    }

    pub fn as_i64(&self) -> i64 {
        self.0
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        raw.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Self)
            .ok_or_else(|| ParseError::new("subject code", "must be a positive whole number"))
    }
}

impl fmt::Display for SubjectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

macro_rules! personal {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<personal>)"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

/// A first or last name: 1 to 100 characters in NFC, single-spaced, with no invisible
/// character out of place.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);
personal!(PersonName);

impl TryFrom<String> for PersonName {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_stored(&value)
    }
}

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    /// Cleans a name as typed (NFC, single spaces) and refuses invisible characters; see
    /// `crate::names`.
    /// Names are printed as typed (a client's report, a person's own data export), so one
    /// the bundled fonts cannot draw is refused here, naming the character
    /// (`crate::glyphs`), rather than failing the document later.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let name = crate::names::clean_name(raw, "name", Self::MAX_CHARS)?;
        crate::glyphs::check_printable(&name)
            .map_err(|e| ParseError::new("name", e.to_string()))?;
        Ok(Self(name))
    }

    /// Reads back a stored name, which was checked when it was entered: rules for new names
    /// may tighten, and a person stays readable when they do.
    pub fn from_stored(raw: &str) -> Result<Self, ParseError> {
        if raw.trim().is_empty() {
            return Err(ParseError::new("name", "must not be empty"));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// An email address, stored as typed (trimmed), compared and indexed in lower case.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);
personal!(Email);

impl TryFrom<String> for Email {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_stored(&value)
    }
}

impl Email {
    /// Reads an address as typed: its shape (`from_stored`), and, since addresses are printed
    /// as typed (a client's report, a person's own data export), only characters the bundled
    /// fonts draw (`crate::glyphs`).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let email = Self::from_stored(raw)?;
        crate::glyphs::check_printable(&email.0)
            .map_err(|e| ParseError::new("email address", e.to_string()))?;
        Ok(email)
    }

    /// Reads an address typed to find someone already on file (signing in, a reset or a
    /// resent invitation, the operator's search): its shape alone, as `from_stored`, so an
    /// address stored before the printable rule still finds its person.
    pub fn parse_lookup(raw: &str) -> Result<Self, ParseError> {
        Self::from_stored(raw)
    }

    /// Reads back a stored address by its shape alone: rules for new addresses may tighten
    /// (the printable check came later), and a person stays readable when they do.
    pub fn from_stored(raw: &str) -> Result<Self, ParseError> {
        let what = "email address";
        let value = raw.trim();
        let example = "should look like name@example.org";
        if value.is_empty() {
            return Err(ParseError::new(what, "must not be empty"));
        }
        if value.len() > 254 {
            return Err(ParseError::new(what, "must be at most 254 characters"));
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return Err(ParseError::new(what, example));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(ParseError::new(what, example));
        }
        Ok(Self(value.to_owned()))
    }

    /// The form used for lookups: the whole address in lower case.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// The address with its local part hidden but for its first character
    /// (`o•••@palm-court.example`): enough to tell two namesakes apart on a staff list,
    /// too little to write to.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}\u{2022}\u{2022}\u{2022}@{domain}")
    }
}

/// A role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Inspector,
    Advisor,
    Reviewer,
    /// Fills records on a phone (field data collection) through a device token.
    Collector,
    Member,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Owner,
        Role::Admin,
        Role::Inspector,
        Role::Advisor,
        Role::Reviewer,
        Role::Collector,
        Role::Member,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Inspector => "inspector",
            Role::Advisor => "advisor",
            Role::Reviewer => "reviewer",
            Role::Collector => "collector",
            Role::Member => "member",
        }
    }

    /// What people read. The top staff role is the organization's owner (its account
    /// holder), never to be confused with the owner of a unit; the stored value stays `owner`.
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Organization owner",
            Role::Admin => "Administrator",
            Role::Inspector => "Inspector (read-only election monitor)",
            Role::Advisor => "Advisor",
            Role::Reviewer => "Reviewer (reviews collected records)",
            Role::Collector => "Collector (fills records on a phone)",
            Role::Member => "Member",
        }
    }

    /// The name alone, for compact lists.
    pub fn short_label(self) -> &'static str {
        match self {
            Role::Owner => "Organization owner",
            Role::Admin => "Administrator",
            Role::Inspector => "Inspector",
            Role::Advisor => "Advisor",
            Role::Reviewer => "Reviewer",
            Role::Collector => "Collector",
            Role::Member => "Member",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == raw.trim())
            .ok_or_else(|| {
                ParseError::new(
                    "role",
                    "must be one of owner, admin, inspector, advisor, reviewer, collector, member",
                )
            })
    }

    /// Staff roles work for the organization; members are the people it serves.
    pub fn is_staff(self) -> bool {
        self != Role::Member
    }

    /// Owners, administrators and advisors must use a second factor (TOTP): the first two
    /// run the organization, and an advisor can see who an assessment's client is and
    /// download reports that name clients.
    pub fn requires_mfa(self) -> bool {
        matches!(self, Role::Owner | Role::Admin | Role::Advisor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A password as typed: 8 to 128 characters. It never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// A new password as typed, in Unicode NFC (NIST SP 800-63B §5.1.1.2), so that the same
    /// text typed on a keyboard that composes accents and on one that does not is the same
    /// password. Control characters are refused: no keyboard types them, and a password
    /// holding one could not be typed again.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        use unicode_normalization::UnicodeNormalization as _;
        if raw.chars().any(char::is_control) {
            return Err(ParseError::new(
                "password",
                "must not contain control characters (no keyboard types them)",
            ));
        }
        let raw: String = raw.nfc().collect();
        let count = raw.chars().count();
        if count < Self::MIN_CHARS {
            return Err(ParseError::new(
                "password",
                format!("must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if count > Self::MAX_CHARS {
            return Err(ParseError::new(
                "password",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw))
    }

    /// The password itself, for hashing and the strength check only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_email_keeps_the_first_letter_and_the_domain() {
        let e = Email::parse("Oscar.Baker@palm-court.example").unwrap();
        assert_eq!(e.masked(), "O\u{2022}\u{2022}\u{2022}@palm-court.example");
        let short = Email::parse("\u{e9}@example.org").unwrap();
        assert_eq!(short.masked(), "\u{e9}\u{2022}\u{2022}\u{2022}@example.org");
    }

    #[test]
    fn emails_are_validated_and_normalized() {
        let e = Email::parse("  Jane.Doe+hoa@Example.ORG ").unwrap();
        assert_eq!(e.as_str(), "Jane.Doe+hoa@Example.ORG");
        assert_eq!(e.normalized(), "jane.doe+hoa@example.org");
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.org",
            "jane@example",
            "ja ne@example.org",
            "jane@exa_mple.org",
            "jane..d@example.org",
            "jane@-example.org",
            "jane\u{0}@example.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@example.org", "a".repeat(65))).is_err());
    }

    #[test]
    fn names_and_addresses_the_documents_cannot_print_are_refused_when_typed() {
        let rare_han = "\u{20000}";
        let e = PersonName::parse(rare_han).unwrap_err();
        assert!(e.message.contains("U+20000"), "{e:?}");
        assert!(Email::parse(&format!("{rare_han}@example.org")).is_err());
        assert!(Email::parse("\u{e000}@example.org").is_err(), "private use");
        // Stored before the rule: still readable.
        assert!(PersonName::from_stored(rare_han).is_ok());
        assert!(Email::from_stored(&format!("{rare_han}@example.org")).is_ok());
        assert!(Email::parse_lookup(&format!("{rare_han}@example.org")).is_ok());
        let json = format!("\"{rare_han}@example.org\"");
        assert!(serde_json::from_str::<Email>(&json).is_ok());
        for name in ["Zoë", "Müller", "张伟", "Σωκράτης", "Nguyễn", "Ōta"] {
            assert!(PersonName::parse(name).is_ok(), "{name}");
        }
        assert!(Email::parse("zoë@example.org").is_ok());
    }

    #[test]
    fn personal_values_never_print_in_debug() {
        let e = Email::parse("jane@example.org").unwrap();
        assert_eq!(format!("{e:?}"), "Email(<personal>)");
        let n = PersonName::parse("Jane").unwrap();
        assert!(!format!("{n:?}").contains("Jane"));
        let p = Password::parse("correct horse").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn names_roles_passwords_and_subjects_parse() {
        assert!(PersonName::parse(" ").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
        assert_eq!(
            PersonName::parse("Zoe\u{308}").unwrap().as_str(),
            "Zo\u{eb}"
        );
        assert!(PersonName::parse("Zoe\u{200b}").is_err());
        // A name stored under older rules still reads back.
        assert!(PersonName::from_stored("Zoe\u{200b}").is_ok());
        assert_eq!(Role::parse("admin").unwrap(), Role::Admin);
        assert!(Role::parse("root").is_err());
        assert!(Role::Owner.requires_mfa() && !Role::Inspector.requires_mfa());
        assert!(Role::Advisor.requires_mfa() && !Role::Reviewer.requires_mfa());
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert_eq!(SubjectCode::parse("42").unwrap().as_i64(), 42);
        assert!(SubjectCode::parse("-1").is_err() && SubjectCode::parse("x").is_err());
    }
}
