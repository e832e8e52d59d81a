//! What association voting tells people: publication notices, reminders and their SMS form.
//! The words are rendered at delivery (`cista-notify`); here is only what a message says. The
//! kinds fold into the platform's `Notice` through one `From`; their stored form (a JSON object
//! tagged by `template`) is the same as when they were platform variants, so messages already in
//! the outbox still open.

use crate::ports::Channel;
use serde::{Deserialize, Serialize};

/// A message of association voting. Never any choice or count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "kebab-case")]
pub enum VotingNotice {
    /// A ballot was published: when to vote, for which units, how (FL-11). Carries a
    /// set-password link for owners who have none yet.
    BallotPublished {
        organization: String,
        title: String,
        opens: String,
        closes: String,
        vote_link: String,
        /// Units this person can vote for online.
        online_units: Vec<String>,
        /// Units that vote on paper (no consent on record, or opted out).
        paper_units: Vec<String>,
        set_password_link: Option<String>,
        device_test_link: String,
    },
    /// A reminder to owners of units that have not voted yet. Like the publication notice,
    /// it carries a set-password link (leading to the ballot) for owners who have none yet.
    BallotReminder {
        organization: String,
        title: String,
        closes: String,
        vote_link: String,
        online_units: Vec<String>,
        paper_units: Vec<String>,
        set_password_link: Option<String>,
    },
    /// The short SMS form of a publication notice or reminder.
    BallotSms {
        organization: String,
        title: String,
        closes: String,
        vote_link: String,
        reminder: bool,
    },
}

impl VotingNotice {
    pub fn channel(&self) -> Channel {
        match self {
            VotingNotice::BallotSms { .. } => Channel::Sms,
            VotingNotice::BallotPublished { .. } | VotingNotice::BallotReminder { .. } => {
                Channel::Email
            }
        }
    }

    /// The template's name, stored beside the sealed parameters.
    pub fn template(&self) -> &'static str {
        match self {
            VotingNotice::BallotPublished { .. } => "ballot-published",
            VotingNotice::BallotReminder { .. } => "ballot-reminder",
            VotingNotice::BallotSms { .. } => "ballot-sms",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::notices::Notice;

    /// Messages queued before voting had its own enum are stored as this JSON (sealed in the
    /// outbox): they must still open, and new ones must be written the same way.
    #[test]
    fn the_stored_form_is_unchanged_by_the_products_own_enum() {
        let stored = r#"{"template":"ballot-sms","organization":"Palm Court","title":"Annual election","closes":"8 December 2026, 17:00 EST","vote_link":"https://vote.example.org/vote/7","reminder":true}"#;
        let notice: Notice = serde_json::from_str(stored).unwrap();
        assert_eq!(
            notice,
            Notice::Voting(VotingNotice::BallotSms {
                organization: "Palm Court".into(),
                title: "Annual election".into(),
                closes: "8 December 2026, 17:00 EST".into(),
                vote_link: "https://vote.example.org/vote/7".into(),
                reminder: true,
            })
        );
        assert_eq!(serde_json::to_string(&notice).unwrap(), stored);
        assert_eq!(notice.template(), "ballot-sms");
        assert_eq!(notice.channel(), Channel::Sms);

        // A platform notice keeps its own tag, and an unknown template is refused.
        let reset = r#"{"template":"password-reset","link":"https://x.example/r/t","expires_at":"2026-12-01T10:00:00Z"}"#;
        let notice: Notice = serde_json::from_str(reset).unwrap();
        assert!(matches!(notice, Notice::PasswordReset { .. }));
        assert!(serde_json::from_str::<Notice>(r#"{"template":"ballot-nonsense"}"#).is_err());
    }
}
