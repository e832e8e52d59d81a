//! Webhooks on both stores: an endpoint is checked (HTTPS, public) and its secret stored
//! sealed, never in the clear; a record and a review each queue one message per endpoint in
//! their own transaction, holding ids and links but no answers; a due message is claimed by
//! one worker at a time, retried on the schedule after a failure, delivered on a 2xx, given
//! up after the last attempt, and can be sent again by hand; a removed endpoint gets nothing
//! more; only owners and administrators manage them, each change audited.

use crate::Harness;
use crate::devices::{member, pair};
use cista_core::platform::intake::FormProduct;
use cista_core::ports::AttemptEnd;
use cista_core::products::collection::ReviewState;
use cista_core::products::collection::webhook_delivery::RETRY_DELAYS;
use cista_core::products::collection::webhooks::{WebhookEvent, WebhookId};
use cista_core::{Access, Actor, Error, Store as _};
use cista_testkit::fixtures::record_form;
use cista_types::{Clock as _, Role};
use serde_json::json;
use std::collections::HashSet;

fn operator() -> Actor {
    Actor::operator("test")
}

/// An organization with a collector's phone, a reviewer, a record form, and the endpoint
/// `https://hooks.example.org/cista` for every event; and a second organization.
struct Scene {
    cista: cista_core::Cista,
    org: cista_core::ports::Organization,
    other: cista_core::ports::Organization,
    phone: Actor,
    rex: Actor,
    form: cista_types::FormId,
    webhook: WebhookId,
    secret: String,
}

async fn scene(h: &Harness) -> Scene {
    let cista = h.cista().await;
    let org = h.org(&cista, "river-watch").await;
    let other = h.org(&cista, "elsewhere").await;
    let ana = member(h, &cista, &org, "Ana", Role::Collector).await;
    let rex = Actor::Person(cista_core::PersonActor {
        subject: member(h, &cista, &org, "Rex", Role::Reviewer).await,
        access: Access::Full,
        roles: [(org.id, Role::Reviewer)].into(),
    });
    let new = cista
        .create_webhook(
            &operator(),
            org.id,
            "https://hooks.example.org/cista",
            &WebhookEvent::ALL,
        )
        .await
        .unwrap();
    let form = cista
        .publish_form(
            &operator(),
            org.id,
            FormProduct::Collection,
            "wells",
            &record_form("Wells"),
        )
        .await
        .unwrap()
        .id;
    let phone = cista
        .authenticate_device(pair(&cista, org.id, ana, "Ana").await.token.expose())
        .await
        .unwrap()
        .actor;
    Scene {
        secret: new.secret.expose().to_owned(),
        webhook: new.webhook.id,
        cista,
        org,
        other,
        phone,
        rex,
        form,
    }
}

async fn audit_size(h: &Harness) -> u64 {
    h.store.audit_head().await.unwrap().size
}

pub async fn endpoints_are_checked_sealed_and_managed_by_staff_only(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "river-watch").await;
    let other = h.org(&cista, "elsewhere").await;
    let rex = Actor::Person(cista_core::PersonActor {
        subject: member(h, &cista, &org, "Rex", Role::Reviewer).await,
        access: Access::Full,
        roles: [(org.id, Role::Reviewer)].into(),
    });
    // Refused endpoints store nothing; reviewers manage none.
    let before = audit_size(h).await;
    for bad in [
        "http://hooks.example.org/cista",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest",
    ] {
        let e = cista
            .create_webhook(&operator(), org.id, bad, &WebhookEvent::ALL)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field, .. } if field == "url"),
            "{bad}: {e:?}"
        );
    }
    let e = cista
        .create_webhook(&operator(), org.id, "https://hooks.example.org/", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let e = cista
        .create_webhook(
            &rex,
            org.id,
            "https://hooks.example.org/",
            &WebhookEvent::ALL,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e:?}");
    assert_eq!(audit_size(h).await, before);
    assert!(
        cista
            .webhooks(&operator(), org.id)
            .await
            .unwrap()
            .is_empty()
    );

    let new = cista
        .create_webhook(
            &operator(),
            org.id,
            "https://hooks.example.org/cista",
            &WebhookEvent::ALL,
        )
        .await
        .unwrap();
    let secret = new.secret.expose().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert!(
        !format!("{new:?}").contains(&secret),
        "the secret never prints"
    );
    assert_eq!(audit_size(h).await, before + 1);
    // Sealed: neither its text nor its key bytes are in the database.
    let raw = h.raw_database_bytes().await;
    let key = cista_crypto::standard_webhooks::secret_key(&secret).unwrap();
    assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()));
    assert!(!raw.windows(key.len()).any(|w| w == key.as_slice()));
    // Another organization sees nothing of it.
    assert!(
        h.store
            .webhooks()
            .webhook(other.id, new.webhook.id)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_record_queues_one_message_of_ids_and_links(h: &Harness) {
    let Scene {
        cista,
        org,
        phone,
        form,
        ..
    } = scene(h).await;
    // A record queues one message in the record's own transaction.
    let before = audit_size(h).await;
    let record = cista
        .submit(
            &phone,
            org.id,
            form,
            "2b7e1f00-0000-4000-8000-000000000001",
            &json!({ "site": "Canary Creek by the Lee farm", "depth_m": 3 }),
        )
        .await
        .unwrap();
    assert_eq!(audit_size(h).await, before + 1, "one entry: the record's");
    let log = cista.webhook_log(&operator(), org.id, None).await.unwrap();
    assert_eq!(log.len(), 1);
    let (created, attempts) = &log[0];
    assert!(attempts.is_empty());
    assert_eq!(created.event, WebhookEvent::RecordCreated);
    assert_eq!(created.state(), "waiting");
    assert!(created.message_id.starts_with("msg_"));
    let payload: serde_json::Value = serde_json::from_str(&created.payload).unwrap();
    assert_eq!(payload["type"], "record.created");
    assert_eq!(
        payload["data"]["record"],
        record.submission.as_i64().to_string()
    );
    assert_eq!(payload["data"]["organization"], "river-watch");
    assert_eq!(payload["data"]["form"], "wells");
    assert!(
        payload["data"]["links"]["record"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                "/admin/river-watch/records/{}",
                record.submission.as_i64()
            ))
    );
    assert!(
        !created.payload.contains("Canary"),
        "no answers in a message"
    );
    // The same record sent again queues nothing more.
    cista
        .submit(
            &phone,
            org.id,
            form,
            "2b7e1f00-0000-4000-8000-000000000001",
            &json!({ "site": "Canary Creek by the Lee farm", "depth_m": 3 }),
        )
        .await
        .unwrap();
    assert_eq!(
        cista
            .webhook_log(&operator(), org.id, None)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn a_message_is_claimed_once_retried_on_failure_and_delivered(h: &Harness) {
    let Scene {
        cista,
        org,
        phone,
        secret,
        form,
        ..
    } = scene(h).await;
    cista
        .submit(
            &phone,
            org.id,
            form,
            "2b7e1f00-0000-4000-8000-000000000001",
            &json!({ "depth_m": 3 }),
        )
        .await
        .unwrap();
    // Claimed once: a second worker at the same moment gets nothing.
    let (first, second) = tokio::join!(
        cista.due_webhooks(&Actor::System, 10),
        cista.due_webhooks(&Actor::System, 10)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.len() + second.len(), 1, "claimed by exactly one");
    let due = first.into_iter().chain(second).next().unwrap();
    assert_eq!(due.url, "https://hooks.example.org/cista");
    assert_eq!(due.secret.expose(), secret);
    assert!(
        cista
            .due_webhooks(&Actor::System, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        cista
            .due_webhooks(&operator(), 10)
            .await
            .unwrap_err()
            .code(),
        "forbidden",
        "only the system sends"
    );

    // A 503 schedules the first retry 5 seconds on; a 204 then delivers it.
    let end = cista
        .record_webhook_attempt(&Actor::System, &due.delivery, Some(503), None, 40)
        .await
        .unwrap();
    assert_eq!(
        end,
        AttemptEnd::RetryAt(h.clock.now().plus(RETRY_DELAYS[0]))
    );
    assert!(
        cista
            .due_webhooks(&Actor::System, 10)
            .await
            .unwrap()
            .is_empty()
    );
    h.clock.advance(RETRY_DELAYS[0]);
    let again = cista.due_webhooks(&Actor::System, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.message_id, due.delivery.message_id);
    assert_eq!(again[0].delivery.attempts, 1);
    let end = cista
        .record_webhook_attempt(&Actor::System, &again[0].delivery, Some(204), None, 12)
        .await
        .unwrap();
    assert_eq!(end, AttemptEnd::Delivered);
    let log = cista.webhook_log(&operator(), org.id, None).await.unwrap();
    let (delivered, attempts) = &log[0];
    assert_eq!(delivered.state(), "delivered");
    assert_eq!(delivered.last_status, Some(204));
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(503), Some(204)]);
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("the endpoint did not answer 2xx")
    );
    assert_eq!(attempts[1].error, None);
    h.clock.advance(time::Duration::days(2));
    assert!(
        cista
            .due_webhooks(&Actor::System, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn an_unanswered_message_is_given_up_then_sent_again_by_hand(h: &Harness) {
    let Scene {
        cista,
        org,
        other,
        phone,
        rex,
        form,
        ..
    } = scene(h).await;
    let record = cista
        .submit(
            &phone,
            org.id,
            form,
            "2b7e1f00-0000-4000-8000-000000000003",
            &json!({ "depth_m": 3 }),
        )
        .await
        .unwrap();
    let created = cista.due_webhooks(&Actor::System, 10).await.unwrap();
    cista
        .record_webhook_attempt(&Actor::System, &created[0].delivery, Some(200), None, 5)
        .await
        .unwrap();
    // A review queues `record.reviewed`; with no answer ever, it is given up after 8 attempts.
    cista
        .review_record(
            &rex,
            org.id,
            record.submission,
            ReviewState::Approved,
            "fine",
        )
        .await
        .unwrap();
    let mut attempts = 0;
    loop {
        let due = cista.due_webhooks(&Actor::System, 10).await.unwrap();
        assert_eq!(due.len(), 1, "attempt {}", attempts + 1);
        assert_eq!(due[0].delivery.event, WebhookEvent::RecordReviewed);
        let payload: serde_json::Value = serde_json::from_str(&due[0].delivery.payload).unwrap();
        assert_eq!(payload["data"]["state"], "approved");
        assert!(
            !due[0].delivery.payload.contains("fine"),
            "no comment in a message"
        );
        let end = cista
            .record_webhook_attempt(
                &Actor::System,
                &due[0].delivery,
                None,
                Some("could not connect to the endpoint"),
                3,
            )
            .await
            .unwrap();
        attempts += 1;
        match end {
            AttemptEnd::RetryAt(at) => h.clock.set(at),
            AttemptEnd::GaveUp => break,
            AttemptEnd::Delivered => panic!("delivered without an answer"),
        }
    }
    assert_eq!(attempts, 8);
    let log = cista.webhook_log(&operator(), org.id, None).await.unwrap();
    let (failed, tries) = log
        .iter()
        .find(|(d, _)| d.event == WebhookEvent::RecordReviewed)
        .unwrap();
    assert_eq!(failed.state(), "failed");
    assert_eq!(tries.len(), 8);
    assert!(tries.iter().all(|t| t.status.is_none()));

    // Sent again by hand: due now, attempts counted afresh, the same webhook-id; audited.
    let before = audit_size(h).await;
    cista
        .redeliver_webhook(&operator(), org.id, failed.id)
        .await
        .unwrap();
    assert_eq!(audit_size(h).await, before + 1);
    let due = cista.due_webhooks(&Actor::System, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].delivery.message_id, failed.message_id);
    assert_eq!(due[0].delivery.attempts, 0);
    assert_eq!(
        cista
            .redeliver_webhook(&operator(), other.id, failed.id)
            .await
            .unwrap_err()
            .code(),
        "not_found",
        "another organization's message"
    );
}

pub async fn a_removed_endpoint_gets_nothing_more(h: &Harness) {
    let Scene {
        cista,
        org,
        phone,
        form,
        webhook,
        ..
    } = scene(h).await;
    cista
        .submit(
            &phone,
            org.id,
            form,
            "2b7e1f00-0000-4000-8000-000000000001",
            &json!({ "depth_m": 3 }),
        )
        .await
        .unwrap();
    let failed = cista.webhook_log(&operator(), org.id, None).await.unwrap()[0]
        .0
        .clone();
    // The trust page lists the live receivers among the third parties: by host for staff.
    let listed = cista.trust_report(&operator()).await.unwrap().webhooks;
    assert_eq!((listed.endpoints, listed.organizations), (1, 1));
    assert_eq!(listed.hosts, ["hooks.example.org"]);
    let public = cista
        .trust_report(&Actor::Anonymous)
        .await
        .unwrap()
        .webhooks;
    assert_eq!(public.endpoints, 1);
    assert!(public.hosts.is_empty(), "hosts are for staff");
    // Removed: its waiting message is given up, new records queue nothing, it cannot be sent
    // again; removing twice changes nothing.
    assert!(
        cista
            .remove_webhook(&operator(), org.id, webhook)
            .await
            .unwrap()
    );
    assert!(
        !cista
            .remove_webhook(&operator(), org.id, webhook)
            .await
            .unwrap()
    );
    h.clock.advance(time::Duration::minutes(5));
    assert!(
        cista
            .due_webhooks(&Actor::System, 10)
            .await
            .unwrap()
            .is_empty()
    );
    cista
        .submit(
            &phone,
            org.id,
            form,
            "2b7e1f00-0000-4000-8000-000000000002",
            &json!({ "depth_m": 5 }),
        )
        .await
        .unwrap();
    let log = cista.webhook_log(&operator(), org.id, None).await.unwrap();
    assert_eq!(log.len(), 1, "nothing queued for a removed endpoint");
    let listed = cista.trust_report(&operator()).await.unwrap().webhooks;
    assert_eq!(listed.endpoints, 0, "a removed endpoint is no third party");
    assert_eq!(
        log[0].0.state(),
        "failed",
        "its waiting message is given up"
    );
    assert_eq!(
        cista
            .redeliver_webhook(&operator(), org.id, failed.id)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    let unknown: WebhookId = "wh-0000000000000001".parse().unwrap();
    assert_eq!(
        cista
            .remove_webhook(&operator(), org.id, unknown)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    let kinds: HashSet<String> = h
        .store
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in ["webhook.created", "webhook.removed"] {
        assert!(kinds.contains(kind), "{kind}");
    }
}

pub async fn concurrent_workers_claim_each_message_once(h: &Harness) {
    let Scene {
        cista,
        org,
        phone,
        form,
        ..
    } = scene(h).await;
    cista
        .create_webhook(
            &operator(),
            org.id,
            "https://hooks2.example.org/cista",
            &[WebhookEvent::RecordCreated],
        )
        .await
        .unwrap();
    for n in 0..15 {
        cista
            .submit(
                &phone,
                org.id,
                form,
                &format!("2b7e1f00-0000-4000-8000-0000000001{n:02}"),
                &json!({ "depth_m": n }),
            )
            .await
            .unwrap();
    }
    // 15 records to 2 endpoints: 30 messages, claimed by 4 workers 4 at a time.
    let mut seen = HashSet::new();
    loop {
        let claims =
            futures::future::join_all((0..4).map(|_| cista.due_webhooks(&Actor::System, 4))).await;
        let mut any = false;
        for claim in claims {
            for due in claim.unwrap() {
                any = true;
                assert!(seen.insert(due.delivery.id), "claimed twice");
            }
        }
        if !any {
            break;
        }
    }
    assert_eq!(seen.len(), 30);
}
