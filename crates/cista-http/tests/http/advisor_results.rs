//! The advisor portal's results page in the web surface: results de-identified; "Show who"
//! needs a reason and shows the client on that answer only; the CSV is de-identified and
//! formula-safe; "Erase" needs a confirmation, then the client is gone for good and the
//! result stays; a reviewer sees none of it.

use crate::csrf_in;
use crate::people::active;
use crate::web::{page, post, sign_in};
use crate::{Options, TestServer};
use cista_core::Actor;
use cista_core::products::assessment::{ClientDetails, RISK_PROFILE, SentFrom, WidgetSubmission};
use cista_types::{Role, WebOrigin};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SITE: &str = "https://www.harbor-advisory.example";
const RESULTS: &str = "/admin/palm-court/assessments/risk";

/// Publishes the risk profile as `palm-court/risk` and sends one result from `SITE`; returns
/// the result's id.
async fn one_result(server: &TestServer) -> String {
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    let mut definition: Value = serde_json::from_str(RISK_PROFILE).unwrap();
    definition["embed"] = json!({ "allowed_origins": [SITE] });
    let form = cista
        .publish_assessment(&Actor::operator("test"), org, "risk", &definition)
        .await
        .unwrap()
        .form
        .id;
    let token = cista
        .issue_load_token(org, form, &WebOrigin::parse(SITE).unwrap())
        .unwrap()
        .token;
    let answers = json!({
        "horizon": "over_7", "income": "steady", "reserve": "over_3", "age": 45,
        "drop": "hold", "experience": "some", "goals": ["growth", "income"], "comfort": 7
    });
    let shown = cista
        .submit_assessment(WidgetSubmission {
            org,
            form,
            sent_from: SentFrom::Page(Some(SITE)),
            load_token: &token,
            client: ClientDetails {
                first_name: "Zebediah".to_owned(),
                last_name: "Quillfeather".to_owned(),
                email: "zeb@client.example".to_owned(),
                consent: true,
            },
            answers: &answers,
        })
        .await
        .unwrap();
    shown.receipt.submission.to_string()
}

#[tokio::test]
async fn advisors_see_results_de_identified_reveal_with_a_reason_and_erase_for_good() {
    let server = TestServer::start(Options::default()).await;
    let id = one_result(&server).await;
    let cista = &server.state.cista;
    let org = cista_testkit::fixtures::palm_court_id(cista).await;
    active(cista, org, "ada@palm.example", Role::Advisor).await;
    let ada = sign_in(&server, "ada@palm.example").await;

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
    let r = post(
        &ada,
        &server,
        &reveal,
        &csrf,
        &[("purpose", "to call back")],
    )
    .await;
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
    active(cista, org, "rex@palm.example", Role::Reviewer).await;
    let rex = sign_in(&server, "rex@palm.example").await;
    let (status, _) = page(&rex, &server, RESULTS).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}
