//! The intake API: a submission with an idempotency key, files uploaded one by one and
//! streamed, retries that never duplicate, and refusals (401, 403, 409, 413, 415) that store
//! nothing.

use crate::{Options, TestServer};
use cista_core::Actor;
use cista_core::platform::access::app_tokens::{AppPurpose, AppTokenRequest};
use cista_core::platform::blobs::blob_key;
use cista_core::platform::intake::FormProduct;
use cista_types::{OrgSlug, SubmissionId};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn png(seed: u8) -> Vec<u8> {
    let mut data = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    data.extend((0..20_000u32).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)));
    data
}

/// A client of the intake API for one published form, with two app tokens.
struct Intake {
    client: reqwest::Client,
    /// The form's submissions endpoint.
    submissions: String,
    /// A token that may submit forms.
    submitter: String,
    /// A token of another purpose (reading voting results).
    reader: String,
}

impl Intake {
    /// Publishes a form in Palm Court and makes the two app tokens.
    async fn start(server: &TestServer) -> Self {
        let cista = &server.state.cista;
        let operator = Actor::operator("test");
        let org = cista
            .store()
            .organization_by_slug(&OrgSlug::parse("palm-court").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id;
        let form = cista
            .publish_form(
                &operator,
                org,
                FormProduct::Collection,
                "well-survey",
                &cista_testkit::fixtures::record_form("Well survey"),
            )
            .await
            .unwrap();
        let token = |purpose| {
            let cista = cista.clone();
            let operator = operator.clone();
            async move {
                cista
                    .create_app_token(
                        &operator,
                        org,
                        &AppTokenRequest {
                            purpose,
                            label: "Field app".to_owned(),
                            lifetime_days: 30,
                        },
                    )
                    .await
                    .unwrap()
                    .secret
            }
        };
        let submitter = token(AppPurpose::FormsSubmit).await;
        let reader = token(AppPurpose::VotingResults).await;
        Self {
            client: server.client(),
            submissions: server.url(&format!("/api/v1/forms/{}/submissions", form.id)),
            submitter,
            reader,
        }
    }

    /// Posts `body` to the form's submissions with `secret` as the bearer token.
    async fn post(&self, secret: &str, body: Value) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(&self.submissions)
            .bearer_auth(secret)
            .json(&body)
            .send()
            .await
    }

    /// Uploads `bytes` as the file `name` of the submission `id`, as the submitter.
    async fn put(
        &self,
        server: &TestServer,
        id: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Result<reqwest::Response> {
        self.client
            .put(file_url(server, id, name))
            .bearer_auth(&self.submitter)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
    }
}

/// The address of the file `name` of the submission `id`.
fn file_url(server: &TestServer, id: &str, name: &str) -> String {
    server.url(&format!("/api/v1/submissions/{id}/files/{name}"))
}

#[tokio::test]
async fn a_record_and_its_files_arrive_once_and_refusals_store_nothing() {
    let server = TestServer::start(Options::default()).await;
    let api = Intake::start(&server).await;
    let id = a_record_arrives_once_and_bad_records_are_refused(&api).await;
    a_file_arrives_once_and_bad_files_are_refused(&server, &api, &id).await;
    only_the_good_file_is_recorded_and_stored(&server, &id).await;
    server.stop().await;
}

/// A record is created once (a retry replays it, a changed retry conflicts); another purpose's
/// token, the wrong media type, bad JSON and an oversized record are refused. Returns the
/// submission's id.
async fn a_record_arrives_once_and_bad_records_are_refused(api: &Intake) -> String {
    let (client, submissions, submitter) = (&api.client, &api.submissions, &api.submitter);
    let record = json!({
        "idempotency_key": "7d9f-0001",
        "payload": {"depth_m": 12.5, "photos": ["photo_1", "photo_2", "photo_3"]}
    });

    let r = api.post(submitter, record.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["replayed"], false);
    let id = first["submission"].as_str().unwrap().to_owned();
    let r = api.post(submitter, record.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a retry");
    let again: Value = r.json().await.unwrap();
    assert_eq!(
        (again["submission"].as_str(), again["replayed"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    let r = api
        .post(
            submitter,
            json!({"idempotency_key": "7d9f-0001", "payload": {"depth_m": 9}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = api.post(&api.reader, record.clone()).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a token of another purpose"
    );
    let r = client
        .post(submissions)
        .bearer_auth(submitter)
        .header("content-type", "text/plain")
        .body(record.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let r = client
        .post(submissions)
        .bearer_auth(submitter)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A value of the wrong type is described, not quoted back (it may be personal data).
    let r = api
        .post(
            submitter,
            json!({"idempotency_key": 3055550100u64, "payload": {}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("of the wrong type"), "{message}");
    assert!(!message.contains("3055550100"), "{message}");
    // A field the form does not have is named in the refusal, but a name as long as the
    // record is cut short: an answer is never as large as the request.
    let mut payload = serde_json::Map::new();
    payload.insert("k".repeat(100_000), json!(1));
    let r = api
        .post(
            submitter,
            json!({"idempotency_key": "7d9f-0003", "payload": payload}),
        )
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_input");
    let field = body["error"]["field"].as_str().unwrap();
    assert!(
        field.contains("kkkk") && field.chars().count() <= 201,
        "{field}"
    );
    assert!(body["error"]["message"].as_str().unwrap().chars().count() <= 1_001);
    let huge = json!({"idempotency_key": "7d9f-0002", "payload": {"notes": "x".repeat(1_100_000)}});
    let r = api.post(submitter, huge).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1052672"),
        "the limit is in the message: {body}"
    );
    id
}

/// A file is stored once (a retry is answered, a different file under the same name
/// conflicts); a file that is not what it says, an announced oversize and a path are refused.
async fn a_file_arrives_once_and_bad_files_are_refused(
    server: &TestServer,
    api: &Intake,
    id: &str,
) {
    let put = |name, content_type, bytes| api.put(server, id, name, content_type, bytes);
    let photo = png(1);
    let r = put("photo_1", "image/png", photo.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["size"], photo.len());
    let r = put("photo_1", "image/png", photo.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a retry of the same file");
    let r = put("photo_1", "image/png", png(2)).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    for (content_type, bytes) in [
        ("image/png", b"GIF89a-not-a-png".to_vec()),
        ("text/html", b"<script>alert(1)</script>".to_vec()),
        ("image/jpeg", png(3)),
    ] {
        let r = put("photo_2", content_type, bytes).await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
    let r = api
        .client
        .put(file_url(server, id, "photo_3"))
        .bearer_auth(&api.submitter)
        .header("content-type", "image/png")
        .header("content-length", "30000000")
        .body(png(4))
        .send()
        .await;
    // Refused from the announced length, before the body is read (the client may see the
    // answer or a reset, depending on when it notices).
    if let Ok(r) = r {
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let r = put("../etc", "image/png", png(5)).await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
}

/// Only the good file is recorded, and the blob store holds it and nothing else: not the
/// clashing retry's bytes, not a staging leftover.
async fn only_the_good_file_is_recorded_and_stored(server: &TestServer, id: &str) {
    let attachments = server
        .state
        .cista
        .store()
        .intake()
        .attachments(SubmissionId::from_i64(id.parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        attachments.len(),
        1,
        "only the good file is recorded: {attachments:?}"
    );
    let mut files: Vec<String> = Vec::new();
    let mut todo = vec![server.data_dir().join("blobs")];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.push(path.display().to_string());
            }
        }
    }
    // The clashing retry's bytes were never published: the store holds the recorded file only.
    let org = server
        .state
        .cista
        .store()
        .intake()
        .submission(attachments[0].submission)
        .await
        .unwrap()
        .unwrap()
        .org;
    let recorded = server
        .data_dir()
        .join("blobs")
        .join(blob_key(org, &attachments[0].sha256));
    assert_eq!(
        files,
        vec![recorded.display().to_string()],
        "only the recorded file is stored, no leftovers"
    );
}
