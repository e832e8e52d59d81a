//! Web origins (RFC 6454): the scheme, host and port a browser names in the `Origin` header,
//! as an organization lists the sites allowed to embed its forms.

use crate::ParseError;
use std::fmt;

/// An HTTPS origin in its ASCII serialization (RFC 6454 §6.2, WHATWG URL "origin"):
/// `https://host` or `https://host:port`, the host lower-case and punycoded, the default port
/// 443 left out. Exactly what a browser sends in `Origin`, so comparing the two is comparing
/// strings. Plain `http` is refused: a page that is not on TLS can be rewritten on the way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct WebOrigin(String);

impl WebOrigin {
    /// The longest origin accepted, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Reads an origin as a person types it (`https://www.example.com`, with or without a
    /// trailing `/`, any letter case) or as a browser sends it. A path, query, fragment or
    /// user name is refused rather than dropped: the person may have meant something else.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let what = "web origin";
        let trimmed = raw.trim();
        if trimmed.len() > Self::MAX_LEN {
            return Err(ParseError::new(
                what,
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        let url = url::Url::parse(trimmed).map_err(|e| {
            ParseError::new(
                what,
                format!(
                    "{trimmed:?} is not a web address ({e}); write it as https://www.example.com"
                ),
            )
        })?;
        if url.scheme() != "https" {
            return Err(ParseError::new(
                what,
                "must start with https:// (a page without TLS can be changed on its way)",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ParseError::new(
                what,
                "must not contain a user name or password",
            ));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(ParseError::new(
                what,
                "must be only https:// and the site's name (and port), without a path",
            ));
        }
        match url.origin() {
            url::Origin::Tuple(..) => Ok(Self(url.origin().ascii_serialization())),
            url::Origin::Opaque(_) => Err(ParseError::new(what, "has no host")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for WebOrigin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(|e| serde::de::Error::custom(format!("{} {}", e.what, e.message)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_serialized_as_browsers_send_them() {
        for (typed, origin) in [
            ("https://www.example.com", "https://www.example.com"),
            ("https://WWW.Example.COM/", "https://www.example.com"),
            ("  https://example.com:443  ", "https://example.com"),
            ("https://localhost:8444", "https://localhost:8444"),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
            ("https://[::1]:8444", "https://[::1]:8444"),
            ("https://127.0.0.1:9000", "https://127.0.0.1:9000"),
        ] {
            assert_eq!(WebOrigin::parse(typed).unwrap().as_str(), origin, "{typed}");
        }
    }

    #[test]
    fn anything_but_a_bare_https_origin_is_refused_with_the_reason() {
        for (typed, reason) in [
            ("http://www.example.com", "https://"),
            ("www.example.com", "not a web address"),
            ("https://example.com/page", "without a path"),
            ("https://example.com/?a=1", "without a path"),
            ("https://example.com/#top", "without a path"),
            ("https://user:pw@example.com", "user name"),
            ("null", "not a web address"),
            ("", "not a web address"),
            ("javascript:alert(1)", "https://"),
            ("data:text/html,x", "https://"),
        ] {
            let refused = WebOrigin::parse(typed).unwrap_err();
            assert!(
                refused.message.contains(reason),
                "{typed}: {}",
                refused.message
            );
        }
        let long = format!("https://{}.example", "a".repeat(300));
        assert!(WebOrigin::parse(&long).is_err());
    }

    #[test]
    fn deserializing_checks_too() {
        let ok: WebOrigin = serde_json::from_str(r#""https://A.example/""#).unwrap();
        assert_eq!(ok.as_str(), "https://a.example");
        assert!(serde_json::from_str::<WebOrigin>(r#""http://a.example""#).is_err());
    }
}
