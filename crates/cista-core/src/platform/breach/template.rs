//! The words of a breach notice (GDPR Art. 34): a subject line and a body that staff edit for
//! each breach, written in MiniJinja (Jinja2's syntax) so that each person's notice names what
//! of theirs the incident could have touched. The names a template may use are listed in
//! [`NAMES`]; any other name is refused when the template is saved, not when it is sent.
//! Rendering is sandboxed (no file or network access) and fuel-bounded, so a loop written by
//! mistake stops with an error instead of holding the worker.
//!
//! The default template carries `[FILL IN: …]` markers where Art. 34(2) asks for what only the
//! organization knows (its contact point, the likely consequences, the measures taken); a
//! notice is not sent while one is left.

use crate::{Error, Result};
use minijinja::{Environment, UndefinedBehavior, Value, context};
use serde::{Deserialize, Serialize};

/// The longest subject line, in characters.
pub const MAX_SUBJECT: usize = 200;
/// The longest body, in characters.
pub const MAX_BODY: usize = 20_000;
/// What a placeholder still to be replaced starts with.
pub const FILL_IN: &str = "[FILL IN";
/// Rendering steps a template may take (MiniJinja's fuel); a plain notice uses a few hundred.
const FUEL: u64 = 100_000;

/// The names a notice template may use, with what each holds.
pub const NAMES: [(&str, &str); 7] = [
    (
        "first_name",
        "the person's first name, read from the vault when the email is sent",
    ),
    ("organization", "the organization's name"),
    (
        "what_happened",
        "the breach's description, as recorded with it",
    ),
    (
        "window_start",
        "when the incident window starts, in the organization's time zone",
    ),
    (
        "window_end",
        "when the incident window ends, in the organization's time zone",
    ),
    ("time_zone", "the organization's time zone"),
    (
        "kinds_of_data",
        "the kinds of this person's data the incident could have touched",
    ),
];

/// A notice's words: a one-line subject and a plain-text body, both MiniJinja templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeTemplate {
    pub subject: String,
    pub body: String,
}

/// What one person's notice is rendered with (see [`NAMES`]); everything but the first name
/// is fixed when the notice is queued, the first name is read from the vault at delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeValues {
    pub organization: String,
    pub what_happened: String,
    pub window_start: String,
    pub window_end: String,
    pub time_zone: String,
    pub kinds_of_data: String,
}

impl NoticeValues {
    /// Values to check and preview a template with.
    pub fn sample() -> Self {
        Self {
            organization: "Palm Court Condominium Association".to_owned(),
            what_happened: "A copy of the database was exposed.".to_owned(),
            window_start: "Dec 1, 2026 8:00 AM".to_owned(),
            window_end: "Dec 1, 2026 11:30 AM".to_owned(),
            time_zone: "America/New_York".to_owned(),
            kinds_of_data: "contact details and membership, votes and units".to_owned(),
        }
    }
}

impl Default for NoticeTemplate {
    fn default() -> Self {
        Self {
            subject: "{{ organization }}: a security incident that may concern your data"
                .to_owned(),
            body: DEFAULT_BODY.to_owned(),
        }
    }
}

const DEFAULT_BODY: &str = "Hello {{ first_name }},

We are writing to tell you about a security incident at {{ organization }} that may have \
concerned your personal data.

What happened: {{ what_happened }}

When: between {{ window_start }} and {{ window_end }} ({{ time_zone }}).

Which of your data it could have touched: {{ kinds_of_data }}.

What it could mean for you: [FILL IN: the likely consequences of the breach for the people \
concerned.]

What we have done: [FILL IN: the measures taken or proposed to address the breach and limit \
its possible adverse effects.]

What you can do: [FILL IN: for example, change your password, and be wary of messages that \
claim to come from us and ask for your password or a payment.]

Who to contact: [FILL IN: the name and contact details of your data protection officer or \
another contact point.]

{{ organization }}
";

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}

fn values(first_name: &str, v: &NoticeValues) -> Value {
    context! {
        first_name => first_name,
        organization => v.organization.as_str(),
        what_happened => v.what_happened.as_str(),
        window_start => v.window_start.as_str(),
        window_end => v.window_end.as_str(),
        time_zone => v.time_zone.as_str(),
        kinds_of_data => v.kinds_of_data.as_str(),
    }
}

impl NoticeTemplate {
    /// Checks lengths, that the subject is one line, and that both parts render with sample
    /// values (syntax, and no name outside [`NAMES`]). Errors: `invalid_input` on
    /// `notice_subject` or `notice_body`, with MiniJinja's words and line.
    pub fn check(&self) -> Result<()> {
        if self.subject.trim().is_empty() {
            return Err(Error::invalid("notice_subject", "the subject is empty"));
        }
        if self.subject.chars().count() > MAX_SUBJECT || self.subject.contains(['\r', '\n']) {
            return Err(Error::invalid(
                "notice_subject",
                format!("the subject is one line of at most {MAX_SUBJECT} characters"),
            ));
        }
        if self.body.trim().is_empty() {
            return Err(Error::invalid("notice_body", "the body is empty"));
        }
        super::refuse_control("notice_subject", &self.subject)?;
        super::refuse_control("notice_body", &self.body)?;
        if self.body.chars().count() > MAX_BODY {
            return Err(Error::invalid(
                "notice_body",
                format!("the body is at most {MAX_BODY} characters"),
            ));
        }
        let env = environment();
        let sample = values("Alex", &NoticeValues::sample());
        for (field, part, source) in [
            ("notice_subject", "the subject", &self.subject),
            ("notice_body", "the body", &self.body),
        ] {
            let template = env
                .template_from_str(source)
                .map_err(|e| Error::invalid(field, template_problem(part, &e)))?;
            // Name the unknown name (MiniJinja's strict mode only says "undefined value").
            let mut unknown: Vec<String> = template
                .undeclared_variables(false)
                .into_iter()
                .filter(|name| {
                    !NAMES.iter().any(|(known, _)| known == name)
                        && !BUILTIN_FUNCTIONS.contains(&name.as_str())
                })
                .collect();
            unknown.sort();
            if let Some(name) = unknown.first() {
                return Err(Error::invalid(
                    field,
                    format!(
                        "{part} uses `{name}`, which a notice does not know ({})",
                        names()
                    ),
                ));
            }
            template
                .render(sample.clone())
                .map_err(|e| Error::invalid(field, template_problem(part, &e)))?;
        }
        Ok(())
    }

    /// The first `[FILL IN: …]` text left in the subject or body, if any.
    pub fn left_to_fill(&self) -> Option<String> {
        [&self.subject, &self.body].into_iter().find_map(|part| {
            let start = part.find(FILL_IN)?;
            let rest = part.get(start..)?;
            let end = rest.find(']').map_or(rest.len(), |i| i + 1);
            rest.get(..end).map(str::to_owned)
        })
    }

    /// The subject line and body for one person. Errors: `invalid_input` when the template
    /// does not render (it was checked when saved, so only a changed template can fail).
    pub fn render(&self, first_name: &str, v: &NoticeValues) -> Result<(String, String)> {
        let env = environment();
        let ctx = values(first_name, v);
        let subject = env
            .render_str(&self.subject, ctx.clone())
            .map_err(|e| Error::invalid("notice_subject", template_problem("the subject", &e)))?;
        let body = env
            .render_str(&self.body, ctx)
            .map_err(|e| Error::invalid("notice_body", template_problem("the body", &e)))?;
        // A value with a line break must not start a second header line, and a long value
        // (the description) must not make a header some mail servers refuse.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let subject = if subject.chars().count() > MAX_SUBJECT {
            let cut: String = subject.chars().take(MAX_SUBJECT - 1).collect();
            format!("{}…", cut.trim_end())
        } else {
            subject
        };
        Ok((subject, body))
    }

    /// SHA-256 of the subject and body (hex): which words a notice was sent in, for the audit
    /// entries (GDPR Art. 33(5): the breach's documentation), without the words themselves.
    pub fn digest(&self) -> String {
        cista_crypto::Digest32::sha256(&[self.subject.as_bytes(), b"\n\n", self.body.as_bytes()])
            .to_hex()
    }
}

/// MiniJinja's global functions (with the `builtins` feature), which a template may call.
const BUILTIN_FUNCTIONS: [&str; 4] = ["range", "dict", "namespace", "debug"];

/// `a notice may use first_name, organization, …`.
fn names() -> String {
    let names: Vec<&str> = NAMES.iter().map(|(name, _)| *name).collect();
    format!("a notice may use {}", names.join(", "))
}

/// MiniJinja's words for what is wrong in `part` (`the body`) and the line of that part,
/// without the template's name.
fn template_problem(part: &str, e: &minijinja::Error) -> String {
    let mut detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    if e.kind() == minijinja::ErrorKind::UndefinedError {
        detail.push_str(&format!(" ({})", names()));
    }
    match e.line() {
        Some(line) => format!("{part}, line {line}: {}{detail}", e.kind()),
        None => format!("{part}: {}{detail}", e.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_renders_and_asks_for_what_only_the_organization_knows() {
        let template = NoticeTemplate::default();
        template.check().unwrap();
        let (subject, body) = template.render("Ivy", &NoticeValues::sample()).unwrap();
        assert_eq!(
            subject,
            "Palm Court Condominium Association: a security incident that may concern your data"
        );
        assert!(body.starts_with("Hello Ivy,"), "{body}");
        assert!(body.contains("contact details and membership, votes and units"));
        let left = template.left_to_fill().unwrap();
        assert!(
            left.starts_with("[FILL IN: the likely consequences"),
            "{left}"
        );
        assert!(left.ends_with(']'), "{left}");
    }

    #[test]
    fn unknown_names_bad_syntax_and_runaway_loops_are_refused_when_saved() {
        let with = |body: &str| NoticeTemplate {
            subject: "Notice".to_owned(),
            body: body.to_owned(),
        };
        let unknown = with("Hello {{ last_name }}").check().unwrap_err();
        assert!(
            matches!(&unknown, Error::InvalidInput { field, reason }
                if field == "notice_body"
                    && reason.starts_with("the body uses `last_name`, which a notice does not know")
                    && reason.contains("first_name, organization")),
            "{unknown:?}"
        );
        let syntax = with("Hello\n{{ first_name").check().unwrap_err();
        assert!(
            matches!(&syntax, Error::InvalidInput { reason, .. } if reason.starts_with("the body, line 2: ")),
            "{syntax:?}"
        );
        with("{% for i in range(2) %}{{ loop.index }}{% endfor %}")
            .check()
            .unwrap();
        let runaway =
            with("{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}")
                .check()
                .unwrap_err();
        assert!(matches!(runaway, Error::InvalidInput { .. }), "{runaway:?}");
        let two_lines = NoticeTemplate {
            subject: "One\nTwo".to_owned(),
            body: "x".to_owned(),
        };
        assert!(two_lines.check().is_err());
        assert!(with("Filled in.").left_to_fill().is_none());
    }

    #[test]
    fn control_characters_are_refused_and_a_long_subject_is_cut() {
        let with_nul = NoticeTemplate {
            subject: "Notice".to_owned(),
            body: "a\u{0}b".to_owned(),
        };
        assert!(
            matches!(with_nul.check(), Err(Error::InvalidInput { field, .. }) if field == "notice_body")
        );
        let mut v = NoticeValues::sample();
        v.organization = "x".repeat(5000);
        let template = NoticeTemplate {
            subject: "{{ organization }}".to_owned(),
            body: "x".to_owned(),
        };
        let (subject, _) = template.render("Ivy", &v).unwrap();
        assert_eq!(subject.chars().count(), MAX_SUBJECT);
        assert!(subject.ends_with('…'));
    }

    #[test]
    fn a_value_cannot_add_a_line_to_the_subject() {
        let template = NoticeTemplate {
            subject: "{{ organization }}".to_owned(),
            body: "x".to_owned(),
        };
        let mut v = NoticeValues::sample();
        v.organization = "Palm\r\nBcc: someone@example.org".to_owned();
        let (subject, _) = template.render("Ivy", &v).unwrap();
        assert_eq!(subject, "Palm Bcc: someone@example.org");
    }

    #[test]
    fn every_name_is_given_a_value() {
        let all: String = NAMES
            .iter()
            .map(|(name, _)| format!("{{{{ {name} }}}}"))
            .collect();
        let template = NoticeTemplate {
            subject: "s".to_owned(),
            body: all,
        };
        template.check().unwrap();
    }
}
