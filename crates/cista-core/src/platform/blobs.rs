//! Attachment bytes: streamed from the client into the blob store without being held whole,
//! sealed piece by piece under the organization's data key (`cista_crypto::stream`), addressed
//! by the SHA-256 of their plaintext (`orgs/ORG/sha256/HEX`: the same file twice is stored
//! once), with the size limit checked as bytes arrive and the declared content type checked
//! against the file's own signature (`infer`) before anything is published. A refused or
//! failed upload leaves nothing: it is written under a staging key, and only a complete, checked
//! blob is moved to its address. Reading verifies the SHA-256 at the end.

use crate::ports::{BlobReader, BlobStore};
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
        let address = blob_key(org, &sha256);
        let deduplicated = blobs.exists(&address).await?;
        if deduplicated {
            blobs.delete(&staging).await?;
        } else {
            blobs.rename(&staging, &address).await?;
        }
        Ok(StoredBlob {
            key: address,
            sha256,
            size,
            content_type,
            deduplicated,
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
