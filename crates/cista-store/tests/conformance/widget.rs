//! An assessment answered in a widget, on both stores: only a listed site may load and submit
//! it; the load token is signed, bound to its form version and site, expires, and makes one
//! submission (a retry with the same answers gets the first result, other answers are a
//! conflict); answers are scored here; the client's name and email are sealed in the vault
//! under a fresh subject code and appear nowhere in the database in the clear; every refusal
//! stores nothing.

use crate::Harness;
use cista_core::ports::Vault as _;
use cista_core::products::assessment::{
    AssessmentError, ClientDetails, ClientResult, LoadedWidget, PublishedAssessment, RISK_PROFILE,
    SentFrom, WidgetSubmission,
};
use cista_core::{Access, Actor, Cista, Error, PersonActor, Store as _};
use cista_types::{FormId, OrgId, Role, SubjectCode, WebOrigin};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const SITE: &str = "https://www.harbor-advisory.example";
const OTHER_SITE: &str = "https://blog.harbor-advisory.example";
pub const FIRST: &str = "Zebediah";
const LAST: &str = "Quillfeather";
pub const EMAIL: &str = "zeb.quillfeather@client.example";

/// Answers that score in the lowest band ("Conservative").
pub fn cautious_answers() -> Value {
    let mut cautious = growth_answers();
    for (question, answer) in [
        ("horizon", "under_3"),
        ("drop", "sell_all"),
        ("reserve", "none"),
    ] {
        cautious[question] = json!(answer);
    }
    cautious["comfort"] = json!(1);
    cautious["goals"] = json!(["preserve"]);
    cautious
}

pub fn growth_answers() -> Value {
    json!({
        "horizon": "over_7", "income": "steady", "reserve": "over_3", "age": 45,
        "drop": "hold", "experience": "some", "goals": ["growth", "income"], "comfort": 7,
        "notes": "Call after 5 pm."
    })
}

pub fn client() -> ClientDetails {
    ClientDetails {
        first_name: FIRST.to_owned(),
        last_name: LAST.to_owned(),
        email: EMAIL.to_owned(),
        consent: true,
        email_copy: false,
    }
}

pub fn advisor(org: OrgId) -> Actor {
    Actor::Person(PersonActor {
        subject: SubjectCode::from_i64(11),
        access: Access::Full,
        roles: BTreeMap::from([(org, Role::Advisor)]),
    })
}

pub async fn submit(
    cista: &Cista,
    org: OrgId,
    form: FormId,
    sent_from: Option<&str>,
    token: &str,
    client: ClientDetails,
    answers: &Value,
) -> Result<cista_core::products::assessment::ClientResult, Error> {
    cista
        .submit_assessment(WidgetSubmission {
            org,
            form,
            // `Some("widget")`: from Cista's own widget page; else the page's `Origin`.
            sent_from: match sent_from {
                Some("widget") => SentFrom::WidgetPage,
                origin => SentFrom::Page(origin),
            },
            load_token: token,
            client,
            answers,
        })
        .await
}

pub async fn a_widget_submission_is_scored_sealed_apart_and_recorded_once(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "harbor-advisory").await;
    let mut definition: Value = serde_json::from_str(RISK_PROFILE).unwrap();
    definition["embed"] = json!({ "allowed_origins": [SITE, format!("{OTHER_SITE}/")] });
    let published = cista
        .publish_assessment(&advisor(org.id), org.id, "risk-profile", &definition)
        .await
        .unwrap();
    let form = published.form.id;
    let site = WebOrigin::parse(SITE).unwrap();

    let loaded = only_listed_sites_load_it(h, &cista, org.id, &published).await;
    let head = h.store.audit_head().await.unwrap().size;
    let token = loaded.token;
    let answers = growth_answers();
    let shown = submit(
        &cista,
        org.id,
        form,
        Some(SITE),
        &token.token,
        client(),
        &answers,
    )
    .await
    .unwrap();
    // risk 71: "Growth"; the client sees the band and the risk score, nothing else.
    let band = shown.band.clone().unwrap();
    assert_eq!(band.label, "Growth");
    assert_eq!(shown.scores.len(), 1);
    assert_eq!(shown.scores[0].value, 71.0);
    assert!(!shown.receipt.replayed);
    assert_eq!(h.store.audit_head().await.unwrap().size, head + 1);

    // The stored result names the client only by subject code; the vault holds who it was,
    // sealed, and not findable by email.
    let (stored, payload) = cista
        .submission(&Actor::operator("test"), org.id, shown.receipt.submission)
        .await
        .unwrap();
    assert_eq!(stored.submitted_by, "anonymous");
    assert_eq!(payload["band_label"], "Growth");
    assert_eq!(payload["scores"]["risk"], 71.0);
    assert_eq!(payload["origin"], SITE);
    assert_eq!(
        payload["rules_sha256"],
        published.assessment.rules_sha256().to_hex()
    );
    let subject: i64 = payload["subject"].as_i64().unwrap();
    let person = h
        .vault
        .person(SubjectCode::from_i64(subject))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(person.email_index, None);
    let text = payload.to_string();
    for secret in [FIRST, LAST, EMAIL] {
        assert!(!text.contains(secret), "{secret} in the stored result");
    }

    one_token_makes_one_submission(h, &cista, org.id, form, &token.token, &shown).await;

    refusals_store_nothing(h, &cista, org.id, form, &site).await;

    // The canary: the client's name and email are nowhere in the database in the clear.
    let raw = h.db.raw_bytes();
    for secret in [FIRST, LAST, EMAIL] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the raw database"
        );
    }
}

/// Only a listed site loads the widget; each refusal is audited with its reason and site.
async fn only_listed_sites_load_it(
    h: &Harness,
    cista: &Cista,
    org: OrgId,
    published: &PublishedAssessment,
) -> LoadedWidget {
    let site = WebOrigin::parse(SITE).unwrap();
    let head = h.store.audit_head().await.unwrap().size;
    let loaded = cista
        .load_widget(org, "risk-profile", Some(SITE))
        .await
        .unwrap();
    assert_eq!(loaded.origin, site);
    assert_eq!(loaded.published.form, published.form);
    assert_eq!(loaded.token.claims.origin, SITE);
    for refused in [
        Some("https://evil.example"),
        Some("http://www.harbor-advisory.example"),
        Some("null"),
        None,
    ] {
        let e = cista
            .load_widget(org, "risk-profile", refused)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "origin_not_allowed", "{refused:?}: {e}");
    }
    let e = cista
        .load_widget(org, "nope", Some(SITE))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
    assert_eq!(h.store.audit_head().await.unwrap().size, head + 4);
    // A record form of the same organization is no assessment to a widget.
    let record_form = cista
        .publish_form(
            &Actor::operator("test"),
            org,
            cista_core::platform::intake::FormProduct::Collection,
            "field-records",
            &cista_testkit::fixtures::record_form("Field records"),
        )
        .await
        .unwrap();
    let e = cista
        .embeddable(org, record_form.id, Some(SITE))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found", "{e}");
    let refusal = h.store.audit_entries(head, 1).await.unwrap();
    assert_eq!(refusal[0].kind, "widget.refused");
    assert!(
        refusal[0]
            .details
            .contains(r#""origin":"https://evil.example""#),
        "{}",
        refusal[0].details
    );
    assert!(
        refusal[0]
            .details
            .contains(r#""reason":"origin_not_allowed""#),
        "{}",
        refusal[0].details
    );

    loaded
}

/// A retry with the same token and answers gets the first result and writes nothing; from
/// Cista's own widget page the site is the token's; the same token with other answers is a
/// conflict that stores nothing and leaves no vault entry.
async fn one_token_makes_one_submission(
    h: &Harness,
    cista: &Cista,
    org: OrgId,
    form: FormId,
    token: &str,
    shown: &ClientResult,
) {
    let site = WebOrigin::parse(SITE).unwrap();
    let answers = growth_answers();
    let head = h.store.audit_head().await.unwrap().size - 1;
    let again = submit(cista, org, form, Some(SITE), token, client(), &answers)
        .await
        .unwrap();
    assert!(again.receipt.replayed);
    assert_eq!(again.receipt.submission, shown.receipt.submission);
    assert_eq!(again.band, shown.band);
    assert_eq!(h.store.audit_head().await.unwrap().size, head + 1);

    // From Cista's own widget page, the site is the token's: a new token, a new result.
    let token2 = cista.issue_load_token(org, form, &site).unwrap();
    let from_iframe = submit(
        cista,
        org,
        form,
        Some("widget"),
        &token2.token,
        client(),
        &answers,
    )
    .await
    .unwrap();
    assert!(!from_iframe.receipt.replayed);
    assert_ne!(from_iframe.receipt.submission, shown.receipt.submission);
    let head = head + 1;
    let (people, _) = h.vault.counts().await.unwrap();

    // The same token with other answers is a conflict; nothing is stored, no vault entry left.
    let mut other = growth_answers();
    other["comfort"] = json!(2);
    let e = submit(cista, org, form, Some(SITE), token, client(), &other)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "conflict", "{e}");
    assert_eq!(h.vault.counts().await.unwrap().0, people);
    assert_eq!(h.store.audit_head().await.unwrap().size, head + 1);
}

/// The client's details with a first name (or else an email address) that the report's fonts
/// cannot draw: a rare Han character, outside the main CJK block. Refused when sent, not a
/// report that fails to print for the advisor later.
fn unprintable(in_name: bool) -> ClientDetails {
    let rare = "\u{20000}";
    if in_name {
        ClientDetails {
            first_name: rare.to_owned(),
            ..client()
        }
    } else {
        ClientDetails {
            email: format!("{rare}@client.example"),
            ..client()
        }
    }
}

/// A forged, moved or expired token, a site not listed, answers that do not fit, a missing
/// consent or a bad email: each refused with its code, nothing stored anywhere.
async fn refusals_store_nothing(
    h: &Harness,
    cista: &Cista,
    org: OrgId,
    form: FormId,
    site: &WebOrigin,
) {
    let head = h.store.audit_head().await.unwrap().size;
    let people = h.vault.counts().await.unwrap().0;
    let token = cista.issue_load_token(org, form, site).unwrap().token;
    let other_site = WebOrigin::parse(OTHER_SITE).unwrap();
    let moved = cista
        .issue_load_token(org, form, &other_site)
        .unwrap()
        .token;
    let mut forged = token.clone().into_bytes();
    let at = forged.len() - 5;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let answers = growth_answers();
    // A refused site or token is audited (a site probing the form is worth knowing about).
    let refused_sites_and_tokens = [
        ("forged", Some(SITE), forged.as_str(), "load_token_invalid"),
        ("garbage", Some(SITE), "v1.e30.AAAA", "load_token_invalid"),
        ("empty", Some(SITE), "", "load_token_invalid"),
        (
            "other site's",
            Some(SITE),
            moved.as_str(),
            "load_token_invalid",
        ),
        (
            "unlisted site",
            Some("https://evil.example"),
            token.as_str(),
            "origin_not_allowed",
        ),
        ("no origin", None, token.as_str(), "origin_not_allowed"),
        (
            "from the page, forged",
            Some("widget"),
            forged.as_str(),
            "load_token_invalid",
        ),
    ];
    let mut audited = 0;
    for (what, origin, token, code) in refused_sites_and_tokens {
        let e = submit(cista, org, form, origin, token, client(), &answers)
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{what}: {e}");
        audited += 1;
    }
    // Answers or details that do not fit are the client's to fix: refused, not audited.
    let mut out_of_bounds = growth_answers();
    out_of_bounds["age"] = json!(200);
    let no_consent = ClientDetails {
        consent: false,
        ..client()
    };
    let bad_email = ClientDetails {
        email: "not an address".to_owned(),
        ..client()
    };
    let client_to_fix = [
        ("out of bounds", client(), &out_of_bounds, "answer_invalid"),
        ("no consent", no_consent, &answers, "answer_invalid"),
        ("bad email", bad_email, &answers, "invalid_input"),
        ("odd name", unprintable(true), &answers, "invalid_input"),
        ("odd email", unprintable(false), &answers, "invalid_input"),
    ];
    for (what, details, answers, code) in client_to_fix {
        let e = submit(cista, org, form, Some(SITE), &token, details, answers)
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{what}: {e}");
    }
    // Another organization's form id with a good token is not found through this org.
    let elsewhere = FormId::from_i64(form.as_i64() ^ 1);
    let e = submit(
        cista,
        org,
        elsewhere,
        Some(SITE),
        &token,
        client(),
        &answers,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "not_found", "{e}");
    // After its lifetime a token is refused as expired, even with everything else right.
    h.advance(cista_core::products::assessment::LOAD_TOKEN_LIFETIME + time::Duration::seconds(1));
    let e = submit(cista, org, form, Some(SITE), &token, client(), &answers)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Assessment(AssessmentError::LoadTokenExpired)),
        "{e:?}"
    );
    audited += 1;
    assert_eq!(h.store.audit_head().await.unwrap().size, head + audited);
    assert_eq!(h.vault.counts().await.unwrap().0, people);
}
