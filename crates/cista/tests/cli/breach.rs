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
    let to = now().to_rfc3339();

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

/// The operator's whole path through a breach: record (deadline printed), print the notice,
/// notify refused while `[FILL IN: …]` is left, replace the notice from a file, notify (one
/// notice queued, the owner), notify again (nobody twice), list, reported; the audit log
/// still verifies.
#[test]
fn breach_record_notice_notify_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let from = now().plus(time::Duration::seconds(-5)).to_rfc3339();
    let slug = create_org(
        &data,
        "Bayside Towers HOA",
        ("Olivia", "Reyes", "olivia@bayside.example"),
    );
    let to = now().to_rfc3339();
    let run = |args: &[&str]| {
        let mut command = cista(&data);
        command.args(args);
        command
    };

    let record = |to: &str| {
        run(&[
            "breach",
            "record",
            "--org",
            &slug,
            "--from",
            &from,
            "--to",
            to,
            "--description",
            "A laptop with the roster was stolen.",
        ])
    };
    let recorded = ok(record(&to)).stdout;
    assert!(
        recorded.contains("Deadline: tell the supervisory authority by"),
        "{recorded}"
    );
    assert!(recorded.contains("71 h 59 min left") || recorded.contains("72 h 0 min left"));
    assert!(
        recorded.contains("1 person could have been touched"),
        "{recorded}"
    );
    let id = recorded
        .split_whitespace()
        .find(|w| w.starts_with("br-"))
        .unwrap()
        .to_owned();

    let printed = ok(run(&["breach", "notice", "--org", &slug, "--breach", &id]));
    assert!(
        printed.stdout.starts_with("Subject: {{ organization }}:"),
        "{}",
        printed.stdout
    );
    assert!(
        printed.stderr.contains("kinds_of_data"),
        "the names are listed"
    );
    let refused = fails(run(&["breach", "notify", "--org", &slug, "--breach", &id]));
    assert!(refused.contains("[FILL IN"), "{refused}");

    fill_in_the_notice(&run, tmp.path(), &slug, &id);

    let sent = ok(run(&["breach", "notify", "--org", &slug, "--breach", &id])).stdout;
    assert!(sent.contains("1 notice queued in the outbox"), "{sent}");
    let again = ok(run(&["breach", "notify", "--org", &slug, "--breach", &id])).stdout;
    assert!(
        again.contains("0 notices queued") && again.contains("; 1 told before"),
        "{again}"
    );

    let listed = ok(run(&["breach", "list", "--org", &slug])).stdout;
    assert!(
        listed.contains(&id) && listed.contains("1 person told"),
        "{listed}"
    );
    let reported = ok(run(&[
        "breach", "reported", "--org", &slug, "--breach", &id,
    ]))
    .stdout;
    assert!(
        reported.contains("the supervisory authority was told"),
        "{reported}"
    );
    let json = ok(run(&["breach", "list", "--org", &slug, "--json"])).stdout;
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value[0]["deadline_state"]["state"], "reported");
    assert_eq!(value[0]["people_told"], 1);
    let future = fails(record("2999-01-01T00:00:00Z"));
    assert!(future.contains("the window ends in the future"), "{future}");
    let nowhere = fails(run(&[
        "breach",
        "notify",
        "--org",
        &slug,
        "--breach",
        "br-0123456789abcdef",
    ]));
    assert!(nowhere.contains("that breach was not found"), "{nowhere}");
    let unknown = fails(run(&[
        "breach", "notify", "--org", &slug, "--breach", "br-1",
    ]));
    assert!(
        unknown.contains("a breach id looks like br-0123456789abcdef"),
        "{unknown}"
    );
    ok(run(&["audit", "verify"]));
}

/// A notice file without its subject line is refused; a filled-in one is saved and previewed.
fn fill_in_the_notice(
    run: &dyn Fn(&[&str]) -> std::process::Command,
    dir: &std::path::Path,
    slug: &str,
    id: &str,
) {
    let file = dir.join("notice.txt");
    std::fs::write(&file, "Hello").unwrap();
    let bad_file = fails(run(&[
        "breach",
        "notice",
        "--org",
        slug,
        "--breach",
        id,
        "--set",
        file.to_str().unwrap(),
    ]));
    assert!(
        bad_file.contains("starts with a line `Subject: …`"),
        "{bad_file}"
    );
    std::fs::write(
        &file,
        "Subject: {{ organization }}: a security incident\n\nHello {{ first_name }},\n\n\
         {{ what_happened }}\n\nWrite to privacy@bayside.example.\n",
    )
    .unwrap();
    ok(run(&[
        "breach",
        "notice",
        "--org",
        slug,
        "--breach",
        id,
        "--set",
        file.to_str().unwrap(),
    ]));
    let preview = ok(run(&[
        "breach",
        "notice",
        "--org",
        slug,
        "--breach",
        id,
        "--preview",
    ]))
    .stdout;
    assert!(
        preview.contains("Subject: Bayside Towers HOA: a security incident"),
        "{preview}"
    );
    assert!(preview.contains("Hello Alex,"), "{preview}");
}
