//! An advisory firm's results on both stores: listed de-identified (subject code, band,
//! scores), a client revealed only through an audited read with its purpose, a client's name
//! and email purged for good while the scored answers stay; reviewers and other organizations
//! get nothing.

use crate::Harness;
use crate::widget::{FIRST, SITE, advisor, cautious_answers, client, growth_answers, submit};
use cista_core::platform::intake::FormProduct;
use cista_core::products::assessment::{Client, RISK_PROFILE};
use cista_core::{Access, Actor, Error, PersonActor, Store as _};
use cista_types::{Role, SubjectCode, SubmissionId, WebOrigin};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub async fn results_are_listed_de_identified_revealed_with_audit_and_purged(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "harbor-advisory").await;
    let mut definition: Value = serde_json::from_str(RISK_PROFILE).unwrap();
    definition["embed"] = json!({ "allowed_origins": [SITE] });
    let form = cista
        .publish_assessment(&advisor(org.id), org.id, "risk-profile", &definition)
        .await
        .unwrap()
        .form
        .id;
    let site = WebOrigin::parse(SITE).unwrap();
    let cautious = cautious_answers();
    let mut sent = Vec::new();
    for answers in [growth_answers(), cautious] {
        let token = cista.issue_load_token(org.id, form, &site).unwrap().token;
        let shown = submit(&cista, org.id, form, Some(SITE), &token, client(), &answers)
            .await
            .unwrap();
        sent.push(shown.receipt.submission);
        h.advance(time::Duration::seconds(1));
    }

    // Listed newest first, with bands and labelled scores, and nobody's name.
    let (newest, rows) = cista
        .assessment_results(&advisor(org.id), org.id, "risk-profile")
        .await
        .unwrap();
    assert_eq!(newest.form.id, form);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].submission, sent[1]);
    assert_eq!(rows[1].band, "Growth");
    assert_eq!(
        rows[1].scores.last().unwrap(),
        &("Risk score (0 to 100)".to_owned(), 71.0)
    );
    assert!(rows.iter().all(|r| !r.client_erased && r.form_version == 1));
    assert_ne!(
        rows[0].subject, rows[1].subject,
        "each result its own subject code"
    );
    assert!(!format!("{rows:?}").contains(FIRST));
    let reviewer = Actor::Person(PersonActor {
        subject: SubjectCode::from_i64(12),
        access: Access::Full,
        roles: BTreeMap::from([(org.id, Role::Reviewer)]),
    });
    for e in [
        cista
            .assessment_results(&reviewer, org.id, "risk-profile")
            .await
            .err(),
        cista
            .reveal_client(&reviewer, org.id, sent[0], "x")
            .await
            .err(),
        cista.purge_client(&reviewer, org.id, sent[0]).await.err(),
    ] {
        assert!(matches!(e, Some(Error::Forbidden { .. })), "{e:?}");
    }

    // Revealing is a vault read with its purpose in the audit log; it needs a purpose.
    let head = h.store.audit_head().await.unwrap().size;
    // Nor one nobody can read: control characters, a bidi override and a joiner.
    for unreadable in ["  ", "\u{0}", "\u{202e}\u{200b}", "why\u{1b}[2J"] {
        let e = cista
            .reveal_client(&advisor(org.id), org.id, sent[0], unreadable)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{unreadable:?}");
    }
    let (subject, who) = cista
        .reveal_client(
            &advisor(org.id),
            org.id,
            sent[0],
            "call back about the meeting",
        )
        .await
        .unwrap();
    assert_eq!(subject, rows[1].subject);
    let Client::Known(fields) = who else {
        panic!("{who:?}")
    };
    assert_eq!(fields.first_name.as_str(), FIRST);
    let read = h.store.audit_entries(head, 1).await.unwrap();
    assert_eq!(read[0].kind, "person.read");
    assert!(read[0].details.contains("call back about the meeting"));
    assert!(read[0].details.contains(&subject.to_string()));
    assert!(!read[0].details.contains(FIRST));

    purged_for_good_the_result_stays(h, &cista, org.id, &sent, subject).await;

    // Another organization's staff, or a result id that is not this organization's: nothing.
    let other = h.org(&cista, "other-firm").await;
    let e = cista
        .reveal_client(&advisor(other.id), other.id, sent[1], "x")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
    let e = cista
        .purge_client(&advisor(org.id), org.id, SubmissionId::from_i64(42))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
}

/// Purged: the name is gone for good, the scored answers stay; purging again is a no-op.
async fn purged_for_good_the_result_stays(
    h: &Harness,
    cista: &cista_core::Cista,
    org: cista_types::OrgId,
    sent: &[SubmissionId],
    subject: SubjectCode,
) {
    assert_eq!(
        cista
            .purge_client(&advisor(org), org, sent[0])
            .await
            .unwrap(),
        subject
    );
    let size = h.store.audit_head().await.unwrap().size;
    cista
        .purge_client(&advisor(org), org, sent[0])
        .await
        .unwrap();
    assert_eq!(
        h.store.audit_head().await.unwrap().size,
        size,
        "nothing new"
    );
    let (_, who) = cista
        .reveal_client(&advisor(org), org, sent[0], "erasure check")
        .await
        .unwrap();
    assert!(matches!(who, Client::Erased(_)), "{who:?}");
    let (_, rows) = cista
        .assessment_results(&advisor(org), org, "risk-profile")
        .await
        .unwrap();
    assert!(rows[1].client_erased && !rows[0].client_erased);
    assert_eq!(rows[1].band, "Growth", "the de-identified result stays");
}

/// A field record is never read as a result. Its answers are the collector's to shape, so a
/// record form whose fields mimic a result's (a `subject` number, two objects, a band and
/// five texts) could name anyone's subject code; an owner who also fills records must not
/// reveal or purge that person through the record's id (OWASP API1).
pub async fn a_record_is_never_read_as_a_result(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "harbor-advisory").await;
    let elsewhere = h.org(&cista, "palm-court").await;
    let victim = h
        .active_person(
            &cista,
            &elsewhere,
            cista_testkit::fixtures::invitee(
                "Wilhelmina",
                "Okonkwo",
                "wil@palm.example",
                None,
                Role::Owner,
            ),
        )
        .await
        .subject;
    let owner = Actor::Person(PersonActor {
        subject: SubjectCode::from_i64(13),
        access: Access::Full,
        roles: BTreeMap::from([(org.id, Role::Owner)]),
    });
    let point = |id: &str| json!({ "id": id, "label": id, "kind": "geopoint" });
    let text = |id: &str| json!({ "id": id, "label": id, "kind": "text" });
    let mimic = json!({
        "title": "Looks like a result",
        "fields": [
            { "id": "subject", "label": "Subject", "kind": "number", "min": 0, "max": 9.3e18 },
            point("answers"),
            point("scores"),
            { "id": "band", "label": "Band", "kind": "number", "min": 0, "max": 10 },
            text("band_label"),
            text("rules_sha256"),
            text("origin"),
            text("consented_to"),
        ]
    });
    let form = cista
        .publish_form(&owner, org.id, FormProduct::Collection, "mimic", &mimic)
        .await
        .unwrap();
    let at = json!({ "latitude": 1, "longitude": 1, "accuracy_m": 1 });
    let payload = json!({
        "subject": victim.as_i64(), "answers": at, "scores": at, "band": 0,
        "band_label": "x", "rules_sha256": "x", "origin": "x", "consented_to": "x",
    });
    let record = cista
        .submit(&owner, org.id, form.id, "mimic-1", &payload)
        .await
        .unwrap()
        .submission;
    for e in [
        cista
            .reveal_client(&owner, org.id, record, "who is this")
            .await
            .map(|_| ())
            .err(),
        cista
            .purge_client(&owner, org.id, record)
            .await
            .map(|_| ())
            .err(),
        cista
            .assessment_report(&owner, org.id, record)
            .await
            .map(|_| ())
            .err(),
    ] {
        assert_eq!(e.map(|e| e.code()), Some("not_found"));
    }
    assert!(
        cista.vault().tombstone(victim).await.unwrap().is_none(),
        "the person the record named is not erased"
    );
}

/// A key provider that counts its unwraps (through a PKCS#11 token, each is a call to it).
#[derive(Debug)]
struct CountingKeys {
    inner: std::sync::Arc<cista_crypto::LocalKeyFile>,
    unwraps: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl cista_crypto::KeyProvider for CountingKeys {
    async fn info(&self) -> Result<cista_crypto::ProviderInfo, cista_crypto::KeyProviderError> {
        self.inner.info().await
    }
    async fn wrap(
        &self,
        key: &cista_crypto::DataKey,
        aad: &[u8],
    ) -> Result<cista_crypto::WrappedKey, cista_crypto::KeyProviderError> {
        self.inner.wrap(key, aad).await
    }
    async fn unwrap(
        &self,
        wrapped: &cista_crypto::WrappedKey,
        aad: &[u8],
    ) -> Result<cista_crypto::DataKey, cista_crypto::KeyProviderError> {
        self.unwraps
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.unwrap(wrapped, aad).await
    }
    async fn rotate(
        &self,
        rng: &dyn cista_types::Rng,
        now: cista_types::Timestamp,
    ) -> Result<cista_crypto::KekId, cista_crypto::KeyProviderError> {
        self.inner.rotate(rng, now).await
    }
    async fn remove_retired(
        &self,
        kek: &cista_crypto::KekId,
    ) -> Result<(), cista_crypto::KeyProviderError> {
        self.inner.remove_retired(kek).await
    }
}

/// A list of many results unwraps the organization's data key once, not once a result.
pub async fn a_list_of_results_unwraps_the_data_key_once(h: &Harness) {
    let keys = std::sync::Arc::new(CountingKeys {
        inner: h.key_file(),
        unwraps: Default::default(),
    });
    let mut deps = h.deps_with(h.key_file());
    deps.keys = keys.clone();
    let (cista, _) = cista_core::Cista::open_or_initialize(deps, &Actor::operator("test"), None)
        .await
        .unwrap();
    let (org, form) = crate::advisors::published(h, &cista, "harbor-advisory").await;
    for _ in 0..3 {
        crate::advisors::send(&cista, org, form, &growth_answers()).await;
    }
    let before = keys.unwraps.load(std::sync::atomic::Ordering::SeqCst);
    let (_, rows) = cista
        .assessment_results(&advisor(org), org, "risk-profile")
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let unwraps = keys.unwraps.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(unwraps, 1, "one unwrap for three results");
}
