//! Field data collection through the API, as Cista Collect does it: pair a phone with a
//! pairing code, list and fetch the record forms, send a record (checked against its form;
//! retried safely), upload its photo, read its review; and the refusals a phone can meet (a
//! used code, a bad record, another collector's record, a revoked device).

use crate::people::{active, org};
use crate::{Options, TestServer};
use cista_core::Actor;
use cista_core::platform::access::app_tokens::{AppPurpose, AppTokenRequest};
use cista_core::platform::intake::FormProduct;
use cista_core::products::collection::{DeviceRequest, ReviewState};
use cista_types::{OrgId, Role, SubjectCode, SubmissionId};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn png(seed: u8) -> Vec<u8> {
    let mut data = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    data.extend((0..4_000u32).map(|i| (i as u8).wrapping_mul(3).wrapping_add(seed)));
    data
}

/// Issues a device for `collector` and pairs it through the API; returns the token.
async fn paired_token(
    server: &TestServer,
    org: OrgId,
    collector: SubjectCode,
    name: &str,
) -> String {
    let issued = server
        .state
        .cista
        .issue_device(
            &Actor::operator("test"),
            org,
            &DeviceRequest::for_collector(collector),
        )
        .await
        .unwrap();
    let r = server
        .client()
        .post(server.url("/api/v1/devices/pair"))
        .json(&json!({ "code": issued.code.expose(), "device_name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["device_name"], name);
    assert_eq!(body["collector"], collector.to_string());
    let again = server
        .client()
        .post(server.url("/api/v1/devices/pair"))
        .json(&json!({ "code": issued.code.expose(), "device_name": "Thief" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "a code pairs once");
    let error: Value = again.json().await.unwrap();
    assert_eq!(error["error"]["code"], "token_invalid");
    body["token"].as_str().unwrap().to_owned()
}

/// A phone with its device token, calling the API.
struct Phone {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Phone {
    async fn pair(server: &TestServer, org: OrgId, collector: SubjectCode, name: &str) -> Self {
        Self {
            client: server.client(),
            base: server.url("/api/v1"),
            token: paired_token(server, org, collector, name).await,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn put_png(&self, path: &str) -> reqwest::Response {
        self.client
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "image/png")
            .body(png(1))
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_phone_pairs_fills_a_record_and_reads_its_review() {
    let server = TestServer::start(Options::default()).await;
    let cista = server.state.cista.clone();
    let org = org(&cista, "river-watch").await;
    let ana = active(&cista, org, "ana@river.example", Role::Collector).await;
    let bo = active(&cista, org, "bo@river.example", Role::Collector).await;
    cista
        .publish_form(
            &Actor::operator("test"),
            org,
            FormProduct::Collection,
            "wells",
            &cista_testkit::fixtures::record_form("Well survey"),
        )
        .await
        .unwrap();
    let ana_phone = Phone::pair(&server, org, ana, "Ana's Pixel").await;
    let bo_phone = Phone::pair(&server, org, bo, "Bo's phone").await;

    let me = ana_phone.json("/device").await;
    assert_eq!(me["organization"], "river-watch");
    assert!(me.get("token").is_none(), "the token is shown once");
    let forms = ana_phone.json("/forms").await;
    assert_eq!(forms.as_array().unwrap().len(), 1);
    assert_eq!(forms[0]["title"], "Well survey");
    let form_id = forms[0]["form"].as_str().unwrap().to_owned();
    let form = ana_phone.json(&format!("/forms/{form_id}")).await;
    assert_eq!(form["definition"]["fields"][0]["id"], "depth_m");

    let id = a_record_is_checked_and_sent_once(&ana_phone, &form_id).await;
    let status = ana_phone.json(&format!("/submissions/{id}/status")).await;
    assert_eq!(status["state"], "received");
    assert_eq!(
        status["photos"],
        json!([{ "name": "front", "received": true }])
    );
    let ana_tablet = Phone::pair(&server, org, ana, "Ana's tablet").await;
    only_the_sender_adds_photos(&server, org, (&ana_phone, &ana_tablet), &bo_phone, &form_id).await;
    let others = bo_phone.get(&format!("/submissions/{id}/status")).await;
    assert_eq!(
        others.status(),
        StatusCode::NOT_FOUND,
        "another collector's record"
    );
    cista
        .review_record(
            &Actor::operator("test"),
            org,
            SubmissionId::from_i64(id.parse().unwrap()),
            ReviewState::NeedsChanges,
            "Retake the photo from the bank",
        )
        .await
        .unwrap();
    let status = ana_phone.json(&format!("/submissions/{id}/status")).await;
    assert_eq!(status["state"], "needs_changes");
    assert_eq!(
        status["reviews"][0]["comment"],
        "Retake the photo from the bank"
    );
    credentials_stay_in_their_lanes(&server, org, ana, &ana_phone).await;
    server.stop().await;
}

/// A record that does not fit its form is refused naming the field; a good one is stored
/// once (a retry is answered), and only a photo it announced is taken. Returns its id.
async fn a_record_is_checked_and_sent_once(phone: &Phone, form_id: &str) -> String {
    let submissions = format!("/forms/{form_id}/submissions");
    let bad = json!({ "idempotency_key": "c0ffee00-0000-4000-8000-000000000001",
                      "payload": { "depth_m": 4,
                                   "where": { "latitude": 91, "longitude": 0, "accuracy_m": 3 } } });
    let r = phone.post(&submissions, &bad).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_input");
    assert_eq!(error["error"]["field"], "answers.where");

    let record = json!({ "idempotency_key": "c0ffee00-0000-4000-8000-000000000002",
                         "payload": { "depth_m": 4,
                                      "where": { "latitude": 45.5, "longitude": -122.6, "accuracy_m": 6.5 },
                                      "photos": ["front"] } });
    let r = phone.post(&submissions, &record).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let receipt: Value = r.json().await.unwrap();
    let id = receipt["submission"].as_str().unwrap().to_owned();
    let r = phone.post(&submissions, &record).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a retry is answered, not stored again"
    );
    let side = phone
        .put_png(&format!("/submissions/{id}/files/side"))
        .await;
    assert_eq!(side.status(), StatusCode::NOT_FOUND, "not announced");
    let front = phone
        .put_png(&format!("/submissions/{id}/files/front"))
        .await;
    assert_eq!(front.status(), StatusCode::CREATED);
    id
}

/// A photo a record announced is taken only from whoever sent the record: another collector's
/// phone and a partner's app token of the same organization get `404`, as for a record that
/// does not exist, and store nothing; the sender's uploads then go in, from the phone that sent
/// the record and from another phone of the same collector.
async fn only_the_sender_adds_photos(
    server: &TestServer,
    org: OrgId,
    (sender, senders_other_phone): (&Phone, &Phone),
    other: &Phone,
    form_id: &str,
) {
    let record = json!({ "idempotency_key": "c0ffee00-0000-4000-8000-000000000003",
                         "payload": { "depth_m": 2,
                                      "where": { "latitude": 45.4, "longitude": -122.5, "accuracy_m": 4.0 },
                                      "photos": ["front", "side"] } });
    let r = sender
        .post(&format!("/forms/{form_id}/submissions"), &record)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let receipt: Value = r.json().await.unwrap();
    let id = receipt["submission"].as_str().unwrap().to_owned();
    let partner = Phone {
        client: server.client(),
        base: server.url("/api/v1"),
        token: server
            .state
            .cista
            .create_app_token(
                &Actor::operator("test"),
                org,
                &AppTokenRequest {
                    purpose: AppPurpose::FormsSubmit,
                    label: "Another partner".to_owned(),
                    lifetime_days: 30,
                },
            )
            .await
            .unwrap()
            .secret,
    };
    let path = format!("/submissions/{id}/files/front");
    for (who, intruder) in [
        ("another collector", other),
        ("a partner's app token", &partner),
    ] {
        let r = intruder.put_png(&path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{who}");
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["error"]["code"], "not_found", "{who}");
    }
    let status = sender.json(&format!("/submissions/{id}/status")).await;
    assert_eq!(
        status["photos"],
        json!([{ "name": "front", "received": false }, { "name": "side", "received": false }]),
        "nothing was stored"
    );
    assert_eq!(sender.put_png(&path).await.status(), StatusCode::CREATED);
    let side = senders_other_phone
        .put_png(&format!("/submissions/{id}/files/side"))
        .await;
    assert_eq!(
        side.status(),
        StatusCode::CREATED,
        "the same collector on another phone"
    );
}

/// A partner system's app token lists the same forms; a device token is refused where only
/// app tokens go, and a revoked device at once.
async fn credentials_stay_in_their_lanes(
    server: &TestServer,
    org: OrgId,
    collector: SubjectCode,
    phone: &Phone,
) {
    let cista = &server.state.cista;
    let app = cista
        .create_app_token(
            &Actor::operator("test"),
            org,
            &AppTokenRequest {
                purpose: AppPurpose::FormsSubmit,
                label: "Partner".to_owned(),
                lifetime_days: 30,
            },
        )
        .await
        .unwrap()
        .secret;
    let partner = Phone {
        client: server.client(),
        base: server.url("/api/v1"),
        token: app,
    };
    assert_eq!(partner.get("/forms").await.status(), StatusCode::OK);
    assert_eq!(
        partner.get("/device").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        phone.get("/ballots").await.status(),
        StatusCode::UNAUTHORIZED
    );
    cista
        .revoke_devices_of(&Actor::operator("test"), org, collector)
        .await
        .unwrap();
    let revoked = phone.get("/forms").await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    assert!(revoked.headers().contains_key("www-authenticate"));
}
