//! A large closed ballot's published side: units and votes loaded in bulk, the ballot list
//! read page by page (keyset and numbered pages agree with the whole list), the streamed
//! bundle's bytes parse into the bundle and verify, a tracker is found with a proof that
//! holds, and bundles of the first format (with a proof per ballot) still verify.

use super::*;
use cista_core::ports::{BoxColumns, BoxEntry};
use cista_core::products::voting::bundle::ballot_list_sha256;
use cista_core::products::voting::bundle::{BUNDLE_FORMAT_1, JSON_SUFFIX, PublishedBallot, proofs};
use cista_core::products::voting::close::definition_of;
use cista_core::products::voting::close::{turnout_from, turnout_of};
use cista_core::products::voting::definition::Choice;
use cista_core::products::voting::list_marks::{MARK_EVERY, MARKS_FROM};
use cista_core::products::voting::opening::OPENING_PAGE;
use cista_core::products::voting::published::{BALLOT_PAGE, PublishedList};
use cista_core::products::voting::tally::tally;
use cista_core::products::voting::units::natural_cmp;

pub async fn a_large_ballot_publishes_page_by_page_and_finds_any_tracker(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "large").await;
    // More than two pages of the list, and not a multiple of a page.
    let bulk = 2 * BALLOT_PAGE as usize + 345;
    cista
        .add_units_in_bulk(&operator(), a.org, "L", bulk, &|_| {})
        .await
        .unwrap();
    let units = cista.store().voting().units(a.org).await.unwrap().len();
    assert_eq!(units, bulk + a.units.len());
    // A label in use is a conflict, and the whole batch is refused.
    let again = cista
        .add_units_in_bulk(&operator(), a.org, "L", 3, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(again.code(), "conflict", "{again:?}");

    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let filled = cista
        .fill_ballot_box(&operator(), a.org, ballot, &|_| {})
        .await
        .unwrap();
    assert_eq!(filled, units as u64);
    let (participation, boxed, _) = counts(h, ballot).await;
    assert_eq!((participation, boxed), (units, units as u64));
    // Staff of the association cannot: the bulk writers skip the cast path and its audit
    // entries, so they are the machine operator's alone.
    let staff = Actor::Person(PersonActor {
        subject: a.owners[0].subject,
        access: Access::Full,
        roles: BTreeMap::from([(a.org, Role::Admin)]),
    });
    let refused = cista
        .fill_ballot_box(&staff, a.org, ballot, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "forbidden", "{refused:?}");
    let refused = cista
        .add_units_in_bulk(&staff, a.org, "S", 1, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "forbidden", "{refused:?}");
    // Filling twice is refused by the primary key: nobody votes twice.
    let twice = cista
        .fill_ballot_box(&operator(), a.org, ballot, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(twice.code(), "conflict", "{twice:?}");

    // The turnout the database sums is the one counted row by row.
    let totals = cista.store().voting().turnout_totals(ballot).await.unwrap();
    let rows = turnout_of(
        &cista.store().voting().eligible_units(ballot).await.unwrap(),
        &cista.store().voting().participation(ballot).await.unwrap(),
    );
    assert_eq!(turnout_from(&totals), rows);
    assert_eq!(rows.voted_units, units as u64);

    // Nothing is published before the close.
    assert!(cista.bundle_head(ballot).await.is_err());
    assert!(cista.published_list(ballot).await.is_err());
    close(h, &cista, ballot).await;
    // A ballot still marked published but past its closing time is closed to the bulk writer
    // as to a cast: the check runs under the ballot's lock, inside the writing transaction.
    let late = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    past_closing_time(h, &cista, late).await;
    let refused = cista
        .fill_ballot_box(&operator(), a.org, late, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "ballot_not_open", "{refused:?}");
    assert_eq!(counts(h, late).await, (0, 0, 0));
    close(h, &cista, late).await;

    let bundle = cista.election_bundle(ballot).await.unwrap();
    assert_eq!(bundle.ballots.len(), units);
    // The close read the box a page at a time (more than one page here) and folded each into
    // the count and the list's hash: both equal what the whole list gives at once.
    assert!(units as u64 > OPENING_PAGE);
    let recount = tally(
        &definition_of(&bundle).unwrap(),
        bundle.turnout,
        &bundle.ballots,
    );
    assert_eq!(recount.unwrap(), bundle.results.tally);
    assert_eq!(
        ballot_list_sha256(&bundle.ballots).unwrap(),
        bundle.results.ballot_list_sha256
    );
    assert!(bundle.proofs.is_empty());
    let verification = verify_bundle(&bundle, None);
    assert!(verification.ok(), "{verification:?}");

    the_pages_agree_with_the_whole_list(&cista, ballot, &bundle).await;
    the_streamed_bytes_are_the_bundle(&cista, ballot, &bundle).await;
    any_tracker_is_found_with_a_proof(&cista, ballot, &bundle).await;
    a_first_format_bundle_still_verifies(&bundle);
    the_anonymous_list_exports_every_ballot(&cista, &a, ballot, &bundle).await;
    a_recorded_ballot_exports_every_unit(h, &cista, &a, ballot).await;
}

/// The anonymous ballot list's file, read from the box page by page, holds every ballot once,
/// in the list's order.
async fn the_anonymous_list_exports_every_ballot(
    cista: &Cista,
    a: &Association,
    ballot: BallotId,
    bundle: &Bundle,
) {
    let csv = cista
        .export_record(&operator(), a.org, ballot, RecordFile::AnonymousBallots)
        .await
        .unwrap();
    let text = String::from_utf8(csv).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), bundle.ballots.len());
    // Each row is its ballot: tracker, weight and the resolution's answer, in list order.
    for (row, b) in rows.iter().zip(&bundle.ballots) {
        let expected = [b.tracker.to_string(), b.weight.to_string(), answer_of(b)];
        assert_eq!(row[..3], expected, "{row:?}");
    }
}

/// The first contest's answer, as the record writes it.
fn answer_of(b: &PublishedBallot) -> String {
    match &b.choices.0[0] {
        Choice::Answer { answer, .. } => format!("{answer:?}").to_lowercase(),
        other => panic!("the first contest is a resolution: {other:?}"),
    }
}

/// A recorded ballot over more than a page of units: each unit's box entry is found by its
/// unit (a secret ballot's by none), and the record, read page by page, names every unit once
/// with that entry's tracker.
async fn a_recorded_ballot_exports_every_unit(
    h: &Harness,
    cista: &Cista,
    a: &Association,
    secret: BallotId,
) {
    let ballot = open_ballot(h, cista, a, Secrecy::Recorded, Weighting::Weighted).await;
    let units = cista.store().voting().units(a.org).await.unwrap();
    let filled = cista
        .fill_ballot_box(&operator(), a.org, ballot, &|_| {})
        .await
        .unwrap();
    assert_eq!(filled, units.len() as u64);
    close(h, cista, ballot).await;
    let bundle = cista.election_bundle(ballot).await.unwrap();
    let csv = cista
        .export_record(&operator(), a.org, ballot, RecordFile::RecordedVotes)
        .await
        .unwrap();
    let text = String::from_utf8(csv).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), units.len());
    let labels: BTreeSet<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    assert_eq!(labels.len(), units.len(), "each unit once");
    // Written a part of the roll at a time, in the natural order of the labels.
    let in_order: Vec<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    assert!(
        in_order.windows(2).all(|w| natural_cmp(w[0], w[1]).is_lt()),
        "natural order"
    );
    // The participation list names every unit once too, in the same order.
    let csv = cista
        .export_record(&operator(), a.org, ballot, RecordFile::Participation)
        .await
        .unwrap();
    let text = String::from_utf8(csv).unwrap();
    let listed: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|r| r.split(',').next().unwrap())
        .collect();
    assert_eq!(listed, in_order);
    let voting = cista.store().voting();
    for unit in [&units[0], &units[units.len() / 2], &units[units.len() - 1]] {
        let entry = voting
            .box_entry_of_unit(ballot, unit.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.unit, Some(unit.id));
        assert!(entry.cast_at.is_some(), "a recorded ballot keeps its time");
        // The box's pages (keyset and numbered, read by column position) give the very entry
        // the row lookup gives: unit, time, weight and sealed choices alike when every column
        // is read, and the same ballot with no unit or time when only the ballots are.
        let position = voting
            .box_position(ballot, None, entry.tracker)
            .await
            .unwrap();
        let before = match position {
            0 => None,
            n => voting
                .box_entries_at(ballot, (None, n - 1), 1, BoxColumns::Ballots)
                .await
                .unwrap()
                .first()
                .map(|e| e.tracker),
        };
        let ballot_alone = BoxEntry {
            unit: None,
            cast_at: None,
            ..entry.clone()
        };
        for (columns, expected) in [
            (BoxColumns::All, &entry),
            (BoxColumns::Ballots, &ballot_alone),
        ] {
            let keyset = voting
                .box_entries_after(ballot, before, 1, columns)
                .await
                .unwrap();
            let numbered = voting
                .box_entries_at(ballot, (None, position), 1, columns)
                .await
                .unwrap();
            assert_eq!(keyset, std::slice::from_ref(expected), "{columns:?}");
            assert_eq!(numbered, std::slice::from_ref(expected), "{columns:?}");
        }
        let label = unit.label.to_string();
        let row = rows
            .iter()
            .find(|r| r.split(',').next() == Some(label.as_str()))
            .unwrap();
        // The row holds the unit's own ballot: its tracker, then its answer (the time cell
        // before them holds a comma, so the tracker's cell is found, not counted).
        let cells: Vec<&str> = row.split(',').collect();
        let at = cells
            .iter()
            .position(|c| *c == entry.tracker.to_string())
            .unwrap();
        let published = bundle
            .ballots
            .iter()
            .find(|b| b.tracker == entry.tracker)
            .unwrap();
        assert_eq!(cells[at + 1], answer_of(published), "{row}");
        assert_eq!(cells[1], unit.weight.to_string(), "{row}");
        assert!(
            voting
                .box_entry_of_unit(secret, unit.id)
                .await
                .unwrap()
                .is_none(),
            "a secret ballot's box names no unit"
        );
    }
}

/// Numbered pages starting before, on and after a mark, and across the last one, are the
/// whole list's slices.
async fn numbered_pages_agree(cista: &Cista, list: &PublishedList, bundle: &Bundle) {
    let n = bundle.ballots.len();
    let every = MARK_EVERY as usize;
    for offset in [
        1,
        every - 1,
        every,
        every + 1,
        3 * every + 17,
        n - every - 1,
        n - 1,
    ] {
        let page = cista
            .published_page_at(list, offset as u64, 300)
            .await
            .unwrap();
        assert_eq!(
            page,
            bundle.ballots[offset..(offset + 300).min(n)],
            "{offset}"
        );
    }
}

/// Keyset pages of every size, and numbered pages, give the list in the same order.
async fn the_pages_agree_with_the_whole_list(cista: &Cista, ballot: BallotId, bundle: &Bundle) {
    let list = cista.published_list(ballot).await.unwrap();
    for size in [1_000, 777] {
        let mut paged = Vec::new();
        loop {
            let page = cista
                .published_page(
                    &list,
                    paged.last().map(|b: &PublishedBallot| b.tracker),
                    size,
                )
                .await
                .unwrap();
            let done = page.len() < size as usize;
            paged.extend(page);
            if done {
                break;
            }
        }
        assert_eq!(paged, bundle.ballots);
    }
    let at = cista.published_page_at(&list, 1_000, 500).await.unwrap();
    assert_eq!(at, bundle.ballots[1_000..1_500]);
    // Numbered pages below `MARKS_FROM` are counted from the list's start while its marks are
    // not kept; the first page past it reads them (this list is shorter: that page is empty),
    // and then every page starts from the mark before it (every `MARK_EVERY`-th tracker).
    let (n, every) = (bundle.ballots.len(), MARK_EVERY as usize);
    assert!((n as u64) < MARKS_FROM);
    numbered_pages_agree(cista, &list, bundle).await;
    assert!(!cista.list_marks_kept(ballot), "no page read the marks");
    let past = cista.published_page_at(&list, MARKS_FROM, 300).await;
    assert_eq!(past.unwrap(), []);
    assert!(cista.list_marks_kept(ballot));
    numbered_pages_agree(cista, &list, bundle).await;
    // The marks as the store reads them: the last tracker of each whole run.
    let voting = cista.store().voting();
    let marks = voting.box_marks(ballot, MARK_EVERY).await.unwrap();
    let expected: Vec<_> = bundle
        .ballots
        .iter()
        .skip(every - 1)
        .step_by(every)
        .map(|b| b.tracker)
        .collect();
    assert_eq!(marks.len(), n / every);
    assert_eq!(marks, expected);
    let every_one = voting.box_marks(ballot, 1).await.unwrap();
    assert_eq!(every_one.len(), n);
    assert!(
        voting
            .box_marks(ballot, n as u64 + 1)
            .await
            .unwrap()
            .is_empty()
    );
    let zero = voting.box_marks(ballot, 0).await.unwrap_err();
    assert_eq!(zero.code(), "invalid_input", "{zero:?}");
    // Positions counted from a mark.
    let wanted = bundle.ballots[2 * every + 5].tracker;
    let from_mark = voting
        .box_position(ballot, Some(marks[1]), wanted)
        .await
        .unwrap();
    assert_eq!(from_mark, 5);
    let from_start = voting.box_position(ballot, None, wanted).await.unwrap();
    assert_eq!(from_start, 2 * MARK_EVERY + 5);
    let tail = cista
        .published_page_at(&list, bundle.ballots.len() as u64 - 3, 500)
        .await
        .unwrap();
    assert_eq!(tail.len(), 3);
    assert!(
        cista
            .published_page_at(&list, bundle.ballots.len() as u64, 500)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The head, the list written page by page and the suffix parse into the same bundle.
async fn the_streamed_bytes_are_the_bundle(cista: &Cista, ballot: BallotId, bundle: &Bundle) {
    let head = cista.bundle_head(ballot).await.unwrap();
    let list = cista.published_list(ballot).await.unwrap();
    let mut bytes = head.json_prefix().unwrap();
    let mut after = None;
    loop {
        let page = cista
            .published_page(&list, after, BALLOT_PAGE)
            .await
            .unwrap();
        for b in &page {
            if after.is_some() || !std::ptr::eq(b, &page[0]) {
                bytes.push(b',');
            }
            serde_json::to_writer(&mut bytes, b).unwrap();
        }
        after = page.last().map(|b| b.tracker);
        if page.len() < BALLOT_PAGE as usize {
            break;
        }
    }
    bytes.extend_from_slice(JSON_SUFFIX);
    let streamed: Bundle = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(&streamed, bundle);
}

/// The first, a middle and the last tracker are found at their place with a proof that
/// holds; a tracker not on the list is not found.
async fn any_tracker_is_found_with_a_proof(cista: &Cista, ballot: BallotId, bundle: &Bundle) {
    let head = cista.bundle_head(ballot).await.unwrap();
    let n = bundle.ballots.len();
    let every = MARK_EVERY as usize;
    for index in [0, every - 2, every - 1, every, n / 2, n - 1] {
        let wanted = &bundle.ballots[index];
        let found = cista
            .locate_tracker(&head, ballot, wanted.tracker)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.index, index as u64);
        assert_eq!(found.of, n as u64);
        assert_eq!(&found.ballot, wanted);
        assert!(found.proven);
    }
    let absent = cista_types::Tracker::from_i64(1);
    assert!(!bundle.ballots.iter().any(|b| b.tracker == absent));
    assert!(
        cista
            .locate_tracker(&head, ballot, absent)
            .await
            .unwrap()
            .is_none()
    );
}

/// A bundle of the first format carries a proof per ballot: it verifies with them, and not
/// with one missing or one wrong.
fn a_first_format_bundle_still_verifies(bundle: &Bundle) {
    let mut first = bundle.clone();
    first.format = BUNDLE_FORMAT_1.to_owned();
    let (_, all) = proofs(&first.ballot, &first.definition_sha256, &first.ballots).unwrap();
    first.proofs = all;
    assert!(verify_bundle(&first, None).ok());
    let mut missing = first.clone();
    missing.proofs.pop();
    assert!(!verify_bundle(&missing, None).ok());
    let mut wrong = first.clone();
    wrong.proofs[7].path.swap(0, 1);
    assert!(!verify_bundle(&wrong, None).ok());
    let mut without = first;
    without.proofs.clear();
    assert!(!verify_bundle(&without, None).ok());
}
