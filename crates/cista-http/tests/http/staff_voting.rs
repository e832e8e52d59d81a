//! The staff pages for units and ballots over real HTTPS: the CSV import with its preview and
//! its refusals, consent from paper forms, the ballot builder through to publication, the
//! live page (turnout, never a count before the close), paper entry and its refusals,
//! reminders, cancel and reissue, results and the official record after the close, and what
//! inspectors and members may do. This file holds the steps the tests share; the tests live
//! in one module per page.

mod builder;
mod closed;
mod large;
mod live;
mod script_names;
mod units;

use crate::TestServer;
use crate::people;
use crate::voting::operator;
use crate::web::{between, post, sign_in};
use cista_core::Cista;
use cista_core::ports::VoteOrigin;
use cista_core::products::voting::cast::CastRequest;
use cista_types::{BallotId, OrgId, Role, UnitId};
use reqwest::Client;
use reqwest::multipart::{Form, Part};

const UNITS: &str = "/admin/palm-court/units";
const BALLOTS: &str = "/admin/palm-court/ballots";

async fn palm_court(cista: &Cista) -> OrgId {
    cista_testkit::fixtures::palm_court_id(cista).await
}

/// Someone with `role` in Palm Court, signed in.
async fn staff(server: &TestServer, email: &str, role: Role) -> Client {
    let cista = &server.state.cista;
    people::active(cista, palm_court(cista).await, email, role).await;
    sign_in(server, email).await
}

/// Uploads `bytes` as the import file, with `token` as the form's CSRF field (if any).
async fn upload(
    browser: &Client,
    server: &TestServer,
    token: Option<&str>,
    bytes: &[u8],
) -> reqwest::Response {
    let mut form = Form::new();
    if let Some(t) = token {
        form = form.text("csrf", t.to_owned());
    }
    let file = Part::bytes(bytes.to_vec())
        .file_name("units.csv")
        .mime_str("text/csv")
        .unwrap();
    browser
        .post(server.url(&format!("{UNITS}/import")))
        .header("origin", server.origin.as_str())
        .multipart(form.part("file", file))
        .send()
        .await
        .unwrap()
}

/// The value of the hidden field `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    between(html, &format!(r#"name="{name}" value=""#), "\"").to_owned()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The ballot id in a redirect to a ballot's page.
fn ballot_in(location: &str) -> String {
    location
        .trim_start_matches(&format!("{BALLOTS}/"))
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

async fn unit_id(cista: &Cista, org: OrgId, label: &str) -> UnitId {
    cista
        .roster(&operator(), org)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.unit.label.as_str() == label)
        .unwrap()
        .unit
        .id
}

/// Posts the new-ballot form with these times.
async fn new_ballot(
    admin: &Client,
    server: &TestServer,
    token: &str,
    opens: &str,
    closes: &str,
) -> reqwest::Response {
    post(
        admin,
        server,
        &format!("{BALLOTS}/new"),
        token,
        &[
            ("title", "Annual meeting 2026"),
            ("description", "Directors and an amendment."),
            ("opens", opens),
            ("closes", closes),
            ("secrecy", "secret"),
            ("weighting", "weighted"),
            ("quorum", "50"),
            ("min_turnout", "20"),
            ("paper", "on"),
            ("reminders", "72, 24"),
        ],
    )
    .await
}

/// The titles of a ballot's contests, in order.
async fn titles(cista: &Cista, org: OrgId, ballot: BallotId) -> Vec<String> {
    cista
        .ballot(&operator(), org, ballot)
        .await
        .unwrap()
        .definition
        .contests
        .iter()
        .map(|c| c.title.clone())
        .collect()
}

/// The outer envelopes of a secret ballot's paper ballots, checked in through the core.
async fn check_in(cista: &Cista, org: OrgId, ballot: BallotId, labels: &[&str]) {
    for label in labels {
        cista
            .check_in_envelope(
                &operator(),
                ballot,
                unit_id(cista, org, label).await,
                VoteOrigin::default(),
            )
            .await
            .unwrap();
    }
}

/// Opens every waiting envelope as one batch and enters its inner ballots: yes, and the
/// candidates given, one list per ballot.
async fn inner_ballots(cista: &Cista, org: OrgId, ballot: BallotId, ballots: &[&[&str]]) {
    let hash = cista
        .ballot(&operator(), org, ballot)
        .await
        .unwrap()
        .stored
        .definition_hash
        .to_hex();
    let batch = cista
        .open_paper_batch(&operator(), ballot, cista_types::Weight::ONE)
        .await
        .unwrap();
    for candidates in ballots {
        let mut fields = vec![("c1".to_owned(), "yes".to_owned())];
        fields.extend(
            candidates
                .iter()
                .map(|c| ("c2".to_owned(), (*c).to_owned())),
        );
        cista
            .enter_inner_ballot(&operator(), ballot, batch.number, &hash, &fields)
            .await
            .unwrap();
    }
}

/// A paper ballot entered through the core: yes, and the candidates given.
async fn paper_vote(cista: &Cista, org: OrgId, ballot: BallotId, label: &str, candidates: &[&str]) {
    let hash = cista
        .ballot(&operator(), org, ballot)
        .await
        .unwrap()
        .stored
        .definition_hash
        .to_hex();
    let mut fields = vec![("c1".to_owned(), "yes".to_owned())];
    fields.extend(
        candidates
            .iter()
            .map(|c| ("c2".to_owned(), (*c).to_owned())),
    );
    cista
        .enter_paper_ballot(
            &operator(),
            CastRequest {
                ballot,
                unit: unit_id(cista, org, label).await,
                definition_hash: hash,
                fields,
                origin: VoteOrigin::default(),
                submission: None,
            },
        )
        .await
        .unwrap();
}
