//! Association voting's audit kinds. They fold into the platform's `AuditKind` through one
//! `From`, so `NewAuditEntry::new` takes either. The string forms are stored and hashed into the
//! audit log: never rename one.

/// What happened in association voting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VotingAuditKind {
    UnitsImported,
    ConsentRecorded,
    /// Someone used the "test my device" page (FL-03).
    DeviceTested,
    BallotCreated,
    BallotEdited,
    BallotPublished,
    BallotCancelled,
    BallotClosed,
    RemindersSent,
    VoteCast,
    VoteRefused,
    PaperEnvelopeCheckedIn,
    PaperBatchOpened,
    PaperBallotEntered,
    RecordExported,
}

impl VotingAuditKind {
    /// The stored form, `subject.verb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnitsImported => "units.imported",
            Self::ConsentRecorded => "unit.consent_recorded",
            Self::DeviceTested => "device.tested",
            Self::BallotCreated => "ballot.created",
            Self::BallotEdited => "ballot.edited",
            Self::BallotPublished => "ballot.published",
            Self::BallotCancelled => "ballot.cancelled",
            Self::BallotClosed => "ballot.closed",
            Self::RemindersSent => "ballot.reminders_sent",
            Self::VoteCast => "vote.cast",
            Self::VoteRefused => "vote.refused",
            Self::PaperEnvelopeCheckedIn => "vote.paper_envelope_checked_in",
            Self::PaperBatchOpened => "vote.paper_batch_opened",
            Self::PaperBallotEntered => "vote.paper_ballot_entered",
            Self::RecordExported => "record.exported",
        }
    }
}
