//! What an advisory firm decides about an assessment, on both stores: who is told of each new
//! result (checked to be staff who may see results; told through the outbox in the result's
//! own transaction, by a message that never names the client), the result in full and its
//! report (the report's read of the client audited), the list filtered by band and day, and
//! results past their form's retention period deleted with their client's name and email.

use crate::Harness;
use crate::widget::{FIRST, SITE, advisor, cautious_answers, client, growth_answers, submit};
use cista_core::platform::notices::Notice;
use cista_core::products::assessment::{
    AssessmentNotice, AssessmentSettings, Client, RISK_PROFILE, ResultFilter,
};
use cista_core::{Actor, Store as _};
use cista_testkit::fixtures::invitee;
use cista_types::{FormId, OrgId, Role, SubjectCode, WebOrigin};
use serde_json::{Value, json};

/// An organization `slug` with the risk profile published, embeddable from `SITE`.
pub(crate) async fn published(
    h: &Harness,
    cista: &cista_core::Cista,
    slug: &str,
) -> (OrgId, FormId) {
    let org = h.org(cista, slug).await;
    let mut definition: Value = serde_json::from_str(RISK_PROFILE).unwrap();
    definition["embed"] = json!({ "allowed_origins": [SITE] });
    let form = cista
        .publish_assessment(&advisor(org.id), org.id, "risk-profile", &definition)
        .await
        .unwrap()
        .form
        .id;
    (org.id, form)
}

/// One submission of `answers` from `SITE` by the usual client; returns the result's id.
pub(crate) async fn send(
    cista: &cista_core::Cista,
    org: OrgId,
    form: FormId,
    answers: &Value,
) -> String {
    send_as(cista, (org, form), client(), answers).await
}

/// One submission from `SITE` with a fresh load token, by `who`; returns the result's id.
async fn send_as(
    cista: &cista_core::Cista,
    (org, form): (OrgId, FormId),
    who: cista_core::products::assessment::ClientDetails,
    answers: &Value,
) -> String {
    let site = WebOrigin::parse(SITE).unwrap();
    let token = cista.issue_load_token(org, form, &site).unwrap().token;
    submit(cista, org, form, Some(SITE), &token, who, answers)
        .await
        .unwrap()
        .receipt
        .submission
        .to_string()
}

pub async fn the_chosen_advisors_are_told_of_each_result_without_the_clients_name(h: &Harness) {
    let cista = h.cista().await;
    let (org, form) = published(h, &cista, "harbor-advisory").await;
    let operator = Actor::operator("test");
    let ada = cista
        .invite(
            &operator,
            org,
            invitee("Ada", "Brooks", "ada@harbor.example", None, Role::Advisor),
        )
        .await
        .unwrap()
        .subject;
    let rex = cista
        .invite(
            &operator,
            org,
            invitee("Rex", "Stone", "rex@harbor.example", None, Role::Reviewer),
        )
        .await
        .unwrap()
        .subject;
    h.deliver_all(&cista).await;
    let staff = advisor(org);
    assert_eq!(
        cista
            .assessment_settings(&staff, org, "risk-profile")
            .await
            .unwrap(),
        AssessmentSettings::default()
    );
    let choices = cista
        .notify_choices(&staff, org, "risk-profile")
        .await
        .unwrap();
    assert_eq!(
        choices.len(),
        1,
        "a reviewer cannot see results: {choices:?}"
    );
    assert_eq!(choices[0].name.as_deref(), Some("Ada Brooks"));

    only_staff_who_may_see_results_are_told(h, &cista, org, (ada, rex)).await;

    // A result: Ada is told, by a link to it; the message never names the client.
    let site = WebOrigin::parse(SITE).unwrap();
    let token = cista.issue_load_token(org, form, &site).unwrap().token;
    let first = submit(
        &cista,
        org,
        form,
        Some(SITE),
        &token,
        client(),
        &growth_answers(),
    )
    .await
    .unwrap();
    let id = first.receipt.submission.to_string();
    let told = h.deliver_all(&cista).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].address, "ada@harbor.example");
    let Notice::Assessment(AssessmentNotice::AssessmentResult {
        link,
        band,
        attach_report,
        subject,
        ..
    }) = &told[0].notice
    else {
        panic!("{:?}", told[0].notice)
    };
    assert!(
        link.ends_with(&format!(
            "/admin/harbor-advisory/assessments/risk-profile/results/{id}"
        )),
        "{link}"
    );
    assert_eq!(band, "Growth");
    assert!(!attach_report);
    assert!(!format!("{:?}", told[0].notice).contains(FIRST));
    // A retry with the same token tells nobody again; a refused submission tells nobody.
    let again = submit(
        &cista,
        org,
        form,
        Some(SITE),
        &token,
        client(),
        &growth_answers(),
    )
    .await
    .unwrap();
    assert!(again.receipt.replayed);
    let token = cista.issue_load_token(org, form, &site).unwrap().token;
    let mut wrong = growth_answers();
    wrong["horizon"] = json!("someday");
    assert!(
        submit(&cista, org, form, Some(SITE), &token, client(), &wrong)
            .await
            .is_err()
    );
    assert!(h.deliver_all(&cista).await.is_empty());

    the_result_reads_in_full_and_its_report_names_the_client(h, &cista, org, &id, subject).await;
}

/// Only staff who may see results can be told; a retention period is 1 to 36,600 days; a
/// change is audited and names each person once.
async fn only_staff_who_may_see_results_are_told(
    h: &Harness,
    cista: &cista_core::Cista,
    org: OrgId,
    (ada, rex): (SubjectCode, SubjectCode),
) {
    let staff = advisor(org);
    for (notify, retention_days, field) in [
        (vec![rex], None, "notify"),
        (vec![ada], Some(0), "retention_days"),
        (vec![ada], Some(36_601), "retention_days"),
    ] {
        let wrong = AssessmentSettings {
            notify,
            attach_report: false,
            retention_days,
        };
        let e = cista
            .change_assessment_settings(&staff, org, "risk-profile", wrong)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, cista_core::Error::InvalidInput { field: f, .. } if f == field),
            "{e:?}"
        );
    }
    let head = h.store.audit_head().await.unwrap().size;
    let chosen = AssessmentSettings {
        notify: vec![ada, ada],
        attach_report: false,
        retention_days: None,
    };
    cista
        .change_assessment_settings(&staff, org, "risk-profile", chosen)
        .await
        .unwrap();
    let changed = h.store.audit_entries(head, 1).await.unwrap();
    assert_eq!(changed[0].kind, "assessment.settings_changed");
    assert_eq!(
        cista
            .assessment_settings(&staff, org, "risk-profile")
            .await
            .unwrap()
            .notify,
        vec![ada],
        "each person once"
    );
}

async fn the_result_reads_in_full_and_its_report_names_the_client(
    h: &Harness,
    cista: &cista_core::Cista,
    org: OrgId,
    id: &str,
    subject: &str,
) {
    let staff = advisor(org);
    let submission = cista_types::SubmissionId::from_i64(id.parse().unwrap());
    let detail = cista
        .assessment_result(&staff, org, submission)
        .await
        .unwrap();
    assert_eq!(detail.subject.to_string(), subject);
    assert_eq!(detail.band_label, "Growth");
    let horizon = detail.sections[0].answers[0].clone();
    assert_eq!(horizon.answer, "In more than 7 years");
    assert!(!format!("{detail:?}").contains(FIRST), "de-identified");
    assert_eq!(detail.client_erased_at, None);

    let head = h.store.audit_head().await.unwrap().size;
    let report = cista
        .assessment_report(&staff, org, submission)
        .await
        .unwrap();
    let Client::Known(fields) = &report.client else {
        panic!("{:?}", report.client)
    };
    assert_eq!(fields.first_name.as_str(), FIRST);
    let read = h.store.audit_entries(head, 1).await.unwrap();
    assert_eq!(read[0].kind, "person.read");
    assert!(
        read[0].details.contains("advisor's report"),
        "{}",
        read[0].details
    );
    assert!(!read[0].details.contains(FIRST));
    // Staff cannot take the worker's way round the audit of a reveal, nor see another
    // organization's result.
    let e = cista
        .report_for_delivery(&staff, org, submission)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "forbidden");
    let other = h.org(cista, "another-firm").await;
    let e = cista
        .assessment_result(&advisor(other.id), other.id, submission)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");

    // Filtered by band and by the day received.
    let only = |band: &str| ResultFilter {
        band: Some(band.to_owned()),
        ..ResultFilter::default()
    };
    for (filter, count) in [
        (only("Growth"), 1),
        (only("Cautious"), 0),
        (
            ResultFilter {
                received_from: Some(detail.received_at.plus(time::Duration::seconds(1))),
                ..ResultFilter::default()
            },
            0,
        ),
        (
            ResultFilter {
                received_before: Some(detail.received_at.plus(time::Duration::seconds(1))),
                ..ResultFilter::default()
            },
            1,
        ),
    ] {
        let (_, rows) = cista
            .assessment_results_where(&staff, org, "risk-profile", &filter)
            .await
            .unwrap();
        assert_eq!(rows.len(), count, "{filter:?}");
    }
}

pub async fn results_past_their_retention_period_go_with_their_clients(h: &Harness) {
    let cista = h.cista().await;
    let (org, form) = published(h, &cista, "harbor-advisory").await;
    let staff = advisor(org);
    let old = send(&cista, org, form, &growth_answers()).await;
    h.advance(time::Duration::days(2));
    let new = send(&cista, org, form, &growth_answers()).await;
    // Kept indefinitely by default. (Listing with no limit is a limit too large for SQL.)
    assert_eq!(cista.apply_retention().await.unwrap(), 0);
    let all = h
        .store
        .intake()
        .submissions_of(org, &[form], None, u64::MAX)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    let keep_a_day = AssessmentSettings {
        retention_days: Some(1),
        ..AssessmentSettings::default()
    };
    cista
        .change_assessment_settings(&staff, org, "risk-profile", keep_a_day)
        .await
        .unwrap();
    let old_id = cista_types::SubmissionId::from_i64(old.parse().unwrap());
    let subject = cista
        .assessment_result(&staff, org, old_id)
        .await
        .unwrap()
        .subject;
    let head = h.store.audit_head().await.unwrap().size;
    assert_eq!(cista.apply_retention().await.unwrap(), 1);
    assert_eq!(cista.apply_retention().await.unwrap(), 0, "once");
    let (_, rows) = cista
        .assessment_results(&staff, org, "risk-profile")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].submission.to_string(), new);
    let e = cista
        .assessment_result(&staff, org, old_id)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
    assert!(
        cista.vault().tombstone(subject).await.unwrap().is_some(),
        "the client is erased with the result"
    );
    let expired = h.store.audit_entries(head, 1).await.unwrap();
    assert_eq!(expired[0].kind, "results.expired");
    assert!(expired[0].details.contains(&subject.to_string()));
}

pub async fn a_client_who_asks_gets_a_copy_of_what_they_were_shown_if_the_form_allows(h: &Harness) {
    let cista = h.cista().await;
    let (org, form) = published(h, &cista, "harbor-advisory").await;
    let asking = || cista_core::products::assessment::ClientDetails {
        email_copy: true,
        ..client()
    };
    send_as(&cista, (org, form), asking(), &growth_answers()).await;
    let sent = h.deliver_all(&cista).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].address, crate::widget::EMAIL);
    let Notice::Assessment(AssessmentNotice::ResultCopy { band, scores, .. }) = &sent[0].notice
    else {
        panic!("{:?}", sent[0].notice)
    };
    assert_eq!(band.as_ref().unwrap().0, "Growth");
    assert_eq!(
        scores,
        &vec![("Risk score (0 to 100)".to_owned(), "71".to_owned())],
        "only what the client was shown"
    );

    // A version that does not offer it sends nothing, whatever the client asks.
    let mut definition: Value = serde_json::from_str(RISK_PROFILE).unwrap();
    definition["embed"] = json!({ "allowed_origins": [SITE] });
    definition["client_sees"]["email_copy"] = json!(false);
    let form = cista
        .publish_assessment(&advisor(org), org, "risk-profile", &definition)
        .await
        .unwrap()
        .form
        .id;
    send_as(&cista, (org, form), asking(), &growth_answers()).await;
    assert!(h.deliver_all(&cista).await.is_empty());
}

/// More results than a list shows (`MAX_RESULTS`): the list shows the newest 1,000, a band
/// filter finds the oldest past them, and the CSV holds every result once.
pub async fn the_csv_holds_every_result_and_a_filter_finds_the_oldest(h: &Harness) {
    use cista_core::products::assessment::MAX_RESULTS;
    let cista = h.cista().await;
    let (org, form) = published(h, &cista, "harbor-advisory").await;
    let cautious = cautious_answers();
    let oldest = send(&cista, org, form, &cautious).await;
    h.advance(time::Duration::seconds(1));
    for _ in 0..MAX_RESULTS {
        send(&cista, org, form, &growth_answers()).await;
    }
    let staff = advisor(org);
    let (_, listed) = cista
        .assessment_results(&staff, org, "risk-profile")
        .await
        .unwrap();
    assert_eq!(listed.len(), MAX_RESULTS);
    assert!(listed.iter().all(|r| r.submission.to_string() != oldest));
    let cautious_only = ResultFilter {
        band: Some("Conservative".to_owned()),
        ..ResultFilter::default()
    };
    let (_, found) = cista
        .assessment_results_where(&staff, org, "risk-profile", &cautious_only)
        .await
        .unwrap();
    let found: Vec<String> = found.iter().map(|r| r.submission.to_string()).collect();
    assert_eq!(found, std::slice::from_ref(&oldest));

    let csv = cista
        .assessment_results_csv(&staff, org, "risk-profile", &ResultFilter::default())
        .await
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let mut ids: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), MAX_RESULTS + 1);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), MAX_RESULTS + 1, "each result once");
    assert!(ids.contains(&oldest.as_str()));
}
