//! `cista app-token create|list|revoke` against a stopped instance.

use crate::{cista_command, create_org, fails, init, ok};

fn app_token(data: &std::path::Path, args: &[&str]) -> std::process::Command {
    cista_command(data, "app-token", args)
}

#[test]
fn app_tokens_are_created_once_shown_listed_and_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let org = create_org(
        &data,
        "Bayside Towers HOA",
        ("Olivia", "Ortiz", "olivia@bayside.example"),
    );
    let org = org.as_str();
    assert_eq!(org, "bayside-towers-hoa");

    let line = ok(app_token(&data, &["list", "--org", org])).stdout;
    assert!(line.contains("has no app tokens"), "{line}");
    let made = ok(app_token(
        &data,
        &[
            "create",
            "--org",
            org,
            "--purpose",
            "voting.results",
            "--label",
            "Board web site",
            "--days",
            "30",
        ],
    ))
    .stdout;
    let secret = made
        .lines()
        .find(|l| l.starts_with("cista_"))
        .unwrap_or_else(|| panic!("no token printed:\n{made}"));
    assert_eq!(secret.len(), "cista_".len() + 43, "{made}");
    let id = made
        .lines()
        .find_map(|l| l.strip_prefix("created app token "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no id printed:\n{made}"))
        .to_owned();
    assert!(id.starts_with("at-") && id.len() == 19, "{id}");

    let listed = ok(app_token(&data, &["list", "--org", org])).stdout;
    let row = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not listed:\n{listed}"));
    assert!(
        row.contains("voting.results") && row.contains("active") && row.contains("never"),
        "{row}"
    );
    assert!(row.ends_with("Board web site"), "{row}");
    assert!(!listed.contains(secret), "the list never shows the token");

    let revoked = ok(app_token(&data, &["revoke", "--org", org, "--id", &id])).stdout;
    assert!(revoked.contains(&format!("revoked {id}")), "{revoked}");
    let again = ok(app_token(&data, &["revoke", "--org", org, "--id", &id])).stdout;
    assert!(again.contains("already revoked"), "{again}");
    let listed = ok(app_token(&data, &["list", "--org", org])).stdout;
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("revoked")),
        "{listed}"
    );

    // Bad input is one clear line, and nothing is written.
    bad_input_is_one_clear_line(&data, org);
    let listed = ok(app_token(&data, &["list", "--org", org])).stdout;
    assert_eq!(listed.lines().count(), 2, "{listed}");
}

/// Each bad `create` or `revoke` fails with one line naming what is wrong.
fn bad_input_is_one_clear_line(data: &std::path::Path, org: &str) {
    for (args, needle) in [
        (
            vec![
                "create",
                "--org",
                org,
                "--purpose",
                "everything",
                "--label",
                "x",
            ],
            "--purpose",
        ),
        (
            vec![
                "create",
                "--org",
                org,
                "--purpose",
                "voting.results",
                "--label",
                " ",
            ],
            "name",
        ),
        (
            vec![
                "create",
                "--org",
                org,
                "--purpose",
                "voting.results",
                "--label",
                "x",
                "--days",
                "400",
            ],
            "365",
        ),
        (
            vec![
                "create",
                "--org",
                "nowhere",
                "--purpose",
                "voting.results",
                "--label",
                "x",
            ],
            "nowhere",
        ),
        (vec!["revoke", "--org", org, "--id", "at-nothex"], "--id"),
        (
            vec!["revoke", "--org", org, "--id", "at-0000000000000001"],
            "not found",
        ),
    ] {
        let line = fails(app_token(data, &args));
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}
