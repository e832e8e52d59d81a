//! The words of each message, in plain text and HTML (askama; HTML is escaped). Messages carry
//! the link or code and nothing that is not needed: no votes, no other people's data.

use askama::Template;
use cista_core::platform::notices::{Delivery, Notice};
use cista_core::products::assessment::AssessmentNotice;
use cista_core::products::voting::VotingNotice;

mod invitation;
use invitation::render_invitation;

/// A message ready for a transport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Files sent with an email (the advisor's report, when a form's settings attach it).
    pub attachments: Vec<Attachment>,
}

/// A file attached to an email.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file's name as the recipient sees it; no personal data.
    pub file_name: String,
    /// Its media type, `application/pdf`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    // The bytes may name a client: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

#[derive(Template)]
#[template(path = "assessment_copy.txt")]
struct AssessmentCopyText<'a> {
    first_name: &'a str,
    organization: &'a str,
    title: &'a str,
    band: &'a Option<(String, String)>,
    scores: &'a [(String, String)],
}

#[derive(Template)]
#[template(path = "assessment_copy.html")]
struct AssessmentCopyHtml<'a> {
    first_name: &'a str,
    organization: &'a str,
    title: &'a str,
    band: &'a Option<(String, String)>,
    scores: &'a [(String, String)],
}

#[derive(Template)]
#[template(path = "assessment_result.txt")]
struct AssessmentResultText<'a> {
    first_name: &'a str,
    organization: &'a str,
    title: &'a str,
    band: &'a str,
    subject: &'a str,
    link: &'a str,
    attached: bool,
}

#[derive(Template)]
#[template(path = "assessment_result.html")]
struct AssessmentResultHtml<'a> {
    first_name: &'a str,
    organization: &'a str,
    title: &'a str,
    band: &'a str,
    subject: &'a str,
    link: &'a str,
    attached: bool,
}

#[derive(Template)]
#[template(path = "added.txt")]
struct AddedText<'a> {
    first_name: &'a str,
    organization: &'a str,
    role: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "added.html")]
struct AddedHtml<'a> {
    first_name: &'a str,
    organization: &'a str,
    role: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "reset.txt")]
struct ResetText<'a> {
    first_name: &'a str,
    link: &'a str,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetHtml<'a> {
    first_name: &'a str,
    link: &'a str,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "sms_code.txt")]
struct SmsCodeText<'a> {
    code: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "ballot_published.txt")]
struct BallotPublishedText<'a> {
    first_name: &'a str,
    organization: &'a str,
    title: &'a str,
    opens: &'a str,
    closes: &'a str,
    vote_link: &'a str,
    online_units: &'a [String],
    paper_units: &'a [String],
    set_password_link: &'a Option<String>,
    device_test_link: &'a str,
}

#[derive(Template)]
#[template(path = "ballot_published.html")]
struct BallotPublishedHtml<'a> {
    first_name: &'a str,
    organization: &'a str,
    title: &'a str,
    opens: &'a str,
    closes: &'a str,
    vote_link: &'a str,
    online_units: &'a [String],
    paper_units: &'a [String],
    set_password_link: &'a Option<String>,
    device_test_link: &'a str,
}

#[derive(Template)]
#[template(path = "ballot_reminder.txt")]
struct BallotReminderText<'a> {
    first_name: &'a str,
    organization: &'a str,
    title: &'a str,
    closes: &'a str,
    vote_link: &'a str,
    online_units: &'a [String],
    paper_units: &'a [String],
    set_password_link: &'a Option<String>,
}

#[derive(Template)]
#[template(path = "ballot_reminder.html")]
struct BallotReminderHtml<'a> {
    first_name: &'a str,
    organization: &'a str,
    title: &'a str,
    closes: &'a str,
    vote_link: &'a str,
    online_units: &'a [String],
    paper_units: &'a [String],
    set_password_link: &'a Option<String>,
}

#[derive(Template)]
#[template(path = "ballot_sms.txt")]
struct BallotSmsText<'a> {
    organization: &'a str,
    title: &'a str,
    closes: &'a str,
    vote_link: &'a str,
    reminder: bool,
}

/// Renders a delivery's notice for its recipient.
pub fn render(delivery: &Delivery) -> Result<Rendered, askama::Error> {
    let first_name = delivery.first_name.as_str();
    Ok(match &delivery.notice {
        Notice::Invitation {
            organization,
            role,
            link,
            expires_at,
        } => render_invitation(delivery, false, organization, role, link, *expires_at)?,
        Notice::JoinInvitation {
            organization,
            role,
            link,
            expires_at,
        } => render_invitation(delivery, true, organization, role, link, *expires_at)?,
        Notice::AddedToOrganization {
            organization,
            role,
            sign_in_link,
        } => Rendered {
            subject: format!("You were added to {organization} on Cista"),
            text: AddedText {
                first_name,
                organization,
                role,
                link: sign_in_link,
            }
            .render()?,
            html: Some(
                AddedHtml {
                    first_name,
                    organization,
                    role,
                    link: sign_in_link,
                }
                .render()?,
            ),
            ..Default::default()
        },
        Notice::PasswordReset { link, expires_at } => {
            let expires = delivery.time_zone.format(*expires_at);
            Rendered {
                subject: "Choose a new Cista password".to_owned(),
                text: ResetText {
                    first_name,
                    link,
                    expires: &expires,
                }
                .render()?,
                html: Some(
                    ResetHtml {
                        first_name,
                        link,
                        expires: &expires,
                    }
                    .render()?,
                ),
                ..Default::default()
            }
        }
        Notice::Voting(notice) => render_voting(first_name, notice)?,
        Notice::Assessment(notice) => render_assessment(first_name, notice)?,
        // Words staff wrote (MiniJinja, checked when saved), in plain text only: no HTML part
        // to escape them into.
        Notice::BreachNotice { words, values } => {
            let (subject, text) = words
                .render(first_name, values)
                .map_err(|e| askama::Error::Custom(Box::new(e)))?;
            Rendered {
                subject,
                text,
                html: None,
                ..Default::default()
            }
        }
        Notice::SmsCode { code, minutes } => Rendered {
            subject: String::new(),
            text: SmsCodeText {
                code,
                minutes: *minutes,
            }
            .render()?,
            html: None,
            ..Default::default()
        },
    })
}

/// Renders a notice of the embedded assessment for `first_name`. The report itself, when
/// the form attaches it, is added by the worker (`OutboxWorker`), which has the core at hand.
fn render_assessment(
    first_name: &str,
    notice: &AssessmentNotice,
) -> Result<Rendered, askama::Error> {
    let (organization, title, subject, band, link, attach_report) = match notice {
        AssessmentNotice::AssessmentResult {
            organization,
            title,
            subject,
            band,
            link,
            attach_report,
            ..
        } => (organization, title, subject, band, link, *attach_report),
        AssessmentNotice::ResultCopy {
            organization,
            title,
            band,
            scores,
        } => {
            return Ok(Rendered {
                subject: format!("Your result: {title}"),
                text: AssessmentCopyText {
                    first_name,
                    organization,
                    title,
                    band,
                    scores,
                }
                .render()?,
                html: Some(
                    AssessmentCopyHtml {
                        first_name,
                        organization,
                        title,
                        band,
                        scores,
                    }
                    .render()?,
                ),
                ..Default::default()
            });
        }
    };
    Ok(Rendered {
        subject: format!("{organization}: a new result for {title}"),
        text: AssessmentResultText {
            first_name,
            organization,
            title,
            band,
            subject,
            link,
            attached: attach_report,
        }
        .render()?,
        html: Some(
            AssessmentResultHtml {
                first_name,
                organization,
                title,
                band,
                subject,
                link,
                attached: attach_report,
            }
            .render()?,
        ),
        ..Default::default()
    })
}

/// Renders a voting notice (a published ballot, a reminder, or their SMS) for `first_name`.
fn render_voting(first_name: &str, notice: &VotingNotice) -> Result<Rendered, askama::Error> {
    Ok(match notice {
        VotingNotice::BallotPublished {
            organization,
            title,
            opens,
            closes,
            vote_link,
            online_units,
            paper_units,
            set_password_link,
            device_test_link,
        } => Rendered {
            subject: format!("{organization}: vote on {title}"),
            text: BallotPublishedText {
                first_name,
                organization,
                title,
                opens,
                closes,
                vote_link,
                online_units,
                paper_units,
                set_password_link,
                device_test_link,
            }
            .render()?,
            html: Some(
                BallotPublishedHtml {
                    first_name,
                    organization,
                    title,
                    opens,
                    closes,
                    vote_link,
                    online_units,
                    paper_units,
                    set_password_link,
                    device_test_link,
                }
                .render()?,
            ),
            ..Default::default()
        },
        VotingNotice::BallotReminder {
            organization,
            title,
            closes,
            vote_link,
            online_units,
            paper_units,
            set_password_link,
        } => Rendered {
            subject: format!("Reminder: {title} closes {closes}"),
            text: BallotReminderText {
                first_name,
                organization,
                title,
                closes,
                vote_link,
                online_units,
                paper_units,
                set_password_link,
            }
            .render()?,
            html: Some(
                BallotReminderHtml {
                    first_name,
                    organization,
                    title,
                    closes,
                    vote_link,
                    online_units,
                    paper_units,
                    set_password_link,
                }
                .render()?,
            ),
            ..Default::default()
        },
        VotingNotice::BallotSms {
            organization,
            title,
            closes,
            vote_link,
            reminder,
        } => Rendered {
            subject: String::new(),
            text: BallotSmsText {
                organization,
                title,
                closes,
                vote_link,
                reminder: *reminder,
            }
            .render()?,
            html: None,
            ..Default::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cista_core::ports::Channel;
    use cista_types::{PersonName, Timestamp};

    fn delivery(notice: Notice) -> Delivery {
        Delivery {
            id: 1,
            channel: notice.channel(),
            address: "x@example.org".into(),
            first_name: PersonName::parse("Ann <b>").unwrap(),
            notice,
            attempts: 0,
            time_zone: cista_types::TimeZoneName::parse("America/New_York").unwrap(),
        }
    }

    #[test]
    fn a_breach_notice_is_the_staffs_words_for_this_person_in_plain_text() {
        use cista_core::platform::breach::template::{NoticeTemplate, NoticeValues};
        let r = render(&delivery(Notice::BreachNotice {
            words: NoticeTemplate::default(),
            values: NoticeValues::sample(),
        }))
        .unwrap();
        assert_eq!(
            r.subject,
            "Palm Court Condominium Association: a security incident that may concern your data"
        );
        assert!(r.text.starts_with("Hello Ann <b>,"), "{}", r.text);
        assert!(r.text.contains("votes and units"), "{}", r.text);
        assert!(r.html.is_none(), "plain text only");
    }

    #[test]
    fn an_invitation_has_the_link_in_text_and_escaped_html() {
        let r = render(&delivery(Notice::Invitation {
            organization: "Palm & Court".into(),
            role: "Owner".into(),
            link: "https://vote.example.org/i/abc".into(),
            expires_at: Timestamp::parse_rfc3339("2026-11-25T14:03:00Z").unwrap(),
        }))
        .unwrap();
        assert_eq!(r.subject, "You are invited to Palm & Court on Cista");
        assert!(r.text.contains("https://vote.example.org/i/abc"));
        assert!(
            r.text.contains("25 November 2026, 09:03 EST"),
            "the expiry is in the organization's zone, with its abbreviation: {}",
            r.text
        );
        assert!(!r.text.contains("UTC"), "{}", r.text);
        let html = r.html.unwrap();
        assert!(
            html.contains("Palm &#38; Court") || html.contains("Palm &amp; Court"),
            "{html}"
        );
        assert!(
            html.contains("Ann &#60;b&#62;") || html.contains("Ann &lt;b&gt;"),
            "{html}"
        );
        assert!(
            html.contains(r#"href="https://vote.example.org/i/abc""#),
            "{html}"
        );
    }

    #[test]
    fn an_invitation_to_join_asks_for_consent_and_says_what_is_shared() {
        let r = render(&delivery(Notice::JoinInvitation {
            organization: "Bay & Co".into(),
            role: "Member".into(),
            link: "https://vote.example.org/j/abc".into(),
            expires_at: Timestamp::parse_rfc3339("2026-11-25T14:03:00Z").unwrap(),
        }))
        .unwrap();
        assert_eq!(r.subject, "Bay & Co invites you to join it on Cista");
        for words in [
            "Nothing changes unless you accept",
            "its staff see the name and contact details",
            "https://vote.example.org/j/abc",
            "25 November 2026, 09:03 EST",
        ] {
            assert!(r.text.contains(words), "{words}: {}", r.text);
        }
        assert!(!r.text.contains("Choose your password"), "{}", r.text);
        let html = r.html.unwrap();
        assert!(html.contains("See the invitation"), "{html}");
        assert!(!html.contains("Choose your password"), "{html}");
        assert!(
            html.contains("Bay &#38; Co") || html.contains("Bay &amp; Co"),
            "{html}"
        );
    }

    #[test]
    fn a_ballot_notice_names_units_links_and_never_a_vote() {
        let r = render(&delivery(Notice::Voting(VotingNotice::BallotPublished {
            organization: "Palm Court".into(),
            title: "Annual election".into(),
            opens: "1 December 2026, 09:00 EST".into(),
            closes: "15 December 2026, 17:00 EST".into(),
            vote_link: "https://vote.example.org/vote/42".into(),
            online_units: vec!["101".into(), "102".into()],
            paper_units: vec!["7".into()],
            set_password_link: Some("https://vote.example.org/i/tok".into()),
            device_test_link: "https://vote.example.org/vote/test-device".into(),
        })))
        .unwrap();
        assert_eq!(r.subject, "Palm Court: vote on Annual election");
        for needle in [
            "units 101, 102",
            "Unit 7 votes on paper",
            "https://vote.example.org/vote/42",
            "https://vote.example.org/i/tok",
            "closes 15 December 2026, 17:00 EST",
            "test-device",
        ] {
            assert!(r.text.contains(needle), "{needle} in {}", r.text);
        }
        assert!(
            r.html
                .unwrap()
                .contains(r#"href="https://vote.example.org/vote/42""#)
        );
        let sms = render(&delivery(Notice::Voting(VotingNotice::BallotSms {
            organization: "Palm Court".into(),
            title: "Annual election".into(),
            closes: "15 December 2026, 17:00 EST".into(),
            vote_link: "https://vote.example.org/vote/42".into(),
            reminder: true,
        })))
        .unwrap();
        assert!(sms.text.len() <= 160, "{}", sms.text);
        assert!(sms.text.contains("reminder"));
    }

    #[test]
    fn a_clients_copy_holds_only_what_they_were_shown_escaped_in_html() {
        let r = render(&delivery(Notice::Assessment(
            AssessmentNotice::ResultCopy {
                organization: "Harbor & Co".into(),
                title: "Risk <profile>".into(),
                band: Some(("Growth".into(), "Swings are fine.".into())),
                scores: vec![("Risk score".into(), "71".into())],
            },
        )))
        .unwrap();
        assert_eq!(r.subject, "Your result: Risk <profile>");
        assert!(
            r.text.contains("Your result: Growth\nSwings are fine."),
            "{}",
            r.text
        );
        assert!(r.text.contains("Risk score: 71"), "{}", r.text);
        let html = r.html.unwrap();
        assert!(
            html.contains("Risk &#60;profile&#62;") || html.contains("Risk &lt;profile&gt;"),
            "{html}"
        );
        assert!(!html.contains("<profile>"), "{html}");
    }

    #[test]
    fn an_sms_code_is_short_and_says_how_long_it_lasts() {
        let r = render(&delivery(Notice::SmsCode {
            code: "123456".into(),
            minutes: 10,
        }))
        .unwrap();
        assert!(r.text.contains("123456") && r.text.contains("10 minutes"));
        assert!(r.text.len() <= 160, "one SMS segment: {}", r.text.len());
        assert!(r.html.is_none());
        assert_eq!(
            Notice::SmsCode {
                code: String::new(),
                minutes: 1
            }
            .channel(),
            Channel::Sms
        );
    }
}
