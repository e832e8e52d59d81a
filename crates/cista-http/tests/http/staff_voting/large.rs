//! A large ballot's staff pages stay the size of a small one's: the live page lists the units
//! that voted a page at a time and finds one by its label, and paper entry, with too many
//! units yet to vote to list, takes the unit's label as typed.

use super::{BALLOTS, hidden, palm_court, staff};
use crate::voting::{import_roster, open_ballot, operator};
use crate::web::{between, follow, page, post};
use crate::{Options, TestServer, csrf_in};
use cista_core::products::voting::definition::Secrecy;
use cista_core::products::voting::directory::ROWS_PER_PAGE;
use cista_types::Role;
use reqwest::StatusCode;
use time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_ballots_pages_list_a_page_at_a_time_and_paper_takes_a_typed_label() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    import_roster(cista, org).await;
    let bulk = 3 * ROWS_PER_PAGE + 100;
    cista
        .add_units_in_bulk(&operator(), org, "L", bulk, &|_| {})
        .await
        .unwrap();
    let units = bulk + 5;
    let admin = staff(&server, "admin@palm.example", Role::Admin).await;

    // Paper entry on a recorded ballot: too many units to list, so the label is typed.
    let recorded = open_ballot(cista, org, Secrecy::Recorded, Duration::hours(2)).await;
    let paper = format!("{BALLOTS}/{recorded}/paper");
    let (status, form) = page(&admin, &server, &paper).await;
    assert_eq!(status, 200);
    assert!(
        form.contains(r#"name="unit_label""#) && !form.contains("<option"),
        "{form}"
    );
    assert!(form.len() < 30_000, "{} bytes", form.len());
    let definition = hidden(&form, "definition");
    let fields = |label: &'static str| {
        [
            ("unit_label", label),
            ("definition", definition.as_str()),
            ("c1", "no"),
            ("c2", "3"),
        ]
    };
    let r = post(
        &admin,
        &server,
        &paper,
        &csrf_in(&form),
        &fields(" l0000007 "),
    )
    .await;
    let (to, status, html) = follow(&admin, &server, r).await;
    assert_eq!((to.as_str(), status), (paper.as_str(), StatusCode::OK));
    assert!(
        html.contains("Paper ballot for unit L0000007 entered at"),
        "{html}"
    );
    // The same unit again is refused and recorded, the label kept in its field.
    let r = post(
        &admin,
        &server,
        &paper,
        &csrf_in(&html),
        &fields("L0000007"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let again = r.text().await.unwrap();
    assert!(again.contains("L0000007 already voted on"), "{again}");
    assert!(again.contains(r#"value="L0000007""#), "{again}");
    // A label the roll does not have is sent back, nothing recorded.
    let r = post(
        &admin,
        &server,
        &paper,
        &csrf_in(&html),
        &fields("L9999999"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = r.text().await.unwrap();
    assert!(unknown.contains("has that label"), "{unknown}");
    assert!(unknown.contains(r#"value="L9999999""#), "{unknown}");
    let refusals = cista.store().voting().refusals(recorded).await.unwrap();
    assert_eq!(refusals.len(), 1);

    // A secret ballot every unit voted in: the live page shows a page of them, and the
    // next page, and a search finds one unit among them all.
    let secret = open_ballot(cista, org, Secrecy::Secret, Duration::hours(2)).await;
    cista
        .fill_ballot_box(&operator(), org, secret, &|_| {})
        .await
        .unwrap();
    let path = format!("{BALLOTS}/{secret}");
    let (status, live) = page(&admin, &server, &path).await;
    assert_eq!(status, 200);
    assert!(
        live.contains(&format!("{units} units have voted, newest first.")),
        "{live}"
    );
    let pages = units.div_ceil(ROWS_PER_PAGE);
    let listed = between(&live, r#"class="cards participation""#, "</table>");
    assert_eq!(listed.matches("<th scope=\"row\">").count(), ROWS_PER_PAGE);
    assert!(live.contains(&format!("Page 1 of {pages}")), "{live}");
    assert!(
        live.contains(&format!("{path}?page=2#participation")),
        "{live}"
    );
    let (status, last) = page(&admin, &server, &format!("{path}?page={pages}")).await;
    assert_eq!(status, 200);
    let listed = between(&last, r#"class="cards participation""#, "</table>");
    assert_eq!(
        listed.matches("<th scope=\"row\">").count(),
        units - (pages - 1) * ROWS_PER_PAGE
    );
    let (status, found) = page(&admin, &server, &format!("{path}?q=l0000123")).await;
    assert_eq!(status, 200);
    let found = between(&found, r#"class="cards found""#, "</table>");
    assert!(
        found.contains(">L0000123<") && found.contains(">Yes<"),
        "{found}"
    );
    assert_eq!(found.matches("<th scope=\"row\">").count(), 1, "{found}");
    server.stop().await;
}
