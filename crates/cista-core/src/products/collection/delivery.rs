//! Delivering records' photos (issue 13, item 5): only through short-lived signed URLs that
//! Cista issues to someone allowed to see the record, each issue recorded in the audit log in
//! aggregate (one entry per record shown, with how many photos). A URL names the organization,
//! the record, the photo and the variant (the delivered copy or its thumbnail) and carries its
//! expiry and an HMAC-SHA256 of all of them under the instance's MAC key; it opens nothing else
//! and nothing after it expires. Blobs are sealed at rest (in a local directory or S3), so the
//! bytes always pass through Cista to be opened: an S3 presigned URL would hand out ciphertext.
//! The original upload is never delivered: a photo not processed yet has no URL.

use crate::platform::audit::NewAuditEntry;
use crate::platform::blobs::BlobPlaintext;
use crate::ports::{BlobStore, StoredMedia};
use crate::products::collection::audit::CollectionAuditKind;
use crate::products::collection::review::OpenedRecord;
use crate::{Actor, Cista, Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cista_crypto::Digest32;
use cista_types::{OrgId, SubmissionId, Timestamp};
use time::Duration;

/// How long an issued URL opens its photo.
pub const MEDIA_URL_LIFETIME: Duration = Duration::minutes(15);

/// Which copy of a photo a URL opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaVariant {
    /// The delivered copy: upright, no metadata.
    Photo,
    /// The 320-pixel thumbnail.
    Thumbnail,
}

impl MediaVariant {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaVariant::Photo => "photo",
            MediaVariant::Thumbnail => "thumbnail",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "photo" => Some(MediaVariant::Photo),
            "thumbnail" => Some(MediaVariant::Thumbnail),
            _ => None,
        }
    }
}

/// A record's photo as a page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoLinks {
    pub name: String,
    /// Signed paths (`/media/…`), when the photo has been processed.
    pub photo: Option<String>,
    pub thumbnail: Option<String>,
    /// Why there is no copy: still being prepared, never arrived, or unreadable.
    pub note: Option<String>,
}

/// What a signed URL names, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRequest {
    pub org: OrgId,
    pub submission: SubmissionId,
    pub name: String,
    pub variant: MediaVariant,
    /// Unix seconds.
    pub expires: i64,
    pub signature: String,
}

fn signed_message(r: &MediaRequest) -> Vec<u8> {
    format!(
        "{}|{}|{}|{}|{}",
        r.org,
        r.submission,
        r.name,
        r.variant.as_str(),
        r.expires
    )
    .into_bytes()
}

impl Cista {
    fn media_signature(&self, request: &MediaRequest) -> Result<String> {
        let tag = cista_crypto::mac::keyed_hash(
            self.instance_keys().mac.expose(),
            "media-url",
            &signed_message(request),
        )?;
        Ok(URL_SAFE_NO_PAD.encode(tag))
    }

    /// The signed path of one photo variant, valid until `expires`.
    fn media_path(
        &self,
        org: OrgId,
        media: &StoredMedia,
        variant: MediaVariant,
        expires: Timestamp,
    ) -> Result<String> {
        let mut request = MediaRequest {
            org,
            submission: media.submission,
            name: media.name.clone(),
            variant,
            expires: expires.unix_micros() / 1_000_000,
            signature: String::new(),
        };
        request.signature = self.media_signature(&request)?;
        Ok(format!(
            "/media/{}/{}/{}/{}?expires={}&signature={}",
            org.as_i64(),
            media.submission.as_i64(),
            media.name,
            variant.as_str(),
            request.expires,
            request.signature
        ))
    }

    /// The absolute signed URL of `media`'s delivered copy, valid until `expires`: what an
    /// export's CSV carries (its issue is counted in the export's audit entry).
    pub(crate) fn photo_url(
        &self,
        org: OrgId,
        media: &StoredMedia,
        expires: Timestamp,
    ) -> Result<String> {
        Ok(format!(
            "{}{}",
            self.settings().public_origin.trim_end_matches('/'),
            self.media_path(org, media, MediaVariant::Photo, expires)?
        ))
    }

    /// Signed URLs for every photo `record` announces (opened for `actor` by `open_record`,
    /// which checked who may read it); the issue is recorded in the audit log, one entry for
    /// the record.
    pub(crate) async fn record_photos(
        &self,
        actor: &Actor,
        record: &OpenedRecord,
    ) -> Result<Vec<PhotoLinks>> {
        let (org, id) = (record.stored.org, record.stored.id);
        let names = record.definition.photo_names(&record.answers);
        let arrived = &record.arrived;
        let processed = self.store().collection().media_of(id).await?;
        let now = self.clock().now();
        let expires = now.plus(MEDIA_URL_LIFETIME);
        let mut links = Vec::new();
        for name in &names {
            let media = processed.iter().find(|m| &m.name == name);
            let link = match media {
                Some(m) if m.delivered.is_some() => PhotoLinks {
                    name: name.clone(),
                    photo: Some(self.media_path(org, m, MediaVariant::Photo, expires)?),
                    thumbnail: Some(self.media_path(org, m, MediaVariant::Thumbnail, expires)?),
                    note: None,
                },
                Some(m) => PhotoLinks {
                    name: name.clone(),
                    photo: None,
                    thumbnail: None,
                    note: Some(m.error.clone().unwrap_or_else(|| "unreadable".to_owned())),
                },
                None if arrived.contains(name) => PhotoLinks {
                    name: name.clone(),
                    photo: None,
                    thumbnail: None,
                    note: Some("being prepared: reload in a few seconds".to_owned()),
                },
                None => PhotoLinks {
                    name: name.clone(),
                    photo: None,
                    thumbnail: None,
                    note: Some("not sent from the phone yet".to_owned()),
                },
            };
            links.push(link);
        }
        let shown = links.iter().filter(|l| l.photo.is_some()).count();
        if shown > 0 {
            self.store()
                .append_audit(NewAuditEntry::new(
                    now,
                    actor,
                    Some(org),
                    CollectionAuditKind::PhotosShown,
                    serde_json::json!({ "submission": id, "photos": shown }),
                ))
                .await?;
        }
        Ok(links)
    }

    /// Opens the photo a signed URL names: `not_found` for a wrong or expired signature (the
    /// same answer, so a guess learns nothing), or a photo without that copy. Returns the
    /// copy's media type and its bytes as a stream.
    pub async fn open_media(
        &self,
        blobs: &dyn BlobStore,
        request: &MediaRequest,
    ) -> Result<(String, BlobPlaintext)> {
        let gone = || Error::NotFound { what: "that photo" };
        let expected = self.media_signature(request)?;
        let same = Digest32::sha256(&[expected.as_bytes()])
            .ct_eq(&Digest32::sha256(&[request.signature.as_bytes()]));
        if !same || request.expires <= self.clock().now().unix_micros() / 1_000_000 {
            return Err(gone());
        }
        let record = self
            .org_submission(request.org, request.submission, "that photo")
            .await?;
        let media = self
            .store()
            .collection()
            .media_of(record.id)
            .await?
            .into_iter()
            .find(|m| m.name == request.name)
            .ok_or_else(gone)?;
        let (digest, kind) = match (request.variant, &media.delivered, media.thumbnail) {
            (MediaVariant::Photo, Some((sha, kind, _)), _) => (*sha, kind.clone()),
            (MediaVariant::Thumbnail, Some(_), Some(thumb)) => (thumb, "image/jpeg".to_owned()),
            _ => return Err(gone()),
        };
        Ok((kind, self.open_blob(blobs, request.org, &digest).await?))
    }
}
