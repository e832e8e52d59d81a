//! Names in any script (issue 10, item 10): from the ballot builder to the results page,
//! the certified PDF and the record's CSV, on SQLite and PostgreSQL.

use super::{BALLOTS, ballot_in, location, palm_court, paper_vote, staff};
use crate::voting::{import_roster, operator};
use crate::web::{page, post};
use crate::{Options, TestServer, csrf_in};
use cista_core::products::voting::ballots::BallotSettings;
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_types::{BallotId, Clock as _, OrgId, Percent, Role, SystemClock};
use reqwest::{Client, StatusCode};
use time::Duration;

/// Text without spaces and invisible characters: pdftotext may drop the space after an emoji
/// (drawn from a bitmap font) and adds bidi marks around right-to-left runs.
fn squashed(text: &str) -> String {
    text.chars()
        .filter(|&c| !c.is_whitespace() && !cista_types::glyphs::is_default_ignorable(c))
        .collect()
}

/// A PDF's text in content order, as `pdftotext -raw` reads it, squashed.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-raw")
        .arg(&file)
        .arg("-")
        .output()
        .unwrap_or_else(|e| {
            panic!("pdftotext could not be run ({e}): apt-get install -y poppler-utils")
        });
    assert!(out.status.success(), "pdftotext failed");
    squashed(&String::from_utf8(out.stdout).unwrap())
}

const SCRIPT_TITLE: &str = "2027 選挙 🗳 Ψηφοφορία";
const SCRIPT_MOTION: &str = "बजट स्वीकृत करें 🏠";
const SCRIPT_BOARD: &str = "理事会 선거";
const SCRIPT_NAMES: [&str; 4] = ["陈测试", "🏠 Team", "محمد علي", "Nguyễn Văn Anh"];

/// The ballot builder's pages take names in any script; after the close the results page,
/// the certified PDF and the record's CSV show them.
async fn names_in_any_script_reach_the_certified_pdf(server: TestServer) {
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;

    let ballot = a_ballot_in_many_scripts_is_drafted(&admin, &server).await;
    it_is_published_voted_on_paper_and_closed(&admin, &server, org, &ballot).await;
    the_certified_pdf_draws_every_name_in_ranking_order(&admin, &server, &ballot.path).await;
    the_record_csv_keeps_every_name_for_a_spreadsheet(&admin, &server, &ballot.path).await;
    server.stop().await;
}

/// A draft ballot made through the builder's pages.
struct Drafted {
    /// The draft's page.
    path: String,
    ballot: BallotId,
    /// The CSRF token of the new-ballot form.
    token: String,
}

/// The builder's pages take a title, a motion, a board and candidates in many scripts, and the
/// draft page shows them.
async fn a_ballot_in_many_scripts_is_drafted(admin: &Client, server: &TestServer) -> Drafted {
    let (_, form) = page(admin, server, &format!("{BALLOTS}/new")).await;
    let token = csrf_in(&form);
    let zone = cista_types::TimeZoneName::utc();
    let now = SystemClock.now();
    let r = post(
        admin,
        server,
        &format!("{BALLOTS}/new"),
        &token,
        &[
            ("title", SCRIPT_TITLE),
            ("description", "名前はそのまま印刷されます。"),
            ("opens", &zone.to_local_input(now.plus(Duration::days(1)))),
            ("closes", &zone.to_local_input(now.plus(Duration::days(8)))),
            ("secrecy", "recorded"),
            ("weighting", "per-unit"),
            ("quorum", "30"),
            ("paper", "on"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let id = ballot_in(&location(&r));
    let path = format!("{BALLOTS}/{id}");
    let ballot = BallotId::from_i64(id.parse().unwrap());
    let r = post(
        admin,
        server,
        &format!("{path}/contests"),
        &token,
        &[
            ("kind", "resolution"),
            ("title", SCRIPT_MOTION),
            ("threshold", "majority"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let r = post(
        admin,
        server,
        &format!("{path}/contests"),
        &token,
        &[
            ("kind", "election"),
            ("title", SCRIPT_BOARD),
            ("seats", "2"),
            ("candidates", &SCRIPT_NAMES.join("\n")),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let (_, draft) = page(admin, server, &path).await;
    for text in SCRIPT_NAMES.iter().chain([&SCRIPT_TITLE, &SCRIPT_BOARD]) {
        assert!(draft.contains(text), "{text} not on the draft page");
    }
    Drafted {
        path,
        ballot,
        token,
    }
}

/// The window moved to the second (the form takes minutes), the ballot is published, voted on
/// paper and closed; the results page shows every name.
async fn it_is_published_voted_on_paper_and_closed(
    admin: &Client,
    server: &TestServer,
    org: OrgId,
    drafted: &Drafted,
) {
    let (path, token, ballot) = (&drafted.path, drafted.token.as_str(), drafted.ballot);
    let cista = &server.state.cista;
    // The window to the second (the form takes minutes): open since a minute, closing in 5 s.
    let now = server.clock.now();
    cista
        .update_ballot_settings(
            &operator(),
            org,
            ballot,
            BallotSettings {
                title: SCRIPT_TITLE.to_owned(),
                description: String::new(),
                opens_at: now.plus(Duration::minutes(-1)),
                closes_at: now.plus(Duration::seconds(5)),
                secrecy: Secrecy::Recorded,
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
    let r = post(admin, server, &format!("{path}/publish"), token, &[]).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    paper_vote(cista, org, ballot, "1A", &["1", "2"]).await;
    paper_vote(cista, org, ballot, "2A", &["1"]).await;
    server
        .clock
        .advance_to(now.plus(Duration::milliseconds(5200)));
    let (_, live) = page(admin, server, path).await;
    let r = post(
        admin,
        server,
        &format!("{path}/close"),
        &csrf_in(&live),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, closed) = page(admin, server, path).await;
    for text in SCRIPT_NAMES.iter().chain([&SCRIPT_MOTION, &SCRIPT_BOARD]) {
        assert!(closed.contains(text), "{text} not on the results page");
    }
}

/// The certified results: a PDF that draws every name (the failing input answered 500), in
/// ranking order.
async fn the_certified_pdf_draws_every_name_in_ranking_order(
    admin: &Client,
    server: &TestServer,
    path: &str,
) {
    // The certified results: a PDF that draws every name (the failing input answered 500).
    let r = admin
        .get(server.url(&format!("{path}/results.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let text = pdf_text(&r.bytes().await.unwrap());
    for expected in [SCRIPT_TITLE, SCRIPT_MOTION, SCRIPT_BOARD, "Palm Court"] {
        assert!(
            text.contains(&squashed(expected)),
            "{expected} missing in:\n{text}"
        );
    }
    // In ranking order: 陈测试 (2 votes), 🏠 Team (1), then the others (the Arabic name's
    // words come in visual order, right to left).
    let at = |name: &str| {
        text.find(&squashed(name))
            .unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
    };
    assert!(at("陈测试") < at("🏠 Team"), "{text}");
    let others = at("Nguyễn Văn Anh").min(at("علي محمد"));
    assert!(at("🏠 Team") < others, "{text}");
}

/// The record, for a spreadsheet: UTF-8 with a byte order mark, names intact.
async fn the_record_csv_keeps_every_name_for_a_spreadsheet(
    admin: &Client,
    server: &TestServer,
    path: &str,
) {
    let r = admin
        .get(server.url(&format!("{path}/record/votes.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "no byte order mark");
    let csv = std::str::from_utf8(&bytes[3..]).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains(SCRIPT_MOTION) && header.contains(SCRIPT_BOARD),
        "{header}"
    );
    assert!(csv.contains("陈测试; 🏠 Team"), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_in_any_script_reach_the_certified_pdf_on_sqlite() {
    names_in_any_script_reach_the_certified_pdf(TestServer::start(Options::default()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_in_any_script_reach_the_certified_pdf_on_postgresql() {
    crate::on_postgres(|target| async move {
        names_in_any_script_reach_the_certified_pdf(
            TestServer::start_on(Options::default(), Some(target)).await,
        )
        .await;
    })
    .await;
}
