//! What the embedded assessment tells people: the firm's chosen staff, of each new result;
//! the client, if they ask and the form allows it, what they were shown.
//! The words are rendered at delivery (`cista-notify`); here is only what a message says,
//! folded into the platform's `Notice` through one `From`. A message names the result by its
//! subject code and band, never the client: by default it links to the result in the portal
//! (sign-in required); a form's settings may have the report itself attached instead.

use crate::ports::Channel;
use cista_types::{OrgId, SubmissionId};
use serde::{Deserialize, Serialize};

/// A message of the embedded assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "kebab-case")]
pub enum AssessmentNotice {
    /// A client submitted an assessment.
    AssessmentResult {
        organization: String,
        title: String,
        org: OrgId,
        submission: SubmissionId,
        /// The client's subject code (never the name).
        subject: String,
        band: String,
        /// The result's page in the advisor portal.
        link: String,
        /// Attach the report as a PDF (the form's settings say so); otherwise only the link.
        attach_report: bool,
    },
    /// The client's copy of what they were shown (when the form allows it and they asked).
    ResultCopy {
        organization: String,
        title: String,
        /// The band's label and its text for the client, if the client sees the band.
        band: Option<(String, String)>,
        /// The scores the client sees: label and value.
        scores: Vec<(String, String)>,
    },
}

impl AssessmentNotice {
    pub fn channel(&self) -> Channel {
        match self {
            AssessmentNotice::AssessmentResult { .. } | AssessmentNotice::ResultCopy { .. } => {
                Channel::Email
            }
        }
    }

    /// The template's name, stored beside the sealed parameters.
    pub fn template(&self) -> &'static str {
        match self {
            AssessmentNotice::AssessmentResult { .. } => "assessment-result",
            AssessmentNotice::ResultCopy { .. } => "assessment-copy",
        }
    }
}
