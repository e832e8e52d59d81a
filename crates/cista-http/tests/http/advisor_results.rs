//! The advisor portal's results page in the web surface: results de-identified; "Show who"
//! needs a reason and shows the client on that answer only; the CSV is de-identified and
//! formula-safe; "Erase" needs a confirmation, then the client is gone for good and the
//! result stays; a reviewer sees none of it.

use crate::csrf_in;
use crate::people::active;
use crate::web::{page, post, sign_in};
use crate::{Options, TestServer};
use cista_core::Actor;
use cista_types::Role;
use reqwest::StatusCode;

const SITE: &str = "https://www.harbor-advisory.example";
const RESULTS: &str = "/admin/palm-court/assessments/risk";
/// The reason given to see who a client is.
const CALL_BACK: (&str, &str) = ("purpose", "to call back");

/// Publishes the risk profile as `palm-court/risk` and sends one result from `SITE`; returns
/// the result's id.
async fn one_result(server: &TestServer) -> String {
    use cista_testkit::fixtures::{palm_court_id, publish_risk_profile, submit_risk_profile};
    let cista = &server.state.cista;
    let org = palm_court_id(cista).await;
    let form = publish_risk_profile(cista, org, "risk", SITE).await;
    submit_risk_profile(cista, org, form, SITE)
        .await
        .to_string()
}

/// A server with one result, and Ada, an advisor of palm-court, signed in: the server, the
/// result's id and Ada's browser.
async fn one_result_and_ada() -> (TestServer, String, reqwest::Client) {
    let server = TestServer::start(Options::default()).await;
    let id = one_result(&server).await;
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    active(cista, org, "ada@palm.example", Role::Advisor).await;
    let ada = sign_in(&server, "ada@palm.example").await;
    (server, id, ada)
}

#[tokio::test]
async fn advisors_see_results_de_identified_reveal_with_a_reason_and_erase_for_good() {
    let (server, id, ada) = one_result_and_ada().await;
    let cista = &server.state.cista;

    let (status, html) = page(&ada, &server, RESULTS).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Growth"), "{html}");
    assert!(!html.contains("Quillfeather"), "de-identified");

    // "Show who" needs a reason; with one, the client is on this answer only.
    let csrf = csrf_in(&html);
    let reveal = format!("{RESULTS}/results/{id}/reveal");
    let r = post(&ada, &server, &reveal, &csrf, &[("purpose", " ")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("To see who this is"));
    let r = post(&ada, &server, &reveal, &csrf, &[CALL_BACK]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let shown = r.text().await.unwrap();
    assert!(
        shown.contains("Zebediah Quillfeather, zeb@client.example"),
        "{shown}"
    );
    let (_, again) = page(&ada, &server, RESULTS).await;
    assert!(!again.contains("Quillfeather"), "not kept for later pages");

    // The CSV: de-identified, one header and one row.
    let csv = ada
        .get(server.url(&format!("{RESULTS}/results.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("result,received_at,version,subject,band,"),
        "{csv}"
    );
    assert!(csv.contains(",Growth,"), "{csv}");
    assert!(!csv.contains("Quillfeather"), "{csv}");
    assert_eq!(csv.lines().count(), 2);

    // Erasing needs the box ticked; then the client is gone and the result stays.
    let purge = format!("{RESULTS}/results/{id}/purge");
    let r = post(&ada, &server, &purge, &csrf, &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post(&ada, &server, &purge, &csrf, &[("confirm", "yes")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, after) = page(&ada, &server, RESULTS).await;
    assert!(after.contains("name and email erased"), "{after}");
    assert!(after.contains("Growth"), "the result stays");
    let r = post(&ada, &server, &reveal, &csrf, &[("purpose", "check")]).await;
    assert!(r.text().await.unwrap().contains("erased on"));

    // A reviewer of the same organization sees none of it.
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    active(cista, org, "rex@palm.example", Role::Reviewer).await;
    let rex = sign_in(&server, "rex@palm.example").await;
    let (status, _) = page(&rex, &server, RESULTS).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}

/// A result reached through another form's address (a mistyped or crafted path) is not found
/// before anything happens: no read of the client recorded, nothing erased, and a path with a
/// control character in it still gets a plain 404.
#[tokio::test]
async fn a_result_reached_through_another_form_is_not_found_and_nothing_happens() {
    let (server, id, ada) = one_result_and_ada().await;
    let cista = &server.state.cista;
    let (_, html) = page(&ada, &server, RESULTS).await;
    let csrf = csrf_in(&html);

    for form in ["nope", "risk%0A", "risk%20", "RISK"] {
        let at = format!("/admin/palm-court/assessments/{form}/results/{id}");
        let (reveal, purge) = (format!("{at}/reveal"), format!("{at}/purge"));
        let r = post(&ada, &server, &reveal, &csrf, &[("purpose", "x")]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{form}");
        let purge = post(&ada, &server, &purge, &csrf, &[("confirm", "yes")]).await;
        assert_eq!(purge.status(), StatusCode::NOT_FOUND, "{form}");
        let body = purge.text().await.unwrap();
        assert!(
            !body.contains("failed to parse"),
            "{form}: never internal text: {body}"
        );
        let (status, _) = page(&ada, &server, &format!("{at}/report.pdf")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{form}");
    }
    let entries = cista.store().audit_entries(0, 1000).await.unwrap();
    assert!(
        !entries
            .iter()
            .any(|e| e.kind == "person.read" || e.kind == "person.erased"),
        "nothing read or erased"
    );
    // Through its own form, the client is still there.
    let reveal = format!("{RESULTS}/results/{id}/reveal");
    let r = post(&ada, &server, &reveal, &csrf, &[CALL_BACK]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Zebediah Quillfeather"));
    server.stop().await;
}

#[tokio::test]
async fn a_result_reads_in_full_its_report_downloads_and_the_settings_choose_who_is_told() {
    let server = TestServer::start(Options::default()).await;
    let id = one_result(&server).await;
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    let ada_code = active(cista, org, "ada@palm.example", Role::Advisor).await;
    let ada = sign_in(&server, "ada@palm.example").await;

    // The organization's home leads to the results; the list filters by band and day.
    let (_, home) = page(&ada, &server, "/admin/palm-court").await;
    assert!(home.contains(&format!("href=\"{RESULTS}\"")), "{home}");
    let (status, none) = page(&ada, &server, &format!("{RESULTS}?band=Cautious")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(none.contains("No result matches this filter"), "{none}");
    assert!(none.contains("results.csv?band=Cautious"), "{none}");
    let (status, bad) = page(&ada, &server, &format!("{RESULTS}?from=yesterday")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("must be a date such as"), "{bad}");
    let (_, listed) = page(&ada, &server, &format!("{RESULTS}?band=Growth")).await;
    assert!(
        listed.contains(&format!("{RESULTS}/results/{id}")),
        "{listed}"
    );
    let csv = ada
        .get(server.url(&format!("{RESULTS}/results.csv?band=Cautious")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");

    // The result's page: every answer in words, de-identified.
    let (status, html) = page(&ada, &server, &format!("{RESULTS}/results/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("In more than 7 years"), "{html}");
    assert!(html.contains("Growth"));
    assert!(!html.contains("Quillfeather"), "de-identified");
    let (status, _) = page(&ada, &server, &format!("{RESULTS}/results/12345")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = page(&ada, &server, &format!("{RESULTS}/results/x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The report: a PDF, not cached, naming the client.
    let pdf = ada
        .get(server.url(&format!("{RESULTS}/results/{id}/report.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(pdf.headers()["cache-control"], "no-store");
    assert!(
        pdf.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("risk-result-{id}.pdf"))
    );
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));

    settings_choose_who_is_told(&server, &ada, ada_code).await;

    // A reviewer gets none of it.
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    active(cista, org, "rex@palm.example", Role::Reviewer).await;
    let rex = sign_in(&server, "rex@palm.example").await;
    for path in [
        format!("{RESULTS}/results/{id}"),
        format!("{RESULTS}/results/{id}/report.pdf"),
        format!("{RESULTS}/settings"),
    ] {
        let (status, _) = page(&rex, &server, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    server.stop().await;
}

/// Ada chooses herself and the attached report on the settings page; a code that is not one
/// of the organization's staff is refused.
async fn settings_choose_who_is_told(
    server: &TestServer,
    ada: &reqwest::Client,
    ada_code: cista_types::SubjectCode,
) {
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    // The settings: Ada chooses herself and the attached report; a stranger's code is refused.
    let settings = format!("{RESULTS}/settings");
    let (status, form) = page(ada, server, &settings).await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(form.contains(&format!("value=\"{ada_code}\"")), "{form}");
    assert!(form.contains("Test Person (Advisor)"), "{form}");
    let csrf = csrf_in(&form);
    let code = ada_code.to_string();
    let r = post(
        ada,
        server,
        &settings,
        &csrf,
        &[("notify", "42"), ("delivery", "link")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Only owners, administrators and advisors")
    );
    let r = post(
        ada,
        server,
        &settings,
        &csrf,
        &[
            ("notify", &code),
            ("delivery", "attach"),
            ("retention_days", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let chosen = cista
        .assessment_settings(&Actor::operator("test"), org, "risk")
        .await
        .unwrap();
    assert_eq!(chosen.notify, vec![ada_code]);
    assert!(chosen.attach_report && chosen.retention_days.is_none());
    let (_, list) = page(ada, server, RESULTS).await;
    assert!(
        list.contains("emailed to 1 person, with the report attached"),
        "{list}"
    );
}
