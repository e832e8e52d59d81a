//! Secrets from configuration: a database URL that may hold a password, the SMTP password, the
//! SMS provider's token, the metrics token, an S3 secret key. A `Secret` never prints:
//! `Debug`, `Display` and serialisation (e.g. `cista configtest --print`) all show
//! `<redacted>`, and its memory is wiped when it is dropped (the `secrecy` crate, following
//! OWASP's Secrets Management Cheat Sheet: keep secrets out of logs and output). The value is
//! read only through [`Secret::expose`], at the one place that hands it to a library.

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What a secret shows wherever it would otherwise print.
pub const REDACTED: &str = "<redacted>";

/// A secret string; see the module documentation.
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret itself, to hand to the library that needs it. Never log or show it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl Default for Secret {
    fn default() -> Self {
        Self::new(String::new())
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Self::new(self.expose())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// For command-line arguments that carry a secret (e.g. a database URL).
impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(value))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Serialises as `<redacted>`: nothing that writes a configuration out can leak a secret.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_but_can_be_handed_on() {
        let secret = Secret::new("postgres://cista:hunter2@db/cista");
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(secret.to_string(), REDACTED);
        assert_eq!(
            serde_json::to_string(&Some(secret.clone())).unwrap(),
            "\"<redacted>\""
        );
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            url: Secret,
        }
        let shown = format!(
            "{:?}",
            Holder {
                url: secret.clone()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(secret.expose(), "postgres://cista:hunter2@db/cista");
        let read: Secret = serde_json::from_str("\"s3cr3t\"").unwrap();
        assert_eq!(read.expose(), "s3cr3t");
    }
}
