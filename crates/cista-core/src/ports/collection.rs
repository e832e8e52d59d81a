//! The collection capability of the store (field data collection): collectors' devices and
//! records' reviews. Reads through `Store::collection`, writes through `StoreTx::collection`
//! (see `intake` for why capabilities are ports of their own).

use crate::Result;
use crate::ports::StoredAttachment;
use crate::products::collection::devices::{Device, DeviceId};
use crate::products::collection::review::{ReviewState, StoredReview};
use async_trait::async_trait;
use cista_crypto::Digest32;
use cista_types::{OrgId, SubjectCode, SubmissionId, Timestamp};

/// What processing made of one record photo: its delivered copy and thumbnail (blobs of the
/// organization), or why it could not be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia {
    pub submission: SubmissionId,
    pub name: String,
    /// The delivered copy's SHA-256, media type and size in bytes.
    pub delivered: Option<(Digest32, String, u64)>,
    pub thumbnail: Option<Digest32>,
    /// Why there is no delivered copy (a photo that cannot be read).
    pub error: Option<String>,
    pub processed_at: Timestamp,
}

#[async_trait]
pub trait CollectionReads: Send + Sync {
    /// Photos of records (image attachments of record forms' submissions) not processed yet,
    /// oldest first, at most `limit`.
    async fn photos_to_process(&self, limit: u64) -> Result<Vec<StoredAttachment>>;

    /// What processing made of a record's photos, by name.
    async fn media_of(&self, submission: SubmissionId) -> Result<Vec<StoredMedia>>;

    /// The device whose current secret (pairing code while pending, token once paired) has
    /// this SHA-256.
    async fn device_by_hash(&self, secret_hash: &Digest32) -> Result<Option<Device>>;

    /// The device `id` of `org` (one read by its key); `None` when `org` has no such device.
    async fn device(&self, org: OrgId, id: DeviceId) -> Result<Option<Device>>;

    /// `org`'s devices, newest first; only `subject`'s when given.
    async fn devices_of(&self, org: OrgId, subject: Option<SubjectCode>) -> Result<Vec<Device>>;

    /// Every review of a record, oldest first (the last is its state).
    async fn reviews_of(&self, submission: SubmissionId) -> Result<Vec<StoredReview>>;

    /// The state each of `submissions` (a page of a list: one `IN` list, at most a few
    /// hundred) was left in by its last review, in one read; a record never reviewed is
    /// absent. The state alone is read: no comment, no reviewer.
    ///
    /// # Errors
    /// The store's; `integrity` for a stored state this build does not know.
    async fn review_states(
        &self,
        submissions: &[SubmissionId],
    ) -> Result<Vec<(SubmissionId, ReviewState)>>;
}

#[async_trait]
pub trait CollectionWrites: Send {
    async fn insert_device(&mut self, device: &Device) -> Result<()>;

    /// Pairs the pending device whose pairing code has `pairing_hash`, if the code is unused
    /// and unexpired at `now`: its secret becomes `token_hash`, its name `name`, and it
    /// expires at `expires_at`. `None` when no such pending device exists (the code is
    /// unknown, used or expired): a code pairs once.
    async fn pair_device(
        &mut self,
        pairing_hash: &Digest32,
        token_hash: &Digest32,
        name: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Option<Device>>;

    /// Revokes `org`'s device `id`: `Some(true)` if it was live, `Some(false)` if it was
    /// revoked already, `None` if `org` has no such device.
    async fn revoke_device(
        &mut self,
        org: OrgId,
        id: DeviceId,
        at: Timestamp,
    ) -> Result<Option<bool>>;

    /// Revokes every live device of `subject` in `org` (paired and unexpired, or waiting
    /// with an unexpired pairing code); returns how many.
    async fn revoke_devices_of(
        &mut self,
        org: OrgId,
        subject: SubjectCode,
        at: Timestamp,
    ) -> Result<u64>;

    /// Counts one use of a device and records when.
    async fn count_device_use(&mut self, id: DeviceId, at: Timestamp) -> Result<()>;

    async fn insert_review(&mut self, review: &StoredReview) -> Result<()>;

    /// Records what processing made of a photo (once: a second row for it is a `conflict`).
    async fn insert_media(&mut self, media: &StoredMedia) -> Result<()>;
}
