//! Attachment bytes: streamed from the client into the blob store without being held whole,
//! sealed piece by piece under the organization's data key (`cista_crypto::stream`), addressed
//! by the SHA-256 of their plaintext (`orgs/ORG/sha256/HEX`: the same file twice is stored
//! once), with the size limit checked as bytes arrive and the declared content type checked
//! against the file's own signature (`infer`) before anything is published. A refused or
//! failed upload leaves nothing: it is written under a staging key, and only a complete, checked
//! blob is moved to its address. Reading verifies the SHA-256 at the end.

use crate::ports::{BlobListing, BlobReader, BlobStore};
use crate::{Cista, Error, Result};
use async_trait::async_trait;
use cista_crypto::stream::{StreamOpener, StreamSealer};
use cista_crypto::{Digest32, Sha256Stream};
use cista_types::OrgId;

/// How many leading bytes the type check reads.
const SNIFF_BYTES: usize = 512;

/// What an upload may be: at most `max_bytes`, of one of `allowed_types` (MIME types whose
/// files carry a signature, e.g. `image/jpeg`, `image/png`, `image/webp`, `application/pdf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRules {
    pub max_bytes: u64,
    pub allowed_types: Vec<String>,
}

/// A blob once stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// Its key in the blob store.
    pub key: String,
    /// SHA-256 of the plaintext.
    pub sha256: Digest32,
    /// Plaintext bytes.
    pub size: u64,
    pub content_type: String,
    /// The organization had these bytes already; nothing new was written.
    pub deduplicated: bool,
}

/// An upload streamed, checked and written under a staging key, not yet at its address. Made by
/// [`Cista::stage_blob`]; dropped without `publish` or `discard`, it stays in `staging/` until
/// [`Cista::sweep_blobs`] removes it.
#[derive(Debug)]
#[must_use = "a staged blob is published or discarded"]
pub struct StagedBlob {
    staging: String,
    org: OrgId,
    /// SHA-256 of the plaintext.
    pub sha256: Digest32,
    /// Plaintext bytes.
    pub size: u64,
    pub content_type: String,
}

impl StagedBlob {
    /// Moves the blob to its address (`orgs/ORG/sha256/HEX`). When the organization has these
    /// bytes already, the staged copy replaces the stored one (same plaintext, freshly sealed),
    /// which renews its modification time: the sweeper's grace period then protects a blob
    /// that an upload has just come to rely on.
    pub async fn publish(self, blobs: &dyn BlobStore) -> Result<StoredBlob> {
        let address = blob_key(self.org, &self.sha256);
        let deduplicated = blobs.exists(&address).await?;
        blobs.rename(&self.staging, &address).await?;
        Ok(StoredBlob {
            key: address,
            sha256: self.sha256,
            size: self.size,
            content_type: self.content_type,
            deduplicated,
        })
    }

    /// Removes the staged bytes: nothing is published.
    pub async fn discard(self, blobs: &dyn BlobStore) -> Result<()> {
        blobs.delete(&self.staging).await
    }
}

/// Where an upload's bytes come from (an HTTP body, a file): pieces, in order.
#[async_trait]
pub trait BlobSource: Send {
    /// The next piece, or `None` at the end. An error ends the upload (nothing is stored).
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>>;

    /// The SHA-256 the sender says the bytes have (an HTTP `Content-Digest`, RFC 9530), if
    /// it said: bytes that arrive with another digest were changed or cut on the way, and are
    /// refused with nothing stored.
    fn expected_sha256(&self) -> Option<Digest32> {
        None
    }
}

/// Bytes already in memory (a processed photo, a generated one), handed over in one piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InMemory(pub Option<Vec<u8>>);

#[async_trait::async_trait]
impl BlobSource for InMemory {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.0.take())
    }
}

/// The key of an organization's blob with this plaintext SHA-256.
pub fn blob_key(org: OrgId, sha256: &Digest32) -> String {
    format!("orgs/{org}/sha256/{}", sha256.to_hex())
}

/// The associated data every piece of an organization's blobs is sealed with: a blob copied
/// into another organization's space does not open there.
fn blob_aad(org: OrgId) -> Vec<u8> {
    format!("cista/v1|blob|{org}").into_bytes()
}

/// The media type of a `Content-Type` value, without parameters, in lower case
/// (`image/JPEG; q=1` → `image/jpeg`).
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Checks that `head` (the file's first bytes) is a `declared` file.
fn check_signature(head: &[u8], declared: &str) -> Result<()> {
    match infer::get(head).map(|t| t.mime_type()) {
        Some(found) if found == declared => Ok(()),
        Some(found) => Err(Error::UnsupportedMediaType(format!(
            "the file says it is {declared} but its contents are {found}"
        ))),
        None => Err(Error::UnsupportedMediaType(format!(
            "the file says it is {declared} but its contents are not"
        ))),
    }
}

impl Cista {
    /// Streams an upload from `source` into `blobs` for `org`, checking the rules as it goes:
    /// `unsupported_media_type` (415) for a type the rules do not allow or bytes that are not
    /// of the declared type, `payload_too_large` (413) as soon as the size passes the limit,
    /// `invalid_input` (400) when the bytes' SHA-256 is not the one the source declared
    /// (`BlobSource::expected_sha256`); in every refusal nothing is stored.
    pub async fn store_blob(
        &self,
        blobs: &dyn BlobStore,
        org: OrgId,
        declared: &str,
        rules: &BlobRules,
        source: &mut dyn BlobSource,
    ) -> Result<StoredBlob> {
        let staged = self.stage_blob(blobs, org, declared, rules, source).await?;
        staged.publish(blobs).await
    }

    /// Streams and checks an upload as [`Cista::store_blob`] does, but leaves it under its
    /// staging key: the caller decides, knowing the SHA-256, whether to
    /// [`publish`](StagedBlob::publish) it or [`discard`](StagedBlob::discard) it (a retry that
    /// turns out to clash with what was stored first is discarded, so it leaves no blob behind).
    pub async fn stage_blob(
        &self,
        blobs: &dyn BlobStore,
        org: OrgId,
        declared: &str,
        rules: &BlobRules,
        source: &mut dyn BlobSource,
    ) -> Result<StagedBlob> {
        let content_type = media_type(declared);
        if !rules.allowed_types.contains(&content_type) {
            return Err(Error::UnsupportedMediaType(format!(
                "{content_type} is not taken here; send one of: {}",
                rules.allowed_types.join(", ")
            )));
        }
        let key = self.org_data_key(org).await?;
        let mut staging_id = [0u8; 16];
        self.rng().fill(&mut staging_id);
        let staging = format!("staging/{}", Digest32::sha256(&[&staging_id]).to_hex());
        let mut sealer = StreamSealer::new(&key, self.rng().as_ref(), &blob_aad(org))?;
        let mut writer = blobs.create(&staging).await?;
        let mut hasher = Sha256Stream::new();
        let mut size: u64 = 0;
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
        let mut checked = false;
        let streamed: Result<Digest32> = async {
            while let Some(piece) = source.next_chunk().await? {
                size += piece.len() as u64;
                if size > rules.max_bytes {
                    return Err(Error::PayloadTooLarge {
                        limit_bytes: usize::try_from(rules.max_bytes).unwrap_or(usize::MAX),
                    });
                }
                hasher.update(&piece);
                if !checked {
                    let take = (SNIFF_BYTES - head.len()).min(piece.len());
                    head.extend(piece.iter().take(take));
                    if head.len() == SNIFF_BYTES {
                        check_signature(&head, &content_type)?;
                        checked = true;
                    }
                }
                let sealed = sealer.push(&piece)?;
                if !sealed.is_empty() {
                    writer.write(sealed).await?;
                }
            }
            if !checked {
                check_signature(&head, &content_type)?;
            }
            let sha256 = hasher.finish();
            if let Some(expected) = source.expected_sha256()
                && expected != sha256
            {
                return Err(Error::invalid(
                    "Content-Digest",
                    format!(
                        "the file arrived with SHA-256 {}, not {} as sent: it was changed or cut \
                         on the way; send it again",
                        sha256.to_hex(),
                        expected.to_hex()
                    ),
                ));
            }
            writer.write(sealer.finish()?).await?;
            Ok(sha256)
        }
        .await;
        let sha256 = match streamed {
            Ok(sha256) => sha256,
            Err(e) => {
                // Nothing was published; the staging object goes with the writer.
                let _ = writer.abort().await;
                return Err(e);
            }
        };
        writer.finish().await?;
        Ok(StagedBlob {
            staging,
            org,
            sha256,
            size,
            content_type,
        })
    }

    /// Opens `org`'s blob with this SHA-256 for reading; `not_found` when there is none. The
    /// reader checks every piece as it goes and the SHA-256 at the end (`integrity` if the
    /// stored bytes are not the ones that were put).
    pub async fn open_blob(
        &self,
        blobs: &dyn BlobStore,
        org: OrgId,
        sha256: &Digest32,
    ) -> Result<BlobPlaintext> {
        let key = self.org_data_key(org).await?;
        let reader = blobs
            .open(&blob_key(org, sha256))
            .await?
            .ok_or(Error::NotFound { what: "that file" })?;
        Ok(BlobPlaintext {
            reader,
            opener: Some(StreamOpener::new(&key, &blob_aad(org))),
            hasher: Sha256Stream::new(),
            expected: *sha256,
        })
    }
}

/// The shortest grace period a sweep accepts: an upload publishes its blob a moment before it
/// records the attachment, and no upload outlives the server's request timeout.
pub const MIN_SWEEP_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// What a sweep of the blob store found (see [`Cista::sweep_blobs`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobSweep {
    /// Published blobs an attachment refers to: kept.
    pub referenced: u64,
    /// Unreferenced blobs and staging objects written within the grace period: kept, as an
    /// upload may still be writing or about to record one.
    pub recent: u64,
    /// Published blobs no attachment refers to, written before the grace period: removed
    /// (counted only, on a dry run).
    pub orphans: u64,
    /// Staging objects written before the grace period, left by uploads that died before they
    /// finished: removed (counted only, on a dry run).
    pub stale_staging: u64,
    /// Objects whose keys Cista does not write: left alone.
    pub unknown: u64,
}

impl Cista {
    /// Removes from `blobs` what no record needs: published blobs that no attachment of their
    /// organization refers to (a crash or failure between publishing a blob and recording its
    /// attachment, or a concurrent upload that lost the race for a name) and staging objects
    /// (uploads that died mid-way), each only when last written more than `grace` ago, so
    /// uploads in flight keep theirs. With `dry_run` it only counts. Organizations are swept
    /// one at a time; each one's listing is taken before its references are read, so a blob
    /// published after the listing is not seen, and one published before it and recorded
    /// since is seen as referenced. `invalid_input` when `grace` is under
    /// [`MIN_SWEEP_GRACE`].
    pub async fn sweep_blobs(
        &self,
        blobs: &dyn BlobStore,
        grace: std::time::Duration,
        dry_run: bool,
    ) -> Result<BlobSweep> {
        if grace < MIN_SWEEP_GRACE {
            return Err(Error::invalid(
                "grace",
                format!(
                    "a sweep keeps blobs written in the last {} minutes at least; uploads in \
                     flight need them",
                    MIN_SWEEP_GRACE.as_secs() / 60
                ),
            ));
        }
        let grace_micros = i64::try_from(grace.as_micros()).unwrap_or(i64::MAX);
        let cutoff = self
            .clock()
            .now()
            .unix_micros()
            .saturating_sub(grace_micros);
        let stale = |at: cista_types::Timestamp| at.unix_micros() < cutoff;
        let mut found = BlobSweep::default();
        for listed in blobs.list("staging/").await? {
            if stale(listed.modified) {
                found.stale_staging += 1;
                if !dry_run {
                    blobs.delete(&listed.key).await?;
                }
            } else {
                found.recent += 1;
            }
        }
        let known: std::collections::HashSet<OrgId> = self
            .store()
            .organizations()
            .await?
            .iter()
            .map(|o| o.id)
            .collect();
        let mut by_org: std::collections::BTreeMap<OrgId, Vec<(Digest32, BlobListing)>> =
            std::collections::BTreeMap::new();
        for listed in blobs.list("orgs/").await? {
            match org_blob_of(&listed.key) {
                Some((org, sha)) if known.contains(&org) => {
                    by_org.entry(org).or_default().push((sha, listed));
                }
                _ => found.unknown += 1,
            }
        }
        for (org, listed) in by_org {
            // Read after the listing: see above.
            let kept: std::collections::HashSet<Digest32> = self
                .store()
                .intake()
                .attachment_digests(org)
                .await?
                .into_iter()
                .collect();
            for (sha, l) in listed {
                if kept.contains(&sha) {
                    found.referenced += 1;
                } else if stale(l.modified) {
                    found.orphans += 1;
                    if !dry_run {
                        blobs.delete(&l.key).await?;
                    }
                } else {
                    found.recent += 1;
                }
            }
        }
        Ok(found)
    }
}

/// The organization and SHA-256 of a published blob's key (`orgs/ORG/sha256/HEX`), or `None`
/// for any other key.
fn org_blob_of(key: &str) -> Option<(OrgId, Digest32)> {
    let rest = key.strip_prefix("orgs/")?;
    let (org, hex) = rest.split_once("/sha256/")?;
    let org = OrgId::from_i64(org.parse().ok()?);
    let sha = Digest32::from_hex(hex)?;
    (blob_key(org, &sha) == key).then_some((org, sha))
}

/// A blob's plaintext, piece by piece (see `Cista::open_blob`).
pub struct BlobPlaintext {
    reader: Box<dyn BlobReader>,
    opener: Option<StreamOpener>,
    hasher: Sha256Stream,
    expected: Digest32,
}

impl std::fmt::Debug for BlobPlaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobPlaintext({})", self.expected)
    }
}

impl BlobPlaintext {
    /// The next piece of plaintext, or `None` once the whole blob was read and verified.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            let Some(opener) = self.opener.as_mut() else {
                return Ok(None);
            };
            match self.reader.next().await? {
                Some(sealed) => {
                    let plain = opener.push(&sealed)?;
                    if !plain.is_empty() {
                        self.hasher.update(&plain);
                        return Ok(Some(plain));
                    }
                }
                None => {
                    let last = self
                        .opener
                        .take()
                        .ok_or(Error::Internal("blob read twice".into()))?
                        .finish()?;
                    self.hasher.update(&last);
                    let found = std::mem::take(&mut self.hasher).finish();
                    if !found.ct_eq(&self.expected) {
                        return Err(Error::Integrity(format!(
                            "the stored file {} does not have the SHA-256 it is filed under",
                            self.expected
                        )));
                    }
                    return Ok((!last.is_empty()).then_some(last));
                }
            }
        }
    }

    /// Reads the whole blob (for small files and tests).
    pub async fn read_all(mut self) -> Result<Vec<u8>> {
        let mut all = Vec::new();
        while let Some(piece) = self.next().await? {
            all.extend_from_slice(&piece);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_are_normalized_and_checked_against_the_bytes() {
        assert_eq!(media_type(" Image/JPEG; q=1"), "image/jpeg");
        let png = [
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D,
        ];
        assert!(check_signature(&png, "image/png").is_ok());
        assert!(matches!(
            check_signature(&png, "image/jpeg"),
            Err(Error::UnsupportedMediaType(m)) if m.contains("image/png")
        ));
        assert!(check_signature(b"just text", "image/png").is_err());
        assert!(check_signature(b"", "image/png").is_err());
    }
}
