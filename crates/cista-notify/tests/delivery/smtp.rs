//! SMTP through lettre to a real local server: STARTTLS with a verified certificate, plain SMTP
//! refused for anything but loopback, an unreachable server retried.

use crate::{instance, invitee};
use cista_core::Actor;
use cista_core::platform::notices::DeliveryOutcome;
use cista_notify::{
    EmailSender, FileSms, OutboxWorker, Rendered, SmtpEmail, SmtpSecurity, SmtpSettings,
};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The Python that has aiosmtpd (`CISTA_TEST_PYTHON`, else `python3`), or `None` after saying
/// so; with `CISTA_TEST_REQUIRE_SMTP=1` a missing aiosmtpd fails the test.
fn python_with_aiosmtpd() -> Option<String> {
    let python = std::env::var("CISTA_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("CISTA_TEST_REQUIRE_SMTP").as_deref() != Ok("1"),
        "CISTA_TEST_REQUIRE_SMTP=1 but {python} cannot import aiosmtpd"
    );
    eprintln!("SKIPPED: pip install aiosmtpd (or set CISTA_TEST_PYTHON) to run the SMTP tests");
    None
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a certificate for localhost signed by it.
fn ca_and_server_cert(dir: &std::path::Path) -> Vec<u8> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test mail CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("mail.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("mail-key.pem"), key.serialize_pem()).unwrap();
    ca_cert.pem().into_bytes()
}

/// Starts aiosmtpd with STARTTLS required, storing mail in a maildir.
fn start_server(python: &str, dir: &std::path::Path, port: u16) -> KillOnDrop {
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .arg("--tlscert")
        .arg(dir.join("mail.pem"))
        .arg("--tlskey")
        .arg(dir.join("mail-key.pem"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(dir.join("maildir"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    KillOnDrop(child)
}

fn settings(port: u16, security: SmtpSecurity, ca: Option<Vec<u8>>) -> SmtpSettings {
    SmtpSettings {
        host: "localhost".to_owned(),
        port,
        security,
        username: None,
        password: None,
        from: "Cista <no-reply@example.org>".to_owned(),
        extra_roots_pem: ca,
        timeout: Duration::from_secs(10),
    }
}

fn mails(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("maildir/new")) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_goes_out_over_starttls_with_text_and_html() {
    let Some(python) = python_with_aiosmtpd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_and_server_cert(dir.path());
    let port = free_port();
    let _server = start_server(&python, dir.path(), port);

    let (cista, org) = instance(dir.path()).await;
    cista
        .invite(
            &Actor::operator("test"),
            org,
            invitee("ann@example.org", None),
        )
        .await
        .unwrap();
    let worker = OutboxWorker {
        cista: cista.clone(),
        email: Arc::new(SmtpEmail::new(&settings(port, SmtpSecurity::Starttls, Some(ca))).unwrap()),
        sms: Arc::new(FileSms {
            dir: dir.path().join("sms"),
            announce: false,
        }),
    };
    assert_eq!(worker.deliver_due().await.unwrap(), 1);
    let mut received = Vec::new();
    for _ in 0..50 {
        received = mails(dir.path());
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(received.len(), 1, "one message in the server's maildir");
    let mail = &received[0];
    assert!(
        mail.contains("Subject: You are invited to Palm Court on Cista"),
        "{mail}"
    );
    assert!(mail.contains("To: Ann <ann@example.org>"), "{mail}");
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(mail.contains("text/html"), "{mail}");
    assert!(mail.contains("https://localhost:8443/i/"), "{mail}");
    // Delivered once: the next pass finds nothing, and the link is gone from the database.
    assert_eq!(worker.deliver_due().await.unwrap(), 0);
    let stored = cista.store().recent_messages(1).await.unwrap().remove(0);
    assert!(stored.delivered_at.is_some());
    assert!(stored.params.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_an_unknown_certificate_is_not_sent_in_the_clear() {
    let Some(python) = python_with_aiosmtpd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    ca_and_server_cert(dir.path());
    let port = free_port();
    let _server = start_server(&python, dir.path(), port);
    // No extra root: the server's certificate does not verify, so nothing is sent.
    let sender = SmtpEmail::new(&settings(port, SmtpSecurity::Starttls, None)).unwrap();
    let outcome = sender
        .send(
            "ann@example.org",
            "Ann",
            &Rendered {
                subject: "s".into(),
                text: "t".into(),
                html: None,
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(outcome, DeliveryOutcome::Retry(_)), "{outcome:?}");
    assert!(mails(dir.path()).is_empty());
}

#[tokio::test]
async fn plain_smtp_is_refused_except_to_this_machine() {
    let mut remote = settings(25, SmtpSecurity::None, None);
    remote.host = "mail.example.org".to_owned();
    let err = SmtpEmail::new(&remote).unwrap_err();
    assert!(
        err.to_string()
            .contains("only for a mail server on this machine"),
        "{err}"
    );
    assert!(SmtpEmail::new(&settings(25, SmtpSecurity::None, None)).is_ok());
    let mut bad_from = settings(25, SmtpSecurity::Starttls, None);
    bad_from.from = "not an address".to_owned();
    assert!(
        SmtpEmail::new(&bad_from)
            .unwrap_err()
            .to_string()
            .contains("email.from")
    );
}

#[tokio::test]
async fn an_unreachable_mail_server_is_retried_later() {
    let sender = SmtpEmail::new(&settings(free_port(), SmtpSecurity::None, None)).unwrap();
    let outcome = sender
        .send(
            "ann@example.org",
            "Ann",
            &Rendered {
                subject: "s".into(),
                text: "t".into(),
                html: None,
                ..Default::default()
            },
        )
        .await;
    let DeliveryOutcome::Retry(error) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        !error.contains("ann@example.org"),
        "no address in the stored error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_in_any_script_arrive_intact_in_subject_recipient_and_both_bodies() {
    let Some(python) = python_with_aiosmtpd() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_and_server_cert(dir.path());
    let port = free_port();
    let _server = start_server(&python, dir.path(), port);

    let (cista, _) = instance(dir.path()).await;
    let organization = "東京レジデンス 🏠 Ελληνικά";
    let org = cista
        .create_organization(
            &Actor::operator("test"),
            cista_types::OrgName::parse(organization).unwrap(),
            cista_types::OrgSlug::parse("tokyo").unwrap(),
        )
        .await
        .unwrap()
        .id;
    let mut who = invitee("chen@example.org", None);
    who.first_name = cista_types::PersonName::parse("测试").unwrap();
    who.last_name = cista_types::PersonName::parse("陈").unwrap();
    cista
        .invite(&Actor::operator("test"), org, who)
        .await
        .unwrap();
    let worker = OutboxWorker {
        cista: cista.clone(),
        email: Arc::new(SmtpEmail::new(&settings(port, SmtpSecurity::Starttls, Some(ca))).unwrap()),
        sms: Arc::new(FileSms {
            dir: dir.path().join("sms"),
            announce: false,
        }),
    };
    assert_eq!(worker.deliver_due().await.unwrap(), 1);
    let mut file = None;
    for _ in 0..50 {
        file = std::fs::read_dir(dir.path().join("maildir/new"))
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path());
        if file.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let file = file.expect("one message in the server's maildir");
    // Read back as a mail program does (Python's email package: RFC 2047 headers, MIME
    // parts in their declared charset), not as raw bytes.
    let read = Command::new(&python)
        .args([
            "-c",
            "import sys, email, email.policy as p\n\
             m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=p.default)\n\
             print('SUBJECT', m['subject'])\n\
             print('TO', m['to'].addresses[0].display_name)\n\
             print('TEXT', m.get_body(('plain',)).get_content())\n\
             print('HTML', m.get_body(('html',)).get_content())",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let seen = String::from_utf8(read.stdout).unwrap();
    assert!(
        seen.contains(&format!(
            "SUBJECT You are invited to {organization} on Cista"
        )),
        "{seen}"
    );
    assert!(seen.contains("TO 测试\n"), "{seen}");
    assert!(
        seen.contains(&format!("You are invited to {organization}")),
        "{seen}"
    );
    assert!(seen.contains("Hello 测试"), "{seen}");
    let html = seen.split("\nHTML ").nth(1).unwrap();
    assert!(
        html.contains("测试") && html.contains("東京レジデンス 🏠"),
        "{seen}"
    );
}
