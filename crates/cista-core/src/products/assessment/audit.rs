//! The embedded assessment's audit kinds. They fold into the platform's `AuditKind` through one
//! `From`. The string forms are stored and hashed into the audit log: never rename one.

/// What happened in the embedded assessment (its results are the platform's
/// `submission.received`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessmentAuditKind {
    /// A widget was refused: a site not on the form's list, or a bad or expired load token.
    WidgetRefused,
    /// Staff downloaded the de-identified results as CSV.
    ResultsExported,
    /// Staff changed a form's settings (who is told, report by link or attached, retention).
    SettingsChanged,
    /// Results older than their form's retention period were deleted, their clients erased.
    ResultsExpired,
}

impl AssessmentAuditKind {
    /// The stored form, `subject.verb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WidgetRefused => "widget.refused",
            Self::ResultsExported => "results.exported",
            Self::SettingsChanged => "assessment.settings_changed",
            Self::ResultsExpired => "results.expired",
        }
    }
}
