//! Attachment bytes on both databases (which hold the organizations' data keys) and both blob
//! stores (a local directory, and S3 through moto): streamed in pieces, sealed, addressed by
//! SHA-256, deduplicated, size and type checked while streaming, nothing left behind by a
//! refusal, and a tampered or misplaced blob refused on reading.

use crate::Harness;
use async_trait::async_trait;
use cista_backup::blobs::ObjectBlobStore;
use cista_backup::target::TargetSpec;
use cista_core::platform::blobs::{BlobRules, BlobSource, blob_key};
use cista_core::ports::BlobStore;
use cista_core::{Cista, Error, Result};
use cista_crypto::Digest32;
use cista_types::OrgId;

/// An upload arriving in pieces of `piece` bytes.
struct Pieces {
    data: Vec<u8>,
    at: usize,
    piece: usize,
}

#[async_trait]
impl BlobSource for Pieces {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.at >= self.data.len() {
            return Ok(None);
        }
        let end = (self.at + self.piece).min(self.data.len());
        let piece = self.data[self.at..end].to_vec();
        self.at = end;
        Ok(Some(piece))
    }
}

fn pieces(data: &[u8], piece: usize) -> Pieces {
    Pieces {
        data: data.to_vec(),
        at: 0,
        piece,
    }
}

/// A PNG's signature followed by `len` more bytes.
fn png(len: usize, seed: u8) -> Vec<u8> {
    let mut data = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    data.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    data
}

fn rules() -> BlobRules {
    BlobRules {
        max_bytes: 3 * 1024 * 1024,
        allowed_types: vec!["image/png".to_owned(), "image/jpeg".to_owned()],
    }
}

/// Every object key in the store's directory (local only).
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

async fn exercise(h: &Harness, blobs: &dyn BlobStore, local: Option<&std::path::Path>) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    let other = h.org(&cista, "bay-view").await;

    // Several MiB in 100 KiB pieces: stored, sealed, read back exactly.
    let photo = png(2 * 1024 * 1024 + 17, 1);
    let stored = cista
        .store_blob(
            blobs,
            org.id,
            "image/PNG",
            &rules(),
            &mut pieces(&photo, 100 * 1024),
        )
        .await
        .unwrap();
    assert_eq!(stored.sha256, Digest32::sha256(&[&photo]));
    assert_eq!(stored.size, photo.len() as u64);
    assert_eq!(stored.content_type, "image/png");
    assert_eq!(stored.key, blob_key(org.id, &stored.sha256));
    assert!(!stored.deduplicated);
    let back = cista
        .open_blob(blobs, org.id, &stored.sha256)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert!(back == photo, "read back exactly");
    if let Some(dir) = local {
        let on_disk = std::fs::read(dir.join(&stored.key)).unwrap();
        assert!(
            !on_disk.windows(64).any(|w| w == &photo[1000..1064]),
            "sealed at rest"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "the blob directory is private");
        }
    }

    // The same bytes again (in other pieces): one stored copy.
    let again = cista
        .store_blob(
            blobs,
            org.id,
            "image/png",
            &rules(),
            &mut pieces(&photo, 7777),
        )
        .await
        .unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.key, stored.key);

    // Another organization cannot read it, even copied into its own space.
    assert!(matches!(
        cista.open_blob(blobs, other.id, &stored.sha256).await,
        Err(Error::NotFound { .. })
    ));
    let copied = blob_key(other.id, &stored.sha256);
    let mut reader = blobs.open(&stored.key).await.unwrap().unwrap();
    let mut writer = blobs.create(&copied).await.unwrap();
    while let Some(piece) = reader.next().await.unwrap() {
        writer.write(piece).await.unwrap();
    }
    writer.finish().await.unwrap();
    let misplaced = cista
        .open_blob(blobs, other.id, &stored.sha256)
        .await
        .unwrap()
        .read_all()
        .await;
    assert!(
        misplaced.is_err(),
        "sealed under the other organization's key"
    );
    blobs.delete(&copied).await.unwrap();

    // A blob filed under another file's hash is refused when read.
    let small = png(10, 2);
    let small_stored = cista
        .store_blob(blobs, org.id, "image/png", &rules(), &mut pieces(&small, 3))
        .await
        .unwrap();
    blobs.rename(&stored.key, &small_stored.key).await.unwrap();
    let swapped = cista
        .open_blob(blobs, org.id, &small_stored.sha256)
        .await
        .unwrap()
        .read_all()
        .await;
    assert!(matches!(swapped, Err(Error::Integrity(_))), "{swapped:?}");

    let before = local.map(files_under);
    refusals_store_nothing(&cista, blobs, org.id).await;
    if let (Some(dir), Some(before)) = (local, before) {
        assert_eq!(files_under(dir), before, "no refusal left anything behind");
    }
}

/// Too large, not what it says, a type not taken, or a source that fails midway: refused.
async fn refusals_store_nothing(cista: &Cista, blobs: &dyn BlobStore, org: OrgId) {
    // Too large: refused as soon as the limit passes, nothing stored.
    let tight = BlobRules {
        max_bytes: 300 * 1024,
        ..rules()
    };
    let big = png(1024 * 1024, 3);
    let refused = cista
        .store_blob(
            blobs,
            org,
            "image/png",
            &tight,
            &mut pieces(&big, 64 * 1024),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::PayloadTooLarge { limit_bytes } if limit_bytes == 300 * 1024),
        "{refused:?}"
    );
    assert_eq!(refused.code(), "payload_too_large");
    // Bytes that are not what they say, or a type not taken: 415, nothing stored.
    for (declared, data) in [
        ("image/jpeg", png(2000, 4)),
        (
            "image/png",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        ("image/png", Vec::new()),
        ("text/html", b"<html></html>".to_vec()),
        ("application/pdf", b"%PDF-1.7\n".to_vec()),
    ] {
        let refused = cista
            .store_blob(blobs, org, declared, &rules(), &mut pieces(&data, 100))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "unsupported_media_type", "{declared}");
    }
    // A source that fails midway: nothing stored.
    struct Failing(u8);
    #[async_trait]
    impl BlobSource for Failing {
        async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
            self.0 += 1;
            if self.0 > 3 {
                return Err(Error::BadRequest {
                    reason: "the client went away".into(),
                });
            }
            Ok(Some(png(1000, self.0)))
        }
    }
    assert!(
        cista
            .store_blob(blobs, org, "image/png", &rules(), &mut Failing(0))
            .await
            .is_err()
    );
}

/// The local directory store (the default: inside the data directory, 0700).
pub async fn attachments_stream_seal_and_refuse_in_a_local_directory(h: &Harness) {
    let dir = h.db.dir.path().join("blobs");
    let blobs = ObjectBlobStore::open(&TargetSpec::Local(dir.clone())).unwrap();
    exercise(h, &blobs, Some(&dir)).await;
}

/// The S3 store, against moto.
pub async fn attachments_stream_seal_and_refuse_in_an_s3_bucket(h: &Harness) {
    let Some((blobs, _server)) = s3_blobs(h, "blobs") else {
        return;
    };
    exercise(h, &blobs, None).await;
}

/// A blob store in a test S3 server (moto, stopped when the second value is dropped) under
/// `NAME-ENGINE/`, or `None` when no server is configured and none is required.
pub fn s3_blobs(h: &Harness, name: &str) -> Option<(ObjectBlobStore, cista_testkit::s3::S3Server)> {
    let server = cista_testkit::s3::required()?;
    Some((
        ObjectBlobStore::open(&TargetSpec::S3(cista_backup::target::S3Spec {
            bucket: cista_testkit::s3::BUCKET.into(),
            prefix: format!("{name}-{}", cista_core::Store::backend(&*h.store).label()),
            endpoint: Some(server.endpoint.clone()),
            region: "us-east-1".into(),
            path_style: true,
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".parse().unwrap()),
        }))
        .unwrap(),
        server,
    ))
}
