//! Refused casts and consent: explained, recorded, and storing nothing.

use super::*;

pub async fn refused_casts_are_explained_recorded_and_store_nothing(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "refusals").await;
    let opens = window_start(h);
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let good = [("c1", "yes"), ("c2", "1")];
    let cases = refusal_cases(&a, &hash);
    for (i, (actor, label, fields, form_hash, code)) in cases.iter().enumerate() {
        let err = cista
            .cast_vote(actor, request(ballot, a.unit(label), form_hash, fields))
            .await
            .unwrap_err();
        assert_eq!(err.code(), *code, "case {i}: {err}");
        assert_eq!(
            counts(h, ballot).await,
            (0, 0, i + 1),
            "case {i} stored nothing but its refusal"
        );
    }
    // The messages say what to do.
    let err = cista
        .cast_vote(
            &a.voter("105"),
            request(ballot, a.unit("105"), &hash, &good),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("has not consented to online voting"),
        "{err}"
    );
    assert!(err.to_string().contains("paper"), "{err}");

    // Outside the window: before it opens, after it closes.
    h.clock.set(opens.plus(Duration::minutes(-5)));
    let err = cista
        .cast_vote(
            &a.voter("107"),
            request(ballot, a.unit("107"), &hash, &good),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ballot_not_open");
    assert!(err.to_string().contains("opens on"), "{err}");
    h.clock.set(opens.plus(Duration::days(7)));
    let err = cista
        .cast_vote(
            &a.voter("107"),
            request(ballot, a.unit("107"), &hash, &good),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ballot_not_open");
    assert!(err.to_string().contains("no late ballots"), "{err}");
    let (participation, box_count, refusals) = counts(h, ballot).await;
    assert_eq!((participation, box_count), (0, 0));
    assert_eq!(refusals, cases.len() + 3);
    let refused = audit_kinds(&cista)
        .await
        .iter()
        .filter(|k| *k == "vote.refused")
        .count();
    assert_eq!(refused, cases.len() + 3);

    // A unit of another association is not found, and nothing is recorded for it.
    let b = another_association(h, &cista, "elsewhere").await;
    let err = cista
        .cast_vote(
            &a.voter("101"),
            request(ballot, b.unit("101"), &hash, &good),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert_eq!(counts(h, ballot).await.2, refusals);
}

/// A refused cast: who, unit, form fields, definition hash on the form, expected error code.
type Case = (
    Actor,
    &'static str,
    Vec<(&'static str, &'static str)>,
    String,
    &'static str,
);

/// Each refused cast: (who, unit, form fields, definition hash on the form, expected code).
fn refusal_cases(a: &Association, hash: &str) -> Vec<Case> {
    let good = [("c1", "yes"), ("c2", "1")];
    let other_owner = a.owners_of("104")[1];
    vec![
        (
            a.voter("101"),
            "101",
            vec![("c1", "yes"), ("c2", "9")],
            hash.to_owned(),
            "bad_request",
        ),
        (
            a.voter("101"),
            "101",
            vec![("c1", "yes"), ("c2", "1"), ("c2", "2"), ("c2", "3")],
            hash.to_owned(),
            "invalid_input",
        ),
        (
            a.voter("101"),
            "101",
            vec![("c2", "1")],
            hash.to_owned(),
            "invalid_input",
        ),
        (
            a.voter("101"),
            "101",
            vec![("c1", "yes"), ("c9", "1")],
            hash.to_owned(),
            "bad_request",
        ),
        (
            a.voter("101"),
            "101",
            good.to_vec(),
            "00".repeat(32),
            "ballot_changed",
        ),
        (
            a.voter("101"),
            "103",
            good.to_vec(),
            hash.to_owned(),
            "not_eligible",
        ),
        (
            a.person(other_owner, Access::Full),
            "104",
            good.to_vec(),
            hash.to_owned(),
            "not_eligible",
        ),
        (
            a.voter("105"),
            "105",
            good.to_vec(),
            hash.to_owned(),
            "consent_required",
        ),
        (
            a.voter("106"),
            "106",
            good.to_vec(),
            hash.to_owned(),
            "consent_required",
        ),
    ]
}

pub async fn consent_is_recorded_with_when_and_how(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "consent").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    // The owner of 105 consents online, then can vote online.
    let unit = cista
        .record_consent(&a.voter("105"), a.unit("105").id, ConsentStatus::Consented)
        .await
        .unwrap();
    assert_eq!(unit.consent, ConsentStatus::Consented);
    assert_eq!(unit.consent_at, Some(h.clock.now()));
    assert!(
        unit.consent_method
            .unwrap()
            .starts_with("online, by the owner")
    );
    cista
        .cast_vote(
            &a.voter("105"),
            request(ballot, a.unit("105"), &hash, &[("c1", "yes")]),
        )
        .await
        .unwrap();
    // Someone else's unit: refused.
    let err = cista
        .record_consent(&a.voter("101"), a.unit("106").id, ConsentStatus::Consented)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    // Staff record a paper opt-out.
    let unit = cista
        .record_consent(&operator(), a.unit("107").id, ConsentStatus::OptedOut)
        .await
        .unwrap();
    assert!(
        unit.consent_method
            .unwrap()
            .starts_with("paper form, entered by operator:test")
    );
    assert!(
        audit_kinds(&cista)
            .await
            .contains(&"unit.consent_recorded".to_owned())
    );
}

/// A fault of the server is never recorded as the voter's refusal: with the organization's
/// wrapped data key damaged, a cast fails with the key provider's error, stores nothing, and
/// leaves no refusal row and no `vote.refused` entry against the unit; with a damaged
/// organization row the same holds for the integrity error.
pub async fn a_server_fault_during_a_cast_is_not_recorded_against_the_unit(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "faults").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let damaged = if h.is_postgres() {
        "'\\x00112233'::bytea"
    } else {
        "X'00112233'"
    };
    h.tamper(&format!(
        "UPDATE stored_keys SET wrapped = {damaged} WHERE org_id = {}",
        a.org.as_i64()
    ))
    .await;
    let err = cista
        .cast_vote(
            &a.voter("101"),
            request(ballot, a.unit("101"), &hash, &[("c1", "yes")]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Keys(_) | Error::Crypto(_)),
        "the key provider's fault: {err:?}"
    );
    assert_eq!(
        counts(h, ballot).await,
        (0, 0, 0),
        "nothing stored, nothing recorded"
    );

    // A stored organization row that no longer parses (read with the cast's checks, not by
    // the step that records a refusal): the integrity error is the server's too.
    h.tamper(&format!(
        "UPDATE organizations SET slug = 'Not A Slug!' WHERE id = {}",
        a.org.as_i64()
    ))
    .await;
    let err = cista
        .cast_vote(
            &a.voter("102"),
            request(ballot, a.unit("102"), &hash, &[("c1", "yes")]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "integrity_failed", "{err:?}");
    assert_eq!(
        counts(h, ballot).await,
        (0, 0, 0),
        "nothing stored, nothing recorded"
    );
    let kinds = audit_kinds(&cista).await;
    assert!(!kinds.iter().any(|k| k == "vote.refused"), "{kinds:?}");
}

/// Text the database cannot store, sent on its own: PostgreSQL refuses a NUL byte in text
/// (SQLSTATE 22021), SQLite keeps it. The caller's error (`bad_request`, 400), never a 500,
/// and nothing stored; on SQLite the vote counts.
pub async fn text_the_database_cannot_store_is_the_callers_error(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "nul-agent").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let mut request = request(ballot, a.unit("101"), &hash, &[("c1", "no"), ("c2", "2")]);
    request.origin.user_agent = Some("broken\u{0}agent".to_owned());
    let cast = cista.cast_vote(&a.voter("101"), request).await;
    let (rows, boxed, _) = counts(h, ballot).await;
    if h.is_postgres() {
        let e = cast.unwrap_err();
        assert_eq!(e.code(), "bad_request", "{e:?}");
        assert!(
            !e.public_message().contains("22021"),
            "{}",
            e.public_message()
        );
        assert_eq!((rows, boxed), (0, 0), "nothing stored");
    } else {
        cast.unwrap();
        assert_eq!((rows, boxed), (1, 1));
    }
}
