//! The blob sweeper on both databases and both blob stores: blobs no attachment refers to and
//! staging objects of uploads that died are removed once past the grace period; referenced
//! blobs, recent ones and keys Cista does not write are kept; a dry run only counts.

use crate::Harness;
use crate::intake::{Bytes, png};
use cista_backup::blobs::ObjectBlobStore;
use cista_backup::target::TargetSpec;
use cista_core::Actor;
use cista_core::platform::blobs::{BlobRules, BlobSweep, StoredBlob, blob_key};
use cista_core::ports::BlobStore;
use cista_core::ports::StoredAttachment;
use cista_crypto::Digest32;
use cista_types::{Clock as _, SystemClock};
use std::time::Duration;

fn rules() -> BlobRules {
    BlobRules {
        max_bytes: 1024 * 1024,
        allowed_types: vec!["image/png".to_owned()],
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);

/// What a blob store holds after some time in service: an attached photo (to keep), a blob no
/// attachment refers to (what a crash between storing and recording leaves), a staging object
/// of an upload that never finished, and a key of a shape Cista does not write.
async fn stock(
    h: &Harness,
    cista: &cista_core::Cista,
    blobs: &dyn BlobStore,
) -> (
    cista_core::ports::Organization,
    StoredAttachment,
    StoredBlob,
) {
    let operator = Actor::operator("test");
    let org = h.org(cista, "palm-court").await;
    let sub = crate::intake::a_submission(cista, org.id).await;
    let kept = cista
        .attach(
            blobs,
            &operator,
            org.id,
            sub,
            "photo_1",
            "image/png",
            &rules(),
            &mut Bytes(Some(png(1))),
        )
        .await
        .unwrap()
        .attachment;
    let orphan = cista
        .store_blob(
            blobs,
            org.id,
            "image/png",
            &rules(),
            &mut Bytes(Some(png(2))),
        )
        .await
        .unwrap();
    let died = cista
        .stage_blob(
            blobs,
            org.id,
            "image/png",
            &rules(),
            &mut Bytes(Some(png(3))),
        )
        .await
        .unwrap();
    drop(died);
    let mut foreign = blobs.create("orgs/notes/readme.txt").await.unwrap();
    foreign
        .write(b"kept by someone else".to_vec())
        .await
        .unwrap();
    foreign.finish().await.unwrap();
    (org, kept, orphan)
}

async fn sweep_case(h: &Harness, blobs: &dyn BlobStore) {
    let cista = h.cista().await;
    let (org, kept, orphan) = stock(h, &cista, blobs).await;

    // A grace period too short to protect uploads in flight is refused.
    let refused = cista
        .sweep_blobs(blobs, Duration::from_secs(60), false)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "invalid_input");

    // Everything was written within the grace period: nothing goes.
    let early = cista.sweep_blobs(blobs, DAY, false).await.unwrap();
    assert_eq!(
        early,
        BlobSweep {
            referenced: 1,
            recent: 2,
            orphans: 0,
            stale_staging: 0,
            unknown: 1,
        }
    );
    assert!(blobs.exists(&orphan.key).await.unwrap());

    // Two days on: a dry run counts what would go and removes nothing.
    h.clock
        .set(SystemClock.now().plus(time::Duration::hours(48)));
    let counted = cista.sweep_blobs(blobs, DAY, true).await.unwrap();
    let expected = BlobSweep {
        referenced: 1,
        recent: 0,
        orphans: 1,
        stale_staging: 1,
        unknown: 1,
    };
    assert_eq!(counted, expected);
    assert!(blobs.exists(&orphan.key).await.unwrap());
    assert_eq!(blobs.list("staging/").await.unwrap().len(), 1);

    // The sweep itself: the orphan and the staging object go, the rest stays, readable.
    assert_eq!(
        cista.sweep_blobs(blobs, DAY, false).await.unwrap(),
        expected
    );
    assert!(!blobs.exists(&orphan.key).await.unwrap());
    assert!(blobs.list("staging/").await.unwrap().is_empty());
    assert!(blobs.exists("orgs/notes/readme.txt").await.unwrap());
    assert_eq!(kept.sha256, Digest32::sha256(&[&png(1)]));
    let back = cista
        .open_blob(blobs, org.id, &kept.sha256)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert!(back == png(1), "the attached photo is intact");
    let listed: Vec<String> = blobs
        .list("orgs/")
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.key)
        .collect();
    let mut expected_keys = vec![
        "orgs/notes/readme.txt".to_owned(),
        blob_key(org.id, &kept.sha256),
    ];
    expected_keys.sort();
    assert_eq!(listed, expected_keys, "listed sorted by key");

    // Nothing left to do.
    let again = cista.sweep_blobs(blobs, DAY, false).await.unwrap();
    assert_eq!((again.orphans, again.stale_staging), (0, 0));
}

/// The local directory store.
pub async fn a_sweep_removes_only_old_unreferenced_blobs_in_a_local_directory(h: &Harness) {
    let dir = h.db.dir.path().join("blobs");
    let blobs = ObjectBlobStore::open(&TargetSpec::Local(dir)).unwrap();
    sweep_case(h, &blobs).await;
}

/// The S3 store, against moto.
pub async fn a_sweep_removes_only_old_unreferenced_blobs_in_an_s3_bucket(h: &Harness) {
    let Some((blobs, _server)) = crate::blobs::s3_blobs(h, "sweep") else {
        return;
    };
    sweep_case(h, &blobs).await;
}
