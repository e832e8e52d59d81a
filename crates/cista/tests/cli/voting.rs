//! Voting from the command line: `members import` (every bad row by line and column, then a
//! preview, then the import), `verify-election` on a real bundle and on tampered ones, and one
//! vote per unit with two server processes on one PostgreSQL database.

use crate::{cista, fails, init, kek_path, ok, run};
use cista_core::products::voting::ballots::{BallotSettings, NewContest};
use cista_core::products::voting::cast::CastRequest;
use cista_core::products::voting::definition::{
    ContestKind, Secrecy, Threshold, Weighting, candidates_from_lines,
};
use cista_core::{Access, AccessSettings, Actor, Cista, Deps, PersonActor};
use cista_crypto::LocalKeyFile;
use cista_store::{ConnectOptions, SeaStore, SeaVault, Target};
use cista_types::{BallotId, Clock as _, OrgId, OsRng, Percent, Role, SystemClock};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use time::Duration;

pub(crate) const ROSTER: &str = "unit,weight,first_name,last_name,email,phone,designated_voter,consent\n\
    1A,1,Ana,Ruiz,ana@palm.example,,,yes\n\
    1B,1,Ana,Ruiz,ana@palm.example,,,yes\n\
    2A,1,Bo,Li,bo@palm.example,,,yes\n\
    2A,,Cy,Li,cy@palm.example,,,yes\n\
    3A,1,Fay,Oh,fay@palm.example,,,no\n";

pub(crate) use cista_testkit::fixtures::PASSWORD;

pub(crate) fn org_create(data: &Path, url: Option<&str>) {
    let mut create = cista(data);
    if let Some(url) = url {
        create.env("CISTA_DATABASE_URL", url);
    }
    create.args([
        "org",
        "create",
        "--name",
        "Palm Court",
        "--slug",
        "palm-court",
        "--time-zone",
        "America/New_York",
        "--owner-email",
        "olivia@palm.example",
        "--owner-first-name",
        "Olivia",
        "--owner-last-name",
        "Ortiz",
    ]);
    let ran = ok(create);
    assert!(
        ran.stdout.contains("time zone America/New_York"),
        "{}",
        ran.stdout
    );
}

pub(crate) fn import(
    data: &Path,
    url: Option<&str>,
    file: &Path,
    yes: bool,
) -> std::process::Command {
    let mut command = cista(data);
    if let Some(url) = url {
        command.env("CISTA_DATABASE_URL", url);
    }
    command
        .args(["members", "import"])
        .arg(file)
        .args(["--org", "palm-court"]);
    if yes {
        command.arg("--yes");
    }
    command
}

#[test]
fn members_import_reports_every_bad_row_then_previews_and_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    org_create(&data, None);

    let bad = tmp.path().join("bad.csv");
    std::fs::write(
        &bad,
        "unit,weight,first_name,last_name,email\n1A,1,Ana,Ruiz,ana@palm.example\n1B,heavy,Bo,Li,bo@\n,1,Cy,Li,cy@palm.example\n",
    )
    .unwrap();
    let mut command = import(&data, None, &bad, true);
    command.stdin(std::process::Stdio::null());
    let ran = run(command);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let problems: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.contains("bad.csv: line"))
        .collect();
    assert_eq!(problems.len(), 3, "{}", ran.stderr);
    assert!(problems[0].ends_with(
        "line 3, column weight: must be a number such as 1 or 0.25, with at most 6 decimal places"
    ));
    assert!(problems[1].contains("line 3, column email"));
    assert!(problems[2].contains("line 4, column unit: must not be empty"));
    assert!(ran.stderr.contains("error: ") && ran.stderr.contains("nothing was imported"));

    let good = tmp.path().join("roster.csv");
    std::fs::write(&good, ROSTER).unwrap();
    // Without --yes and without a terminal: the preview, and nothing applied.
    let mut command = import(&data, None, &good, false);
    command.stdin(std::process::Stdio::null());
    let line = fails(command);
    assert!(line.contains("run again with --yes"), "{line}");
    let ran = ok(import(&data, None, &good, true));
    assert!(ran.stdout.contains("units added      4"), "{}", ran.stdout);
    assert!(ran.stdout.contains("new people       4"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("Imported into Palm Court: 4 units added"),
        "{}",
        ran.stdout
    );
    let again = ok(import(&data, None, &good, true));
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );

    let mut unknown = cista(&data);
    unknown
        .args(["members", "import"])
        .arg(&good)
        .args(["--org", "nowhere", "--yes"]);
    assert!(fails(unknown).contains("there is no organization `nowhere`"));
}

#[test]
fn members_import_reads_what_spreadsheets_write_as_the_upload_does() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let mut create = cista(&data);
    create.args([
        "org",
        "create",
        "--name",
        "Palm Court",
        "--slug",
        "palm-court",
        "--time-zone",
        "America/New_York",
        "--phone-region",
        "US",
        "--owner-email",
        "olivia@palm.example",
        "--owner-first-name",
        "Olivia",
        "--owner-last-name",
        "Ortiz",
        "--owner-phone",
        "(305) 555-0100",
    ]);
    ok(create);

    // Windows-1252 from Excel's plain "CSV": refused with the way to save "CSV UTF-8".
    let latin = tmp.path().join("latin.csv");
    std::fs::write(
        &latin,
        b"unit;weight;first_name;last_name\n101;1;Jos\xe9;Ruiz\n",
    )
    .unwrap();
    let mut command = import(&data, None, &latin, true);
    command.stdin(std::process::Stdio::null());
    let ran = run(command);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("latin.csv: line 2: the file is not UTF-8 text"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("CSV UTF-8 (Comma delimited) (*.csv)"),
        "{}",
        ran.stderr
    );

    // A European file with a trunk zero after +44 and a national US number.
    let european = tmp.path().join("european.csv");
    std::fs::write(
        &european,
        "unit;weight;first_name;last_name;email;phone\r\n\
         101;12,5;Ana;Ruiz;ana@palm.example;+44 07400 123456\r\n\
         102;87,45;Bo;Li;bo@palm.example;305.555.0142\r\n",
    )
    .unwrap();
    let ran = ok(import(&data, None, &european, true));
    assert!(
        ran.stdout
            .contains("file read as     UTF-8, fields separated by semicolons, decimal commas"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("weights total    99.95"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("they are 0.05 short"), "{}", ran.stdout);
    assert!(ran.stdout.contains("units added      2"), "{}", ran.stdout);

    // The same roster as Excel's "Unicode text" (UTF-16, tabs) changes nothing.
    let text = "unit\tweight\tfirst_name\tlast_name\temail\tphone\r\n\
                101\t12,5\tAna\tRuiz\tana@palm.example\t+447400123456\r\n\
                102\t87,45\tBo\tLi\tbo@palm.example\t+1 305 555 0142\r\n";
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let unicode = tmp.path().join("unicode.txt");
    std::fs::write(&unicode, utf16).unwrap();
    let again = ok(import(&data, None, &unicode, true));
    assert!(
        again
            .stdout
            .contains("UTF-16 (little-endian), fields separated by tabs"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("Nothing to change"),
        "{}",
        again.stdout
    );
}

/// An opened core on a data directory's database and key file, for setting up what the
/// pages would (a ballot, owners' passwords).
pub(crate) async fn core(data: &Path, url: Option<&str>) -> Cista {
    let target = match url {
        Some(url) => Target::parse(url).unwrap(),
        None => Target::SqliteFile(data.join("cista.db")),
    };
    let store = SeaStore::connect(&target, &ConnectOptions::default())
        .await
        .unwrap();
    let vault = SeaVault::on(&store);
    let deps = Deps {
        store: Arc::new(store),
        vault: Arc::new(vault),
        keys: Arc::new(LocalKeyFile::open(&kek_path(data)).unwrap()),
        clock: Arc::new(SystemClock),
        rng: Arc::new(OsRng),
        settings: AccessSettings::default(),
    };
    Cista::open_or_initialize(deps, &Actor::operator("test"), None)
        .await
        .unwrap()
        .0
}

pub(crate) async fn open_ballot(cista: &Cista, org: OrgId, closes_in: Duration) -> BallotId {
    let operator = Actor::operator("test");
    let now = SystemClock.now();
    let id = cista
        .create_ballot(
            &operator,
            org,
            BallotSettings {
                title: "Annual meeting".to_owned(),
                description: String::new(),
                opens_at: now.plus(Duration::minutes(-1)),
                closes_at: now.plus(closes_in),
                secrecy: Secrecy::Secret,
                weighting: Weighting::PerUnit,
                quorum: Percent::parse("30").unwrap(),
                min_turnout: None,
                paper: true,
                notify_sms: false,
                reminder_hours: Vec::new(),
            },
        )
        .await
        .unwrap();
    for contest in [
        NewContest {
            title: "Amend article 7".to_owned(),
            description: String::new(),
            kind: ContestKind::Resolution {
                threshold: Threshold::MajorityOfCast,
            },
        },
        NewContest {
            title: "Board".to_owned(),
            description: String::new(),
            kind: ContestKind::Election {
                seats: 1,
                candidates: candidates_from_lines("Alma Diaz\nBen Ortiz"),
                shuffle: false,
            },
        },
    ] {
        cista
            .add_contest(&operator, org, id, contest)
            .await
            .unwrap();
    }
    cista.publish_ballot(&operator, org, id).await.unwrap();
    id
}

/// Units by label, and each unit's owners.
pub(crate) async fn units(
    cista: &Cista,
    org: OrgId,
) -> BTreeMap<String, (cista_types::UnitId, Vec<cista_types::SubjectCode>)> {
    let owners = cista.store().voting().unit_owners(org).await.unwrap();
    cista
        .store()
        .voting()
        .units(org)
        .await
        .unwrap()
        .into_iter()
        .map(|u| {
            let subjects = owners
                .iter()
                .filter(|o| o.unit == u.id)
                .map(|o| o.subject)
                .collect();
            (u.label.to_string(), (u.id, subjects))
        })
        .collect()
}

fn voter(org: OrgId, subject: cista_types::SubjectCode) -> Actor {
    Actor::Person(PersonActor {
        subject,
        access: Access::Full,
        roles: BTreeMap::from([(org, Role::Member)]),
    })
}

#[test]
fn verify_election_recounts_a_real_bundle_and_fails_on_any_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    org_create(&data, None);
    let roster = tmp.path().join("roster.csv");
    std::fs::write(&roster, ROSTER).unwrap();
    ok(import(&data, None, &roster, true));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (bundle, key) = runtime.block_on(three_votes_in_a_closed_ballot(&data));
    let file = tmp.path().join("bundle.json");
    std::fs::write(&file, bundle).unwrap();

    let mut verify = cista(&data);
    verify
        .arg("verify-election")
        .arg(&file)
        .args(["--key", &key]);
    let ran = ok(verify);
    assert!(
        ran.stdout.contains("Palm Court — Annual meeting"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains("FAIL"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("the recount of 3 ballots matches the published results"),
        "{}",
        ran.stdout
    );
    // Anyone can run it: no data directory, no key file, no database, and no configuration
    // is read (an unrelated CISTA_ variable would be refused by commands that read it).
    let mut anywhere = std::process::Command::new(crate::BIN);
    anywhere
        .current_dir(tmp.path())
        .env("CISTA_NOT_A_SETTING", "1")
        .arg("verify-election")
        .arg(&file)
        .arg("--json");
    let ran = ok(anywhere);
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    // Format 2: the tree is recomputed from every ballot, so there are no per-ballot proofs
    // to check (nine checks, the tree root and the results' signature among them).
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9, "{checks:?}");
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "results signature" && c["ok"] == true)
    );
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "tree root" && c["ok"] == true)
    );

    // A changed choice, a dropped ballot, altered results, another key: each fails.
    let text = std::fs::read_to_string(&file).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tampered = tampered_copies(&json);
    for (what, j) in tampered {
        let path = tmp.path().join(format!("{what}.json"));
        std::fs::write(&path, j.to_string()).unwrap();
        let mut verify = cista(&data);
        verify.arg("verify-election").arg(&path);
        let ran = run(verify);
        assert_eq!(ran.code, 1, "{what}: {}", ran.stdout);
        assert!(ran.stdout.contains("FAIL"), "{what}: {}", ran.stdout);
        assert!(ran.stdout.contains("does NOT verify"), "{what}");
    }
    let mut wrong_key = cista(&data);
    wrong_key
        .arg("verify-election")
        .arg(&file)
        .args(["--key", "other+00000000+AQ=="]);
    assert_eq!(run(wrong_key).code, 1);
    let other = tmp.path().join("other.json");
    std::fs::write(&other, "not json").unwrap();
    let mut garbage = cista(&data);
    garbage.arg("verify-election").arg(&other);
    assert!(fails(garbage).contains("not a Cista election bundle"));
}

/// Three units vote in a ballot that closes two seconds after it opens; once the worker has
/// closed it, its election bundle (pretty JSON) and the key that verifies it.
async fn three_votes_in_a_closed_ballot(data: &Path) -> (String, String) {
    let cista = core(data, None).await;
    let org = cista
        .store()
        .organization_by_slug(&cista_types::OrgSlug::parse("palm-court").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let ballot = open_ballot(&cista, org, Duration::seconds(2)).await;
    let hash = cista
        .store()
        .voting()
        .ballot(ballot)
        .await
        .unwrap()
        .unwrap()
        .definition_hash
        .to_hex();
    let units = units(&cista, org).await;
    for (label, answer, candidate) in [("1A", "yes", "1"), ("1B", "no", "2"), ("2A", "yes", "1")] {
        let (unit, owners) = &units[label];
        cista
            .cast_vote(
                &voter(org, owners[0]),
                CastRequest {
                    ballot,
                    unit: *unit,
                    definition_hash: hash.clone(),
                    fields: vec![
                        ("c1".into(), answer.into()),
                        ("c2".into(), candidate.into()),
                    ],
                    origin: Default::default(),
                    submission: None,
                },
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        cista.run_voting_work(&Actor::System).await.unwrap().closed,
        1
    );
    let bundle = cista.election_bundle(ballot).await.unwrap();
    (
        serde_json::to_string_pretty(&bundle).unwrap(),
        bundle.verifier_key,
    )
}

/// Copies of the bundle, each changed one way: a changed choice, a dropped ballot, altered
/// results.
fn tampered_copies(json: &serde_json::Value) -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("choice", {
            let mut j = json.clone();
            let answer = &mut j["ballots"][0]["choices"][0]["answer"];
            *answer = if answer == "yes" {
                "no".into()
            } else {
                "yes".into()
            };
            j
        }),
        ("dropped", {
            let mut j = json.clone();
            j["ballots"].as_array_mut().unwrap().remove(1);
            j
        }),
        ("results", {
            let mut j = json.clone();
            j["results"]["tally"]["contests"][0]["passed"] = (!j["results"]["tally"]["contests"]
                [0]["passed"]
                .as_bool()
                .unwrap())
            .into();
            j
        }),
    ]
}
