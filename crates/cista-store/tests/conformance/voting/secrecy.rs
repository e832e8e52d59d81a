//! Secrecy: the secret ballot box links nothing to the ledger; a recorded ballot does.

use super::*;

pub async fn a_secret_ballot_box_holds_nothing_that_links_it_to_the_ledger(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "secret").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    // Cast in a known order, a minute apart.
    let order = ["101", "102", "103", "104", "107", "108"];
    let mut cast_trackers = Vec::new();
    for label in order {
        h.advance(Duration::minutes(1));
        let receipt = cista
            .cast_vote(
                &a.voter(label),
                request(ballot, a.unit(label), &hash, &[("c1", "yes"), ("c2", "1")]),
            )
            .await
            .unwrap();
        cast_trackers.push(receipt.tracker.as_i64());
    }
    // A paper envelope checked in: a participation row, nothing in the box yet (its inner
    // ballot goes in with a batch, with no unit: see the paper suite).
    cista
        .check_in_envelope(&operator(), ballot, a.unit("105").id, VoteOrigin::default())
        .await
        .unwrap();

    the_ballot_box_has_no_linking_columns(h, ballot).await;

    // Trackers are random, not sequential: cast order is not their order (1 in 720 chance).
    let mut sorted = cast_trackers.clone();
    sorted.sort_unstable();
    assert_ne!(
        cast_trackers, sorted,
        "trackers must not grow with casting order"
    );

    // After the worker's shuffle, storage order is tracker order, whatever the casting order.
    cista.run_voting_work(&Actor::System).await.unwrap();
    let stored = stored_in_tracker_order(h, ballot).await;
    assert_eq!(stored.len(), 6);

    if h.is_postgres() {
        // No row of the box keeps the transaction id of the cast that wrote it.
        let box_xmins: BTreeSet<String> = rows_text(
            h,
            &format!("SELECT xmin::text FROM ballot_box WHERE ballot_id = {ballot}"),
        )
        .await
        .into_iter()
        .collect();
        let ledger_xmins: BTreeSet<String> = rows_text(
            h,
            &format!("SELECT xmin::text FROM participation WHERE ballot_id = {ballot}"),
        )
        .await
        .into_iter()
        .collect();
        assert_eq!(box_xmins.len(), 1, "one shuffle wrote every row");
        assert!(box_xmins.is_disjoint(&ledger_xmins));
    }

    // The ledger has the units and times; nothing in the box refers to it.
    let ledger = cista.store().voting().participation(ballot).await.unwrap();
    assert_eq!(ledger.len(), 7);
    let box_entries = cista.store().voting().box_entries(ballot).await.unwrap();
    for e in &box_entries {
        assert!(e.unit.is_none() && e.cast_at.is_none());
        assert!(!ledger.iter().any(|p| p.unit.as_i64() == e.tracker.as_i64()));
    }
    // Nor is any entry found by a unit that voted.
    for p in &ledger {
        let found = cista.store().voting().box_entry_of_unit(ballot, p.unit);
        assert!(found.await.unwrap().is_none());
    }
    // Choices are sealed: the raw bytes hold no readable choice.
    let raw = h.raw_database_bytes().await;
    let needle = br#""answer":"yes""#;
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "choices must be encrypted at rest"
    );
}

/// The trackers of `ballot`'s box in the order its rows are stored.
async fn stored_trackers(h: &Harness, ballot: BallotId) -> Vec<i64> {
    let rows = if h.is_postgres() {
        rows_i64(
            h,
            &format!("SELECT tracker FROM ballot_box WHERE ballot_id = {ballot} ORDER BY ctid"),
        )
        .await
    } else {
        // The table is its key, `(ballot_id, tracker)` (`WITHOUT ROWID`): a ballot's rows
        // live together in its B-tree in tracker order, and a walk of the table reads them so.
        let table = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ballot_box'";
        let table = rows_text(h, table).await.concat();
        assert!(table.ends_with("WITHOUT ROWID"), "{table}");
        rows_i64(
            h,
            &format!("SELECT tracker FROM ballot_box WHERE ballot_id = {ballot}"),
        )
        .await
    };
    rows.into_iter().map(|r| r[0]).collect()
}

/// Counts the ascending runs of trackers in the box's storage order: one when the box
/// is stored in tracker order. An order as cast would give about half as many runs as
/// entries, since trackers are random.
fn tracker_order_runs(stored: &[i64]) -> usize {
    1 + stored.windows(2).filter(|w| w[0] > w[1]).count()
}

/// Asserts that `ballot`'s box is stored in tracker order, and returns its trackers as stored.
async fn stored_in_tracker_order(h: &Harness, ballot: BallotId) -> Vec<i64> {
    let stored = stored_trackers(h, ballot).await;
    assert_eq!(
        tracker_order_runs(&stored),
        1,
        "storage order is tracker order: {stored:?}"
    );
    stored
}

/// Records `count` as `ballot`'s shuffled entries in a transaction of its own, as the worker
/// does after its rewrite.
async fn record_shuffled(cista: &Cista, ballot: BallotId, count: u64) {
    let mut record = cista.store().begin().await.unwrap();
    record
        .voting()
        .record_shuffled(ballot, count)
        .await
        .unwrap();
    record.commit_housekeeping().await.unwrap();
}

/// The transaction ids that wrote `ballot`'s box rows, on PostgreSQL (SQLite keeps none).
async fn box_writers(h: &Harness, ballot: BallotId) -> BTreeSet<String> {
    if !h.is_postgres() {
        return BTreeSet::new();
    }
    let sql = format!("SELECT xmin::text FROM ballot_box WHERE ballot_id = {ballot}");
    rows_text(h, &sql).await.into_iter().collect()
}

/// The close reads the box before it shuffles: what was cast since the worker's last shuffle
/// is still put in tracker order, in the close's transaction, and a box the worker has
/// already shuffled is left as it is (not rewritten, and not counted a second time).
pub async fn a_close_shuffles_what_was_cast_since_the_last_shuffle(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "close-shuffle").await;
    let mut ballots = Vec::new();
    for _ in 0..2 {
        let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
        let hash = hash_of(&cista, ballot).await;
        ballots.push((ballot, hash));
    }
    let cast = async |ballot, hash: &str, label| {
        let request = request(ballot, a.unit(label), hash, &[("c1", "yes"), ("c2", "1")]);
        cista.cast_vote(&a.voter(label), request).await.unwrap();
    };
    for label in ["101", "102", "103"] {
        for (ballot, hash) in &ballots {
            cast(*ballot, hash, label).await;
        }
    }
    cista.run_voting_work(&Actor::System).await.unwrap();
    let (late, settled) = (&ballots[0], &ballots[1]);
    let settled_writers = box_writers(h, settled.0).await;
    // Cast after the worker's shuffle, into the first ballot only, in an order their
    // trackers are unlikely to follow.
    for label in ["104", "107", "108"] {
        cast(late.0, &late.1, label).await;
    }
    let shuffled_writers = box_writers(h, late.0).await;
    close(h, &cista, late.0).await;
    close(h, &cista, settled.0).await;

    for (ballot, units) in [(late.0, 6), (settled.0, 3)] {
        let stored = stored_in_tracker_order(h, ballot).await;
        assert_eq!(stored.len(), units);
        let bundle = cista.election_bundle(ballot).await.unwrap();
        assert_eq!(bundle.ballots.len(), units);
    }
    if h.is_postgres() {
        let rewritten = box_writers(h, late.0).await;
        assert_eq!(rewritten.len(), 1, "the close's shuffle wrote every row");
        assert!(rewritten.is_disjoint(&shuffled_writers));
        assert_eq!(box_writers(h, settled.0).await, settled_writers);
    }
}

/// The ballot box's columns name nothing linkable, and the two that could are empty.
async fn the_ballot_box_has_no_linking_columns(h: &Harness, ballot: BallotId) {
    // The ballot box's columns: nothing names a unit, person, session, address or time...
    let columns: BTreeSet<String> = if h.is_postgres() {
        rows_text(
            h,
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = 'ballot_box' AND table_schema = current_schema()",
        )
        .await
    } else {
        rows_text(h, "SELECT name FROM pragma_table_info('ballot_box')").await
    }
    .into_iter()
    .collect();
    let expected: BTreeSet<String> = [
        "tracker",
        "ballot_id",
        "weight_micros",
        "choices",
        "unit_id",
        "cast_at",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(columns, expected);
    // ...and the two that could are empty for a secret ballot.
    let linked = rows_i64(
        h,
        &format!(
            "SELECT COUNT(*) FROM ballot_box WHERE ballot_id = {ballot} \
             AND (unit_id IS NOT NULL OR cast_at IS NOT NULL)"
        ),
    )
    .await;
    assert_eq!(linked, vec![vec![0]]);
}

pub async fn a_recorded_ballot_links_choices_to_the_unit(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "recorded").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    let hash = hash_of(&cista, ballot).await;
    for (label, answer) in [
        ("101", "yes"),
        ("102", "yes"),
        ("103", "no"),
        ("104", "abstain"),
    ] {
        cista
            .cast_vote(
                &a.voter(label),
                request(ballot, a.unit(label), &hash, &[("c1", answer), ("c2", "3")]),
            )
            .await
            .unwrap();
    }
    let entries = cista.store().voting().box_entries(ballot).await.unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.unit.is_some() && e.cast_at.is_some())
    );
    // Each unit's entry is found by its unit (each of the four once, with its own tracker),
    // and none by a unit that did not vote.
    let voting = cista.store().voting();
    for label in ["101", "102", "103", "104"] {
        let unit = a.unit(label).id;
        let found = voting
            .box_entry_of_unit(ballot, unit)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.unit, Some(unit));
        assert!(entries.contains(&found));
    }
    let absent = a
        .units
        .values()
        .find(|u| !["101", "102", "103", "104"].contains(&u.label.as_str()));
    let absent = absent.expect("a unit that did not vote").id;
    assert!(
        voting
            .box_entry_of_unit(ballot, absent)
            .await
            .unwrap()
            .is_none()
    );
    // The database keeps a unit to one entry: a second one naming 101 is refused.
    let first = voting
        .box_entry_of_unit(ballot, a.unit("101").id)
        .await
        .unwrap()
        .unwrap();
    let mut tx = cista.store().begin().await.unwrap();
    let second = tx
        .voting()
        .insert_box_entry(&cista_core::ports::BoxEntry {
            tracker: cista_types::Tracker::from_i64(first.tracker.as_i64() ^ 1),
            ..first
        })
        .await
        .unwrap_err();
    assert_eq!(second.code(), "conflict", "{second:?}");
    drop(tx);
    close(h, &cista, ballot).await;
    let csv = cista
        .export_record(&operator(), a.org, ballot, RecordFile::RecordedVotes)
        .await
        .unwrap();
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with(
        "unit,weight,received,received_utc,channel,tracker,Amend article 7,Board of directors"
    ));
    assert!(lines[1].starts_with("101,1.25,"), "{text}");
    assert!(lines[1].ends_with(",yes,Carla Sosa"), "{text}");
    assert!(
        lines[3].starts_with("103,1,")
            && lines[3].contains(",web,")
            && lines[3].ends_with(",no,Carla Sosa"),
        "{text}"
    );
    // A secret ballot has no such file.
    let secret = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    close(h, &cista, secret).await;
    let err = cista
        .export_record(&operator(), a.org, secret, RecordFile::RecordedVotes)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
}

/// A secret per-unit ballot opened for `a`, with a vote ("yes", candidate 1) cast for each
/// of `labels` in that order; returns the ballot and its definition hash.
async fn open_secret_with_votes(
    h: &Harness,
    cista: &Cista,
    a: &Association,
    labels: &[&str],
) -> (BallotId, String) {
    let ballot = open_ballot(h, cista, a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(cista, ballot).await;
    for label in labels {
        let request = request(ballot, a.unit(label), &hash, &[("c1", "yes"), ("c2", "1")]);
        cista.cast_vote(&a.voter(label), request).await.unwrap();
    }
    (ballot, hash)
}

/// A shuffle holds the box, and the ballot only shared: on PostgreSQL a vote is cast while a
/// shuffle holds an open ballot's box, a second rewrite of the box waits for the first, and votes
/// cast while the rewrite runs (whether they land before or after its move of the box is not
/// controlled here) are each kept, counted once and shuffled by the next pass. On SQLite,
/// whose writes run one at a time, the votes come after.
pub async fn votes_are_cast_and_kept_while_the_box_is_shuffled(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "shuffle-casting").await;
    let (ballot, hash) = open_secret_with_votes(h, &cista, &a, &["101", "102", "103"]).await;
    let cast = async |label| {
        let request = request(ballot, a.unit(label), &hash, &[("c1", "yes"), ("c2", "1")]);
        cista.cast_vote(&a.voter(label), request).await.unwrap();
    };
    let mut shuffle = cista.store().begin().await.unwrap();
    shuffle.voting().lock_box(ballot).await.unwrap();
    let written = if h.is_postgres() {
        let patience = std::time::Duration::from_secs(20);
        tokio::time::timeout(patience, cast("104"))
            .await
            .expect("a vote is cast while a shuffle holds the box");
        let mut second = cista.store().begin().await.unwrap();
        let waited = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            second.voting().lock_box(ballot),
        )
        .await;
        assert!(waited.is_err(), "a second rewrite waits for the first");
        drop(second);
        let rewrite = async {
            let written = shuffle.voting().shuffle_box(ballot).await.unwrap();
            shuffle.commit_housekeeping().await.unwrap();
            record_shuffled(&cista, ballot, written).await;
            written
        };
        let (written, (), ()) = tokio::time::timeout(patience, async {
            tokio::join!(rewrite, cast("107"), cast("108"))
        })
        .await
        .expect("votes are cast while the box is rewritten");
        assert!((4..=6).contains(&written), "{written}");
        written
    } else {
        assert_eq!(shuffle.voting().shuffle_box(ballot).await.unwrap(), 3);
        shuffle.commit_housekeeping().await.unwrap();
        record_shuffled(&cista, ballot, 3).await;
        for label in ["104", "107", "108"] {
            cast(label).await;
        }
        3
    };
    let voting = cista.store().voting();
    assert_eq!(voting.box_count(ballot).await.unwrap(), 6);
    assert_eq!(voting.participation(ballot).await.unwrap().len(), 6);
    // What the rewrite did not take (and only then) is shuffled by the next pass: the whole
    // box is in tracker order, written by one transaction.
    let next = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(next.shuffled, usize::from(written < 6), "{written}");
    let stored = stored_in_tracker_order(h, ballot).await;
    assert_eq!(stored.len(), 6);
    if h.is_postgres() {
        assert_eq!(
            box_writers(h, ballot).await.len(),
            1,
            "one shuffle wrote every row"
        );
    }
    close(h, &cista, ballot).await;
    let bundle = cista.election_bundle(ballot).await.unwrap();
    assert_eq!(bundle.ballots.len(), 6);
    assert!(verify_bundle(&bundle, None).ok());
}

/// A close waits for a shuffle of its box that is under way (in any process), then counts
/// every ballot: what the shuffle rewrote, as it committed it.
pub async fn a_close_waits_for_a_shuffle_under_way(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "shuffle-close").await;
    let (ballot, _) = open_secret_with_votes(h, &cista, &a, &["101", "102", "103"]).await;
    let closes_at = cista.store().voting().ballot(ballot).await.unwrap();
    h.clock
        .set(closes_at.unwrap().closes_at.plus(Duration::seconds(1)));
    // The shuffle holds the box's lock and nothing else yet: only that lock stops the close.
    let mut shuffle = cista.store().begin().await.unwrap();
    shuffle.voting().lock_box(ballot).await.unwrap();
    let worker = a_worker_pass_waiting(&cista, "the shuffle under way").await;
    assert_eq!(shuffle.voting().shuffle_box(ballot).await.unwrap(), 3);
    shuffle.commit_housekeeping().await.unwrap();
    assert_eq!(worker.await.unwrap().unwrap().closed, 1);
    let bundle = cista.election_bundle(ballot).await.unwrap();
    assert_eq!(bundle.ballots.len(), 3);
    assert!(verify_bundle(&bundle, None).ok());
}

/// A rewrite never waits on a cast that waits on it: on PostgreSQL, while a cast holds the
/// ballot shared, the worker's pass rewrites the box and commits, then waits to record its
/// count; the cast's entry, whose tracker is one the rewrite wrote, finds it taken instead of
/// waiting on a rewrite that waits on the cast (a deadlock when the count was recorded in the
/// rewrite's transaction). On SQLite the pass waits for the cast's write to begin at all.
pub async fn a_rewrite_never_waits_on_a_cast_that_waits_on_it(h: &Harness) {
    use cista_core::ports::BoxEntry;
    let cista = h.cista().await;
    let a = association(h, &cista, "shuffle-collide").await;
    let ballot = open_with_one_vote(h, &cista, &a, "102", "yes").await;
    let taken = cista.store().voting().box_entries(ballot).await.unwrap()[0].tracker;
    let mut cast = cista.store().begin().await.unwrap();
    let held = cast.voting().lock_ballot(ballot, false).await.unwrap();
    assert!(held.is_some());
    let worker = a_worker_pass_waiting(&cista, "the cast holding the ballot").await;
    let colliding = BoxEntry {
        ballot,
        tracker: taken,
        weight: cista_types::Weight::ONE,
        sealed_choices: vec![1, 2, 3],
        unit: None,
        cast_at: None,
    };
    let patience = std::time::Duration::from_secs(20);
    let inserted = tokio::time::timeout(
        patience,
        cast.voting()
            .insert_box_entries_if_free(std::slice::from_ref(&colliding)),
    )
    .await
    .expect("the cast waits on no rewrite");
    assert!(!inserted.unwrap(), "the tracker is taken");
    drop(cast);
    let done = tokio::time::timeout(patience, worker)
        .await
        .expect("the pass ends once the cast is over");
    assert_eq!(done.unwrap().unwrap().shuffled, 1);
    let stored = cista.store().voting().ballot(ballot).await.unwrap();
    assert_eq!(stored.unwrap().shuffled_count, 1);
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 1);
}

/// A cancel in progress makes the worker's shuffle wait (it holds the ballot shared), and
/// the cancelled ballot's box is then left as it was: not rewritten, not counted as shuffled.
pub async fn a_shuffle_waits_for_a_cancel_and_leaves_the_cancelled_box(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "shuffle-cancel").await;
    let (ballot, _) = open_secret_with_votes(h, &cista, &a, &["104", "101", "103"]).await;
    let (order, writers) = (
        stored_trackers(h, ballot).await,
        box_writers(h, ballot).await,
    );
    let mut cancel = cista.store().begin().await.unwrap();
    assert!(
        cancel
            .voting()
            .cancel_ballot(ballot, h.clock.now())
            .await
            .unwrap()
    );
    let worker = a_worker_pass_waiting(&cista, "the cancel in progress").await;
    cancel.commit_housekeeping().await.unwrap();
    assert_eq!(worker.await.unwrap().unwrap().shuffled, 0);
    assert_eq!(
        stored_trackers(h, ballot).await,
        order,
        "the box is as it was"
    );
    assert_eq!(box_writers(h, ballot).await, writers);
}

/// On SQLite, whose writes take turns, the worker shuffles a large box part by part, a
/// transaction each (`SHUFFLE_PART_ENTRIES` entries a part), so a cast waits for one part at
/// most: every entry is kept, the box ends in tracker order and its count is recorded once,
/// after the last part. On PostgreSQL, where casts go on beside a rewrite, one transaction
/// rewrites the whole box, in tracker order (where its free space map puts the rows aside).
pub async fn a_large_box_is_shuffled_part_by_part(h: &Harness) {
    use cista_core::ports::BoxEntry;
    use cista_core::products::voting::close::SHUFFLE_PART_ENTRIES;
    let cista = h.cista().await;
    let a = association(h, &cista, "shuffle-parts").await;
    let (ballot, _) = open_secret_with_votes(h, &cista, &a, &["101", "102", "103"]).await;
    // Two whole parts and a few entries more, written straight to the box in an order
    // that is not tracker order.
    let entries: Vec<BoxEntry> = (0..2 * SHUFFLE_PART_ENTRIES + 5)
        .map(|_| BoxEntry {
            ballot,
            tracker: cista_types::Tracker::new(&**cista.rng()),
            weight: cista_types::Weight::ONE,
            sealed_choices: vec![7; 16],
            unit: None,
            cast_at: None,
        })
        .collect();
    let mut tx = cista.store().begin().await.unwrap();
    tx.voting().insert_box_entries(&entries).await.unwrap();
    tx.commit_housekeeping().await.unwrap();
    let total = 2 * SHUFFLE_PART_ENTRIES + 8;
    let voting = cista.store().voting();
    assert_eq!(voting.box_count(ballot).await.unwrap(), total);

    let done = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(done.shuffled, 1);
    let stored = stored_trackers(h, ballot).await;
    let runs = tracker_order_runs(&stored);
    if h.is_postgres() {
        // One statement writes the box back in tracker order, but PostgreSQL puts each row
        // where its free space map finds room, and a full run once sent the later rows of
        // the write to pages before the earlier ones (two runs, the break at row 4,315 of
        // 8,200). Where rows land follows free space, not casting order: a box stored as
        // cast would split into thousands of runs.
        assert!(
            runs <= 4,
            "storage order is tracker order, bar a few breaks: {runs} runs"
        );
    } else {
        assert_eq!(runs, 1, "storage order is tracker order");
    }
    assert_eq!(u64::try_from(stored.len()).unwrap(), total);
    let recorded = cista.store().voting().ballot(ballot).await.unwrap();
    assert_eq!(
        u64::try_from(recorded.unwrap().shuffled_count).unwrap(),
        total
    );
    if h.is_postgres() {
        assert_eq!(box_writers(h, ballot).await.len(), 1, "one rewrite, whole");
    }
    // Nothing was cast since: the next pass leaves the box as it is.
    let writers = box_writers(h, ballot).await;
    let next = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(next.shuffled, 0);
    assert_eq!(box_writers(h, ballot).await, writers);
}

/// A part rewrites the entries after the last tracker of the part before, up to its size
/// (on PostgreSQL, the rest of the box), each part in a transaction of its own; a vote cast
/// between two parts is kept. It is in the count only when it landed in a part still to
/// come, and otherwise the next pass shuffles it. Parts of two entries here, over a box of
/// four: on SQLite the fourth entry ends a full second part, and a third part finds what is
/// left after it (the new vote, or nothing); on PostgreSQL the first part is the whole box.
pub async fn a_vote_cast_between_two_parts_of_a_shuffle_is_kept(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "shuffle-between").await;
    let labels = ["101", "102", "103", "104"];
    let (ballot, hash) = open_secret_with_votes(h, &cista, &a, &labels).await;
    let mut first = stored_trackers(h, ballot).await;
    first.sort_unstable();
    let part = async |after| {
        let mut tx = cista.store().begin().await.unwrap();
        tx.voting().lock_box(ballot).await.unwrap();
        let part = tx.voting().shuffle_box_part(ballot, after, 2).await;
        tx.commit_housekeeping().await.unwrap();
        part.unwrap()
    };
    let one = part(None).await;
    let in_parts = !h.is_postgres();
    if in_parts {
        assert_eq!(one.written, 2);
        assert_eq!(one.last.map(|t| t.as_i64()), Some(first[1]));
    } else {
        assert_eq!(
            (one.written, one.last),
            (4, None),
            "the whole box in one part"
        );
    }
    let request = request(ballot, a.unit("107"), &hash, &[("c1", "no"), ("c2", "2")]);
    let late = cista.cast_vote(&a.voter("107"), request).await.unwrap();
    let late_in_a_later_part = in_parts && late.tracker.as_i64() > first[1];
    let mut written = one.written;
    let mut after = one.last;
    let mut parts = 1;
    while let Some(last) = after {
        let next = part(Some(last)).await;
        assert!(next.written <= 2);
        written += next.written;
        after = next.last;
        parts += 1;
    }
    assert_eq!(parts, if in_parts { 3 } else { 1 });
    assert_eq!(written, 4 + u64::from(late_in_a_later_part));
    record_shuffled(&cista, ballot, written).await;

    let next = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(next.shuffled, usize::from(!late_in_a_later_part));
    let stored = stored_in_tracker_order(h, ballot).await;
    assert_eq!(stored.len(), 5);
    close(h, &cista, ballot).await;
    let bundle = cista.election_bundle(ballot).await.unwrap();
    assert_eq!(bundle.ballots.len(), 5);
    assert!(verify_bundle(&bundle, None).ok());
}
