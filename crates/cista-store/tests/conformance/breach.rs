//! Breach assessment on both databases (issue 14, item 2, first part): the people an incident
//! window could have touched come from the audit log (and, with the members scope, the
//! membership list), with counts per kind of data; an erased person is marked; a window that
//! ends before it starts and a member without the right are refused; the assessment is audited.
//! Then the fixture incident end to end: recorded, its notice filled in, each person told once
//! through the outbox, the erased never, the supervisory authority's notification recorded.

use crate::Harness;
use crate::voting::{association, hash_of, open_ballot, request};
use cista_core::platform::breach::{BreachScope, NewBreach, NoticeDelivery, NoticeTemplate};
use cista_core::platform::notices::Notice;
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_core::{Actor, Error, Store as _};
use cista_types::Clock as _;
use cista_types::{SubjectCode, Timestamp};
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

fn filled_in() -> NoticeTemplate {
    NoticeTemplate {
        subject: "{{ organization }}: a security incident".to_owned(),
        body: "Hello {{ first_name }},\n\n{{ what_happened }} It could have touched: \
               {{ kinds_of_data }}.\n\nWrite to privacy@palm.example.\n"
            .to_owned(),
    }
}

/// The fixture incident end to end: a breach is recorded with its 72-hour deadline; its
/// notice is refused while `[FILL IN: …]` is left or a name is unknown; notify tells each
/// person the window names once, through the outbox, one audit entry each, never the erased
/// one; a second run tells nobody again; the authority's notification is recorded once.
pub async fn a_recorded_breach_tells_each_person_once_and_never_the_erased(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "fixture-incident").await;
    let operator = Actor::operator("test");
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    h.deliver_all(&cista).await;
    let from = h.clock.now();
    h.clock.advance(Duration::minutes(1));
    let hash = hash_of(&cista, ballot).await;
    for (unit, choice) in [("108", "yes"), ("107", "no")] {
        cista
            .cast_vote(
                &a.voter(unit),
                request(ballot, a.unit(unit), &hash, &[("c1", choice), ("c2", "1")]),
            )
            .await
            .unwrap();
    }
    let gus = a.owners_of("106")[0];
    cista.erase_person(&operator, gus).await.unwrap();
    h.clock.advance(Duration::minutes(1));
    let to = h.clock.now();
    h.clock.advance(Duration::minutes(30));
    let new = || NewBreach {
        from,
        to,
        scope: BreachScope::Activity,
        description: "A copy of the voting records was exposed.".to_owned(),
    };

    assert_eq!(
        cista
            .record_breach(&a.voter("108"), a.org, new())
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    // A NUL (which PostgreSQL's text refuses) is a clear refusal on both engines, never a
    // storage failure.
    let mut with_nul = new();
    with_nul.description = "a\u{0}b".to_owned();
    refused_on(
        "description",
        cista.record_breach(&operator, a.org, with_nul).await,
    );
    let breach = cista.record_breach(&operator, a.org, new()).await.unwrap();
    assert_eq!(breach.recorded_at, h.clock.now());
    assert_eq!(breach.deadline(), h.clock.now().plus(Duration::hours(72)));
    assert_eq!(
        cista.breach(&operator, a.org, breach.id).await.unwrap(),
        breach,
        "stored and read back whole"
    );
    let unfilled = cista
        .notify_breach(&operator, a.org, breach.id)
        .await
        .unwrap_err();
    assert!(
        matches!(&unfilled, Error::InvalidInput { reason, .. } if reason.contains("[FILL IN")),
        "{unfilled:?}"
    );
    let mut unknown = filled_in();
    unknown.body.push_str("{{ last_name }}");
    assert!(
        cista
            .set_breach_notice(&operator, a.org, breach.id, unknown)
            .await
            .is_err()
    );
    cista
        .set_breach_notice(&operator, a.org, breach.id, filled_in())
        .await
        .unwrap();

    let done = cista
        .notify_breach(&operator, a.org, breach.id)
        .await
        .unwrap();
    assert_eq!((done.sent, done.erased, done.already_told), (2, 1, 0));
    let sent = h.deliver_all(&cista).await;
    let notices: Vec<_> = sent
        .iter()
        .filter_map(|d| match &d.notice {
            Notice::BreachNotice { words, values } => Some((d.address.as_str(), words, values)),
            _ => None,
        })
        .collect();
    let mut addresses: Vec<&str> = notices.iter().map(|n| n.0).collect();
    addresses.sort_unstable();
    assert_eq!(addresses, ["hal@palm.example", "ivy@palm.example"]);
    for (_, words, values) in &notices {
        assert_eq!(**words, filled_in());
        assert_eq!(values.organization, "Org fixture-incident");
        assert!(
            values.kinds_of_data.contains("votes and units"),
            "{values:?}"
        );
    }
    let entries = h.store.audit_entries(0, 100_000).await.unwrap();
    let told: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "breach.notified")
        .collect();
    assert_eq!(told.len(), 2, "one audit entry per notice");
    assert!(told.iter().all(|e| !e.details.contains(&gus.to_string())));
    let notices = cista
        .breach_notices(&operator, a.org, breach.id)
        .await
        .unwrap();
    assert_eq!(notices.len(), 2);
    told_without_their_messages(h, &cista, (a.org, breach.id), &notices, gus).await;

    told_once_then_reported(h, &cista, &a, breach.id).await;
}

/// Who a breach told, read without the messages: the people its notices name (never the
/// erased one), and the breaches list's count.
async fn told_without_their_messages(
    h: &Harness,
    cista: &cista_core::Cista,
    (org, id): (cista_types::OrgId, cista_core::platform::breach::BreachId),
    notices: &[cista_core::platform::breach::BreachNotice],
    gus: SubjectCode,
) {
    let operator = Actor::operator("test");
    let mut told: Vec<SubjectCode> = h.store.breaches().breach_told(id).await.unwrap();
    told.sort();
    let mut expected: Vec<SubjectCode> = notices.iter().map(|n| n.subject).collect();
    expected.sort();
    assert_eq!(told, expected);
    assert!(!told.contains(&gus));
    let listed = cista.breaches_with_told(&operator, org).await.unwrap();
    assert_eq!(
        listed.iter().map(|(b, n)| (b.id, *n)).collect::<Vec<_>>(),
        [(id, 2)]
    );
}

/// A second run tells nobody again; the authority's notification is recorded once; each
/// change has its one audit entry.
async fn told_once_then_reported(
    h: &Harness,
    cista: &cista_core::Cista,
    a: &crate::voting::Association,
    id: cista_core::platform::breach::BreachId,
) {
    let operator = Actor::operator("test");
    let again = cista.notify_breach(&operator, a.org, id).await.unwrap();
    assert_eq!((again.sent, again.already_told, again.erased), (0, 2, 1));
    assert!(
        h.deliver_all(cista).await.is_empty(),
        "nobody is told twice"
    );
    let notices = cista.breach_notices(&operator, a.org, id).await.unwrap();
    assert!(
        notices
            .iter()
            .all(|n| matches!(n.delivery, NoticeDelivery::Delivered { .. })),
        "{notices:?}"
    );
    // A later breach whose window covers the notices does not list the people told: a
    // breach's own entries are the response, not the incident.
    let later = cista
        .record_breach(
            &operator,
            a.org,
            NewBreach {
                from: h.clock.now().plus(Duration::minutes(-1)),
                to: h.clock.now(),
                scope: BreachScope::Activity,
                description: "Another incident.".to_owned(),
            },
        )
        .await
        .unwrap();
    let (_, people) = cista
        .breach_people(&operator, a.org, later.id)
        .await
        .unwrap();
    assert!(people.is_empty(), "{people:?}");
    for bad in [
        Some(h.clock.now().plus(Duration::minutes(5))),
        Some(Timestamp::parse_rfc3339("2000-01-01T00:00:00Z").unwrap()),
    ] {
        refused_on(
            "reported_at",
            cista
                .record_breach_reported(&operator, a.org, id, bad)
                .await,
        );
    }

    assert!(
        cista
            .record_breach_reported(&operator, a.org, id, None)
            .await
            .unwrap()
    );
    assert!(
        !cista
            .record_breach_reported(&operator, a.org, id, None)
            .await
            .unwrap()
    );
    let reported = cista.breach(&operator, a.org, id).await.unwrap();
    assert_eq!(reported.reported_at, Some(h.clock.now()));
    let entries = h.store.audit_entries(0, 100_000).await.unwrap();
    let count = |kind: &str| entries.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count("breach.recorded"), 2);
    assert!(
        entries
            .iter()
            .filter(|e| e.kind == "breach.notified")
            .all(|e| e.details.contains(&filled_in().digest())),
        "each notice names the words it went out in"
    );
    assert_eq!(count("breach.notice_edited"), 1);
    assert_eq!(count("breach.reported"), 1);
}

/// Two notify runs at once (two staff pressing the button, or the CLI beside the page) tell
/// each person once between them: the told row's primary key decides.
pub async fn two_notify_runs_at_once_tell_each_person_once(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "double-notify").await;
    let operator = Actor::operator("test");
    h.deliver_all(&cista).await;
    let from = h.clock.now();
    h.clock.advance(Duration::minutes(1));
    let to = h.clock.now();
    let breach = cista
        .record_breach(
            &operator,
            a.org,
            NewBreach {
                from: from.plus(Duration::hours(-1)),
                to,
                scope: BreachScope::Members,
                description: "A backup was left readable.".to_owned(),
            },
        )
        .await
        .unwrap();
    cista
        .set_breach_notice(&operator, a.org, breach.id, filled_in())
        .await
        .unwrap();
    let (one, two) = tokio::join!(
        cista.notify_breach(&operator, a.org, breach.id),
        cista.notify_breach(&operator, a.org, breach.id)
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    let members = cista.store().members(a.org).await.unwrap().len();
    assert_eq!(one.sent + two.sent, members, "{one:?} {two:?}");
    let sent = h.deliver_all(&cista).await;
    let mut to_each: Vec<&str> = sent
        .iter()
        .filter(|d| matches!(d.notice, Notice::BreachNotice { .. }))
        .map(|d| d.address.as_str())
        .collect();
    to_each.sort_unstable();
    let before = to_each.len();
    to_each.dedup();
    assert_eq!(before, to_each.len(), "one notice per person");
    assert_eq!(to_each.len(), members);
}

/// `outcome` is an `invalid_input` on `field`.
fn refused_on<T: std::fmt::Debug>(field: &str, outcome: cista_core::Result<T>) {
    let refused = outcome.unwrap_err();
    assert!(
        matches!(&refused, Error::InvalidInput { field: f, .. } if f == field),
        "{refused:?}"
    );
}
