//! Subject access (GDPR Art. 15/20; issue 14, item 6), on both databases: a person gets
//! everything held about them (vault fields, membership, units, votes with the choices only
//! where the ballot recorded them and has closed, the audit entries that name them); staff who may read people
//! get it for their members, other members do not; each production is audited; an erased
//! person's report holds no fields; an unknown code is not found.

use crate::Harness;
use crate::voting::{association, hash_of, open_ballot, request};
use cista_core::Actor;
use cista_core::Store as _;
use cista_core::platform::audit::{AuditKind, NewAuditEntry};
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_types::{Clock as _, SubjectCode};

pub async fn a_person_gets_everything_held_about_them_and_others_do_not(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "access-request").await;
    let recorded = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    let hash = hash_of(&cista, recorded).await;
    let ivy = a.voter("108");
    cista
        .cast_vote(
            &ivy,
            request(recorded, a.unit("108"), &hash, &[("c1", "no"), ("c2", "2")]),
        )
        .await
        .unwrap();
    let secret = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, secret).await;
    cista
        .cast_vote(
            &ivy,
            request(secret, a.unit("108"), &hash, &[("c1", "yes"), ("c2", "1")]),
        )
        .await
        .unwrap();
    let subject = a.owners_of("108")[0];

    let report = cista.subject_access(&ivy, subject).await.unwrap();
    let person = report.person.as_ref().unwrap();
    assert_eq!(
        (person.first_name.as_str(), person.last_name.as_str()),
        ("Ivy", "Ro")
    );
    assert_eq!(person.email.as_deref(), Some("ivy@palm.example"));
    assert_eq!(report.memberships.len(), 1);
    assert_eq!(report.memberships[0].slug, "access-request");
    let units: Vec<&str> = report.units.iter().map(|u| u.unit.as_str()).collect();
    assert_eq!(units, ["108"]);
    assert_eq!(report.votes.len(), 2, "{:?}", report.votes);
    // Both ballots are open: no choice is in the report (FL-09), the recorded one says why.
    assert!(
        report.votes.iter().all(|v| v.choices.is_empty()),
        "{:?}",
        report.votes
    );
    let sealed: Vec<bool> = report.votes.iter().map(|v| v.sealed_until_close).collect();
    assert_eq!(
        sealed.iter().filter(|s| **s).count(),
        1,
        "{:?}",
        report.votes
    );
    assert!(report.votes.iter().all(|v| v.cast_by_this_person));
    assert_eq!(
        report.votes.iter().filter(|v| v.secret).count(),
        1,
        "the secret ballot's vote says why it has no choices"
    );
    assert!(report.votes.iter().all(|v| v.channel == "online"));
    assert!(
        report
            .audit_entries
            .iter()
            .any(|e| e.by_this_person && e.kind.starts_with("vote.")),
        "{:?}",
        report.audit_entries
    );
    // The JSON download never holds a password hash or an authenticator secret.
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("argon2"), "{json}");

    // Another member may not; the operator may, and every production is audited.
    let hal = a.voter("107");
    assert_eq!(
        cista
            .subject_access(&hal, subject)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    let operator = Actor::operator("test");
    cista.subject_access(&operator, subject).await.unwrap();
    let requests = h
        .store
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.details.contains("subject access request") && e.details.contains(&subject.to_string())
        })
        .count();
    assert_eq!(requests, 2, "one entry per production");

    // Erased: nothing of the vault is left to give, the record of what happened stays.
    let gus = a.owners_of("106")[0];
    cista.erase_person(&operator, gus).await.unwrap();
    let erased = cista.subject_access(&operator, gus).await.unwrap();
    assert!(erased.erased_at.is_some());
    assert!(erased.person.is_none());
    assert!(!erased.audit_entries.is_empty());

    let unknown = SubjectCode::from_i64(987_654_321);
    assert_eq!(
        cista
            .subject_access(&operator, unknown)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    the_choices_are_there_once_the_ballot_closes(h, &cista, (&ivy, subject), recorded).await;
}

/// Once the recorded ballot has closed, its choices are in the report.
async fn the_choices_are_there_once_the_ballot_closes(
    h: &Harness,
    cista: &cista_core::Cista,
    (who, subject): (&Actor, SubjectCode),
    recorded: cista_types::BallotId,
) {
    crate::voting::past_closing_time(h, cista, recorded).await;
    cista.run_voting_work(&Actor::System).await.unwrap();
    let report = cista.subject_access(who, subject).await.unwrap();
    let with_choices: Vec<_> = report
        .votes
        .iter()
        .filter(|v| !v.choices.is_empty())
        .collect();
    assert_eq!(with_choices.len(), 1, "only the recorded ballot's choices");
    assert!(!with_choices[0].sealed_until_close);
    assert!(
        with_choices[0]
            .choices
            .iter()
            .any(|(contest, words)| contest == "Amend article 7" && words.len() == 1),
        "{:?}",
        with_choices[0].choices
    );
}

/// A collector's report holds the records they sent and their phone; a reviewer's does not
/// hold the collector's records, and the collector cannot read the reviewer's.
pub async fn a_collectors_report_holds_their_records_and_phones(h: &Harness) {
    use crate::devices::{member, pair};
    use cista_types::Role;

    let cista = h.cista().await;
    let org = h.org(&cista, "access-records").await;
    let ana = member(h, &cista, &org, "Ana", Role::Collector).await;
    let rex = member(h, &cista, &org, "Rex", Role::Reviewer).await;
    let operator = Actor::operator("test");
    let form = crate::records::publish_wells(&cista, org.id).await;
    let phone = cista
        .authenticate_device(
            pair(&cista, org.id, ana, "Ana's phone")
                .await
                .token
                .expose(),
        )
        .await
        .unwrap()
        .actor;
    cista
        .submit(
            &phone,
            org.id,
            form.id,
            "5a5a5a5a-0000-4000-8000-000000000001",
            &serde_json::json!({ "depth_m": 4 }),
        )
        .await
        .unwrap();

    let report = cista.subject_access(&operator, ana).await.unwrap();
    assert_eq!(report.records.len(), 1, "{:?}", report.records);
    assert_eq!(report.records[0].content["depth_m"], 4);
    assert_eq!(report.devices.len(), 1);
    assert_eq!(report.devices[0].name, "Ana's phone");
    assert!(report.assessment_results.is_empty());
    let reviewer = cista.subject_access(&operator, rex).await.unwrap();
    assert!(reviewer.records.is_empty());
    assert!(reviewer.devices.is_empty());
    // The phone acts for records only: it cannot produce the report.
    assert_eq!(
        cista.subject_access(&phone, ana).await.unwrap_err().code(),
        "forbidden"
    );
}

/// Staff answer for their own organization only: an administrator of another organization
/// the person also belongs to gets that membership and nothing of the association (no units,
/// no votes, no audit entries of it).
pub async fn staff_see_only_what_their_own_organization_holds(h: &Harness) {
    use cista_core::{Access, PersonActor};
    use cista_testkit::fixtures::invitee;
    use cista_types::Role;

    let cista = h.cista().await;
    let a = association(h, &cista, "access-home").await;
    let recorded = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    let hash = hash_of(&cista, recorded).await;
    cista
        .cast_vote(
            &a.voter("108"),
            request(recorded, a.unit("108"), &hash, &[("c1", "no"), ("c2", "2")]),
        )
        .await
        .unwrap();
    let ivy = a.owners_of("108")[0];
    let club = h.org(&cista, "tennis-club").await;
    let operator = Actor::operator("test");
    cista
        .invite(
            &operator,
            club.id,
            invitee("Ivy", "Ro", "ivy@palm.example", None, Role::Member),
        )
        .await
        .unwrap();
    h.accept_join(&cista, "ivy@palm.example").await;
    let club_admin = Actor::Person(PersonActor {
        subject: SubjectCode::from_i64(424_242),
        access: Access::Full,
        roles: [(club.id, Role::Admin)].into(),
    });

    let seen = cista.subject_access(&club_admin, ivy).await.unwrap();
    let slugs: Vec<&str> = seen.memberships.iter().map(|m| m.slug.as_str()).collect();
    assert_eq!(slugs, ["tennis-club"]);
    assert!(seen.units.is_empty(), "{:?}", seen.units);
    assert!(seen.votes.is_empty(), "{:?}", seen.votes);
    let home_entries = h
        .store
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.org == Some(a.org))
        .map(|e| e.seq)
        .collect::<Vec<_>>();
    assert!(
        seen.audit_entries
            .iter()
            .all(|e| !home_entries.contains(&e.seq)),
        "no entry of the association"
    );
    // Her own copy holds both.
    let own = cista.subject_access(&a.voter("108"), ivy).await.unwrap();
    assert_eq!(own.memberships.len(), 2);
    assert_eq!(own.votes.len(), 1);
}

/// The audit entries in a report are those that name the person's code as a value, found by
/// the database: a read of many people shows only the person's own code and how many others
/// it named; an entry holding the code inside a longer number is not theirs. The database's
/// filter takes its text literally (`%` and `_` are not wildcards).
pub async fn a_report_holds_only_its_own_persons_audit_entries(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "audit-naming").await;
    let subject = a.owners_of("108")[0];
    let others: Vec<SubjectCode> = ["101", "102", "103"]
        .iter()
        .map(|label| a.owners_of(label)[0])
        .collect();
    let operator = Actor::operator("test");
    let mut read = others.clone();
    read.insert(1, subject);
    cista
        .read_people(&operator, a.org, &read, "people page")
        .await
        .unwrap();
    let longer = format!("{subject}7");
    let expired: Vec<String> = [others[0], subject, others[2]]
        .iter()
        .map(ToString::to_string)
        .collect();
    for details in [
        serde_json::json!({ "subject": longer }),
        serde_json::json!({ "results": 3, "subjects_erased": expired }),
        serde_json::json!({ "note": "50%_ off" }),
        serde_json::json!({ "note": "50 percent off" }),
    ] {
        h.store
            .append_audit(NewAuditEntry::new(
                h.clock.now(),
                &Actor::System,
                Some(a.org),
                AuditKind::KeysRewrapped,
                details,
            ))
            .await
            .unwrap();
    }

    let report = cista.subject_access(&operator, subject).await.unwrap();
    let reads: Vec<&serde_json::Value> = report
        .audit_entries
        .iter()
        .filter(|e| e.details["purpose"] == "people page")
        .map(|e| &e.details)
        .collect();
    assert_eq!(reads.len(), 1, "{:?}", report.audit_entries);
    assert_eq!(
        reads[0]["subjects"],
        serde_json::json!([subject.to_string()])
    );
    assert_eq!(reads[0]["other_subjects"], 3);
    // Any list of codes is cut to the person's own (an expiry names every client it erased).
    let expiry = report
        .audit_entries
        .iter()
        .find(|e| e.details.get("subjects_erased").is_some())
        .unwrap();
    assert_eq!(
        expiry.details["subjects_erased"],
        serde_json::json!([subject.to_string()])
    );
    assert_eq!(expiry.details["other_subjects"], 2);
    assert_eq!(expiry.details["results"], 3);
    let json = serde_json::to_string(&report).unwrap();
    for other in &others {
        assert!(!json.contains(&other.to_string()), "{json}");
    }
    assert!(!json.contains(&longer), "{json}");

    let literal = h
        .store
        .audit_entries_naming(("nobody", "50%_"), 0, 100)
        .await
        .unwrap();
    assert_eq!(literal.len(), 1);
    assert!(literal[0].details.contains("50%_ off"));
}
