//! The staff's view of who took part, a page at a time: the participation list and the
//! refused attempts newest first, pages that neither repeat nor skip a unit when many voted
//! in the same instant, a search of the roll that says whether each unit found voted (its
//! `%` and `_` literal), and paper entry's units yet to vote, listed while few and typed by
//! label past `UNITS_LISTED`; and the roll itself in natural label order from its stored
//! sort keys, those of rows from before the keys included.

use super::*;
use cista_core::ports::Refusal;
use cista_core::products::voting::directory::ROWS_PER_PAGE;
use cista_core::products::voting::ledger::SEARCH_LIMIT;
use cista_core::products::voting::paper::{PaperUnits, UNITS_LISTED};
use cista_core::products::voting::units::{natural_cmp, natural_key};
use cista_types::UnitId;

pub async fn the_ballot_page_reads_who_took_part_a_page_at_a_time(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "ledger").await;
    a_small_ballots_lists_search_and_paper_units(h, &cista, &a).await;
    a_large_ballots_pages_neither_repeat_nor_skip(h, &cista, &a).await;
    a_unit_refused_off_the_roll_is_named(h, &cista, &a).await;
}

/// A unit added after publication is not on the roll: its paper ballot is refused and
/// recorded, and the staff page and the record file both name it by its own label.
async fn a_unit_refused_off_the_roll_is_named(h: &Harness, cista: &Cista, a: &Association) {
    let recorded = open_ballot(h, cista, a, Secrecy::Recorded, Weighting::PerUnit).await;
    cista
        .add_units_in_bulk(&operator(), a.org, "Late", 1, &|_| {})
        .await
        .unwrap();
    let late = unit_labelled(cista, a.org, "Late0000001").await;
    let hash = hash_of(cista, recorded).await;
    let refused = cista
        .enter_paper_ballot(
            &operator(),
            request(recorded, &late, &hash, &[("c1", "yes"), ("c2", "1")]),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "not_eligible", "{refused:?}");
    let ballot = cista.ballot(&operator(), a.org, recorded).await.unwrap();
    let page = cista.refusals_page(&operator(), &ballot, 1).await.unwrap();
    let labels: Vec<&str> = page.items.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["Late0000001"]);
    let file = cista
        .export_record(&operator(), a.org, recorded, RecordFile::Refusals)
        .await
        .unwrap();
    let file = String::from_utf8(file).unwrap();
    assert!(
        file.lines().nth(1).unwrap().starts_with("Late0000001,"),
        "{file}"
    );
}

/// Three votes a minute apart and two refused attempts: newest first, a search of the roll
/// (its wildcards literal), and the units yet to vote listed for paper.
async fn a_small_ballots_lists_search_and_paper_units(h: &Harness, cista: &Cista, a: &Association) {
    // A small ballot first: three votes a minute apart, and two refused attempts.
    let small = open_ballot(h, cista, a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(cista, small).await;
    for label in ["103", "101", "108"] {
        cista
            .cast_vote(
                &a.voter(label),
                request(small, a.unit(label), &hash, &[("c1", "yes")]),
            )
            .await
            .unwrap();
        h.advance(Duration::minutes(1));
    }
    for _ in 0..2 {
        let twice = cista
            .cast_vote(
                &a.voter("101"),
                request(small, a.unit("101"), &hash, &[("c1", "no")]),
            )
            .await
            .unwrap_err();
        assert_eq!(twice.code(), "already_voted", "{twice:?}");
        h.advance(Duration::minutes(1));
    }
    let ballot = cista.ballot(&operator(), a.org, small).await.unwrap();
    let page = cista
        .participation_page(&operator(), &ballot, 1)
        .await
        .unwrap();
    let labels: Vec<&str> = page.items.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["108", "101", "103"], "newest first");
    assert_eq!((page.page, page.pages, page.total), (1, 1, 3));
    // A page past the last is the last; page 0 the first.
    for asked in [0, 9] {
        let p = cista
            .participation_page(&operator(), &ballot, asked)
            .await
            .unwrap();
        assert_eq!((p.page, p.items.len()), (1, 3));
    }
    let refused = cista.refusals_page(&operator(), &ballot, 1).await.unwrap();
    assert_eq!(refused.total, 2);
    assert!(
        refused
            .items
            .iter()
            .all(|(l, r)| l == "101" && r.reason == "already_voted")
    );
    assert!(
        refused.items[0].1.at > refused.items[1].1.at,
        "newest first"
    );

    let newest_first: Vec<Refusal> = refused.items.iter().map(|(_, r)| r.clone()).collect();
    the_record_reads_refusals_and_parts_of_the_roll(cista, a, small, &newest_first).await;

    // The search finds units of the roll, voted or not, labels in natural order.
    let found = cista
        .roll_search(&operator(), &ballot, " 10 ")
        .await
        .unwrap();
    let lines: Vec<(String, bool)> = found
        .units
        .iter()
        .map(|(e, p)| (e.label.to_string(), p.is_some()))
        .collect();
    let voted = ["101", "103", "108"];
    let expected: Vec<(String, bool)> = (101..=108)
        .map(|n| (n.to_string(), voted.contains(&n.to_string().as_str())))
        .collect();
    assert_eq!(lines, expected);
    assert!(!found.more);
    // `%`, `_` and `\` are literal, and an empty search finds nothing.
    for literal in ["%", "_", "1_1", "\\", "   "] {
        let found = cista
            .roll_search(&operator(), &ballot, literal)
            .await
            .unwrap();
        assert!(found.units.is_empty(), "{literal:?}: {found:?}");
    }
    // Paper entry lists the units yet to vote while they are few.
    let PaperUnits::Listed(yet) = cista.paper_candidates(&operator(), &ballot).await.unwrap()
    else {
        panic!("a small ballot's units are listed");
    };
    let yet: Vec<String> = yet.iter().map(|e| e.label.to_string()).collect();
    assert_eq!(yet, ["102", "104", "105", "106", "107"]);
}

/// More units than three pages, all voted in one instant: the pages hold each once; paper
/// entry takes a typed label; a wide search says there is more; members read none of it.
async fn a_large_ballots_pages_neither_repeat_nor_skip(
    h: &Harness,
    cista: &Cista,
    a: &Association,
) {
    // A large ballot: more units than a page lists thrice, every one voted in one instant
    // (the bulk fill), so its pages are ordered by unit id alone.
    let bulk = 3 * ROWS_PER_PAGE + 17;
    cista
        .add_units_in_bulk(&operator(), a.org, "Lé", bulk, &|_| {})
        .await
        .unwrap();
    let large = open_ballot(h, cista, a, Secrecy::Secret, Weighting::PerUnit).await;
    let ballot = cista.ballot(&operator(), a.org, large).await.unwrap();
    let on_roll = bulk + a.units.len();
    assert!(on_roll > UNITS_LISTED);
    assert_eq!(
        cista.paper_candidates(&operator(), &ballot).await.unwrap(),
        PaperUnits::Typed,
        "more than {UNITS_LISTED} units yet to vote are typed, not listed"
    );
    // A typed label names its unit, whatever its case, spaces and Unicode form (decomposed
    // here, composed on file); an unknown one is refused.
    let typed = cista
        .paper_unit_labelled(&operator(), &ballot, "  LE\u{301}0000007 ")
        .await
        .unwrap();
    let l7 = unit_labelled(cista, a.org, "Lé0000007").await;
    assert_eq!(typed, l7.id);
    for unknown in ["Lé0000007x", "", "%", "Lé000000_", "L0000007"] {
        let e = cista
            .paper_unit_labelled(&operator(), &ballot, unknown)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{unknown:?}: {e:?}");
    }
    cista
        .fill_ballot_box(&operator(), a.org, large, &|_| {})
        .await
        .unwrap();
    let mut seen = Vec::new();
    let pages = on_roll.div_ceil(ROWS_PER_PAGE);
    for n in 1..=pages {
        let page = cista
            .participation_page(&operator(), &ballot, n)
            .await
            .unwrap();
        assert_eq!((page.page, page.pages, page.total), (n, pages, on_roll));
        let expected = if n < pages {
            ROWS_PER_PAGE
        } else {
            on_roll - (pages - 1) * ROWS_PER_PAGE
        };
        assert_eq!(page.items.len(), expected, "page {n}");
        assert!(page.items.iter().all(|(label, _)| !label.is_empty()));
        seen.extend(page.items.into_iter().map(|(_, p)| p.unit));
    }
    let distinct: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), on_roll, "no unit twice, none left out");
    assert!(
        seen.windows(2).all(|w| w[0].as_i64() > w[1].as_i64()),
        "one instant: by unit, newest first"
    );
    // Everyone voted: nothing to list, and the list is not "typed" any more.
    assert_eq!(
        cista.paper_candidates(&operator(), &ballot).await.unwrap(),
        PaperUnits::Listed(Vec::new())
    );
    // A search matching more than it shows says so.
    let found = cista
        .roll_search(&operator(), &ballot, "LÉ000")
        .await
        .unwrap();
    assert_eq!(found.units.len(), SEARCH_LIMIT);
    assert!(found.more && found.units.iter().all(|(_, p)| p.is_some()));
    let one = cista
        .roll_search(&operator(), &ballot, "le\u{301}0000007")
        .await
        .unwrap();
    assert_eq!(one.units.len(), 1);
    assert!(!one.more);
    // No refusal on this one.
    let refused = cista.refusals_page(&operator(), &ballot, 1).await.unwrap();
    assert_eq!(
        (refused.total, refused.pages, refused.items.len()),
        (0, 1, 0)
    );

    // A member without the right to view ballots reads none of it.
    let member = a.voter("101");
    for e in [
        cista
            .participation_page(&member, &ballot, 1)
            .await
            .unwrap_err(),
        cista.refusals_page(&member, &ballot, 1).await.unwrap_err(),
        cista.roll_search(&member, &ballot, "1").await.unwrap_err(),
        cista
            .paper_unit_labelled(&member, &ballot, "101")
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.code(), "forbidden", "{e:?}");
    }
}

/// What the record's files read: the refusals page by page from a key, oldest first (two
/// attempts, both for 101), and a part of the roll by its units (101 and 103 voted).
async fn the_record_reads_refusals_and_parts_of_the_roll(
    cista: &Cista,
    a: &Association,
    small: BallotId,
    newest_first: &[Refusal],
) {
    // The record file reads the refusals a page at a time, oldest first, from a key.
    let voting = cista.store().voting();
    let unlabelled = |page: Vec<(String, Refusal)>| -> Vec<Refusal> {
        assert!(page.iter().all(|(label, _)| label == "101"), "{page:?}");
        page.into_iter().map(|(_, r)| r).collect()
    };
    let first = unlabelled(voting.refusals_after(small, None, 1).await.unwrap());
    let key = first.iter().map(|r| (r.at, r.id)).next_back();
    let second = unlabelled(voting.refusals_after(small, key, 1).await.unwrap());
    let key = second.iter().map(|r| (r.at, r.id)).next_back();
    assert!(
        voting
            .refusals_after(small, key, 1)
            .await
            .unwrap()
            .is_empty()
    );
    let oldest_first: Vec<Refusal> = newest_first.iter().rev().cloned().collect();
    assert_eq!([&first[..], &second[..]].concat(), oldest_first);
    let file = cista
        .export_record(&operator(), a.org, small, RecordFile::Refusals)
        .await
        .unwrap();
    let file = String::from_utf8(file).unwrap();
    let rows: Vec<&str> = file.lines().skip(1).collect();
    assert!(
        rows.len() == 2 && rows.iter().all(|r| r.starts_with("101,")),
        "{file}"
    );
    // A part of the roll is read by its units: their participation rows, their roll rows,
    // and their box entries, none in a secret box.
    let part = [a.unit("101").id, a.unit("102").id, a.unit("103").id];
    let mut took: Vec<_> = voting
        .participation_of_units(small, &part)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.unit)
        .collect();
    took.sort();
    let mut expected = vec![part[0], part[2]];
    expected.sort();
    assert_eq!(took, expected);
    assert_eq!(
        voting.eligible_units_of(small, &part).await.unwrap().len(),
        3
    );
    assert!(
        voting
            .box_entries_of_units(small, &part)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        voting
            .participation_of_units(small, &[])
            .await
            .unwrap()
            .is_empty()
    );
}

/// A roll whose labels' byte order is not their natural order (`Lot 10` before `Lot 2` by
/// bytes) comes out of the database in natural order from its stored sort keys: a part at a
/// time, in the roll search (the first `SEARCH_LIMIT` of more), and in paper entry's list.
/// A database whose roll rows were written before the sort key existed gets them from the
/// migration, with the roll's guard back in place after it.
pub async fn the_roll_reads_in_natural_order_from_its_stored_keys(h: &Harness) {
    let cista = h.cista().await;
    let mut labels: Vec<String> = (1..=230).map(|n| format!("Lot {n}")).collect();
    labels.extend(
        [
            "2", "10A", "10b", "lot 03", "Ésta 1", "Esta 2", "B-1", "B1", "b 1",
        ]
        .map(String::from),
    );
    let roster: String = std::iter::once(HEADER.to_owned())
        .chain(
            labels
                .iter()
                .map(|l| format!("{l},1,Ana,Ruiz,ana@natural.example,,,yes\n")),
        )
        .collect();
    let a = association_with(h, &cista, "natural", &roster).await;
    let org = a.org;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let mut natural = labels.clone();
    natural.sort_by(|x, y| natural_cmp(x, y));
    assert_ne!(
        natural[..12],
        {
            let mut bytes = labels.clone();
            bytes.sort();
            bytes
        }[..12]
    );
    assert_eq!(roll_in_parts(&cista, ballot).await, natural);

    // A search matching more than it shows shows the first in natural order.
    let stored = cista.ballot(&operator(), org, ballot).await.unwrap();
    let found = cista
        .roll_search(&operator(), &stored, "lot")
        .await
        .unwrap();
    assert!(found.more);
    let shown: Vec<String> = found
        .units
        .iter()
        .map(|(e, _)| e.label.to_string())
        .collect();
    let lots: Vec<&String> = natural
        .iter()
        .filter(|l| l.to_lowercase().contains("lot"))
        .collect();
    assert_eq!(shown.iter().collect::<Vec<_>>(), lots[..SEARCH_LIMIT]);
    assert_eq!(shown[..4], ["Lot 1", "Lot 2", "Lot 3", "lot 03"]);
    // Paper entry lists the units yet to vote (all of them) in the same order.
    let PaperUnits::Listed(yet) = cista.paper_candidates(&operator(), &stored).await.unwrap()
    else {
        panic!("{} units are listed", labels.len());
    };
    let yet: Vec<String> = yet.iter().map(|e| e.label.to_string()).collect();
    assert_eq!(yet, natural);

    keys_of_rows_from_before_the_column(h, &cista, &a, ballot, &natural).await;
}

/// The units of `ballot`'s roll read 7 at a time by `roll_in_order`, their labels in the order
/// read; each stored key is checked against its label's.
async fn roll_in_parts(cista: &Cista, ballot: BallotId) -> Vec<String> {
    let voting = cista.store().voting();
    let (mut read, mut after) = (Vec::new(), None::<(Vec<u8>, UnitId)>);
    loop {
        let cursor = after.as_ref().map(|(k, u)| (k.as_slice(), *u));
        let part = voting.roll_in_order(ballot, cursor, 7).await.unwrap();
        read.extend(part.iter().map(|(_, e)| e.label.to_string()));
        assert!(
            part.iter()
                .all(|(key, e)| *key == natural_key(e.label.as_str()).into_bytes())
        );
        match part.last() {
            Some((key, last)) if part.len() == 7 => after = Some((key.clone(), last.unit)),
            _ => return read,
        }
    }
}

/// Roll rows written before the column (two ballots', over a thousand rows: more than one
/// page of the backfill) get their keys from the migration; the roll's guard is back after
/// it; a row inserted without its key is refused on both engines; a ballot published after
/// it writes its own keys.
async fn keys_of_rows_from_before_the_column(
    h: &Harness,
    cista: &Cista,
    a: &Association,
    ballot: BallotId,
    natural: &[String],
) {
    cista
        .add_units_in_bulk(&operator(), a.org, "Bulk", 1_000, &|_| {})
        .await
        .unwrap();
    let later = open_ballot(h, cista, a, Secrecy::Secret, Weighting::PerUnit).await;
    let mut later_natural: Vec<String> = natural.to_vec();
    later_natural.extend((1..=1_000).map(|n| format!("Bulk{n:07}")));
    later_natural.sort_by(|x, y| natural_cmp(x, y));
    assert_eq!(roll_in_parts(cista, later).await, later_natural);

    let backend = h.store.connection().get_database_backend();
    if backend == DbBackend::Sqlite {
        h.tamper("DROP TRIGGER ballot_roll_sort_key_given").await;
    }
    h.tamper("DROP INDEX ix_ballot_roll_sort").await;
    h.tamper("ALTER TABLE ballot_roll DROP COLUMN sort_key")
        .await;
    h.tamper("DELETE FROM seaql_migrations WHERE version = 'm20261213_000001_roll_sort_key'")
        .await;
    assert_eq!(
        h.store.migrate().await.unwrap(),
        ["m20261213_000001_roll_sort_key"]
    );
    assert_eq!(roll_in_parts(cista, ballot).await, natural);
    assert_eq!(roll_in_parts(cista, later).await, later_natural);
    let update = format!("UPDATE ballot_roll SET label = 'x' WHERE ballot_id = {ballot}");
    let refused = h.store.connection().execute_unprepared(&update).await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("cista:")),
        "the guard is back"
    );
    // A bulk unit is not on the first ballot's roll: a row for it without a key is refused
    // (PostgreSQL: the column has no default left; SQLite: the trigger).
    let bulk = unit_labelled(cista, a.org, "Bulk0000001").await;
    let keyless = format!(
        "INSERT INTO ballot_roll (ballot_id, unit_id, label, weight_micros) \
         VALUES ({ballot}, {}, 'Bulk0000001', 1000000)",
        bulk.id.as_i64()
    );
    let refused = h.store.connection().execute_unprepared(&keyless).await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("sort")),
        "a roll row without its sort key"
    );
    // The same row with its key is taken: the refusal was the key's.
    let keyed = keyless
        .replace("weight_micros)", "weight_micros, sort_key)")
        .replace(
            "1000000)",
            &format!(
                "1000000, {})",
                match backend {
                    DbBackend::Sqlite => "X'42756c6b'",
                    _ => "'\\x42756c6b'::bytea",
                }
            ),
        );
    h.tamper(&keyed).await;
    // A ballot published after the migration writes its keys.
    let third = open_ballot(h, cista, a, Secrecy::Secret, Weighting::PerUnit).await;
    assert_eq!(roll_in_parts(cista, third).await, later_natural);
}
