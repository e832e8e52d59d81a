//! Collectors' devices on both stores: a pairing code pairs one phone once, before it expires;
//! the device token acts as its collector for records only, counts every use, and stops when
//! it expires, is revoked (alone or with all of its collector's devices) or its collector
//! stops filling records; neither secret is stored; each change is audited. Reviews of a
//! record are sealed, audited, and read back by its collector and by reviewers only.

use crate::Harness;
use crate::intake::{Bytes, png};
use cista_backup::blobs::ObjectBlobStore;
use cista_backup::target::TargetSpec;
use cista_core::platform::blobs::BlobRules;
use cista_core::platform::intake::FormProduct;
use cista_core::ports::Organization;
use cista_core::products::collection::devices::PairedDevice;
use cista_core::products::collection::devices::{
    DEVICE_TOKEN_PREFIX, DeviceId, DeviceRequest, DeviceState, PAIRING_CODE_PREFIX,
};
use cista_core::products::collection::records::RecordFilter;
use cista_core::products::collection::{CollectionAction, ReviewState};
use cista_core::{Access, Actor, Cista, Error, OrgAction, Store as _};
use cista_testkit::fixtures::{invitee, record_form};
use cista_types::{Clock as _, OrgId, Role, SubjectCode, SubmissionId};
use serde_json::json;
use time::Duration;

fn operator() -> Actor {
    Actor::operator("test")
}

async fn audit_kinds(h: &Harness) -> Vec<String> {
    h.store
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

pub async fn a_device_pairs_once_and_acts_for_its_collector_until_revoked(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "river-watch").await;
    let ana = member(h, &cista, &org, "Ana", Role::Collector).await;
    let rex = member(h, &cista, &org, "Rex", Role::Reviewer).await;

    // Only a collector (or staff for one) gets a device; a reviewer does not fill records.
    let refused = cista
        .issue_device(&operator(), org.id, &DeviceRequest::for_collector(rex))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::InvalidInput { field, .. } if field == "collector"),
        "{refused:?}"
    );
    let issued = cista
        .issue_device(&operator(), org.id, &DeviceRequest::for_collector(ana))
        .await
        .unwrap();
    assert!(issued.code.expose().starts_with(PAIRING_CODE_PREFIX));
    assert!(!format!("{issued:?}").contains(issued.code.expose()));
    assert_eq!(issued.device.state(h.clock.now()), DeviceState::Pending);
    let e = cista
        .pair_device(issued.code.expose(), "\n")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_input", "a bad name: {e:?}");
    let paired = cista
        .pair_device(issued.code.expose(), "Ana's Pixel")
        .await
        .unwrap();
    assert!(paired.token.expose().starts_with(DEVICE_TOKEN_PREFIX));
    assert_eq!(paired.device.name, "Ana's Pixel");
    assert_eq!(
        paired.device.expires_at,
        Some(h.clock.now().plus(Duration::days(30)))
    );
    let again = cista
        .pair_device(issued.code.expose(), "Thief")
        .await
        .unwrap_err();
    assert!(
        matches!(again, Error::TokenInvalid),
        "a code pairs once: {again:?}"
    );

    let raw = h.raw_database_bytes().await;
    for secret in [issued.code.expose(), paired.token.expose()] {
        let tail = &secret[secret.len() - 43..];
        assert!(
            !raw.windows(43).any(|w| w == tail.as_bytes()),
            "no secret is stored"
        );
    }

    uses_are_counted_until_the_token_expires(h, &cista, org.id, ana, &paired).await;
    devices_are_revoked_alone_or_all_at_once(h, &cista, org.id, ana, rex).await;
}

/// The token acts as its collector, for records only, and counts its uses; a pairing code
/// expires unused; the token expires after its lifetime.
async fn uses_are_counted_until_the_token_expires(
    h: &Harness,
    cista: &Cista,
    org: OrgId,
    ana: SubjectCode,
    paired: &PairedDevice,
) {
    let caller = cista
        .authenticate_device(paired.token.expose())
        .await
        .unwrap();
    assert_eq!(caller.actor.audit_name(), format!("subject:{}", ana));
    assert!(matches!(
        caller.actor.person().map(|p| p.access),
        Some(Access::Device(id)) if id == paired.device.id
    ));
    assert!(caller.actor.may_in(org, OrgAction::SubmitForms));
    assert!(!caller.actor.may_in(org, OrgAction::ViewPeople));
    assert!(!caller.actor.may_in(org, OrgAction::ViewSubmissions));
    cista
        .authenticate_device(paired.token.expose())
        .await
        .unwrap();
    let listed = cista.devices(&operator(), org, Some(ana)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].use_count, 2);
    assert_eq!(listed[0].last_used_at, Some(h.clock.now()));
    for wrong in [
        "",
        DEVICE_TOKEN_PREFIX,
        &paired.token.expose()[..paired.token.expose().len() - 1],
        &paired
            .token
            .expose()
            .replacen(DEVICE_TOKEN_PREFIX, PAIRING_CODE_PREFIX, 1),
        &paired
            .token
            .expose()
            .replacen(DEVICE_TOKEN_PREFIX, "cista_", 1),
    ] {
        assert!(
            matches!(
                cista.authenticate_device(wrong).await,
                Err(Error::BearerTokenInvalid)
            ),
            "{wrong}"
        );
    }

    let late = cista
        .issue_device(&operator(), org, &DeviceRequest::for_collector(ana))
        .await
        .unwrap();
    h.advance(Duration::minutes(16));
    assert!(matches!(
        cista.pair_device(late.code.expose(), "Late phone").await,
        Err(Error::TokenInvalid)
    ));
    h.advance(Duration::days(30));
    assert!(matches!(
        cista.authenticate_device(paired.token.expose()).await,
        Err(Error::BearerTokenInvalid)
    ));
}

/// Ana revokes her own lost phone; staff revoke all of a collector's at once; a collector who
/// no longer fills records loses every device at once.
async fn devices_are_revoked_alone_or_all_at_once(
    h: &Harness,
    cista: &Cista,
    org: OrgId,
    ana: SubjectCode,
    rex: SubjectCode,
) {
    let phone = pair(cista, org, ana, "Phone").await;
    let ana_signed_in = Actor::Person(cista_core::PersonActor {
        subject: ana,
        access: Access::Full,
        roles: [(org, Role::Collector)].into(),
    });
    // Reached through another person, the phone is not found and stays paired.
    let err = cista
        .revoke_device(&operator(), org, rex, phone.device.id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(
        cista
            .authenticate_device(phone.token.expose())
            .await
            .is_ok()
    );
    assert!(
        cista
            .revoke_device(&ana_signed_in, org, ana, phone.device.id)
            .await
            .unwrap()
    );
    assert!(
        !cista
            .revoke_device(&ana_signed_in, org, ana, phone.device.id)
            .await
            .unwrap(),
        "a second revocation changes nothing"
    );
    // A device is found in its own organization only, and an unknown one nowhere.
    let elsewhere = h.org(cista, "devices-elsewhere").await;
    for (in_org, id) in [
        (elsewhere.id, phone.device.id),
        (org, DeviceId::from_i64(i64::MAX)),
    ] {
        let err = cista
            .revoke_device(&operator(), in_org, ana, id)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }
    assert!(matches!(
        cista.authenticate_device(phone.token.expose()).await,
        Err(Error::BearerTokenInvalid)
    ));
    let spare = pair(cista, org, ana, "A").await;
    let by_device = cista
        .authenticate_device(spare.token.expose())
        .await
        .unwrap()
        .actor;
    assert!(
        cista.revoke_devices_of(&by_device, org, ana).await.is_err(),
        "a device token cannot manage devices"
    );
    let tablet = pair(cista, org, ana, "Tablet").await;
    let rex_signed_in = Actor::Person(cista_core::PersonActor {
        subject: rex,
        access: Access::Full,
        roles: [(org, Role::Reviewer)].into(),
    });
    assert!(
        cista
            .revoke_devices_of(&rex_signed_in, org, ana)
            .await
            .is_err(),
        "a reviewer does not manage devices"
    );
    assert_eq!(
        cista
            .revoke_devices_of(&operator(), org, ana)
            .await
            .unwrap(),
        2
    );
    assert!(
        cista
            .authenticate_device(tablet.token.expose())
            .await
            .is_err()
    );
    nobody_elses_phones_are_signed_out(cista, (org, elsewhere.id), ana, rex).await;

    // A collector who no longer fills records loses every device at once.
    let last = pair(cista, org, ana, "Last").await;
    cista
        .change_role(&operator(), org, ana, Role::Member)
        .await
        .unwrap();
    assert!(
        cista
            .authenticate_device(last.token.expose())
            .await
            .is_err()
    );

    let kinds = audit_kinds(h).await;
    for kind in ["device.issued", "device.paired", "device.revoked"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} audited");
    }
    assert!(
        !kinds.iter().any(|k| k.contains("used")),
        "uses are counted, not audited one by one"
    );
}

/// A phone acts as its collector and staff read its pairing code, so staff pair one only for
/// someone whose role they could give: an administrator for a collector, never for an owner
/// (who may fill records too); an owner for anyone; each person for themself.
pub async fn staff_pair_phones_only_for_roles_they_could_give(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "river-watch").await;
    let ana = member(h, &cista, &org, "Ana", Role::Collector).await;
    let olu = member(h, &cista, &org, "Olu", Role::Owner).await;
    let as_role = |subject: i64, role: Role| {
        Actor::Person(cista_core::PersonActor {
            subject: SubjectCode::from_i64(subject),
            access: Access::Full,
            roles: std::collections::BTreeMap::from([(org.id, role)]),
        })
    };
    let admin = as_role(77, Role::Admin);
    let e = cista
        .issue_device(&admin, org.id, &DeviceRequest::for_collector(olu))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e:?}");
    assert!(
        cista
            .devices(&operator(), org.id, Some(olu))
            .await
            .unwrap()
            .is_empty(),
        "nothing was issued"
    );
    for (who, whom) in [
        (&admin, ana),
        (&as_role(78, Role::Owner), olu),
        (&as_role(olu.as_i64(), Role::Owner), olu),
    ] {
        cista
            .issue_device(who, org.id, &DeviceRequest::for_collector(whom))
            .await
            .unwrap();
    }

    // The rule holds when the phone pairs too: a code an administrator issued for a collector
    // who has since been made an owner pairs nothing. The administrator is a real member
    // here, so the check reads their role as it is now.
    let ada = member(h, &cista, &org, "Ada", Role::Admin).await;
    let bea = member(h, &cista, &org, "Bea", Role::Collector).await;
    let issued = cista
        .issue_device(
            &as_role(ada.as_i64(), Role::Admin),
            org.id,
            &DeviceRequest::for_collector(bea),
        )
        .await
        .unwrap();
    cista
        .change_role(&operator(), org.id, bea, Role::Owner)
        .await
        .unwrap();
    let e = cista
        .pair_device(issued.code.expose(), "Bea's phone")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TokenInvalid), "{e:?}");
    cista
        .change_role(&operator(), org.id, bea, Role::Collector)
        .await
        .unwrap();
    cista
        .pair_device(issued.code.expose(), "Bea's phone")
        .await
        .unwrap();
}

/// Someone of the organization with a password and `role` (`name@river.example`).
pub(crate) async fn member(
    h: &Harness,
    cista: &Cista,
    org: &Organization,
    name: &str,
    role: Role,
) -> SubjectCode {
    let email = format!("{}@river.example", name.to_lowercase());
    h.active_person(cista, org, invitee(name, "Tester", &email, None, role))
        .await
        .subject
}

pub(crate) async fn pair(
    cista: &cista_core::Cista,
    org: cista_types::OrgId,
    subject: cista_types::SubjectCode,
    name: &str,
) -> cista_core::products::collection::devices::PairedDevice {
    let issued = cista
        .issue_device(&operator(), org, &DeviceRequest::for_collector(subject))
        .await
        .unwrap();
    cista.pair_device(issued.code.expose(), name).await.unwrap()
}

pub async fn a_review_is_sealed_audited_and_read_by_its_collector_and_reviewers(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "river-watch").await;
    let ana = member(h, &cista, &org, "Ana", Role::Collector).await;
    let bo = member(h, &cista, &org, "Bo", Role::Collector).await;
    let rex = Actor::Person(cista_core::PersonActor {
        subject: member(h, &cista, &org, "Rex", Role::Reviewer).await,
        access: Access::Full,
        roles: [(org.id, Role::Reviewer)].into(),
    });
    let form = cista
        .publish_form(
            &operator(),
            org.id,
            FormProduct::Collection,
            "wells",
            &record_form("Wells"),
        )
        .await
        .unwrap();
    let ana_phone = cista
        .authenticate_device(pair(&cista, org.id, ana, "Ana").await.token.expose())
        .await
        .unwrap()
        .actor;
    let bo_phone = cista
        .authenticate_device(pair(&cista, org.id, bo, "Bo").await.token.expose())
        .await
        .unwrap()
        .actor;
    let record = cista
        .submit(
            &ana_phone,
            org.id,
            form.id,
            "8c1d2e3f-0000-4000-8000-000000000001",
            &json!({ "depth_m": 4, "photos": ["front", "back"] }),
        )
        .await
        .unwrap();
    let blobs = ObjectBlobStore::open(&TargetSpec::Local(h.db.dir.path().join("blobs"))).unwrap();
    let rules = BlobRules {
        max_bytes: 1 << 20,
        allowed_types: vec!["image/png".to_owned()],
    };
    cista
        .attach(
            &blobs,
            &ana_phone,
            org.id,
            record.submission,
            "front",
            "image/png",
            &rules,
            &mut Bytes(Some(png(7))),
        )
        .await
        .unwrap();
    let status = cista
        .record_status(&ana_phone, org.id, record.submission)
        .await
        .unwrap();
    assert_eq!(status.state, ReviewState::Received);
    assert_eq!(
        status.photos,
        [("front".to_owned(), true), ("back".to_owned(), false)]
    );

    reviews_are_sealed_and_read_back(
        h,
        &cista,
        org.id,
        record.submission,
        (&ana_phone, &bo_phone, &rex),
    )
    .await;
}

/// Reviews are for reviewers to write, sealed at rest, audited without their comment, and read
/// back (newest last) by the record's collector and by reviewers, not by another collector.
async fn reviews_are_sealed_and_read_back(
    h: &Harness,
    cista: &Cista,
    org: OrgId,
    record: SubmissionId,
    (ana_phone, bo_phone, rex): (&Actor, &Actor, &Actor),
) {
    let canary = "Retake the photo, Canary-Heron 4417";
    let e = cista
        .review_record(ana_phone, org, record, ReviewState::Approved, "")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "forbidden", "a collector does not review: {e:?}");
    let head = h.store.audit_head().await.unwrap().size;
    cista
        .review_record(rex, org, record, ReviewState::NeedsChanges, canary)
        .await
        .unwrap();
    assert_eq!(h.store.audit_head().await.unwrap().size, head + 1);
    let raw = h.raw_database_bytes().await;
    assert!(
        !raw.windows(canary.len()).any(|w| w == canary.as_bytes()),
        "the comment is sealed at rest"
    );
    let entries = h.store.audit_entries(0, 10_000).await.unwrap();
    let reviewed = entries
        .iter()
        .find(|e| e.kind == "record.reviewed")
        .unwrap();
    assert!(
        !reviewed.details.contains("Canary"),
        "no comment in the audit log"
    );
    h.advance(Duration::seconds(1));
    cista
        .review_record(rex, org, record, ReviewState::Approved, "Thanks")
        .await
        .unwrap();

    for reader in [ana_phone, rex] {
        let status = cista.record_status(reader, org, record).await.unwrap();
        assert_eq!(status.state, ReviewState::Approved);
        let states: Vec<_> = status
            .reviews
            .iter()
            .map(|r| (r.state, r.comment.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                (ReviewState::NeedsChanges, canary),
                (ReviewState::Approved, "Thanks")
            ]
        );
    }
    // A list reads the last review of a page's records in one read; a record never
    // reviewed has none, and is listed as received.
    let unknown = SubmissionId::from_i64(i64::MAX);
    assert_eq!(
        h.store
            .collection()
            .review_states(&[unknown, record])
            .await
            .unwrap(),
        [(record, ReviewState::Approved)]
    );
    for (state, listed) in [
        (ReviewState::Approved, vec![record]),
        (ReviewState::NeedsChanges, vec![]),
    ] {
        let filter = RecordFilter {
            state: Some(state),
            ..RecordFilter::default()
        };
        let rows = cista.records(rex, org, &filter).await.unwrap();
        let ids: Vec<SubmissionId> = rows.iter().map(|r| r.submission).collect();
        assert_eq!(ids, listed, "{state:?}");
    }
    let e = cista
        .record_status(bo_phone, org, record)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found", "another collector's record: {e:?}");
    let e = cista
        .review_record(rex, org, record, ReviewState::Approved, "a\u{7}")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(CollectionAction::Review.role_may(Role::Reviewer));
}

/// Signing out every phone of `member` again finds none ("no phone"); for someone of another
/// organization (`stranger`, in `org` only), or a made-up subject, `elsewhere` answers
/// `not_found`.
async fn nobody_elses_phones_are_signed_out(
    cista: &Cista,
    (org, elsewhere): (OrgId, OrgId),
    member: SubjectCode,
    stranger: SubjectCode,
) {
    let again = cista.revoke_devices_of(&operator(), org, member).await;
    assert_eq!(again.unwrap(), 0);
    for nobody in [stranger, SubjectCode::from_i64(987_654)] {
        let err = cista
            .revoke_devices_of(&operator(), elsewhere, nobody)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found", "{err:?}");
    }
}
