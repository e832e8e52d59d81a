//! Responsible disclosure (issue 14, item 1): the instance's `/.well-known/security.txt` as
//! RFC 9116 defines it, built from the `[disclosure]` configuration, and the facts the
//! `/security/disclosure` page and the trust page show. An expired file is not served (RFC
//! 9116 §2.5.5: its content is stale and should not be used); the trust page says so.

use cista_types::Timestamp;

/// RFC 9116 §2.5.5: "it is RECOMMENDED that the value of this field be less than a year into
/// the future to avoid staleness". Cista refuses more than that.
pub const MAX_EXPIRES_AHEAD: time::Duration = time::Duration::days(366);

/// A checked security.txt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecurityTxt {
    /// `Contact:` URIs, in order of preference (`mailto:`, `https:`, `tel:`), at least one.
    pub contact: Vec<String>,
    /// `Expires:`; the file is not served from then on.
    pub expires: Timestamp,
    /// `Preferred-Languages:` language tags (RFC 5646), such as `en`, `es`.
    pub preferred_languages: Vec<String>,
    /// `Canonical:`: where this file lives (`<public origin>/.well-known/security.txt`).
    pub canonical: String,
    /// `Policy:`: the disclosure policy (`<public origin>/security/disclosure` by default).
    pub policy: String,
    /// `Encryption:`: a key to encrypt reports with (`https:` or `openpgp4fpr:`), if any.
    pub encryption: Option<String>,
    /// `Acknowledgments:`: where reporters are thanked, if anywhere.
    pub acknowledgments: Option<String>,
}

/// What the operator wrote in `[disclosure]`, before checking.
#[derive(Debug, Clone, Default)]
pub struct DisclosureSettings<'a> {
    pub contact: &'a [String],
    pub expires: Option<&'a str>,
    pub preferred_languages: &'a [String],
    pub policy: Option<&'a str>,
    pub encryption: Option<&'a str>,
    pub acknowledgments: Option<&'a str>,
}

impl SecurityTxt {
    /// Checks the settings' shape for the instance at `public_origin` (the dates are
    /// [`SecurityTxt::expiry_problem`]'s). Errors name the `disclosure.*` key and the fix: no
    /// contact, a contact that is not a `mailto:`, `https:` or `tel:` URI, no Expires or one
    /// that is not RFC 3339, a bad language tag, a policy or encryption address of another
    /// scheme.
    pub fn build(settings: &DisclosureSettings<'_>, public_origin: &str) -> Result<Self, String> {
        if settings.contact.is_empty() {
            return Err(
                "disclosure.contact is missing: name where vulnerabilities are reported, such as \
                 [\"mailto:security@example.org\"] (RFC 9116 requires a Contact)"
                    .to_owned(),
            );
        }
        for contact in settings.contact {
            check_uri(
                contact,
                &["mailto:", "https://", "tel:"],
                "disclosure.contact",
            )?;
        }
        let Some(expires) = settings.expires.filter(|e| !e.trim().is_empty()) else {
            return Err(
                "disclosure.expires is missing: give a date less than a year ahead, such as \
                 2027-06-30T00:00:00Z (RFC 9116 requires Expires)"
                    .to_owned(),
            );
        };
        let expires = Timestamp::parse_rfc3339(expires.trim()).map_err(|_| {
            format!(
                "disclosure.expires `{expires}` is not an RFC 3339 time such as \
                 2027-06-30T00:00:00Z"
            )
        })?;
        let mut languages = Vec::new();
        for tag in settings.preferred_languages {
            let tag = tag.trim();
            let valid = !tag.is_empty()
                && tag.len() <= 35
                && tag.split('-').all(|part| {
                    !part.is_empty()
                        && part.len() <= 8
                        && part.chars().all(|c| c.is_ascii_alphanumeric())
                });
            if !valid {
                return Err(format!(
                    "disclosure.preferred_languages `{tag}` is not a language tag such as en or es"
                ));
            }
            languages.push(tag.to_owned());
        }
        if languages.is_empty() {
            languages.push("en".to_owned());
        }
        let policy = match settings.policy.filter(|p| !p.trim().is_empty()) {
            Some(p) => check_uri(p, &["https://"], "disclosure.policy")?,
            None => format!("{public_origin}/security/disclosure"),
        };
        let encryption = settings
            .encryption
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                check_uri(
                    e,
                    &["https://", "openpgp4fpr:", "dns:"],
                    "disclosure.encryption",
                )
            })
            .transpose()?;
        let acknowledgments = settings
            .acknowledgments
            .filter(|a| !a.trim().is_empty())
            .map(|a| check_uri(a, &["https://"], "disclosure.acknowledgments"))
            .transpose()?;
        Ok(Self {
            contact: settings
                .contact
                .iter()
                .map(|c| c.trim().to_owned())
                .collect(),
            expires,
            preferred_languages: languages,
            canonical: format!("{public_origin}/.well-known/security.txt"),
            policy,
            encryption,
            acknowledgments,
        })
    }

    /// What is wrong with the dates at `now`, naming the fix: Expires already past (the file
    /// is stale and not served) or more than a year ahead (RFC 9116 §2.5.5). `None`: fine.
    pub fn expiry_problem(&self, now: Timestamp) -> Option<String> {
        if self.expired(now) {
            return Some(format!(
                "disclosure.expires {} is past: security.txt is stale and is not served; \
                 confirm the contacts and set a new date less than a year ahead",
                self.expires_field()
            ));
        }
        if self.expires > now.plus(MAX_EXPIRES_AHEAD) {
            return Some(format!(
                "disclosure.expires {} is more than a year ahead: set a date within a year so \
                 the contacts are confirmed again (RFC 9116 §2.5.5)",
                self.expires_field()
            ));
        }
        None
    }

    /// Whether the file has expired at `now` (it is then not served).
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires <= now
    }

    /// The file, as RFC 9116 §2.5 lays it out: one `Field: value` per line, CRLF-free, UTF-8.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# Report security vulnerabilities in this Cista instance to the contacts below.\n",
        );
        for contact in &self.contact {
            out.push_str(&format!("Contact: {contact}\n"));
        }
        out.push_str(&format!("Expires: {}\n", self.expires_field()));
        if let Some(encryption) = &self.encryption {
            out.push_str(&format!("Encryption: {encryption}\n"));
        }
        if let Some(acknowledgments) = &self.acknowledgments {
            out.push_str(&format!("Acknowledgments: {acknowledgments}\n"));
        }
        out.push_str(&format!(
            "Preferred-Languages: {}\n",
            self.preferred_languages.join(", ")
        ));
        out.push_str(&format!("Canonical: {}\n", self.canonical));
        out.push_str(&format!("Policy: {}\n", self.policy));
        out
    }

    /// `Expires` in the RFC 3339 form RFC 9116's examples use: whole seconds, `Z`.
    pub fn expires_field(&self) -> String {
        let at = self.expires.as_offset().to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        )
    }
}

/// The value trimmed, if it starts with one of `schemes` and parses as a URL without spaces.
fn check_uri(value: &str, schemes: &[&str], key: &str) -> Result<String, String> {
    let value = value.trim();
    let scheme_ok = schemes.iter().any(|s| {
        value.len() > s.len()
            && value
                .get(..s.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(s))
    });
    if !scheme_ok || value.contains(char::is_whitespace) || url::Url::parse(value).is_err() {
        return Err(format!(
            "{key} `{value}` must be a URI starting with {}",
            schemes.join(" or ")
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-12-02T12:00:00Z").unwrap()
    }

    fn settings<'a>(contact: &'a [String], expires: &'a str) -> DisclosureSettings<'a> {
        DisclosureSettings {
            contact,
            expires: Some(expires),
            ..DisclosureSettings::default()
        }
    }

    #[test]
    fn a_complete_file_has_every_field_rfc_9116_asks_for() {
        let contact = vec!["mailto:security@example.org".to_owned()];
        let languages = vec!["en".to_owned(), "es".to_owned()];
        let txt = SecurityTxt::build(
            &DisclosureSettings {
                preferred_languages: &languages,
                ..settings(&contact, "2027-06-30T00:00:00+02:00")
            },
            "https://vote.example.org",
        )
        .unwrap();
        assert_eq!(txt.expiry_problem(now()), None);
        assert_eq!(
            txt.render(),
            "# Report security vulnerabilities in this Cista instance to the contacts below.\n\
             Contact: mailto:security@example.org\n\
             Expires: 2027-06-29T22:00:00Z\n\
             Preferred-Languages: en, es\n\
             Canonical: https://vote.example.org/.well-known/security.txt\n\
             Policy: https://vote.example.org/security/disclosure\n"
        );
        assert!(!txt.expired(now()));
        assert!(txt.expired(Timestamp::parse_rfc3339("2027-06-30T00:00:00Z").unwrap()));
    }

    #[test]
    fn missing_past_far_and_malformed_values_are_refused_by_name() {
        let contact = vec!["mailto:security@example.org".to_owned()];
        let origin = "https://vote.example.org";
        let refused = |s: &DisclosureSettings<'_>| SecurityTxt::build(s, origin).unwrap_err();
        let dated = |e: &str| {
            SecurityTxt::build(&settings(&contact, e), origin)
                .unwrap()
                .expiry_problem(now())
                .unwrap()
        };
        assert!(refused(&settings(&[], "2027-01-01T00:00:00Z")).contains("disclosure.contact"));
        assert!(dated("2026-12-01T00:00:00Z").contains("is past"));
        assert!(dated("2028-01-01T00:00:00Z").contains("more than a year"));
        assert!(refused(&settings(&contact, "next year")).contains("RFC 3339"));
        assert!(
            refused(&DisclosureSettings {
                expires: None,
                ..settings(&contact, "")
            })
            .contains("disclosure.expires is missing")
        );
        let bad_contact = vec!["security@example.org".to_owned()];
        assert!(refused(&settings(&bad_contact, "2027-01-01T00:00:00Z")).contains("mailto:"));
        let languages = vec!["en; DROP".to_owned()];
        assert!(
            refused(&DisclosureSettings {
                preferred_languages: &languages,
                ..settings(&contact, "2027-01-01T00:00:00Z")
            })
            .contains("preferred_languages")
        );
        assert!(
            refused(&DisclosureSettings {
                policy: Some("http://example.org/policy"),
                ..settings(&contact, "2027-01-01T00:00:00Z")
            })
            .contains("disclosure.policy")
        );
    }
}
