//! Photos of records processed on both stores: a photo that carries the phone's location, the
//! camera's serial and a sideways orientation gets a delivered copy (upright, none of that
//! left) and a thumbnail; a photo that cannot be read is recorded with the reason; a second
//! pass finds nothing to do; the original's blob is no longer kept once its copy exists; only
//! the system processes photos. In a local directory and in an S3 bucket (moto).

use crate::Harness;
use crate::intake::{Bytes, png};
use crate::voting::rows_i64;
use cista_backup::blobs::ObjectBlobStore;
use cista_backup::target::TargetSpec;
use cista_core::platform::blobs::BlobRules;
use cista_core::products::collection::media::{PhotoPass, sample_photo};
use cista_core::{Actor, Error, Store as _};
use serde_json::json;

pub async fn photos_are_delivered_upright_without_their_metadata_from_a_local_directory(
    h: &Harness,
) {
    let blobs = ObjectBlobStore::open(&TargetSpec::Local(h.db.dir.path().join("blobs"))).unwrap();
    photos_are_delivered_upright_without_their_metadata(h, &blobs).await;
}

pub async fn photos_are_delivered_upright_without_their_metadata_from_an_s3_bucket(h: &Harness) {
    let Some((blobs, _server)) = crate::blobs::s3_blobs(h, "media") else {
        return;
    };
    photos_are_delivered_upright_without_their_metadata(h, &blobs).await;
}

async fn photos_are_delivered_upright_without_their_metadata(h: &Harness, blobs: &ObjectBlobStore) {
    let cista = h.cista().await;
    let org = h.org(&cista, "river-watch").await;
    let operator = Actor::operator("test");
    let form = crate::records::publish_wells(&cista, org.id).await;
    let record = cista
        .submit(
            &operator,
            org.id,
            form.id,
            "m-1",
            &json!({ "photos": ["p1", "p2"] }),
        )
        .await
        .unwrap()
        .submission;
    let rules = BlobRules {
        max_bytes: 1 << 22,
        allowed_types: vec!["image/jpeg".to_owned(), "image/png".to_owned()],
    };
    let sideways = sample_photo(80, 40, 6, 9).unwrap();
    for (name, kind, bytes) in [
        ("p1", "image/jpeg", sideways.clone()),
        ("p2", "image/png", png(4)),
    ] {
        cista
            .attach(
                blobs,
                &operator,
                org.id,
                record,
                name,
                kind,
                &rules,
                &mut Bytes(Some(bytes)),
            )
            .await
            .unwrap();
    }
    let original = cista_crypto::Digest32::sha256(&[&sideways]);
    assert!(
        h.store
            .intake()
            .attachment_digests(org.id)
            .await
            .unwrap()
            .contains(&original),
        "kept until processed"
    );

    let e = cista
        .process_photos(&operator_person(org.id), blobs, 10)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden { .. }), "{e:?}");
    let pass = cista
        .process_photos(&Actor::System, blobs, 10)
        .await
        .unwrap();
    assert_eq!(
        pass,
        PhotoPass {
            processed: 1,
            unreadable: 1
        }
    );
    assert_eq!(
        cista
            .process_photos(&Actor::System, blobs, 10)
            .await
            .unwrap(),
        PhotoPass::default(),
        "a photo is processed once"
    );

    copies_carry_none_of_the_phones_data(h, &cista, blobs, (org.id, record), &sideways).await;
}

/// The delivered copy is upright with no metadata, the thumbnail small; the original is let go
/// and an unreadable photo kept as sent.
async fn copies_carry_none_of_the_phones_data(
    h: &Harness,
    cista: &cista_core::Cista,
    blobs: &ObjectBlobStore,
    (org, record): (cista_types::OrgId, cista_types::SubmissionId),
    sideways: &[u8],
) {
    let original = cista_crypto::Digest32::sha256(&[sideways]);
    let media = h.store.collection().media_of(record).await.unwrap();
    assert_eq!(media.len(), 2);
    let (delivered, kind, size) = media[0].delivered.clone().expect("p1 has a copy");
    assert_eq!(
        (media[0].name.as_str(), kind.as_str()),
        ("p1", "image/jpeg")
    );
    assert!(
        media[1].delivered.is_none() && media[1].error.is_some(),
        "p2 cannot be read"
    );
    let copy = cista
        .open_blob(blobs, org, &delivered)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(copy.len() as u64, size);
    for canary in [&b"SN12345"[..], b"CanaryCreek", b"Exif\0\0"] {
        assert!(
            !copy.windows(canary.len()).any(|w| w == canary),
            "{canary:?} left"
        );
    }
    let upright = image_size(&copy);
    assert_eq!(upright, (40, 80), "turned as the camera said");
    let thumbnail = media[0].thumbnail.expect("a thumbnail");
    let thumb = cista
        .open_blob(blobs, org, &thumbnail)
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    let (w, h_px) = image_size(&thumb);
    assert!(w <= 320 && h_px <= 320 && h_px > w, "{w}x{h_px}");

    let kept = h.store.intake().attachment_digests(org).await.unwrap();
    assert!(
        !kept.contains(&original),
        "the original, with its location, is let go"
    );
    assert!(kept.contains(&delivered) && kept.contains(&thumbnail));
    let unreadable = cista_crypto::Digest32::sha256(&[&png(4)]);
    assert!(
        kept.contains(&unreadable),
        "an unreadable photo is kept as sent"
    );
}

/// A staff member of `org`, signed in: not the system.
fn operator_person(org: cista_types::OrgId) -> Actor {
    Actor::Person(cista_core::PersonActor {
        subject: cista_types::SubjectCode::from_i64(1),
        access: cista_core::Access::Full,
        roles: [(org, cista_types::Role::Owner)].into(),
    })
}

/// Width and height of a JPEG, from its frame header.
fn image_size(jpeg: &[u8]) -> (u32, u32) {
    let at = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    let h = u32::from(u16::from_be_bytes([jpeg[at + 5], jpeg[at + 6]]));
    let w = u32::from(u16::from_be_bytes([jpeg[at + 7], jpeg[at + 8]]));
    (w, h)
}

/// The photo worker reads what is left to process from a queue written with each record's
/// image attachment and emptied as each is processed (or its record deleted), oldest first;
/// the migration that made the queue filled it with the photos not yet processed.
pub async fn the_photo_queue_holds_what_is_left_to_process(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "photo-queue").await;
    let blobs = ObjectBlobStore::open(&TargetSpec::Local(h.db.dir.path().join("blobs"))).unwrap();
    let operator = Actor::operator("test");
    let form = crate::records::publish_wells(&cista, org.id).await;
    let rules = BlobRules {
        max_bytes: 1 << 22,
        allowed_types: vec!["image/png".to_owned()],
    };
    let mut records = Vec::new();
    for (key, photos) in [("q-1", ["p1", "p2"]), ("q-2", ["p3", "p4"])] {
        let record = cista
            .submit(
                &operator,
                org.id,
                form.id,
                key,
                &json!({ "photos": photos }),
            )
            .await
            .unwrap()
            .submission;
        for (i, name) in photos.into_iter().enumerate() {
            h.advance(time::Duration::seconds(1));
            cista
                .attach(
                    &blobs,
                    &operator,
                    org.id,
                    record,
                    name,
                    "image/png",
                    &rules,
                    &mut Bytes(Some(png(u8::try_from(i).unwrap()))),
                )
                .await
                .unwrap();
        }
        records.push(record);
    }
    let queued = || async {
        h.store
            .collection()
            .photos_to_process(10)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(queued().await, ["p1", "p2", "p3", "p4"], "oldest first");
    let first = h.store.collection().photos_to_process(1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].name, "p1");

    let pass = cista
        .process_photos(&Actor::System, &blobs, 1)
        .await
        .unwrap();
    assert_eq!(pass.processed + pass.unreadable, 1);
    assert_eq!(queued().await, ["p2", "p3", "p4"]);

    // The migration's own filling: the queue made again from the attachments.
    h.tamper("DROP TABLE media_pending").await;
    h.tamper("DELETE FROM seaql_migrations WHERE version = 'm20261216_000001_media_pending'")
        .await;
    assert_eq!(
        h.store.migrate().await.unwrap(),
        ["m20261216_000001_media_pending"]
    );
    assert_eq!(queued().await, ["p2", "p3", "p4"], "p1 was processed");

    // A deleted record's photos leave the queue with it.
    let mut tx = h.store.begin().await.unwrap();
    assert!(tx.intake().delete_submission(records[1]).await.unwrap());
    tx.commit_housekeeping().await.unwrap();
    assert_eq!(queued().await, ["p2"]);
    // Counted in the table itself: the worker's read would not show a row left behind
    // without its attachment, which would still take a place in each pass's limit.
    let left = "SELECT submission_id FROM media_pending";
    assert_eq!(rows_i64(h, left).await, [[records[0].as_i64()]]);
    cista
        .process_photos(&Actor::System, &blobs, 10)
        .await
        .unwrap();
    assert!(queued().await.is_empty());
    assert!(rows_i64(h, left).await.is_empty());
}
