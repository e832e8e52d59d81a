//! One vote per unit with two `cista serve` processes on one PostgreSQL database: co-owners
//! race for the same unit through both servers and exactly one vote is stored.

use crate::voting::{PASSWORD, ROSTER, core, import, open_ballot, org_create, units};
use crate::{Running, cista, client, free_port, ok};
use cista_core::Actor;
use cista_types::BallotId;
use std::path::Path;
use time::Duration;

use cista_testkit::fixtures::csrf_in;

/// A signed-in browser session on one server.
async fn signed_in(data: &Path, port: u16, email: &str) -> (reqwest::Client, String) {
    let ca = std::fs::read(data.join("tls/ca.pem")).unwrap();
    let browser = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let origin = format!("https://localhost:{port}");
    let page = browser
        .get(format!("{origin}/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let signed = browser
        .post(format!("{origin}/sign-in"))
        .header("origin", &origin)
        .form(&[
            ("csrf", csrf_in(&page).as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303, "sign-in of {email}");
    let me = browser
        .get(format!("{origin}/me"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (browser, csrf_in(&me))
}

#[test]
fn two_server_processes_on_postgresql_store_one_vote_per_unit() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(schema) = runtime.block_on(cista_testkit::postgres::PrivateSchema::create()) else {
        return;
    };
    let url = schema.url();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut first = cista(&data);
    first.env("CISTA_DATABASE_URL", &url).arg("init");
    ok(first);
    org_create(&data, Some(&url));
    let roster = tmp.path().join("roster.csv");
    std::fs::write(&roster, ROSTER).unwrap();
    ok(import(&data, Some(&url), &roster, true));

    // The ballot and two co-owners' passwords, as the pages would set them.
    let (ballot, unit, hash) = runtime.block_on(ballot_and_two_passwords(&data, &url));

    let ports = [free_port(), free_port()];
    let servers = serve_on(&runtime, &data, &url, ports);

    // Bo on the first server and Cy on the second cast 50 votes each for unit 2A, all at once.
    let outcomes = runtime.block_on(race_for_one_unit(&data, ports, ballot, unit, &hash));
    // A stored vote answers 303 to its receipt (Post/Redirect/Get).
    let stored = outcomes.iter().filter(|(s, _)| *s == 303).count();
    let refused: Vec<_> = outcomes.iter().filter(|(s, _)| *s == 409).collect();
    assert_eq!(
        stored,
        1,
        "exactly one vote is stored: {:?}",
        outcomes.iter().map(|o| o.0).collect::<Vec<_>>()
    );
    assert_eq!(refused.len(), 99);
    assert!(
        refused
            .iter()
            .all(|(_, body)| body.contains("already voted"))
    );

    let (participation, box_count, refusals) = runtime.block_on(async {
        let cista = core(&data, Some(&url)).await;
        (
            cista
                .store()
                .voting()
                .participation(ballot)
                .await
                .unwrap()
                .len(),
            cista.store().voting().box_count(ballot).await.unwrap(),
            cista.store().voting().refusals(ballot).await.unwrap().len(),
        )
    });
    assert_eq!((participation, box_count, refusals), (1, 1, 99));
    for server in servers {
        assert_eq!(server.terminate(), 0);
    }
    runtime.block_on(schema.drop_now());
}

/// A published ballot and passwords for two co-owners of unit 2A, as the pages would set them;
/// the ballot, the unit and the ballot definition's hash.
async fn ballot_and_two_passwords(
    data: &Path,
    url: &str,
) -> (BallotId, cista_types::UnitId, String) {
    let cista = core(data, Some(url)).await;
    let org = cista
        .store()
        .organization_by_slug(&cista_types::OrgSlug::parse("palm-court").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let ballot = open_ballot(&cista, org, Duration::hours(1)).await;
    for email in ["bo@palm.example", "cy@palm.example"] {
        let subject = cista
            .subject_for_email(&Actor::operator("test"), email)
            .await
            .unwrap()
            .unwrap();
        let link = cista
            .resend_invitation(&Actor::operator("test"), org, subject)
            .await
            .unwrap();
        cista
            .set_password_with_link(
                link.rsplit('/').next().unwrap(),
                cista_core::ports::CredentialPurpose::Invite,
                &cista_types::Password::parse(PASSWORD).unwrap(),
            )
            .await
            .unwrap();
    }
    let unit = units(&cista, org).await["2A"].0;
    let hash = cista
        .store()
        .voting()
        .ballot(ballot)
        .await
        .unwrap()
        .unwrap()
        .definition_hash
        .to_hex();
    (ballot, unit, hash)
}

/// A `cista serve` on each port, all on the database at `url`, each waited for until ready.
fn serve_on(
    runtime: &tokio::runtime::Runtime,
    data: &Path,
    url: &str,
    ports: [u16; 2],
) -> Vec<Running> {
    let mut servers = Vec::new();
    for port in ports {
        let mut serve = cista(data);
        serve.env("CISTA_DATABASE_URL", url).args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ]);
        servers.push(Running::spawn(serve));
        let http = client(data, port);
        runtime.block_on(async {
            for _ in 0..100 {
                if http
                    .get(format!("https://localhost:{port}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
                {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the server on port {port} never became ready");
        });
    }
    servers
}

/// Bo on the first server and Cy on the second each try 50 votes for `unit`, all at once,
/// each attempt as from a page of its own; every answer's status and body.
async fn race_for_one_unit(
    data: &Path,
    ports: [u16; 2],
    ballot: BallotId,
    unit: cista_types::UnitId,
    hash: &str,
) -> Vec<(u16, String)> {
    let (bo, bo_csrf) = signed_in(data, ports[0], "bo@palm.example").await;
    let (cy, cy_csrf) = signed_in(data, ports[1], "cy@palm.example").await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (browser, csrf, port) = if i % 2 == 0 {
            (bo.clone(), bo_csrf.clone(), ports[0])
        } else {
            (cy.clone(), cy_csrf.clone(), ports[1])
        };
        let hash = hash.to_owned();
        // Each attempt as if from a page of its own (a fresh submission id): a repeat of
        // one submission would get its first outcome instead of racing.
        let csrf = format!("{}.race{i}", csrf.split('.').next().unwrap());
        tasks.push(tokio::spawn(async move {
            let origin = format!("https://localhost:{port}");
            let r = browser
                .post(format!("{origin}/vote/{ballot}/unit/{unit}"))
                .header("origin", &origin)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("definition", hash.as_str()),
                    ("c1", "yes"),
                    ("c2", "1"),
                ])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    outcomes
}
