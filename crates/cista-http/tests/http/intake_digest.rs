//! An upload may say what its bytes' SHA-256 is (`Content-Digest`, RFC 9530). Bytes that
//! arrive with another digest were changed or cut on the way: they are refused (400) and
//! nothing is kept; a malformed field is refused before anything is stored.

use crate::{Options, TestServer};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cista_core::Actor;
use cista_core::platform::access::app_tokens::{AppPurpose, AppTokenRequest};
use cista_core::platform::intake::FormProduct;
use cista_crypto::Digest32;
use cista_types::{OrgSlug, SubmissionId};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn png(seed: u8) -> Vec<u8> {
    let mut data = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    data.extend((0..5_000u32).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)));
    data
}

fn content_digest(bytes: &[u8]) -> String {
    format!(
        "sha-256=:{}:",
        STANDARD.encode(Digest32::sha256(&[bytes]).as_bytes())
    )
}

/// A published form, a `forms.submit` token for it and one submission: the token's secret
/// and the submission's id.
async fn a_submission(server: &TestServer) -> (String, String) {
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
    let secret = cista
        .create_app_token(
            &operator,
            org,
            &AppTokenRequest {
                purpose: AppPurpose::FormsSubmit,
                label: "Field app".to_owned(),
                lifetime_days: 30,
            },
        )
        .await
        .unwrap()
        .secret;
    let r = server
        .client()
        .post(server.url(&format!("/api/v1/forms/{}/submissions", form.id)))
        .bearer_auth(&secret)
        .json(&json!({
            "idempotency_key": "d1-0001",
            "payload": {
                "depth_m": 3,
                "photos": ["photo_1", "photo_2", "photo_3", "photo_4", "photo_5", "photo_6"]
            }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["submission"]
        .as_str()
        .unwrap()
        .to_owned();
    (secret, id)
}

/// Every file under the blob store's directory; none may be a staged upload left behind.
fn stored_blobs(server: &TestServer) -> usize {
    let mut files = 0;
    let mut todo = vec![server.data_dir().join("blobs")];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                assert!(
                    !path.display().to_string().contains("staging"),
                    "a staged upload was left: {}",
                    path.display()
                );
                files += 1;
            }
        }
    }
    files
}

#[tokio::test]
async fn a_declared_sha256_is_checked_and_a_mismatch_keeps_nothing() {
    let server = TestServer::start(Options::default()).await;
    let cista = &server.state.cista;
    let (secret, id) = a_submission(&server).await;
    let client = server.client();
    let put = |name: &str, digest: Option<String>, bytes: Vec<u8>| {
        let mut request = client
            .put(server.url(&format!("/api/v1/submissions/{id}/files/{name}")))
            .bearer_auth(&secret)
            .header("content-type", "image/png");
        if let Some(digest) = digest {
            request = request.header("content-digest", digest);
        }
        request.body(bytes).send()
    };

    // The bytes the digest was made for: stored, with that SHA-256.
    let photo = png(1);
    let r = put("photo_1", Some(content_digest(&photo)), photo.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["sha256"], Digest32::sha256(&[&photo]).to_hex());
    // Other algorithms may come along; only sha-256 is checked.
    let other = png(2);
    let digest = format!("sha-512=:AAAA:, {}", content_digest(&other));
    let r = put("photo_2", Some(digest), other).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // The same list over two field lines means the same (RFC 9110 §5.3): the sha-256 on the
    // second line is found and checked.
    let third = png(6);
    let two_lines = |digest: String, bytes: Vec<u8>| {
        client
            .put(server.url(&format!("/api/v1/submissions/{id}/files/photo_5")))
            .bearer_auth(&secret)
            .header("content-type", "image/png")
            .header("content-digest", "sha-512=:AAAA:")
            .header("content-digest", digest)
            .body(bytes)
            .send()
    };
    let r = two_lines(content_digest(&png(7)), third.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("changed or cut"), "{message}");
    let r = two_lines(content_digest(&third), third).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // `Content-Type` is a singleton: sent twice it names no type, and nothing is kept.
    let r = client
        .put(server.url(&format!("/api/v1/submissions/{id}/files/photo_6")))
        .bearer_auth(&secret)
        .header("content-type", "image/png")
        .header("content-type", "image/png")
        .body(png(8))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Changed on the way (one byte), or cut short: refused, nothing kept.
    let mut changed = png(3);
    let digest = content_digest(&changed);
    let last = changed.len() - 1;
    changed[last] ^= 1;
    let mut cut = png(4);
    let cut_digest = content_digest(&cut);
    cut.truncate(3_000);
    for (bytes, digest) in [(changed, digest), (cut, cut_digest)] {
        let r = put("photo_3", Some(digest), bytes).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_input");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("changed or cut"), "{message}");
    }
    // Malformed fields: not a dictionary, no sha-256, a digest of the wrong length.
    for bad in [
        "sha-256=abc",
        "sha-512=:AAAA:",
        "sha-256=:AAAA:",
        "sha-256=:not base64:",
    ] {
        let r = put("photo_4", Some(bad.to_owned()), png(5)).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_input", "{bad}");
    }

    // Only the three good files are recorded, and only their three blobs (plus nothing
    // staged) are in the blob store.
    let attachments = cista
        .store()
        .intake()
        .attachments(SubmissionId::from_i64(id.parse().unwrap()))
        .await
        .unwrap();
    let names: Vec<&str> = attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["photo_1", "photo_2", "photo_5"]);
    assert_eq!(stored_blobs(&server), 3);
    server.stop().await;
}
