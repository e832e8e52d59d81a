//! The worker with the demo's file sinks: an invitation and an SMS code land in the outbox
//! folder, once, and the database keeps no copy of the link or code.

use crate::{instance, invitee};
use cista_core::Actor;
use cista_notify::{FileEmail, FileSms, OutboxWorker};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_sinks_receive_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let (cista, org) = instance(dir.path()).await;
    let outbox = dir.path().join("outbox");
    let worker = OutboxWorker {
        cista: cista.clone(),
        email: Arc::new(FileEmail {
            dir: outbox.clone(),
            announce: false,
        }),
        sms: Arc::new(FileSms {
            dir: outbox.clone(),
            announce: false,
        }),
    };
    cista
        .invite(
            &Actor::operator("test"),
            org,
            invitee("bo@example.org", Some("+13055550142")),
        )
        .await
        .unwrap();
    cista.request_sms_code("+13055550142").await.unwrap();
    assert_eq!(worker.deliver_due().await.unwrap(), 2);
    assert_eq!(worker.deliver_due().await.unwrap(), 0);
    let mut files: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".txt")).count(),
        2,
        "{files:?}"
    );
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".html")).count(),
        1,
        "{files:?}"
    );
    let texts: Vec<String> = files
        .iter()
        .filter(|f| f.ends_with(".txt"))
        .map(|f| std::fs::read_to_string(outbox.join(f)).unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("To: Ann <bo@example.org>") && t.contains("/i/"))
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("To: +13055550142") && t.contains("sign-in code"))
    );
    for message in cista.store().recent_messages(10).await.unwrap() {
        assert!(
            message.params.is_empty(),
            "delivered messages keep no link or code"
        );
    }
}
