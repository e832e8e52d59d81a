//! Safe repeats on both stores: a form submission claimed once with its first outcome kept for
//! repeats (also under concurrency, and taken over when its first run died), and a repeated
//! cast answered with the first cast's receipt instead of a refusal, while the participation
//! ledger keeps only a hash of the form's submission id.

use crate::Harness;
use crate::voting::{association, hash_of, open_ballot, request};
use cista_core::Store as _;
use cista_core::ports::SubmissionClaim;
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_crypto::Digest32;
use cista_types::Clock as _;
use std::sync::Arc;
use time::Duration;

fn key(n: u8) -> Digest32 {
    Digest32::sha256(&[b"submission", &[n]])
}

pub async fn a_submission_runs_once_and_repeats_get_its_first_outcome(h: &Harness) {
    let store = &h.store;
    let now = h.clock.now();
    let stale = now.plus(Duration::seconds(-60));
    assert_eq!(
        store.claim_submission(&key(1), now, stale).await.unwrap(),
        SubmissionClaim::Claimed
    );
    assert_eq!(
        store.claim_submission(&key(1), now, stale).await.unwrap(),
        SubmissionClaim::Running { since: now },
        "a repeat while the first runs must wait for it"
    );
    store
        .complete_submission(&key(1), "/vote/1/unit/2/receipt")
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            store.claim_submission(&key(1), now, stale).await.unwrap(),
            SubmissionClaim::Done {
                outcome: "/vote/1/unit/2/receipt".to_owned()
            }
        );
    }
    // Releasing a finished submission changes nothing; releasing a running one frees it.
    store.release_submission(&key(1)).await.unwrap();
    assert!(matches!(
        store.claim_submission(&key(1), now, stale).await.unwrap(),
        SubmissionClaim::Done { .. }
    ));
    assert_eq!(
        store.claim_submission(&key(2), now, stale).await.unwrap(),
        SubmissionClaim::Claimed
    );
    store.release_submission(&key(2)).await.unwrap();
    assert_eq!(
        store.claim_submission(&key(2), now, stale).await.unwrap(),
        SubmissionClaim::Claimed,
        "a form shown again with its errors may be sent again"
    );

    // A claim whose request died is taken over once it is stale, by one request only.
    let later = now.plus(Duration::minutes(5));
    let stale_later = later.plus(Duration::seconds(-60));
    assert_eq!(
        store
            .claim_submission(&key(2), later, stale_later)
            .await
            .unwrap(),
        SubmissionClaim::Claimed
    );
    assert_eq!(
        store
            .claim_submission(&key(2), later, stale_later)
            .await
            .unwrap(),
        SubmissionClaim::Running { since: later }
    );

    // Purging forgets what was claimed before the cut-off, and nothing after it.
    assert_eq!(store.purge_submissions(later).await.unwrap(), 1);
    assert_eq!(
        store
            .claim_submission(&key(1), later, stale_later)
            .await
            .unwrap(),
        SubmissionClaim::Claimed
    );
    assert!(matches!(
        store
            .claim_submission(&key(2), later, stale_later)
            .await
            .unwrap(),
        SubmissionClaim::Running { .. }
    ));
}

pub async fn concurrent_arrivals_of_one_submission_run_it_once(h: &Harness) {
    let store = h.store.clone();
    let now = h.clock.now();
    let stale = now.plus(Duration::seconds(-60));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.claim_submission(&key(9), now, stale).await.unwrap()
        }));
    }
    let mut claimed = 0;
    for t in tasks {
        if t.await.unwrap() == SubmissionClaim::Claimed {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);
}

pub async fn a_repeated_cast_returns_the_first_receipt_and_is_never_a_refusal(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "repeat-cast").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let voter = a.voter("107");
    let fields = [("c1", "yes"), ("c2", "1"), ("c2", "3")];
    let mut first = request(ballot, a.unit("107"), &hash, &fields);
    first.submission = Some("form-id-of-the-page".to_owned());
    let receipt = cista.cast_vote(&voter, first.clone()).await.unwrap();
    assert!(!receipt.repeated);

    // The same submission again (a reload, back, a restored tab): the same receipt.
    h.clock.set(h.clock.now().plus(Duration::minutes(3)));
    let again = cista.cast_vote(&voter, first.clone()).await.unwrap();
    assert!(again.repeated);
    assert_eq!(again.tracker, receipt.tracker);
    assert_eq!(again.cast_at, receipt.cast_at);
    assert_eq!(again.signed, receipt.signed);
    assert_eq!(again.choices, receipt.choices);
    let store = &h.store;
    assert_eq!(store.voting().refusals(ballot).await.unwrap().len(), 0);
    assert_eq!(store.voting().box_count(ballot).await.unwrap(), 1);

    // The ledger keeps a hash of the submission id, never the id; the box entry's tracker is
    // not the hash either.
    let row = store
        .voting()
        .participation_of(ballot, a.unit("107").id)
        .await
        .unwrap()
        .unwrap();
    let hash_kept = row.submission.expect("the submission's hash is kept");
    assert_ne!(hash_kept.to_hex().as_str(), "form-id-of-the-page");

    // A different form for the same unit is a second vote: refused and recorded.
    let mut other = first.clone();
    other.submission = Some("another-page".to_owned());
    let err = cista.cast_vote(&voter, other).await.unwrap_err();
    assert_eq!(err.code(), "already_voted");
    assert_eq!(store.voting().refusals(ballot).await.unwrap().len(), 1);

    // Someone else presenting the voter's submission id gets nothing of the first cast.
    let co_owner = a.person(a.owners_of("104")[0], cista_core::Access::Full);
    let mut stolen = request(ballot, a.unit("107"), &hash, &fields);
    stolen.submission = Some("form-id-of-the-page".to_owned());
    let err = cista.cast_vote(&co_owner, stolen).await.unwrap_err();
    assert_ne!(err.code(), "ok");

    // After the close, a repeat still gets the receipt (the vote was cast in time).
    crate::voting::close(h, &cista, ballot).await;
    let after = cista.cast_vote(&voter, first).await.unwrap();
    assert_eq!(after.tracker, receipt.tracker);
}

pub async fn the_same_cast_sent_many_times_at_once_casts_one_vote(h: &Harness) {
    let cista = Arc::new(h.cista().await);
    let a = association(h, &cista, "repeat-burst").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    let hash = hash_of(&cista, ballot).await;
    let voter = a.voter("108");
    let mut form = request(ballot, a.unit("108"), &hash, &[("c1", "no"), ("c2", "2")]);
    form.submission = Some("double-click".to_owned());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (cista, voter, form) = (cista.clone(), voter.clone(), form.clone());
        tasks.push(tokio::spawn(
            async move { cista.cast_vote(&voter, form).await },
        ));
    }
    let mut trackers = std::collections::BTreeSet::new();
    let mut firsts = 0;
    for t in tasks {
        let receipt = t.await.unwrap().unwrap();
        trackers.insert(receipt.tracker);
        if !receipt.repeated {
            firsts += 1;
        }
    }
    assert_eq!(trackers.len(), 1, "every answer is the one cast's receipt");
    assert_eq!(firsts, 1);
    let store = &h.store;
    assert_eq!(store.voting().box_count(ballot).await.unwrap(), 1);
    assert_eq!(store.voting().participation(ballot).await.unwrap().len(), 1);
    assert_eq!(store.voting().refusals(ballot).await.unwrap().len(), 0);
}

pub async fn a_receipt_signs_the_ballot_tracker_and_checkpoint_never_the_unit_or_choices(
    h: &Harness,
) {
    let cista = h.cista().await;
    let a = association(h, &cista, "receipt-sig").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    let hash = hash_of(&cista, ballot).await;
    let receipt = cista
        .cast_vote(
            &a.voter("107"),
            request(ballot, a.unit("107"), &hash, &[("c1", "yes"), ("c2", "2")]),
        )
        .await
        .unwrap();
    let body = cista.verify_receipt(&receipt.signed).unwrap();
    assert!(
        body.contains(&format!("tracker {}", receipt.tracker)),
        "{body}"
    );
    assert!(body.contains(&format!("ballot {ballot} ")), "{body}");
    assert!(
        body.contains(&format!("checkpoint {}", receipt.checkpoint_origin)),
        "{body}"
    );
    assert!(body.contains(&hash), "{body}");
    // Whole words only: hashes and trackers in the body may hold "107" or "Yes" by chance.
    let words: Vec<&str> = body
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for absent in [
        "unit", "107", "Ben", "Ortiz", "Yes", "choice", "cast", "channel",
    ] {
        assert!(
            !words.iter().any(|w| w.eq_ignore_ascii_case(absent)),
            "the signed part must not hold {absent:?}: {body}"
        );
    }
    // What the voter reads still shows the unit, the time and the choices (FL-05).
    assert_eq!(receipt.unit, "107");
    assert!(!receipt.cast_at_local.is_empty());
    assert!(
        receipt
            .choices
            .iter()
            .any(|(_, c)| c.contains(&"Ben Ortiz".to_owned()))
    );
}

pub async fn a_sealed_receipt_opens_only_for_its_session_unit_and_half_hour(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "receipt-seal").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let voter = a.voter("101");
    let receipt = cista
        .cast_vote(
            &voter,
            request(ballot, a.unit("101"), &hash, &[("c1", "abstain")]),
        )
        .await
        .unwrap();
    let u101 = a.unit("101").id;
    let sealed = cista.seal_receipt(&receipt, u101, "session-a").unwrap();
    let opened = cista
        .open_receipt(&voter, ballot, u101, "session-a", &sealed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.tracker, receipt.tracker);
    assert_eq!(opened.signed, receipt.signed);
    assert_eq!(opened.choices, receipt.choices);
    // Another session, another unit, a tampered value: nothing.
    assert!(
        cista
            .open_receipt(&voter, ballot, u101, "session-b", &sealed)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        cista
            .open_receipt(&voter, ballot, a.unit("102").id, "session-a", &sealed)
            .await
            .unwrap()
            .is_none()
    );
    let mut tampered = sealed.clone().into_bytes();
    if let Some(b) = tampered.get_mut(20) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(
        cista
            .open_receipt(&voter, ballot, u101, "session-a", &tampered)
            .await
            .unwrap()
            .is_none()
    );
    // Another owner (not of 101) cannot open it even with the session.
    let other = a.voter("107");
    assert!(
        cista
            .open_receipt(&other, ballot, u101, "session-a", &sealed)
            .await
            .unwrap()
            .is_none()
    );
    // After half an hour it is gone.
    h.clock.set(h.clock.now().plus(Duration::minutes(31)));
    assert!(
        cista
            .open_receipt(&voter, ballot, u101, "session-a", &sealed)
            .await
            .unwrap()
            .is_none()
    );
}

/// A repeat of a form whose first run died without recording where it went is never run
/// again: the run may have committed its change before it died (its outcome is recorded after
/// the handler's transaction). The core answers `OutcomeUnknown`, and keeps answering it; a
/// completed form still replays its first outcome.
pub async fn a_form_whose_first_run_died_is_never_run_again(h: &Harness) {
    use cista_core::platform::resubmit::Repeat;
    let cista = h.cista().await;
    let stale = std::time::Duration::from_secs(35);
    assert_eq!(
        cista.claim_submission(&key(7), stale).await.unwrap(),
        Repeat::Run
    );
    assert_eq!(
        cista.claim_submission(&key(8), stale).await.unwrap(),
        Repeat::Run
    );
    cista.complete_submission(&key(8), "/done").await.unwrap();
    h.advance(Duration::seconds(36));
    for _ in 0..2 {
        assert_eq!(
            cista.claim_submission(&key(7), stale).await.unwrap(),
            Repeat::OutcomeUnknown
        );
    }
    assert_eq!(
        cista.claim_submission(&key(8), stale).await.unwrap(),
        Repeat::Replay("/done".to_owned())
    );
    let e = cista_core::Error::SubmissionOutcomeUnknown;
    assert_eq!(
        (e.code(), e.class()),
        (
            "submission_outcome_unknown",
            cista_core::ErrorClass::Conflict
        )
    );
}
