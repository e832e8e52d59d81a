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
    // Unit 101 weighs 1.25 on the roll; this ballot counts one per unit.
    cista
        .cast_vote(
            &a.voter("101"),
            request(ballot, a.unit("101"), &hash, &fields),
        )
        .await
        .unwrap();
    assert_eq!(counts(h, ballot).await, (4, 4, 2));
    the_turnout_sums_roll_weights_per_channel(&cista, ballot).await;
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

/// Turnout as the database sums it (each participation row's roll weight, per channel) is
/// turnout counted row by row from the roll: two units online (108 and 101, weights 1 and
/// 1.25 on the roll) and two on paper (107 and 106, weight 1 each). The voters' weight is the
/// roll's even on a ballot that counts one per unit.
async fn the_turnout_sums_roll_weights_per_channel(cista: &Cista, ballot: BallotId) {
    use cista_core::products::voting::close::{turnout_from, turnout_of};
    let voting = cista.store().voting();
    let totals = voting.turnout_totals(ballot).await.unwrap();
    let turnout = turnout_from(&totals);
    let rows = turnout_of(
        &voting.eligible_units(ballot).await.unwrap(),
        &voting.participation(ballot).await.unwrap(),
    );
    assert_eq!(turnout, rows);
    assert_eq!((turnout.web, turnout.paper, turnout.voted_units), (2, 2, 4));
    assert_eq!(turnout.voted_weight, 4_250_000);
    assert_eq!(turnout.eligible_units, 8);
    assert_eq!(turnout.eligible_weight, 8_000_000);
    // The same inside a transaction (what the close reads).
    let mut tx = cista.store().begin().await.unwrap();
    assert_eq!(
        tx.voting().turnout_totals_in_tx(ballot).await.unwrap(),
        totals
    );
}

/// Participation written before each row kept its unit's roll weight gets the weight from
/// the roll when the database is migrated: the turnout is the same before and after, the guard
/// that refuses updates to participation is back in place, and casts go on.
pub async fn participation_from_before_the_roll_weight_column_is_weighed_from_the_roll(
    h: &Harness,
) {
    let cista = h.cista().await;
    let a = association(h, &cista, "backfill").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    let hash = hash_of(&cista, ballot).await;
    let fields = [("c1", "yes"), ("c2", "1")];
    for label in ["101", "102"] {
        cista
            .cast_vote(
                &a.voter(label),
                request(ballot, a.unit(label), &hash, &fields),
            )
            .await
            .unwrap();
    }
    cista
        .enter_paper_ballot(&operator(), request(ballot, a.unit("107"), &hash, &fields))
        .await
        .unwrap();
    let before = cista.store().voting().turnout_totals(ballot).await.unwrap();
    assert_eq!(before.voted_weight, 3_000_000, "1.25 + 0.75 + 1");

    // The schema as the migration before this one left it.
    h.tamper("DROP INDEX ix_participation_turnout").await;
    h.tamper("ALTER TABLE participation DROP COLUMN roll_weight_micros")
        .await;
    h.tamper("CREATE INDEX ix_participation_channel ON participation (ballot_id, channel)")
        .await;
    h.tamper(
        "DELETE FROM seaql_migrations WHERE version = 'm20261210_000001_participation_weight'",
    )
    .await;
    assert_eq!(
        h.store.migrate().await.unwrap(),
        ["m20261210_000001_participation_weight"]
    );

    let after = cista.store().voting().turnout_totals(ballot).await.unwrap();
    assert_eq!(after, before);
    let rows = cista_core::products::voting::close::turnout_of(
        &cista.store().voting().eligible_units(ballot).await.unwrap(),
        &cista.store().voting().participation(ballot).await.unwrap(),
    );
    assert_eq!(
        cista_core::products::voting::close::turnout_from(&after),
        rows
    );
    let update = format!("UPDATE participation SET channel = 'paper' WHERE ballot_id = {ballot}");
    let refused = h.store.connection().execute_unprepared(&update).await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("cista:")),
        "the guard is back"
    );
    cista
        .cast_vote(
            &a.voter("103"),
            request(ballot, a.unit("103"), &hash, &fields),
        )
        .await
        .unwrap();
    let last = cista.store().voting().turnout_totals(ballot).await.unwrap();
    assert_eq!(last.voted_weight, 4_000_000);
}

/// Each group commit is counted with the casts it held (`Cista::group_commits`, which
/// `bench voting` prints): casts one after another are a group each, whatever becomes of
/// them; a cast refused at its checks never reaches a group; casts sent at once share groups.
pub async fn group_commits_are_counted_with_the_casts_they_hold(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "counted").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let written = || {
        let g = cista.group_commits();
        (g.groups, g.casts)
    };
    assert_eq!(written(), (0, 0));
    let cast = |label: &'static str, hash: String| {
        let cista = cista.clone();
        let actor = a.voter(label);
        let request = request(ballot, a.unit(label), &hash, &[("c1", "yes"), ("c2", "1")]);
        async move { cista.cast_vote(&actor, request).await }
    };
    cast("101", hash.clone()).await.unwrap();
    cast("102", hash.clone()).await.unwrap();
    // A second cast for 101 reaches the write, where its unit is found to have voted.
    let again = cast("101", hash.clone()).await.unwrap_err();
    assert_eq!(again.code(), "already_voted");
    assert_eq!(written(), (3, 3));
    // A form made from another definition is refused before it is queued.
    let stale = cast("103", "00".repeat(32)).await.unwrap_err();
    assert_eq!(stale.code(), "ballot_changed", "{stale:?}");
    assert_eq!(written(), (3, 3));
    // Casts sent at once: every one is in exactly one group, and no group is empty.
    let at_once: Vec<_> = ["103", "104", "107", "108"]
        .into_iter()
        .map(|label| tokio::spawn(cast(label, hash.clone())))
        .collect();
    for task in at_once {
        task.await.unwrap().unwrap();
    }
    let (groups, casts) = written();
    assert_eq!(casts, 7);
    assert!((4..=7).contains(&groups), "{groups} groups");
    assert_eq!(counts(h, ballot).await.0, 6);
}

/// Casts for many units at once are written in shared transactions (group commit): each is
/// acknowledged with its own receipt, every acknowledged one is stored once with its audit
/// entry, repeats for a unit that voted are refused inside the group, two casts whose forms
/// gave the same tracker both end up stored under different trackers, and a cast the
/// database refuses (a NUL in a text column, which PostgreSQL rejects) fails alone.
pub async fn concurrent_casts_commit_together_and_one_failing_cast_takes_none_down(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "grouped").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let labels = ["101", "102", "103", "104", "107", "108"];
    let mut tasks = Vec::new();
    for round in 0..4 {
        for label in labels {
            let cista = cista.clone();
            let actor = a.voter(label);
            let mut request = request(ballot, a.unit(label), &hash, &[("c1", "yes"), ("c2", "1")]);
            // 107 and 108 send forms with the same submission id: the same first tracker.
            request.submission = match label {
                "107" | "108" => Some(format!("shared-form-{round}")),
                _ => Some(format!("form-{label}-{round}")),
            };
            tasks.push((
                label,
                tokio::spawn(async move { cista.cast_vote(&actor, request).await }),
            ));
        }
    }
    // A cast whose stored text the database may refuse, sent among the others.
    let bad = {
        let cista = cista.clone();
        let actor = a.voter("104");
        let mut request = request(ballot, a.unit("104"), &hash, &[("c1", "no"), ("c2", "2")]);
        request.origin.user_agent = Some("broken\u{0}agent".to_owned());
        tokio::spawn(async move { cista.cast_vote(&actor, request).await })
    };
    let mut accepted = BTreeMap::new();
    let mut trackers = BTreeSet::new();
    for (label, task) in tasks {
        match task.await.unwrap() {
            Ok(receipt) => {
                assert!(trackers.insert(receipt.tracker), "a tracker given twice");
                *accepted.entry(label).or_insert(0) += 1;
            }
            Err(e) => assert_eq!(e.code(), "already_voted", "{label}: {e:?}"),
        }
    }
    let bad = bad.await.unwrap();
    for label in labels {
        if label != "104" {
            assert_eq!(accepted.get(label).copied(), Some(1), "{label} voted once");
        }
    }
    // 104 voted once: by the broken cast (SQLite keeps the text) or by a good one.
    let for_104 = accepted.get("104").copied().unwrap_or(0) + usize::from(bad.is_ok());
    assert_eq!(for_104, 1, "104: {bad:?}");
    if let Err(e) = &bad {
        assert!(matches!(e.code(), "bad_request" | "already_voted"), "{e:?}");
    }
    let (rows, boxed, _) = counts(h, ballot).await;
    assert_eq!((rows, boxed), (6, 6), "six units, each stored once");
    let kinds = audit_kinds(&cista).await;
    assert_eq!(kinds.iter().filter(|k| *k == "vote.cast").count(), 6);
    let verified = cista.verify_audit(&operator()).await.unwrap();
    assert!(verified.is_ok(), "{:?}", verified.problem);
}

/// The worker's shuffle of an open box never drops a cast whose transaction is still open:
/// on PostgreSQL the rewrite goes on beside it (it holds the box's lock and the ballot only
/// shared, as the cast does), and moves the box without that cast's entry; it records what
/// it wrote only once the cast has let go of the ballot. On SQLite it waits for the cast's
/// write. Afterwards the box holds every ballot the ledger counts, and the next pass
/// shuffles what the rewrite did not see, then nothing.
pub async fn a_shuffle_drops_no_ballot_cast_in_flight(h: &Harness) {
    use cista_core::ports::{BoxEntry, Participation, VoteChannel};
    let cista = h.cista().await;
    let a = association(h, &cista, "shuffle").await;
    let ballot = open_with_one_vote(h, &cista, &a, "102", "yes").await;

    // A cast in flight: the ballot locked shared, its rows written, not yet committed.
    let mut cast = cista.store().begin().await.unwrap();
    assert!(
        cast.voting()
            .lock_ballot(ballot, false)
            .await
            .unwrap()
            .is_some()
    );
    let unit = a.unit("101").id;
    assert!(
        cast.voting()
            .insert_participation(&Participation {
                ballot,
                unit,
                channel: VoteChannel::Web,
                voter: None,
                origin: VoteOrigin::default(),
                at: h.clock.now(),
                roll_weight: cista_types::Weight::ONE,
                submission: None,
            })
            .await
            .unwrap()
    );
    cast.voting()
        .insert_box_entry(&BoxEntry {
            ballot,
            tracker: cista_types::Tracker::from_i64(42),
            weight: cista_types::Weight::ONE,
            sealed_choices: vec![1, 2, 3],
            unit: None,
            cast_at: None,
        })
        .await
        .unwrap();

    // Until the cast commits, the shuffle cannot record its count (PostgreSQL) or even start
    // (SQLite): either way it is not over.
    let worker = a_worker_pass_waiting(&cista, "the cast in flight").await;
    cast.commit_housekeeping().await.unwrap();
    let done = worker.await.unwrap().unwrap();
    assert_eq!(done.shuffled, 1);
    let (participation, boxed, _) = counts(h, ballot).await;
    assert_eq!((participation, boxed), (2, 2));
    let shuffled = |b: Option<cista_core::ports::StoredBallot>| b.unwrap().shuffled_count;
    let written = shuffled(cista.store().voting().ballot(ballot).await.unwrap());
    // On SQLite the rewrite came after the cast; on PostgreSQL it ran beside it, so it either
    // saw the cast's entry or left it for the next pass.
    let expected_next = if written == 2 { 0 } else { 1 };
    assert!(h.is_postgres() || written == 2, "{written}");
    assert!(written == 1 || written == 2, "{written}");
    let next = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(next.shuffled, expected_next);
    assert_eq!(
        shuffled(cista.store().voting().ballot(ballot).await.unwrap()),
        2
    );
    // Nothing added since: the next pass leaves the box as it is.
    assert_eq!(
        cista
            .run_voting_work(&Actor::System)
            .await
            .unwrap()
            .shuffled,
        0
    );
    assert_eq!(counts(h, ballot).await.1, 2);
}

/// The close reads its box through its own transaction (`box_entries_after_in_tx`): after a
/// shuffle, which writes the same entries back in another order, its pages hold exactly the
/// committed box; once the transaction adds an entry (here with the smallest tracker there
/// is, so the first page must start below every other), its pages hold that one too; and a
/// rollback leaves the box as committed. A reader apart from the transaction (on SQLite's
/// file a read-only connection of its own, on PostgreSQL a read-only transaction in the
/// transaction's snapshot) reads the same box while the transaction runs other statements,
/// once and in order, and fails rather than miss what the transaction adds.
pub async fn a_transaction_reads_its_box_as_it_stands_in_the_transaction(h: &Harness) {
    use cista_core::ports::{BoxColumns, BoxEntry, BoxReaderApart, StoreTx};
    /// Every page of three, in order, as the reader apart reads them.
    async fn pages_apart(reader: &mut dyn BoxReaderApart) -> cista_core::Result<Vec<BoxEntry>> {
        let (mut all, mut after) = (Vec::new(), None);
        loop {
            let page = reader.page(after, 3).await?;
            match page.last() {
                None => return Ok(all),
                Some(last) => after = Some(last.tracker),
            }
            all.extend(page);
        }
    }
    use cista_types::{Tracker, Weight};
    /// Every page of three, in order, as the transaction reads them.
    async fn pages_in_tx(tx: &mut dyn StoreTx, ballot: BallotId) -> Vec<BoxEntry> {
        let (mut all, mut after) = (Vec::new(), None);
        loop {
            let page = tx
                .voting()
                .box_entries_after_in_tx(ballot, after, 3, BoxColumns::Ballots)
                .await
                .unwrap();
            match page.last() {
                None => return all,
                Some(last) => after = Some(last.tracker),
            }
            all.extend(page);
        }
    }
    let cista = h.cista().await;
    let a = association(h, &cista, "in-tx").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let filled = cista
        .fill_ballot_box(&operator(), a.org, ballot, &|_| {})
        .await
        .unwrap();
    let committed: Vec<BoxEntry> = cista
        .store()
        .voting()
        .box_entries(ballot)
        .await
        .unwrap()
        .into_iter()
        .map(|e| BoxEntry {
            unit: None,
            cast_at: None,
            ..e
        })
        .collect();
    assert_eq!(committed.len() as u64, filled);
    assert!(filled > 6, "more than two pages of three");

    let mut tx = cista.store().begin().await.unwrap();
    assert!(
        tx.voting()
            .lock_ballot(ballot, true)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(tx.voting().shuffle_box(ballot).await.unwrap(), filled);
    assert_eq!(pages_in_tx(&mut *tx, ballot).await, committed);
    // On both engines (SQLite's file, PostgreSQL in the transaction's snapshot).
    let mut reader = tx
        .voting()
        .box_reader_apart(ballot)
        .await
        .unwrap()
        .expect("a reader apart from the transaction");
    // The transaction sums the turnout while the reader reads.
    let (turnout, read) = tokio::join!(
        tx.voting().turnout_totals_in_tx(ballot),
        pages_apart(&mut *reader)
    );
    assert_eq!(read.unwrap(), committed);
    assert!(turnout.unwrap().eligible_units > 0);
    let (mut reader, first) =
        a_reader_apart_keeps_to_one_order(reader, &mut *tx, ballot, &committed).await;
    let added = BoxEntry {
        ballot,
        tracker: Tracker::from_i64(i64::MIN),
        weight: Weight::ONE,
        sealed_choices: vec![7; 40],
        unit: None,
        cast_at: None,
    };
    tx.voting().insert_box_entry(&added).await.unwrap();
    let mut with_added = vec![added];
    with_added.extend(committed.iter().cloned());
    assert_eq!(pages_in_tx(&mut *tx, ballot).await, with_added);
    let stale = reader
        .page(first.last().map(|e| e.tracker), 3)
        .await
        .unwrap_err();
    assert_eq!(stale.code(), "internal_error", "{stale:?}");
    drop(reader);
    assert!(
        tx.voting()
            .box_reader_apart(ballot)
            .await
            .unwrap()
            .is_none()
    );
    drop(tx);

    let after_rollback = cista
        .store()
        .voting()
        .box_entries_after(ballot, None, 100, BoxColumns::Ballots)
        .await
        .unwrap();
    assert_eq!(after_rollback, committed);
}

/// A reader apart reads its box once, in order (PostgreSQL's streams one statement): one
/// read to its end (`read_to_end`) has nothing more to give, a page asked out of order is
/// refused, and a reader dropped part way leaves the store as it was for the next (on
/// PostgreSQL its half-read connection is closed, not pooled). Returns a new reader and the
/// first page it read.
async fn a_reader_apart_keeps_to_one_order(
    mut read_to_end: Box<dyn cista_core::ports::BoxReaderApart>,
    tx: &mut dyn cista_core::ports::StoreTx,
    ballot: BallotId,
    committed: &[cista_core::ports::BoxEntry],
) -> (
    Box<dyn cista_core::ports::BoxReaderApart>,
    Vec<cista_core::ports::BoxEntry>,
) {
    let past_the_end = read_to_end.page(None, 3).await.unwrap_err();
    assert_eq!(past_the_end.code(), "internal_error", "{past_the_end:?}");
    drop(read_to_end);
    let mut again = tx
        .voting()
        .box_reader_apart(ballot)
        .await
        .unwrap()
        .expect("a second reader apart");
    assert_eq!(again.page(None, 3).await.unwrap(), committed[..3]);
    let out_of_order = again.page(None, 3).await.unwrap_err();
    assert_eq!(out_of_order.code(), "internal_error", "{out_of_order:?}");
    drop(again);
    let mut reader = tx
        .voting()
        .box_reader_apart(ballot)
        .await
        .unwrap()
        .expect("a third reader apart");
    let first = reader.page(None, 3).await.unwrap();
    assert_eq!(first, committed[..3]);
    (reader, first)
}

/// A group commit's two statements: participation rows written at once keep the first row of
/// each unit (a unit that voted before, or twice in one statement, is skipped and said so, in
/// order), and box entries written at once report a taken tracker without an error that would
/// spoil the transaction; the group's transaction is then abandoned and leaves nothing.
pub async fn a_group_writes_its_rows_at_once_and_the_primary_keys_still_decide(h: &Harness) {
    use cista_core::ports::{BoxEntry, Participation, VoteChannel};
    use cista_types::{Tracker, Weight};
    let cista = h.cista().await;
    let a = association(h, &cista, "group-rows").await;
    let ballot = open_with_one_vote(h, &cista, &a, "102", "yes").await;
    let row = |label: &str, agent: &str| Participation {
        ballot,
        unit: a.unit(label).id,
        channel: VoteChannel::Web,
        voter: None,
        origin: VoteOrigin {
            user_agent: Some(agent.to_owned()),
            ..VoteOrigin::default()
        },
        at: h.clock.now(),
        roll_weight: Weight::ONE,
        submission: None,
    };
    let entry = |tracker: i64| BoxEntry {
        ballot,
        tracker: Tracker::from_i64(tracker),
        weight: Weight::ONE,
        sealed_choices: vec![7; 3],
        unit: None,
        cast_at: None,
    };
    let taken = cista
        .store()
        .voting()
        .box_entries(ballot)
        .await
        .unwrap()
        .first()
        .map(|e| e.tracker)
        .unwrap();

    // 102 voted before; 101 comes twice, and its first row is the one kept.
    let rows = [
        row("101", "first"),
        row("102", "again"),
        row("103", "only"),
        row("101", "second"),
    ];
    let mut tx = cista.store().begin().await.unwrap();
    let written = tx
        .voting()
        .insert_participations_if_free(&rows)
        .await
        .unwrap();
    assert_eq!(written, vec![true, false, true, false]);
    assert!(
        tx.voting()
            .insert_participations_if_free(&[])
            .await
            .unwrap()
            .is_empty()
    );
    // A taken tracker among free ones: false, no error, and the transaction still answers.
    let refused = tx
        .voting()
        .insert_box_entries_if_free(&[entry(11), entry(taken.as_i64())])
        .await
        .unwrap();
    assert!(!refused);
    assert!(
        tx.voting()
            .lock_ballot(ballot, false)
            .await
            .unwrap()
            .is_some()
    );
    // One tracker twice in one statement: refused the same way.
    let twice = tx
        .voting()
        .insert_box_entries_if_free(&[entry(21), entry(21)])
        .await
        .unwrap();
    assert!(!twice);
    drop(tx);
    let (participation, boxed, _) = counts(h, ballot).await;
    assert_eq!(
        (participation, boxed),
        (1, 1),
        "the abandoned group left nothing"
    );

    let mut tx = cista.store().begin().await.unwrap();
    assert_eq!(
        tx.voting()
            .insert_participations_if_free(&rows)
            .await
            .unwrap(),
        vec![true, false, true, false]
    );
    assert!(
        tx.voting()
            .insert_box_entries_if_free(&[entry(11), entry(12)])
            .await
            .unwrap()
    );
    tx.commit_housekeeping().await.unwrap();
    let (participation, boxed, _) = counts(h, ballot).await;
    assert_eq!((participation, boxed), (3, 3));
    let kept = cista
        .store()
        .voting()
        .participation_of(ballot, a.unit("101").id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.origin.user_agent.as_deref(), Some("first"));
}
