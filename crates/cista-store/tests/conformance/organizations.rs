//! The instance row and organizations.

use crate::Harness;
use cista_core::platform::audit::{AuditKind, NewAuditEntry};
use cista_core::ports::{Instance, KeyPurpose, StoredKey};
use cista_core::{Actor, Cista, Error, Store as _};
use cista_crypto::{KekId, WrappedKey};
use cista_types::{Clock as _, KeyId, OrgName, OrgSlug, OsRng, PhoneRegion, TimeZoneName};

fn operator() -> Actor {
    Actor::operator("test")
}

pub async fn an_instance_is_created_once(h: &Harness) {
    assert!(h.store.instance().await.unwrap().is_none());
    let (first, created) = Cista::open_or_initialize(h.deps_with(h.key_file()), &operator(), None)
        .await
        .unwrap();
    assert!(created);
    let (second, created_again) =
        Cista::open_or_initialize(h.deps_with(h.key_file()), &operator(), None)
            .await
            .unwrap();
    assert!(!created_again);
    assert_eq!(first.instance(), second.instance());
    assert!(first.instance().audit_origin.starts_with("cista/"));

    // The singleton is a constraint, not a convention.
    let key = StoredKey {
        id: KeyId::new(&OsRng),
        purpose: KeyPurpose::AuditSigning,
        org: None,
        wrapped: WrappedKey {
            kek: KekId::new("kek-x"),
            ciphertext: vec![1, 2, 3],
        },
        created_at: h.clock.now(),
    };
    let dup = Instance {
        id: 7,
        audit_signing_key: key.id,
        ..first.instance().clone()
    };
    let audit = NewAuditEntry::new(
        h.clock.now(),
        &operator(),
        None,
        AuditKind::InstanceInitialized,
        serde_json::json!({}),
    );
    let before = h.store.audit_head().await.unwrap().size;
    let err = h
        .store
        .create_instance(&dup, &key, audit)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(h.store.audit_head().await.unwrap().size, before);
    assert!(h.store.stored_key(key.id).await.unwrap().is_none());
}

pub async fn organizations_round_trip(h: &Harness) {
    let cista = h.cista().await;
    let palm = cista
        .create_organization(
            &operator(),
            OrgName::parse("Palm Court Condominium Association").unwrap(),
            OrgSlug::parse("palm-court").unwrap(),
        )
        .await
        .unwrap();
    let bay = cista
        .create_organization(
            &operator(),
            OrgName::parse("Bayside HOA").unwrap(),
            OrgSlug::parse("bayside").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(h.store.organization(palm.id).await.unwrap().unwrap(), palm);
    assert_eq!(
        h.store
            .organization_by_slug(&OrgSlug::parse("bayside").unwrap())
            .await
            .unwrap()
            .unwrap(),
        bay
    );
    assert_eq!(
        cista
            .organizations(&Actor::Anonymous)
            .await
            .unwrap_err()
            .code(),
        "forbidden",
        "which organizations use an instance is not public"
    );
    let names: Vec<String> = cista
        .organizations(&operator())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name.to_string())
        .collect();
    assert_eq!(names, ["Bayside HOA", "Palm Court Condominium Association"]);
    assert!(
        h.store
            .organization_by_slug(&OrgSlug::parse("nowhere").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(h.store.organization_count().await.unwrap(), 2);
    // two organization keys, the audit signing key and three instance-level keys
    assert_eq!(h.store.stored_key_count().await.unwrap(), 6);
    let key = h.store.org_data_key(palm.id).await.unwrap().unwrap();
    assert_eq!(key.purpose, KeyPurpose::OrgData);
    assert_eq!(key.org, Some(palm.id));

    // Only the operator may create organizations.
    let err = cista
        .create_organization(
            &Actor::Anonymous,
            OrgName::parse("Sneaky").unwrap(),
            OrgSlug::parse("sneaky").unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
}

pub async fn a_taken_slug_is_refused_and_nothing_is_half_written(h: &Harness) {
    let cista = h.cista().await;
    let name = OrgName::parse("Palm Court").unwrap();
    let slug = OrgSlug::parse("palm-court").unwrap();
    cista
        .create_organization(&operator(), name.clone(), slug.clone())
        .await
        .unwrap();
    let head = h.store.audit_head().await.unwrap();
    let keys = h.store.stored_keys().await.unwrap().len();

    let err = cista
        .create_organization(&operator(), name.clone(), slug.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");

    // Bypass the friendly pre-check: the unique constraint itself must refuse, and the key
    // and audit entry of the failed transaction must be rolled back with it.
    let org = cista_core::ports::Organization {
        id: cista_types::OrgId::new(&OsRng),
        slug,
        name,
        time_zone: cista_types::TimeZoneName::utc(),
        phone_region: None,
        created_at: h.clock.now(),
    };
    let key = StoredKey {
        id: KeyId::new(&OsRng),
        purpose: KeyPurpose::OrgData,
        org: Some(org.id),
        wrapped: WrappedKey {
            kek: KekId::new("kek-x"),
            ciphertext: vec![0; 40],
        },
        created_at: org.created_at,
    };
    let audit = NewAuditEntry::new(
        org.created_at,
        &operator(),
        Some(org.id),
        AuditKind::OrganizationCreated,
        serde_json::json!({}),
    );
    let err = h
        .store
        .create_organization(&org, &key, audit)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(h.store.audit_head().await.unwrap(), head);
    assert_eq!(h.store.stored_keys().await.unwrap().len(), keys);
}

pub async fn an_organizations_country_for_phone_numbers_is_set_read_and_cleared(h: &Harness) {
    let (cista, _) = Cista::open_or_initialize(h.deps_with(h.key_file()), &operator(), None)
        .await
        .unwrap();
    let made = cista
        .create_organization_with(
            &operator(),
            OrgName::parse("Palm Court").unwrap(),
            OrgSlug::parse("palm-court").unwrap(),
            cista_types::TimeZoneName::parse("America/New_York").unwrap(),
            Some(PhoneRegion::US),
        )
        .await
        .unwrap();
    let read = h.store.organization(made.id).await.unwrap().unwrap();
    assert_eq!(read.phone_region, Some(PhoneRegion::US));
    let before = h.store.audit_head().await.unwrap().size;
    let gb = PhoneRegion::parse("GB").unwrap();
    cista
        .set_phone_region(&operator(), made.id, Some(gb))
        .await
        .unwrap();
    assert_eq!(
        h.store
            .organization(made.id)
            .await
            .unwrap()
            .unwrap()
            .phone_region,
        Some(gb)
    );
    cista
        .set_phone_region(&operator(), made.id, None)
        .await
        .unwrap();
    assert_eq!(
        h.store
            .organization(made.id)
            .await
            .unwrap()
            .unwrap()
            .phone_region,
        None
    );
    // Each change is audited.
    assert_eq!(h.store.audit_head().await.unwrap().size, before + 2);
}

/// The zone times are shown in, and the country of a phone number typed without its code,
/// come from the settings the organizations share: read as at most a few distinct values,
/// never every organization. One zone shared by a person's organizations is theirs; zones
/// that differ fall back to the one every organization shares, else UTC.
pub async fn shared_zones_and_phone_regions_are_read_as_distinct_values(h: &Harness) {
    let cista = h.cista().await;
    let zone = |name: &str| TimeZoneName::parse(name).unwrap();
    let sorted = |mut values: Vec<String>| {
        values.sort();
        values
    };
    assert!(
        h.store
            .organization_time_zones(None, 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(cista.time_zone_for(&operator()).await.unwrap(), zone("UTC"));

    let palm = h.org(&cista, "palm-court").await;
    let bay = h.org(&cista, "bayside").await;
    let lake = h.org(&cista, "lakeside").await;
    for org in [&palm, &bay, &lake] {
        cista
            .set_time_zone(&operator(), org.id, zone("America/New_York"))
            .await
            .unwrap();
    }
    let us = Some(PhoneRegion::US);
    cista
        .set_phone_region(&operator(), palm.id, us)
        .await
        .unwrap();
    cista
        .set_phone_region(&operator(), bay.id, us)
        .await
        .unwrap();
    assert_eq!(
        h.store.organization_time_zones(None, 2).await.unwrap(),
        ["America/New_York"]
    );
    assert_eq!(
        cista.time_zone_for(&operator()).await.unwrap(),
        zone("America/New_York")
    );

    cista
        .set_time_zone(&operator(), lake.id, zone("America/Chicago"))
        .await
        .unwrap();
    assert_eq!(
        sorted(h.store.organization_time_zones(None, 5).await.unwrap()),
        ["America/Chicago", "America/New_York"]
    );
    assert_eq!(
        h.store
            .organization_time_zones(None, 1)
            .await
            .unwrap()
            .len(),
        1,
        "the limit"
    );
    assert_eq!(
        h.store
            .organization_time_zones(Some(&[palm.id, bay.id]), 2)
            .await
            .unwrap(),
        ["America/New_York"]
    );
    assert_eq!(
        h.store
            .organization_time_zones(Some(&[lake.id]), 2)
            .await
            .unwrap(),
        ["America/Chicago"]
    );
    assert_eq!(cista.time_zone_for(&operator()).await.unwrap(), zone("UTC"));

    let mut regions = h.store.organization_phone_regions(5).await.unwrap();
    regions.sort();
    assert_eq!(regions, [None, Some("US".to_owned())]);
    cista
        .set_phone_region(&operator(), lake.id, us)
        .await
        .unwrap();
    assert_eq!(
        h.store.organization_phone_regions(2).await.unwrap(),
        [Some("US".to_owned())]
    );
}
