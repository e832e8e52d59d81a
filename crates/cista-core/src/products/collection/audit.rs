//! Field data collection's audit kinds. They fold into the platform's `AuditKind` through one
//! `From`. The string forms are stored and hashed into the audit log: never rename one.

/// What happened in field data collection (records themselves are the platform's
/// `submission.received`, their photos `attachment.stored`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionAuditKind {
    /// A device sign-in (its pairing code, shown as a QR code) was issued for a collector.
    DeviceIssued,
    /// A phone exchanged a pairing code for its device token.
    DevicePaired,
    /// A device, or every device of a collector, was revoked.
    DeviceRevoked,
    /// A reviewer put a record in a review state.
    RecordReviewed,
    /// Someone was shown a record's photos (signed URLs issued), counted per record.
    PhotosShown,
    /// Staff exported records (CSV, GeoJSON).
    RecordsExported,
    /// Staff added a webhook endpoint.
    WebhookCreated,
    /// Staff removed a webhook endpoint.
    WebhookRemoved,
    /// Staff queued a webhook message to be sent again.
    WebhookRedelivered,
}

impl CollectionAuditKind {
    /// The stored form, `subject.verb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeviceIssued => "device.issued",
            Self::DevicePaired => "device.paired",
            Self::DeviceRevoked => "device.revoked",
            Self::RecordReviewed => "record.reviewed",
            Self::PhotosShown => "record.photos_shown",
            Self::RecordsExported => "records.exported",
            Self::WebhookCreated => "webhook.created",
            Self::WebhookRemoved => "webhook.removed",
            Self::WebhookRedelivered => "webhook.redelivered",
        }
    }
}
