//! Two-envelope paper ballots on both stores: outer envelopes checked in by unit under the
//! one-vote rule, batches opened only when large enough while voting is open, inner ballots
//! entered with no unit and never more than the envelopes opened (also under concurrency), and
//! a close that waits until every checked-in envelope's ballot is in the box.

use crate::Harness;
use crate::voting::{Association, association, hash_of, open_ballot, request};
use cista_core::ports::VoteOrigin;
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_core::products::voting::paper::MIN_BATCH;
use cista_core::{Actor, Cista, Store as _};
use cista_types::{BallotId, Weight};
use std::sync::Arc;
use time::Duration;

fn operator() -> Actor {
    Actor::operator("test")
}

fn staff_origin() -> VoteOrigin {
    VoteOrigin {
        ip: Some("192.0.2.9".to_owned()),
        user_agent: Some("conformance".to_owned()),
        staff: None,
    }
}

pub async fn a_secret_ballot_takes_paper_only_in_two_envelopes(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "envelopes").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let store = &h.store;

    // The one-screen entry (unit and choices together) is refused for a secret ballot.
    let err = cista
        .enter_paper_ballot(
            &operator(),
            request(ballot, a.unit("101"), &hash, &[("c1", "yes")]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict", "{err}");
    assert_eq!(store.voting().participation(ballot).await.unwrap().len(), 0);

    outer_envelopes_are_checked_in_by_unit(h, &cista, &a, ballot, &hash).await;

    // Step two: the six waiting envelopes are opened together.
    let batch = cista
        .open_paper_batch(&operator(), ballot, Weight::ONE)
        .await
        .unwrap();
    assert_eq!((batch.number, batch.envelopes, batch.entered), (1, 6, 0));
    let err = cista
        .open_paper_batch(&operator(), ballot, Weight::ONE)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict", "nothing left to open");

    // Step three: inner ballots with no unit, never more than the envelopes.
    for i in 0..6 {
        let answer = if i % 2 == 0 { "yes" } else { "no" };
        let entered = cista
            .enter_inner_ballot(
                &operator(),
                ballot,
                1,
                &hash,
                &[("c1".to_owned(), answer.to_owned())],
            )
            .await
            .unwrap();
        assert_eq!(entered.entered, i + 1);
    }
    let err = cista
        .enter_inner_ballot(
            &operator(),
            ballot,
            1,
            &hash,
            &[("c1".to_owned(), "yes".to_owned())],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        "conflict",
        "a seventh ballot from six envelopes"
    );
    let entries = store.voting().box_entries(ballot).await.unwrap();
    assert_eq!(entries.len(), 7, "six inner ballots and one online vote");
    assert!(
        entries
            .iter()
            .all(|e| e.unit.is_none() && e.cast_at.is_none())
    );
    // The audit entries of inner ballots name the batch, never a unit.
    let inner: Vec<_> = store
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "vote.paper_ballot_entered")
        .collect();
    assert_eq!(inner.len(), 6);
    assert!(
        inner.iter().all(|e| !e.details.contains("unit")),
        "{inner:?}"
    );
    // A wrong definition hash is refused: the form was made for another ballot text.
    let err = cista
        .enter_inner_ballot(
            &operator(),
            ballot,
            1,
            "00",
            &[("c1".to_owned(), "yes".to_owned())],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ballot_changed");

    crate::voting::close(h, &cista, ballot).await;
    let (_, sealed) = cista.results(&operator(), ballot).await.unwrap();
    assert_eq!(sealed.tally.turnout.voted_units, 7);
    assert_eq!(sealed.tally.turnout.paper, 6);
}

/// Step one: outer envelopes, by unit; the participation row is written, the box is not.
async fn outer_envelopes_are_checked_in_by_unit(
    h: &Harness,
    cista: &Cista,
    a: &Association,
    ballot: BallotId,
    hash: &str,
) {
    let store = &h.store;
    // Step one: outer envelopes, by unit. The participation row is written, the box is not.
    let labels = ["101", "102", "103", "104", "105", "106"];
    for label in labels {
        let done = cista
            .check_in_envelope(&operator(), ballot, a.unit(label).id, staff_origin())
            .await
            .unwrap();
        assert_eq!(done.unit, label);
    }
    assert_eq!(store.voting().participation(ballot).await.unwrap().len(), 6);
    assert_eq!(store.voting().box_count(ballot).await.unwrap(), 0);
    // A second envelope for a unit (or one that voted online) is refused and recorded.
    let err = cista
        .check_in_envelope(&operator(), ballot, a.unit("103").id, staff_origin())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "already_voted");
    cista
        .cast_vote(
            &a.voter("107"),
            request(ballot, a.unit("107"), hash, &[("c1", "no")]),
        )
        .await
        .unwrap();
    let err = cista
        .check_in_envelope(&operator(), ballot, a.unit("107").id, staff_origin())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "already_voted");
    assert_eq!(store.voting().refusals(ballot).await.unwrap().len(), 2);
}

pub async fn small_batches_wait_for_the_close_and_the_close_waits_for_them(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "small-batch").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    // Two envelopes: fewer than a batch while voting is open.
    for label in ["101", "107"] {
        cista
            .check_in_envelope(&operator(), ballot, a.unit(label).id, staff_origin())
            .await
            .unwrap();
    }
    let loaded = cista.ballot(&operator(), a.org, ballot).await.unwrap();
    let state = cista.paper_state(&operator(), &loaded).await.unwrap();
    assert_eq!(state.waiting(), 2);
    assert_eq!(state.pending(), 2);
    // While voting is open, a batch of two cannot be opened: it would nearly show whose is
    // whose.
    let err = cista
        .open_paper_batch(&operator(), ballot, Weight::ONE)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert!(err.to_string().contains(&MIN_BATCH.to_string()), "{err}");

    // At the closing time the worker does not close: two paper ballots are pending.
    crate::voting::past_closing_time(h, &cista, ballot).await;
    let done = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!((done.closed, done.waiting_for_paper), (0, 1));
    let err = cista
        .close_ballot_now(&operator(), a.org, ballot)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "paper_ballots_pending");
    // No envelope is checked in after the closing time…
    let err = cista
        .check_in_envelope(&operator(), ballot, a.unit("108").id, staff_origin())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ballot_not_open");
    // …but the rest may now be opened however few.
    let batch = cista
        .open_paper_batch(&operator(), ballot, Weight::ONE)
        .await
        .unwrap();
    assert_eq!((batch.envelopes, batch.weight), (2, Weight::ONE));
    for answer in ["yes", "no"] {
        cista
            .enter_inner_ballot(
                &operator(),
                ballot,
                batch.number,
                &hash,
                &[("c1".to_owned(), answer.to_owned())],
            )
            .await
            .unwrap();
        // The close waits for the last one.
        let done = cista.run_voting_work(&Actor::System).await.unwrap();
        assert_eq!(done.closed, usize::from(answer == "no"));
    }
    let (_, sealed) = cista.results(&operator(), ballot).await.unwrap();
    assert_eq!(sealed.tally.ballots_counted, 2);
}

pub async fn concurrent_inner_ballots_never_outnumber_their_envelopes(h: &Harness) {
    let cista = Arc::new(h.cista().await);
    let a = association(h, &cista, "batch-race").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    for label in ["101", "102", "103", "104", "105"] {
        cista
            .check_in_envelope(&operator(), ballot, a.unit(label).id, staff_origin())
            .await
            .unwrap();
    }
    let batch = cista
        .open_paper_batch(&operator(), ballot, Weight::ONE)
        .await
        .unwrap();
    assert_eq!(batch.envelopes, MIN_BATCH);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (cista, hash) = (cista.clone(), hash.clone());
        tasks.push(tokio::spawn(async move {
            cista
                .enter_inner_ballot(
                    &Actor::operator("test"),
                    ballot,
                    batch.number,
                    &hash,
                    &[("c1".to_owned(), "abstain".to_owned())],
                )
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(
                matches!(e.code(), "conflict" | "storage_unavailable"),
                "{e}"
            ),
        }
    }
    assert!(ok <= 5);
    let entered = cista.store().voting().box_count(ballot).await.unwrap();
    assert_eq!(entered, ok);
    let batches = cista.store().voting().paper_batches(ballot).await.unwrap();
    assert_eq!(batches[0].entered, ok);
}

pub async fn each_weights_envelopes_are_opened_and_counted_with_their_own_weight(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "weights").await;
    // A weighted secret ballot needs every weight shared by at least three units.
    let mut roster = crate::voting::HEADER.to_owned();
    for (i, weight) in ["2", "2", "2", "2", "2", "1", "1", "1"].iter().enumerate() {
        roster.push_str(&format!(
            "{n},{weight},Own,Er{n},owner{n}@weights.example,,,yes\n",
            n = 201 + i
        ));
    }
    let plan = cista
        .plan_import(&operator(), org.id, roster.as_bytes())
        .await
        .unwrap();
    cista
        .apply_import(
            &operator(),
            org.id,
            roster.as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await
        .unwrap();
    let units = cista.store().voting().units(org.id).await.unwrap();
    let a = crate::voting::Association {
        org: org.id,
        units: units
            .into_iter()
            .map(|u| (u.label.to_string(), u))
            .collect(),
        owners: cista.store().voting().unit_owners(org.id).await.unwrap(),
    };
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::Weighted).await;
    let hash = hash_of(&cista, ballot).await;
    for label in ["201", "202", "203", "204", "205", "206"] {
        cista
            .check_in_envelope(&operator(), ballot, a.unit(label).id, staff_origin())
            .await
            .unwrap();
    }
    let two = Weight::parse("2").unwrap();
    let loaded = cista.ballot(&operator(), a.org, ballot).await.unwrap();
    let state = cista.paper_state(&operator(), &loaded).await.unwrap();
    let mut piles: Vec<(i64, u64)> = state
        .piles
        .iter()
        .map(|p| (p.weight.micros(), p.waiting()))
        .collect();
    piles.sort_unstable();
    assert_eq!(piles, vec![(1_000_000, 1), (2_000_000, 5)]);
    // The five of weight 2 make a batch; the one of weight 1 waits for the close.
    let batch = cista
        .open_paper_batch(&operator(), ballot, two)
        .await
        .unwrap();
    assert_eq!((batch.envelopes, batch.weight), (5, two));
    assert!(
        cista
            .open_paper_batch(&operator(), ballot, Weight::ONE)
            .await
            .is_err()
    );
    for _ in 0..5 {
        cista
            .enter_inner_ballot(
                &operator(),
                ballot,
                batch.number,
                &hash,
                &[("c1".to_owned(), "yes".to_owned())],
            )
            .await
            .unwrap();
    }
    let b = cista
        .store()
        .voting()
        .ballot(ballot)
        .await
        .unwrap()
        .unwrap();
    h.clock.set(b.closes_at.plus(Duration::seconds(1)));
    let last = cista
        .open_paper_batch(&operator(), ballot, Weight::ONE)
        .await
        .unwrap();
    assert_eq!(
        (last.number, last.envelopes, last.weight),
        (2, 1, Weight::ONE)
    );
    cista
        .enter_inner_ballot(
            &operator(),
            ballot,
            last.number,
            &hash,
            &[("c1".to_owned(), "no".to_owned())],
        )
        .await
        .unwrap();
    let total: i64 = cista
        .store()
        .voting()
        .box_entries(ballot)
        .await
        .unwrap()
        .iter()
        .map(|e| e.weight.micros())
        .sum();
    assert_eq!(total, 11_000_000, "five of weight 2 and one of weight 1");
    assert_eq!(
        cista.run_voting_work(&Actor::System).await.unwrap().closed,
        1
    );
}
