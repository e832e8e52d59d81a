//! Sealed results, the tally, and the bundle anyone can recount.

use super::*;

pub async fn results_stay_sealed_until_the_close_then_the_bundle_recounts(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "results").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let receipts = cast_five_votes(&cista, &a, ballot, &hash).await;
    the_receipt_signs_the_tracker_not_the_unit(&cista, &receipts);

    // Before the close: sealed everywhere, for everyone; turnout and quorum are live.
    let member = a.voter("101");
    results_are_sealed_before_the_close(&cista, &a, ballot, &member).await;

    close(h, &cista, ballot).await;
    let (closed, results) = cista.results(&member, ballot).await.unwrap();
    assert_eq!(closed.status(), BallotStatus::Closed);
    let tally = &results.tally;
    assert_eq!(tally.ballots_counted, 5);
    let ContestResult::Resolution {
        yes,
        no,
        abstain,
        passed,
        ..
    } = &tally.contests[0]
    else {
        panic!("{tally:?}")
    };
    assert_eq!((yes.ballots, no.ballots, abstain.ballots), (3, 1, 1));
    assert!(passed, "3 of 4 votes cast is over two thirds");
    let ContestResult::Election {
        candidates,
        tied,
        valid,
        ..
    } = &tally.contests[1]
    else {
        panic!("{tally:?}")
    };
    assert!(valid);
    assert!(tied.is_empty());
    let elected: Vec<&str> = candidates
        .iter()
        .filter(|c| c.elected)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(elected, vec!["Alma Diaz", "Ben Ortiz"]);

    // The bundle verifies from scratch, and every tamper is caught.
    let bundle = cista.election_bundle(ballot).await.unwrap();
    assert_eq!(bundle.ballots.len(), 5);
    the_bundle_recounts_and_catches_every_tamper(&bundle, &receipts);
    // The ballot's checkpoint is signed with the key that signs the audit log's, but it is
    // no checkpoint of the log: kept and given back to the audit's check, it is refused.
    let problem = cista
        .verify_audit_against(&operator(), std::slice::from_ref(&bundle.checkpoint))
        .await
        .unwrap()
        .problem
        .expect("a ballot's checkpoint is not the log's");
    assert!(
        problem.message.contains("not of this audit log"),
        "{problem:?}"
    );
    // The anonymous list and the participation list are separate files.
    let ballots_csv = String::from_utf8(
        cista
            .export_record(&operator(), a.org, ballot, RecordFile::AnonymousBallots)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(ballots_csv.starts_with("tracker,weight,Amend article 7,Board of directors"));
    assert!(
        ballots_csv.lines().skip(1).all(|l| {
            // First a tracker (never a unit label), then the weight and the two answers.
            let first = l.split(',').next().unwrap_or_default();
            l.split(',').count() == 4 && cista_types::Tracker::parse(first).is_ok()
        }),
        "tracker, weight and choices only: {ballots_csv}"
    );
    let participation_csv = String::from_utf8(
        cista
            .export_record(&operator(), a.org, ballot, RecordFile::Participation)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(participation_csv.lines().count(), 6);
    assert!(!participation_csv.contains(&receipts[0].tracker.to_string()));
    let kinds = audit_kinds(&cista).await;
    assert!(kinds.contains(&"ballot.closed".to_owned()));
    assert!(kinds.contains(&"record.exported".to_owned()));
    // Closing again does nothing; voting after the close is refused.
    assert_eq!(
        cista.run_voting_work(&Actor::System).await.unwrap().closed,
        0
    );
    let err = cista
        .cast_vote(
            &a.voter("108"),
            request(ballot, a.unit("108"), &hash, &[("c1", "yes")]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ballot_not_open");
}

/// Casts five votes on the results ballot; their receipts, in casting order.
async fn cast_five_votes(
    cista: &Cista,
    a: &Association,
    ballot: BallotId,
    hash: &str,
) -> Vec<Receipt> {
    let votes = [
        ("101", "yes", vec!["1", "2"]),
        ("102", "yes", vec!["1"]),
        ("103", "no", vec!["2"]),
        ("104", "yes", vec!["1", "3"]),
        ("107", "abstain", vec![]),
    ];
    let mut receipts = Vec::new();
    for (label, answer, candidates) in &votes {
        let mut fields = vec![("c1", *answer)];
        fields.extend(candidates.iter().map(|c| ("c2", *c)));
        receipts.push(
            cista
                .cast_vote(
                    &a.voter(label),
                    request(ballot, a.unit(label), hash, &fields),
                )
                .await
                .unwrap(),
        );
    }
    receipts
}

/// The receipt shows the unit, time and choices; its signature covers the tracker.
fn the_receipt_signs_the_tracker_not_the_unit(cista: &Cista, receipts: &[Receipt]) {
    // The receipt shows the unit, time and choices; its signed part covers the ballot and the
    // tracker (never the unit or the choices: see the repeats suite).
    let r = &receipts[0];
    assert_eq!(r.unit, "101");
    assert_eq!(r.choices[1].1, vec!["Alma Diaz", "Ben Ortiz"]);
    let body = cista.verify_receipt(&r.signed).unwrap();
    assert!(body.contains(&format!("tracker {}", r.tracker)));
    assert!(!body.contains("unit 101"));
    let other = receipts[1].tracker.to_string();
    assert!(
        cista
            .verify_receipt(&r.signed.replace(&r.tracker.to_string(), &other))
            .is_err()
    );
}

/// Before the close: sealed everywhere, for everyone; turnout and quorum are live.
async fn results_are_sealed_before_the_close(
    cista: &Cista,
    a: &Association,
    ballot: BallotId,
    member: &Actor,
) {
    for actor in [operator(), member.clone()] {
        let err = cista.results(&actor, ballot).await.unwrap_err();
        assert_eq!(err.code(), "results_sealed");
    }
    assert_eq!(
        cista.election_bundle(ballot).await.unwrap_err().code(),
        "results_sealed"
    );
    for file in [RecordFile::AnonymousBallots, RecordFile::RecordedVotes] {
        let err = cista
            .export_record(&operator(), a.org, ballot, file)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "results_sealed");
    }
    let stored = cista.ballot(&operator(), a.org, ballot).await.unwrap();
    let live = cista.live_turnout(&operator(), &stored).await.unwrap();
    assert_eq!(live.turnout.voted_units, 5);
    assert_eq!(live.turnout.eligible_units, 8);
    assert!(live.quorum_reached, "5 of 8 is over 30%");
    // Closing early is refused.
    let err = cista
        .close_ballot_now(&operator(), a.org, ballot)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ballot_not_open");
}

/// The bundle verifies from scratch, every tamper is caught, and each receipt is in it.
fn the_bundle_recounts_and_catches_every_tamper(bundle: &Bundle, receipts: &[Receipt]) {
    let v = verify_bundle(bundle, None);
    assert!(v.ok(), "{v:#?}");
    assert!(verify_bundle(bundle, Some(&bundle.verifier_key)).ok());
    // Change the first ballot's answer to the resolution, whatever it was: the box is in
    // tracker order, so which ballot comes first is random.
    use cista_core::products::voting::definition::{Answer, Choice};
    let mut flipped = bundle.clone();
    let first = &mut flipped.ballots[0].choices.0[0];
    let changed = match first {
        Choice::Answer {
            answer: Answer::No, ..
        } => Answer::Yes,
        _ => Answer::No,
    };
    *first = Choice::Answer {
        contest: 1,
        answer: changed,
    };
    let v = verify_bundle(&flipped, None);
    assert!(!v.ok());
    assert!(v.checks.iter().any(|c| c.name == "tree root" && !c.ok));
    let mut dropped = bundle.clone();
    dropped.ballots.remove(2);
    assert!(!verify_bundle(&dropped, None).ok());
    let mut other_key = bundle.clone();
    other_key.results.tally.contests.swap(0, 1);
    assert!(!verify_bundle(&other_key, None).ok());
    assert!(!verify_bundle(bundle, Some("someone+00000000+AQ==")).ok());
    the_signed_results_and_fields_cannot_change(bundle);
    // Each receipt's tracker is in the bundle with a proof that holds.
    for r in receipts {
        let (_, ballot, proven) =
            cista_core::products::voting::bundle::find_tracker(bundle, r.tracker).unwrap();
        assert!(proven);
        assert_eq!(
            ballot
                .choices
                .describe(&cista_core::products::voting::close::definition_of(bundle).unwrap()),
            r.choices
        );
    }
}

/// The checkpoint signs the results: a turnout and outcome edited everywhere they appear,
/// so that the recount agrees with them, is still refused; so is a field that disagrees
/// with the signed results or definition (the title, the results' own ballot).
fn the_signed_results_and_fields_cannot_change(bundle: &Bundle) {
    let failed = |b: &Bundle| -> Vec<String> {
        verify_bundle(b, None)
            .checks
            .into_iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect()
    };
    let mut inflated = bundle.clone();
    inflated.turnout.eligible_units = 200;
    inflated.results.tally.turnout.eligible_units = 200;
    inflated.results.tally.quorum_reached = !bundle.results.tally.quorum_reached;
    assert_eq!(failed(&inflated), ["results signature", "recount"]);
    // The same edit with the recount made to agree too: only the signature is left to say.
    let mut agreeing = inflated.clone();
    agreeing.results.tally = cista_core::products::voting::tally::tally(
        &cista_core::products::voting::close::definition_of(bundle).unwrap(),
        agreeing.turnout,
        &agreeing.ballots,
    )
    .unwrap();
    assert_eq!(failed(&agreeing), ["results signature"]);
    let mut retitled = bundle.clone();
    retitled.title = "Another ballot".to_owned();
    assert_eq!(failed(&retitled), ["results fields"]);
    let mut elsewhere = bundle.clone();
    elsewhere.turnout.eligible_units += 1;
    assert_eq!(failed(&elsewhere), ["results fields", "recount"]);
}
