//! One vote per unit, under concurrency and across the paper and online channels.

use super::*;

pub async fn a_hundred_concurrent_casts_for_one_unit_store_exactly_one(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "concurrent").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    // Unit 103 has two owners and no designated voter: both devices, both owners, at once.
    let owners = a.owners_of("103");
    assert_eq!(owners.len(), 2);
    let unit = a.unit("103").clone();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let cista = cista.clone();
        let actor = a.person(owners[i % 2], Access::Full);
        let request = request(ballot, &unit, &hash, &[("c1", "yes"), ("c2", "1")]);
        tasks.push(tokio::spawn(async move {
            cista.cast_vote(&actor, request).await
        }));
    }
    let mut stored = 0;
    let mut refused = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => stored += 1,
            Err(e) => refused.push(e),
        }
    }
    assert_eq!(stored, 1, "exactly one vote is stored");
    assert_eq!(refused.len(), 99);
    for e in &refused {
        assert_eq!(e.code(), "already_voted", "{e:?}");
        assert!(
            e.to_string().starts_with("unit 103 already voted on "),
            "{e}"
        );
        assert!(e.to_string().contains("online"), "{e}");
    }
    assert_eq!(counts(h, ballot).await, (1, 1, 99));
    let kinds = audit_kinds(&cista).await;
    assert_eq!(kinds.iter().filter(|k| *k == "vote.cast").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "vote.refused").count(), 99);
}

/// On a recorded ballot, whose paper ballots staff enter with their unit on one screen (a
/// secret ballot's come in two envelopes: see the paper suite, which checks the same rule).
pub async fn paper_and_online_refuse_each_other_in_either_order(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "channels").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let fields = [("c1", "no"), ("c2", "2")];

    // Paper first, then online.
    let paper = cista
        .enter_paper_ballot(&operator(), request(ballot, a.unit("107"), &hash, &fields))
        .await
        .unwrap();
    assert_eq!(paper.unit, "107");
    let err = cista
        .cast_vote(
            &a.voter("107"),
            request(ballot, a.unit("107"), &hash, &fields),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "already_voted");
    assert!(
        err.to_string().contains("on paper (entered by staff)"),
        "{err}"
    );

    // Online first, then paper.
    cista
        .cast_vote(
            &a.voter("108"),
            request(ballot, a.unit("108"), &hash, &fields),
        )
        .await
        .unwrap();
    let err = cista
        .enter_paper_ballot(&operator(), request(ballot, a.unit("108"), &hash, &fields))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "already_voted");
    assert!(
        err.to_string()
            .ends_with("online. Each unit votes once; this attempt was recorded"),
        "{err}"
    );

    // Units without online consent vote on paper.
    cista
        .enter_paper_ballot(&operator(), request(ballot, a.unit("106"), &hash, &fields))
        .await
        .unwrap();
    assert_eq!(counts(h, ballot).await, (3, 3, 2));
    let refusals = cista.store().voting().refusals(ballot).await.unwrap();
    let paper_refusal = refusals
        .iter()
        .find(|r| r.unit == a.unit("108").id)
        .unwrap();
    assert_eq!(
        paper_refusal.origin.staff, None,
        "the operator is not a person"
    );
    assert_eq!(paper_refusal.channel.as_str(), "paper");

    // Members cannot enter paper ballots.
    let err = cista
        .enter_paper_ballot(
            &a.voter("101"),
            request(ballot, a.unit("105"), &hash, &fields),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
}
