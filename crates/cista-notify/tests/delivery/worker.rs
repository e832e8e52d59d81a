//! The worker with the demo's file sinks: an invitation and an SMS code land in the outbox
//! folder, once, and the database keeps no copy of the link or code.

use crate::{instance, invitee};
use cista_core::Actor;
use cista_notify::{FileEmail, FileSms, OutboxWorker};
use std::sync::Arc;

/// The worker with the demo's file sinks, both writing to `outbox`.
fn file_worker(cista: &cista_core::Cista, outbox: &std::path::Path) -> OutboxWorker {
    OutboxWorker {
        cista: cista.clone(),
        email: Arc::new(FileEmail {
            dir: outbox.to_owned(),
            announce: false,
        }),
        sms: Arc::new(FileSms {
            dir: outbox.to_owned(),
            announce: false,
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_sinks_receive_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let (cista, org) = instance(dir.path()).await;
    let outbox = dir.path().join("outbox");
    let worker = file_worker(&cista, &outbox);
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

/// A form whose settings attach the report: the advisor's email carries the PDF (drawn at
/// delivery, naming the client), while the email's own text never names the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advisor_gets_the_report_attached_when_the_form_says_so() {
    use cista_core::products::assessment::AssessmentSettings;
    const SITE: &str = "https://www.harbor-advisory.example";
    let dir = tempfile::tempdir().unwrap();
    let (cista, org) = instance(dir.path()).await;
    let outbox = dir.path().join("outbox");
    let worker = file_worker(&cista, &outbox);
    let operator = Actor::operator("test");
    let ada = cista
        .invite(
            &operator,
            org,
            cista_testkit::fixtures::invitee(
                "Ada",
                "Brooks",
                "ada@palm.example",
                None,
                cista_types::Role::Advisor,
            ),
        )
        .await
        .unwrap()
        .subject;
    let form = cista_testkit::fixtures::publish_risk_profile(&cista, org, "risk", SITE).await;
    let settings = AssessmentSettings {
        notify: vec![ada],
        attach_report: true,
        retention_days: None,
    };
    cista
        .change_assessment_settings(&operator, org, "risk", settings)
        .await
        .unwrap();
    assert_eq!(worker.deliver_due().await.unwrap(), 1, "the invitation");
    std::fs::remove_dir_all(&outbox).unwrap();

    let submission = cista_testkit::fixtures::submit_risk_profile(&cista, org, form, SITE).await;
    assert_eq!(worker.deliver_due().await.unwrap(), 1);
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let pdf = files
        .iter()
        .find(|p| p.to_string_lossy().ends_with(".pdf"))
        .unwrap_or_else(|| panic!("no PDF in {files:?}"));
    assert!(
        pdf.to_string_lossy()
            .ends_with(&format!("risk-result-{submission}.pdf")),
        "{pdf:?}"
    );
    assert!(std::fs::read(pdf).unwrap().starts_with(b"%PDF-"));
    let text = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap();
    assert!(text.starts_with("To: Ada <ada@palm.example>"), "{text}");
    assert!(text.contains("attached as a PDF"), "{text}");
    assert!(!text.contains("Quillfeather"), "{text}");
}
