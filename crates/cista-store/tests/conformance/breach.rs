//! Breach assessment on both databases (issue 14, item 2, first part): the people an incident
//! window could have touched come from the audit log (and, with the members scope, the
//! membership list), with counts per kind of data; an erased person is marked; a window that
//! ends before it starts and a member without the right are refused; the assessment is audited.

use crate::Harness;
use crate::voting::{association, hash_of, open_ballot, request};
use cista_core::platform::breach::BreachScope;
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_core::{Actor, Store as _};
use cista_types::Clock as _;
use time::Duration;

pub async fn an_incident_window_names_the_people_it_could_have_touched(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "incident").await;
    let operator = Actor::operator("test");
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    let from = h.clock.now();
    h.clock.advance(Duration::minutes(1));
    let hash = hash_of(&cista, ballot).await;
    cista
        .cast_vote(
            &a.voter("108"),
            request(ballot, a.unit("108"), &hash, &[("c1", "yes"), ("c2", "1")]),
        )
        .await
        .unwrap();
    let gus = a.owners_of("106")[0];
    cista.erase_person(&operator, gus).await.unwrap();
    h.clock.advance(Duration::minutes(1));
    let to = h.clock.now();
    h.clock.advance(Duration::minutes(1));
    // After the window: not counted.
    cista
        .cast_vote(
            &a.voter("107"),
            request(ballot, a.unit("107"), &hash, &[("c1", "no"), ("c2", "2")]),
        )
        .await
        .unwrap();

    let found = cista
        .assess_breach(&operator, a.org, (from, to), BreachScope::Activity)
        .await
        .unwrap();
    let ivy = a.owners_of("108")[0].to_string();
    let hal = a.owners_of("107")[0].to_string();
    let person = |code: &str| found.people.iter().find(|p| p.subject == code);
    let voter = person(&ivy).expect("the voter in the window");
    assert!(voter.kinds.contains_key("votes and units"), "{voter:?}");
    assert!(!voter.erased);
    let erased = person(&gus.to_string()).expect("the erased person");
    assert!(erased.erased, "marked: never contacted");
    assert!(person(&hal).is_none(), "voted after the window");
    assert_eq!(found.to_notify(), found.people.len() - 1);

    let everyone = cista
        .assess_breach(&operator, a.org, (from, to), BreachScope::Members)
        .await
        .unwrap();
    assert!(everyone.people.len() > found.people.len());
    assert!(everyone.people.iter().any(|p| p.subject == hal));

    let backwards = cista
        .assess_breach(&operator, a.org, (to, from), BreachScope::Activity)
        .await
        .unwrap_err();
    assert!(
        matches!(&backwards, cista_core::Error::InvalidInput { field, .. } if field == "window"),
        "{backwards:?}"
    );
    assert_eq!(
        cista
            .assess_breach(&a.voter("108"), a.org, (from, to), BreachScope::Activity)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    let assessed = h
        .store
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "breach.assessed")
        .count();
    assert_eq!(assessed, 2, "each assessment is audited, refusals are not");
}
