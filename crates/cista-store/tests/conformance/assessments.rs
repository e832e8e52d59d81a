//! Embedded assessments on both stores: a definition checked whole before it is published as
//! a form version, refused with the rule at fault and nothing stored, read back and scored
//! the same; advisors may publish, reviewers may not.

use crate::Harness;
use cista_core::platform::intake::FormProduct;
use cista_core::products::assessment::{AssessmentError, RISK_PROFILE};
use cista_core::{Access, Actor, Error, PersonActor, Store as _};
use cista_types::{Role, SubjectCode};
use serde_json::json;
use std::collections::BTreeMap;

fn staff(org: cista_types::OrgId, role: Role) -> Actor {
    Actor::Person(PersonActor {
        subject: SubjectCode::from_i64(11),
        access: Access::Full,
        roles: BTreeMap::from([(org, role)]),
    })
}

pub async fn an_assessment_is_checked_whole_before_it_is_published(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "harbor-advisory").await;
    let advisor = staff(org.id, Role::Advisor);
    let definition: serde_json::Value = serde_json::from_str(RISK_PROFILE).unwrap();

    let published = cista
        .publish_assessment(&advisor, org.id, "risk-profile", &definition)
        .await
        .unwrap();
    assert_eq!(published.form.version, 1);
    assert_eq!(published.form.product, "assessment");

    // Refused with the rule and the reason; no version, no audit entry.
    let head = h.store.audit_head().await.unwrap().size;
    let mut broken = definition.clone();
    broken["result"]["bands"][1]["from"] = json!(45);
    let refused = cista
        .publish_assessment(&advisor, org.id, "risk-profile", &broken)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Assessment(AssessmentError::RulesInvalid { rule, .. }) if rule == "result"),
        "{refused:?}"
    );
    assert_eq!(refused.code(), "rules_invalid");
    assert!(
        refused
            .to_string()
            .contains("no band holds scores from 40 to 45"),
        "{refused}"
    );
    assert_eq!(h.store.audit_head().await.unwrap().size, head);
    let versions = h
        .store
        .intake()
        .form_versions(org.id, "risk-profile")
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);

    // Read back as published, and it scores the same answers the same.
    let read = cista
        .latest_assessment(&advisor, org.id, "risk-profile")
        .await
        .unwrap();
    assert_eq!(read.form, published.form);
    assert_eq!(read.assessment.definition, published.assessment.definition);
    let answers = json!({
        "horizon": "from_3_to_7", "income": "very_steady", "reserve": "none", "age": 67,
        "drop": "sell_some", "experience": "none", "goals": ["preserve"], "comfort": 2
    });
    let (_, a) = published.assessment.evaluate(&answers).unwrap();
    let (_, b) = read.assessment.evaluate(&answers).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        read.assessment.definition.result.bands[b.band].label,
        "Conservative"
    );

    // The pipeline itself checks an assessment: publishing it as a plain form is no way round.
    let raw = cista
        .publish_form(
            &advisor,
            org.id,
            FormProduct::Assessment,
            "unchecked",
            &json!({ "title": "No questions, no rules" }),
        )
        .await
        .unwrap_err();
    assert_eq!(raw.code(), "rules_invalid", "{raw}");
    assert_eq!(h.store.audit_head().await.unwrap().size, head);

    let reviewer = staff(org.id, Role::Reviewer);
    assert!(matches!(
        cista
            .publish_assessment(&reviewer, org.id, "other", &definition)
            .await,
        Err(Error::Forbidden { .. })
    ));
    assert!(matches!(
        cista.latest_assessment(&advisor, org.id, "nope").await,
        Err(Error::NotFound { .. })
    ));
}
