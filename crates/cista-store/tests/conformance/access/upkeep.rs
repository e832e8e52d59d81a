//! Background upkeep: undeliverable messages and key rotation over people.

use super::*;

pub async fn undeliverable_messages_are_retried_then_abandoned_and_params_wiped(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    cista
        .invite(
            &operator(),
            org.id,
            invitee("Ivy", "Jay", "ivy@example.org", None, Role::Member),
        )
        .await
        .unwrap();
    // A second reader cannot claim what the first took.
    let first = cista.due_deliveries(&Actor::System, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        cista
            .due_deliveries(&Actor::System, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let id = first[0].id;
    let mut attempts = first[0].attempts;
    use cista_core::platform::notices::{DeliveryOutcome, MAX_ATTEMPTS};
    loop {
        cista
            .record_delivery(
                &Actor::System,
                id,
                attempts,
                DeliveryOutcome::Retry("connection refused".into()),
            )
            .await
            .unwrap();
        attempts += 1;
        if attempts >= MAX_ATTEMPTS {
            break;
        }
        h.advance(Duration::hours(1));
        let again = cista.due_deliveries(&Actor::System, 10).await.unwrap();
        assert_eq!(again.len(), 1, "retried after the back-off");
    }
    h.advance(Duration::hours(2));
    assert!(
        cista
            .due_deliveries(&Actor::System, 10)
            .await
            .unwrap()
            .is_empty(),
        "abandoned"
    );
    let message = h.store.recent_messages(10).await.unwrap().remove(0);
    assert!(message.failed_at.is_some());
    assert!(
        message.params.is_empty(),
        "the link is wiped from an abandoned message"
    );
    assert_eq!(message.last_error.as_deref(), Some("connection refused"));
    assert!(
        h.store
            .audit_entries(0, 1000)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "message.abandoned")
    );
    assert_eq!(
        cista
            .due_deliveries(&Actor::Anonymous, 10)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
}

pub async fn key_rotation_rewraps_every_persons_key(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "palm-court").await;
    for i in 0..3 {
        cista
            .invite(
                &operator(),
                org.id,
                invitee("P", "Q", &format!("p{i}@example.org"), None, Role::Member),
            )
            .await
            .unwrap();
    }
    let report = cista.rotate_keys(&operator(), true).await.unwrap();
    assert_eq!(
        report.rewrapped,
        5 + 3,
        "stored keys and the three people's keys"
    );
    assert_eq!(report.removed.len(), 1);
    let status = cista.key_status(&operator()).await.unwrap();
    assert_eq!(status.keys_by_kek.len(), 1);
    let people = cista
        .organization_people(&operator(), org.id)
        .await
        .unwrap();
    assert!(
        people.iter().all(|p| p.fields.is_some()),
        "everyone still readable"
    );
    let _ = Error::CodeInvalid;
}
