//! `cista org create`, `cista org invite-owner` and `cista erase`, against a stopped instance and a running one.

use crate::{Running, cista, fails, free_port, init, ok};

fn org_create(data: &std::path::Path, extra: &[&str]) -> std::process::Command {
    let mut command = cista(data);
    command.args([
        "org",
        "create",
        "--name",
        "Bayside Towers HOA",
        "--owner-email",
        "olivia@bayside.example",
        "--owner-first-name",
        "Olivia",
        "--owner-last-name",
        "Ortiz",
    ]);
    command.args(extra);
    command
}

#[test]
fn org_create_invites_the_owner_and_prints_the_one_time_link() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let ran = ok(org_create(&data, &[]));
    assert!(
        ran.stdout.contains(
            "created organization  Bayside Towers HOA (bayside-towers-hoa, time zone UTC)"
        ),
        "{}",
        ran.stdout
    );
    let link = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("https://localhost:8443/i/"))
        .unwrap_or_else(|| panic!("no link printed:\n{}", ran.stdout));
    assert_eq!(link.len(), "https://localhost:8443/i/".len() + 43);
    // The same slug again is refused in one line, and nothing else is written.
    let line = fails(org_create(&data, &[]));
    assert!(
        line.contains("bayside-towers-hoa") && line.contains("exists already"),
        "{line}"
    );
    // Bad input is refused before anything is written.
    for (args, needle) in [
        (vec!["--slug", "Not A Slug"], "--slug"),
        (vec!["--owner-phone", "305 555"], "country code"),
    ] {
        let line = fails(org_create(&data, &args));
        assert!(line.contains(needle), "{line}");
    }
    let mut bad_email = cista(&data);
    bad_email.args([
        "org",
        "create",
        "--name",
        "X Org",
        "--owner-email",
        "nobody",
        "--owner-first-name",
        "A",
        "--owner-last-name",
        "B",
    ]);
    let line = fails(bad_email);
    assert!(
        line.contains("--owner-email") && line.contains("name@example.org"),
        "{line}"
    );
    let mut verify = cista(&data);
    verify.args(["audit", "verify"]);
    assert!(ok(verify).stdout.starts_with("audit log OK"));
}

/// An owner the server already knows is sent an invitation to join, not made owner at once;
/// `org invite-owner` invites again (or another owner) to an organization that exists.
#[test]
fn an_owner_the_server_knows_is_invited_to_join_and_can_be_invited_again() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    ok(org_create(&data, &[]));
    let mut marina = cista(&data);
    marina.args([
        "org",
        "create",
        "--name",
        "Bayside Marina",
        "--slug",
        "marina",
        "--owner-email",
        "olivia@bayside.example",
        "--owner-first-name",
        "Olivia",
        "--owner-last-name",
        "Ortiz",
    ]);
    let ran = ok(marina);
    assert!(
        ran.stdout.contains("already knows the owner"),
        "{}",
        ran.stdout
    );
    let join_link = |stdout: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with("https://localhost:8443/j/"))
            .unwrap_or_else(|| panic!("no link to join printed:\n{stdout}"))
            .to_owned()
    };
    let first = join_link(&ran.stdout);
    let invite_owner = |org: &str| {
        let mut command = cista(&data);
        command.args([
            "org",
            "invite-owner",
            "--org",
            org,
            "--email",
            "OLIVIA@bayside.example",
            "--first-name",
            "Olivia",
            "--last-name",
            "Ortiz",
        ]);
        command
    };
    let again = ok(invite_owner("marina"));
    assert!(
        again.stdout.contains("Bayside Marina (marina)"),
        "{}",
        again.stdout
    );
    assert_ne!(
        join_link(&again.stdout),
        first,
        "a new link replaces the first"
    );
    // Already an owner of the first organization; no such organization.
    let line = fails(invite_owner("bayside-towers-hoa"));
    assert!(line.contains("already a member"), "{line}");
    let line = fails(invite_owner("nowhere"));
    assert!(line.contains("no organization nowhere"), "{line}");
}

#[test]
fn org_create_against_a_running_instance_gets_the_email_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    let mut command = cista(&data);
    command.args(["demo", "--listen", &format!("127.0.0.1:{port}")]);
    let mut demo = Running::spawn(command);
    demo.wait_for("Press Ctrl-C to stop.");
    let mut create = org_create(&data, &[]);
    create.env(
        "CISTA_SERVER_PUBLIC_URL",
        format!("https://localhost:{port}"),
    );
    let ran = ok(create);
    assert!(
        ran.stdout.contains(&format!("https://localhost:{port}/i/")),
        "{}",
        ran.stdout
    );
    // The running server's outbox worker sends it within a few seconds.
    demo.wait_for("outbox: email to olivia@bayside.example: You are invited to Bayside Towers HOA");
    assert_eq!(demo.terminate(), 0);
}

#[test]
fn erase_destroys_a_persons_key_and_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let ran = ok(org_create(&data, &[]));
    assert!(ran.stdout.contains("invited owner         subject "));
    let subject = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("invited owner         subject "))
        .unwrap()
        .trim()
        .to_owned();
    let mut erase = cista(&data);
    erase.args(["erase", &subject]);
    let ran = ok(erase);
    assert!(ran.stdout.contains("key is destroyed"), "{}", ran.stdout);
    let mut again = cista(&data);
    again.args(["erase", "not-a-number"]);
    assert!(fails(again).contains("subject code"));
    let mut unknown = cista(&data);
    unknown.args(["erase", "4242"]);
    assert!(fails(unknown).contains("not found"));
    let mut verify = cista(&data);
    verify.args(["audit", "verify"]);
    assert!(ok(verify).stdout.starts_with("audit log OK"));
}

#[test]
fn the_vault_can_live_in_its_own_database() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let vault_url = format!("sqlite://{}", tmp.path().join("vault.db").display());
    let mut command = cista(&data);
    command.env("CISTA_VAULT_URL", &vault_url).arg("init");
    ok(command);
    let mut create = org_create(&data, &[]);
    create.env("CISTA_VAULT_URL", &vault_url);
    ok(create);
    let count = |path: std::path::PathBuf| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            use cista_core::Vault as _;
            let vault = cista_store::SeaVault::connect(
                &cista_store::Target::SqliteFile(path),
                &cista_store::ConnectOptions::default(),
            )
            .await
            .unwrap();
            vault.migrate().await.unwrap();
            vault.counts().await.unwrap().0
        })
    };
    assert_eq!(
        count(tmp.path().join("vault.db")),
        1,
        "the owner is in the separate vault"
    );
    assert_eq!(
        count(data.join("cista.db")),
        0,
        "and not in the main database"
    );
    // Serving without the vault's database is refused, not papered over with an empty one.
    std::fs::remove_file(tmp.path().join("vault.db")).unwrap();
    let mut serve = cista(&data);
    serve.env("CISTA_VAULT_URL", &vault_url).args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    let line = fails(serve);
    assert!(line.contains("vault"), "{line}");
    assert!(!tmp.path().join("vault.db").exists());
}
