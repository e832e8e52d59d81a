//! `cista breach assess` (issue 14, item 2, first part): the people an incident window could
//! have touched, from the audit log, as lines or JSON; a window that ends before it starts and
//! a time that is not RFC 3339 are one clear line each.

use crate::{cista, create_org, fails, init, ok};

fn now() -> cista_types::Timestamp {
    cista_types::Clock::now(&cista_types::SystemClock)
}

#[test]
fn breach_assess_lists_who_a_window_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let from = now().plus(time::Duration::seconds(-5)).to_rfc3339();
    let slug = create_org(
        &data,
        "Bayside Towers HOA",
        ("Olivia", "Reyes", "olivia@bayside.example"),
    );
    let to = now().plus(time::Duration::seconds(5)).to_rfc3339();

    let mut assess = cista(&data);
    assess.args([
        "breach", "assess", "--org", &slug, "--from", &from, "--to", &to,
    ]);
    let ran = ok(assess);
    assert!(
        ran.stdout
            .contains("1 person of bayside-towers-hoa could have been touched"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("contact details and membership"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("72 hours"), "{}", ran.stdout);
    assert!(
        !ran.stdout.contains("Olivia"),
        "codes, never names: {}",
        ran.stdout
    );

    let mut json = cista(&data);
    json.args([
        "breach", "assess", "--org", &slug, "--from", &from, "--to", &to, "--scope", "members",
        "--json",
    ]);
    let value: serde_json::Value = serde_json::from_str(&ok(json).stdout).unwrap();
    assert_eq!(value["scope"], "members");
    assert_eq!(value["people"].as_array().unwrap().len(), 1);

    let mut backwards = cista(&data);
    backwards.args([
        "breach", "assess", "--org", &slug, "--from", &to, "--to", &from,
    ]);
    assert!(fails(backwards).contains("--to must be later than --from"));
    let mut not_a_time = cista(&data);
    not_a_time.args([
        "breach",
        "assess",
        "--org",
        &slug,
        "--from",
        "yesterday",
        "--to",
        &to,
    ]);
    assert!(fails(not_a_time).contains("--from \"yesterday\" is not an RFC 3339 time"));
}
