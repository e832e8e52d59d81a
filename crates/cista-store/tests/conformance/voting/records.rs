//! Voting records that cannot change, corrections, reminders and identifying weights.

use super::*;
use sea_orm::TransactionTrait as _;

pub async fn voting_records_cannot_be_changed_or_deleted(h: &Harness) {
    let cista = h.cista().await;
    // The trust page reads the guards from the database's catalog: every one is there.
    let report = cista.trust_report(&operator()).await.unwrap().voting;
    assert!(report.guards_complete, "{:?}", report.guards);
    for sealed in ["ballot_box_sealed", "participation_sealed"] {
        assert!(report.guards.iter().any(|g| g == sealed), "{sealed}");
    }
    let a = association(h, &cista, "retention").await;
    let ballot = open_with_one_vote(h, &cista, &a, "101", "yes").await;
    let refuse = |sql: String| async move { refused_by_a_guard(h, &sql).await };
    refuse(format!(
        "UPDATE ballots SET definition = '{{}}' WHERE id = {ballot}"
    ))
    .await;
    refuse(format!(
        "DELETE FROM participation WHERE ballot_id = {ballot}"
    ))
    .await;
    refuse(format!(
        "UPDATE participation SET channel = 'paper' WHERE ballot_id = {ballot}"
    ))
    .await;
    refuse(format!(
        "DELETE FROM ballot_roll WHERE ballot_id = {ballot}"
    ))
    .await;
    refuse(format!(
        "UPDATE ballot_box SET weight_micros = 9 WHERE ballot_id = {ballot}"
    ))
    .await;
    refuse(format!("DELETE FROM ballots WHERE id = {ballot}")).await;
    close(h, &cista, ballot).await;
    refuse(format!("DELETE FROM ballot_box WHERE ballot_id = {ballot}")).await;
    // One statement over a closed ballot's box and an open one's fails whole: the open box
    // keeps its entry too (PostgreSQL checks once a statement, over the rows it deleted).
    let open = open_with_one_vote(h, &cista, &a, "101", "no").await;
    refuse(format!(
        "DELETE FROM ballot_box WHERE ballot_id IN ({ballot}, {open})"
    ))
    .await;
    let voting = cista.store().voting();
    assert_eq!(voting.box_count(open).await.unwrap(), 1);
    assert_eq!(voting.box_count(ballot).await.unwrap(), 1);
    a_closed_ballot_takes_no_more_votes(h, &cista, &a, (ballot, open)).await;
    refuse(format!(
        "UPDATE ballots SET results = '{{}}' WHERE id = {ballot}"
    ))
    .await;
    refuse(format!(
        "UPDATE ballots SET status = 'published' WHERE id = {ballot}"
    ))
    .await;
    // The definition cannot change through the core either, and a correction is a reissue.
    let err = cista
        .update_ballot_settings(
            &operator(),
            a.org,
            ballot,
            settings(h, Secrecy::Secret, Weighting::PerUnit),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
}

/// A closed ballot's box and participation take no more rows, through the store or in SQL; a
/// statement writing into a closed box and an open one fails whole; a draft's box takes none.
async fn a_closed_ballot_takes_no_more_votes(
    h: &Harness,
    cista: &Cista,
    a: &Association,
    (ballot, open): (BallotId, BallotId),
) {
    let refuse = |sql: String| async move { refused_by_a_guard(h, &sql).await };
    let voting = cista.store().voting();
    let kept = voting.box_entries(ballot).await.unwrap().remove(0);
    let mut tx = cista.store().begin().await.unwrap();
    let late = tx
        .voting()
        .insert_box_entry(&cista_core::ports::BoxEntry {
            tracker: cista_types::Tracker::from_i64(kept.tracker.as_i64() ^ 1),
            ..kept
        })
        .await;
    let refusal = late.expect_err("a late ballot is refused").chain();
    assert!(
        refusal.contains("cista: only an open ballot takes votes"),
        "{refusal}"
    );
    drop(tx);
    let mut tx = cista.store().begin().await.unwrap();
    let late = tx
        .voting()
        .insert_participation(&cista_core::ports::Participation {
            ballot,
            unit: a.unit("102").id,
            channel: cista_core::ports::VoteChannel::Web,
            voter: None,
            origin: Default::default(),
            at: h.clock.now(),
            roll_weight: cista_types::Weight::ONE,
            submission: None,
        })
        .await;
    let refusal = late.expect_err("a late participation is refused").chain();
    assert!(
        refusal.contains("cista: only an open ballot takes votes"),
        "{refusal}"
    );
    drop(tx);
    refuse(format!(
        "INSERT INTO ballot_box (tracker, ballot_id, weight_micros, choices) \
         SELECT tracker + 1, ballot_id, weight_micros, choices FROM ballot_box \
         WHERE ballot_id IN ({ballot}, {open})"
    ))
    .await;
    assert_eq!(voting.box_count(open).await.unwrap(), 1);
    assert_eq!(voting.box_count(ballot).await.unwrap(), 1);
    // A draft's box takes none either: it has no voters yet.
    let draft = cista
        .create_ballot(
            &operator(),
            a.org,
            settings(h, Secrecy::Secret, Weighting::PerUnit),
        )
        .await
        .unwrap();
    refuse(format!(
        "INSERT INTO ballot_box (tracker, ballot_id, weight_micros, choices) \
         SELECT tracker, {draft}, weight_micros, choices FROM ballot_box \
         WHERE ballot_id = {open}"
    ))
    .await;
}

/// A PostgreSQL database from before `m20261211_000001_box_guard_per_statement` guarded the
/// box with a row trigger; migrating puts the statement trigger in its place (on SQLite the
/// migration leaves the row trigger), and a closed ballot's box is still kept.
pub async fn the_box_guard_is_replaced_in_an_upgraded_database(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "guard-upgrade").await;
    let ballot = open_with_one_vote(h, &cista, &a, "101", "yes").await;
    close(h, &cista, ballot).await;
    if h.is_postgres() {
        // The guard as the first voting migration installed it.
        h.tamper("DROP TRIGGER ballot_box_kept ON ballot_box").await;
        h.tamper(
            "CREATE OR REPLACE FUNCTION cista_ballot_box_delete() RETURNS trigger \
             LANGUAGE plpgsql AS $$ BEGIN \
             IF (SELECT status FROM ballots WHERE id = OLD.ballot_id) IS DISTINCT FROM 'published' \
             THEN RAISE EXCEPTION 'cista: voting records are kept'; END IF; RETURN OLD; END $$",
        )
        .await;
        h.tamper(
            "CREATE TRIGGER ballot_box_kept BEFORE DELETE ON ballot_box \
             FOR EACH ROW EXECUTE FUNCTION cista_ballot_box_delete()",
        )
        .await;
    }
    replay(h, &["m20261211_000001_box_guard_per_statement"]).await;
    if h.is_postgres() {
        // pg_trigger.tgtype's lowest bit is TRIGGER_TYPE_ROW.
        let row = h
            .store
            .connection()
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT t.tgtype::int4 AS tgtype FROM pg_trigger t \
                 JOIN pg_class c ON c.oid = t.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND t.tgname = 'ballot_box_kept'",
            ))
            .await
            .unwrap()
            .expect("the guard is in place");
        let tgtype: i32 = row.try_get("", "tgtype").unwrap();
        assert_eq!(tgtype & 1, 0, "a statement trigger, not a row trigger");
    }
    let delete = format!("DELETE FROM ballot_box WHERE ballot_id = {ballot}");
    let refused = h.store.connection().execute_unprepared(&delete).await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("cista: voting records are kept")),
        "the guard keeps a closed ballot's box"
    );
    assert_eq!(cista.store().voting().box_count(ballot).await.unwrap(), 1);
}

/// A database from before `m20261212_000001_box_keyed_by_ballot` kept its boxes keyed by the
/// tracker alone (on SQLite the rowid) and found a ballot's entries through
/// `ix_ballot_box_ballot`. Migrating keys the box by `(ballot_id, tracker)` (on SQLite a
/// `WITHOUT ROWID` table) and keeps every entry of every box, the unit index and the guards;
/// casting goes on into the rekeyed box.
pub async fn a_box_keyed_by_its_tracker_alone_is_rekeyed_whole(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "box-rekey").await;
    let closed = open_with_one_vote(h, &cista, &a, "101", "yes").await;
    close(h, &cista, closed).await;
    let recorded = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::Weighted).await;
    let hash = hash_of(&cista, recorded).await;
    let fields = [("c1", "yes"), ("c2", "1")];
    for label in ["101", "102"] {
        let vote = request(recorded, a.unit(label), &hash, &fields);
        cista.cast_vote(&a.voter(label), vote).await.unwrap();
    }
    let paper = request(recorded, a.unit("107"), &hash, &fields);
    cista.enter_paper_ballot(&operator(), paper).await.unwrap();
    let voting = cista.store().voting();
    let before = [
        voting.box_entries(closed).await.unwrap(),
        voting.box_entries(recorded).await.unwrap(),
    ];
    assert_eq!((before[0].len(), before[1].len()), (1, 3));

    key_the_box_by_its_tracker_alone(h).await;
    assert_eq!(box_key(h).await, ["tracker"]);
    replay(
        h,
        &[
            "m20261212_000001_box_keyed_by_ballot",
            "m20261218_000001_votes_sealed",
        ],
    )
    .await;

    assert_the_box_is_keyed_by_ballot(h).await;
    let after = [
        voting.box_entries(closed).await.unwrap(),
        voting.box_entries(recorded).await.unwrap(),
    ];
    assert_eq!(after, before);
    let of_unit = voting.box_entry_of_unit(recorded, a.unit("107").id).await;
    assert_eq!(
        of_unit.unwrap().as_ref(),
        before[1].iter().find(|e| e.unit == Some(a.unit("107").id))
    );

    // The guards are back: no entry changes, and a closed ballot's box is kept and takes
    // no more.
    let db = h.store.connection();
    for sql in [
        format!("UPDATE ballot_box SET weight_micros = 9 WHERE ballot_id = {recorded}"),
        format!("DELETE FROM ballot_box WHERE ballot_id = {closed}"),
        format!(
            "INSERT INTO ballot_box (tracker, ballot_id, weight_micros, choices) \
             SELECT tracker + 1, ballot_id, weight_micros, choices FROM ballot_box \
             WHERE ballot_id = {closed}"
        ),
    ] {
        let refused = db.execute_unprepared(&sql).await;
        assert!(
            refused.is_err_and(|e| e.to_string().contains("cista:")),
            "{sql}"
        );
    }
    the_box_constraints_hold(h, recorded, a.unit("101").id.as_i64()).await;
    // A tracker is unique within its ballot only; an open ballot's entry can still be
    // deleted (as the shuffle does).
    let elsewhere = format!(
        "INSERT INTO ballot_box (tracker, ballot_id, weight_micros, choices) \
         SELECT tracker, {recorded}, weight_micros, choices FROM ballot_box \
         WHERE ballot_id = {closed}"
    );
    assert_eq!(
        db.execute_unprepared(&elsewhere)
            .await
            .unwrap()
            .rows_affected(),
        1
    );
    let tracker = before[0][0].tracker.as_i64();
    let gone =
        format!("DELETE FROM ballot_box WHERE ballot_id = {recorded} AND tracker = {tracker}");
    assert_eq!(
        db.execute_unprepared(&gone).await.unwrap().rows_affected(),
        1
    );
    // A unit that voted is still refused, and casting goes on.
    let again = request(recorded, a.unit("101"), &hash, &fields);
    let err = cista.cast_vote(&a.voter("101"), again).await.unwrap_err();
    assert_eq!(err.code(), "already_voted");
    let vote = request(recorded, a.unit("103"), &hash, &fields);
    cista.cast_vote(&a.voter("103"), vote).await.unwrap();
    assert_eq!(voting.box_count(recorded).await.unwrap(), 4);
    // And the worker's shuffle rewrites the rekeyed box, keeping every entry.
    let before_shuffle = voting.box_entries(recorded).await.unwrap();
    let done = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(done.shuffled, 1);
    assert_eq!(voting.box_entries(recorded).await.unwrap(), before_shuffle);
}

/// The rekeyed box's key refuses a tracker twice in `recorded`'s box and its unit index `unit`
/// twice (an open box, so the guard against votes for a closed ballot lets them through
/// and the refusal is the constraint's, not a guard's `cista:`), and its foreign key names
/// the ballots.
async fn the_box_constraints_hold(h: &Harness, recorded: BallotId, unit: i64) {
    let db = h.store.connection();
    for sql in [
        format!(
            "INSERT INTO ballot_box (tracker, ballot_id, weight_micros, choices) \
             SELECT tracker, ballot_id, weight_micros, choices FROM ballot_box \
             WHERE ballot_id = {recorded}"
        ),
        format!(
            "INSERT INTO ballot_box (tracker, ballot_id, weight_micros, choices, unit_id, cast_at) \
             SELECT tracker + 1, ballot_id, weight_micros, choices, unit_id, cast_at \
             FROM ballot_box WHERE ballot_id = {recorded} AND unit_id = {unit}"
        ),
    ] {
        let refused = db.execute_unprepared(&sql).await;
        assert!(
            refused.is_err_and(|e| !e.to_string().contains("cista:")),
            "{sql}"
        );
    }
    // The foreign key names the ballots. (An entry for a ballot that does not exist is
    // refused by it on PostgreSQL; on SQLite the guard's row trigger refuses it first.)
    let fk =
        "SELECT \"table\" FROM pragma_foreign_key_list('ballot_box') WHERE \"from\" = 'ballot_id'";
    let fk = if h.is_postgres() {
        "SELECT c.confrelid::regclass::text FROM pg_constraint c \
         WHERE c.conrelid = 'ballot_box'::regclass AND c.contype = 'f' \
         AND c.conname = 'fk_ballot_box_ballot'"
    } else {
        fk
    };
    assert_eq!(rows_text(h, fk).await, ["ballots"]);
}

/// The box's key is `(ballot_id, tracker)` (on SQLite the table itself, `WITHOUT ROWID`),
/// the old index is gone and the unit index kept.
async fn assert_the_box_is_keyed_by_ballot(h: &Harness) {
    assert_eq!(box_key(h).await, ["ballot_id", "tracker"]);
    let (indexes, without_rowid) = box_indexes(h).await;
    let expected: &[&str] = if h.is_postgres() {
        &["ballot_box_pkey", "ix_ballot_box_unit"]
    } else {
        &["ix_ballot_box_count", "ix_ballot_box_unit"]
    };
    assert_eq!(
        indexes, expected,
        "the old index is gone, the unit index kept"
    );
    assert!(without_rowid, "on SQLite the key is the table itself");
}

/// Puts the box back as the migrations before `m20261212_000001_box_keyed_by_ballot` left it:
/// keyed by the tracker alone (on SQLite the rowid), `ix_ballot_box_ballot` beside it.
async fn key_the_box_by_its_tracker_alone(h: &Harness) {
    // A database that old had no guard against inserts into a closed box either
    // (`m20261218_000001_votes_sealed`).
    h.tamper(if h.is_postgres() {
        "DROP TRIGGER ballot_box_sealed ON ballot_box"
    } else {
        "DROP TRIGGER ballot_box_sealed"
    })
    .await;
    if h.is_postgres() {
        for sql in [
            "ALTER TABLE ballot_box DROP CONSTRAINT ballot_box_pkey",
            "ALTER TABLE ballot_box ADD PRIMARY KEY (tracker)",
            "CREATE INDEX ix_ballot_box_ballot ON ballot_box (ballot_id, tracker)",
        ] {
            h.tamper(sql).await;
        }
    } else {
        let guards = rows_text(
            h,
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'ballot_box'",
        )
        .await;
        assert_eq!(guards.len(), 2, "{guards:?}");
        // In one transaction on one connection: SQLite checks the names in a schema change
        // against the connection's cached schema, so run one by one on the pool's
        // connections, a statement could be refused against the schema as it stood before
        // the one run just before it ("index … already exists" after its table was dropped).
        let rebuild = h.store.connection().begin().await.unwrap();
        for sql in [
            "CREATE TABLE ballot_box_old (tracker integer NOT NULL PRIMARY KEY, \
             ballot_id integer NOT NULL, weight_micros integer NOT NULL, choices blob NOT NULL, \
             unit_id integer NULL, cast_at timestamp_with_timezone_text NULL, \
             CONSTRAINT fk_ballot_box_ballot FOREIGN KEY (ballot_id) REFERENCES ballots (id) \
             ON DELETE RESTRICT, CONSTRAINT fk_ballot_box_unit FOREIGN KEY (unit_id) \
             REFERENCES units (id) ON DELETE RESTRICT)",
            "INSERT INTO ballot_box_old SELECT tracker, ballot_id, weight_micros, choices, \
             unit_id, cast_at FROM ballot_box",
            "DROP TABLE ballot_box",
            "ALTER TABLE ballot_box_old RENAME TO ballot_box",
            "CREATE INDEX ix_ballot_box_ballot ON ballot_box (ballot_id, tracker)",
            "CREATE UNIQUE INDEX ix_ballot_box_unit ON ballot_box (ballot_id, unit_id) \
             WHERE unit_id IS NOT NULL",
        ]
        .into_iter()
        .chain(guards.iter().map(String::as_str))
        {
            let done = rebuild.execute_unprepared(sql).await;
            done.unwrap_or_else(|e| panic!("`{sql}`: {e}"));
        }
        rebuild.commit().await.unwrap();
    }
}

/// The names of the box's indexes (created ones on SQLite, every one on PostgreSQL), and
/// whether the table is `WITHOUT ROWID` (always true on PostgreSQL, which has no rowid).
async fn box_indexes(h: &Harness) -> (Vec<String>, bool) {
    if h.is_postgres() {
        let sql = "SELECT indexname::text FROM pg_indexes \
                   WHERE schemaname = current_schema() AND tablename = 'ballot_box' ORDER BY 1";
        (rows_text(h, sql).await, true)
    } else {
        let sql = "SELECT name FROM pragma_index_list('ballot_box') WHERE origin = 'c' \
                   ORDER BY name";
        let table = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ballot_box'";
        let table = rows_text(h, table).await.concat();
        (rows_text(h, sql).await, table.ends_with("WITHOUT ROWID"))
    }
}

/// The box's primary key columns, in key order.
async fn box_key(h: &Harness) -> Vec<String> {
    let sql = if h.is_postgres() {
        "SELECT a.attname::text FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
         WHERE i.indrelid = 'ballot_box'::regclass AND i.indisprimary \
         ORDER BY array_position(i.indkey::int2[], a.attnum)"
    } else {
        "SELECT name FROM pragma_table_info('ballot_box') WHERE pk > 0 ORDER BY pk"
    };
    rows_text(h, sql).await
}

pub async fn a_correction_is_a_cancel_and_a_reissue(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "reissue").await;
    let ballot = open_with_one_vote(h, &cista, &a, "101", "yes").await;
    let hash = hash_of(&cista, ballot).await;
    // No reason, or one nobody can read: control characters, a bidi override, a joiner.
    for unreadable in [
        " ",
        "\u{0}",
        "\u{1}\u{2}\u{7}",
        "\u{202e}\u{200b}",
        "typo\u{1b}[2J",
        "typo \u{202e}misspelt",
    ] {
        let err = cista
            .cancel_ballot(&operator(), a.org, ballot, unreadable)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{unreadable:?}");
    }
    cista
        .cancel_ballot(&operator(), a.org, ballot, "candidate name misspelt")
        .await
        .unwrap();
    let err = cista
        .cast_vote(
            &a.voter("102"),
            request(ballot, a.unit("102"), &hash, &[("c1", "yes")]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ballot_not_open");
    // A cancelled ballot says so when it is asked to change or to publish.
    for err in [
        cista
            .publish_ballot(&operator(), a.org, ballot)
            .await
            .map(|_| ())
            .unwrap_err(),
        cista
            .remove_contest(&operator(), a.org, ballot, 1)
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), "conflict");
        assert!(err.to_string().contains("was cancelled"), "{err}");
    }
    let copy = cista
        .reissue_ballot(&operator(), a.org, ballot)
        .await
        .unwrap();
    let copy = cista.ballot(&operator(), a.org, copy).await.unwrap();
    assert_eq!(copy.status(), BallotStatus::Draft);
    assert_eq!(copy.stored.replaces, Some(ballot));
    assert_eq!(copy.definition.contests.len(), 2);
    // The cancelled ballot's record stays.
    assert_eq!(counts(h, ballot).await.0, 1);
    let kinds = audit_kinds(&cista).await;
    assert!(kinds.contains(&"ballot.cancelled".to_owned()));
    assert_eq!(kinds.iter().filter(|k| *k == "ballot.created").count(), 2);
}

pub async fn owners_are_notified_and_reminded_until_they_vote(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "notices").await;
    h.deliver_all(&cista).await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let sent = h.deliver_all(&cista).await;
    let published: Vec<_> = sent
        .iter()
        .filter(|d| {
            matches!(
                d.notice,
                Notice::Voting(VotingNotice::BallotPublished { .. })
            )
        })
        .collect();
    // Everyone who votes for a unit: Ana (101, 102), Bo and Cy (103, no designated voter),
    // Di (104's designated voter, not Ed), Fay, Gus, Hal, Ivy.
    assert_eq!(
        published.len(),
        8,
        "{:?}",
        published.iter().map(|d| &d.address).collect::<Vec<_>>()
    );
    let ana = published
        .iter()
        .find(|d| d.address == "ana@palm.example")
        .unwrap();
    let Notice::Voting(VotingNotice::BallotPublished {
        online_units,
        paper_units,
        set_password_link,
        vote_link,
        ..
    }) = &ana.notice
    else {
        panic!()
    };
    assert_eq!(online_units, &vec!["101".to_owned(), "102".to_owned()]);
    assert!(paper_units.is_empty());
    assert!(set_password_link.is_some(), "Ana has no password yet");
    assert!(vote_link.ends_with(&format!("/vote/{ballot}")));
    assert!(!published.iter().any(|d| d.address == "ed@palm.example"));
    let gus = published
        .iter()
        .find(|d| d.address == "gus@palm.example")
        .unwrap();
    let Notice::Voting(VotingNotice::BallotPublished { paper_units, .. }) = &gus.notice else {
        panic!()
    };
    assert_eq!(paper_units, &vec!["106".to_owned()]);
    // The SMS form goes to the one owner with a mobile number.
    let sms: Vec<_> = sent
        .iter()
        .filter(|d| matches!(d.notice, Notice::Voting(VotingNotice::BallotSms { .. })))
        .collect();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].address, "+13055550101");

    // Ana votes for 101 only; the reminder names just 102.
    let hash = hash_of(&cista, ballot).await;
    cista
        .cast_vote(
            &a.voter("101"),
            request(ballot, a.unit("101"), &hash, &[("c1", "yes")]),
        )
        .await
        .unwrap();
    cista
        .send_reminders(&operator(), a.org, ballot)
        .await
        .unwrap();
    let err = cista
        .send_reminders(&operator(), a.org, ballot)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict", "one manual reminder an hour");
    let reminded = h.deliver_all(&cista).await;
    let ana = reminded
        .iter()
        .find(|d| {
            d.address == "ana@palm.example"
                && matches!(
                    d.notice,
                    Notice::Voting(VotingNotice::BallotReminder { .. })
                )
        })
        .unwrap();
    let Notice::Voting(VotingNotice::BallotReminder { online_units, .. }) = &ana.notice else {
        panic!()
    };
    assert_eq!(online_units, &vec!["102".to_owned()]);

    // The scheduled reminder (48 hours before the close) goes once, even with two workers.
    let closes = cista
        .store()
        .voting()
        .ballot(ballot)
        .await
        .unwrap()
        .unwrap()
        .closes_at;
    h.clock.set(closes.plus(Duration::hours(-47)));
    let (x, y) = tokio::join!(
        cista.run_voting_work(&Actor::System),
        cista.run_voting_work(&Actor::System)
    );
    // Eight emails (every voter of a unit still to vote) and Ana's SMS.
    assert_eq!(x.unwrap().reminders + y.unwrap().reminders, 9);
    assert_eq!(
        cista
            .run_voting_work(&Actor::System)
            .await
            .unwrap()
            .reminders,
        0
    );
}

pub async fn a_weighted_secret_ballot_refuses_weights_that_identify_units(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "weights").await;
    let id = cista
        .create_ballot(
            &operator(),
            a.org,
            settings(h, Secrecy::Secret, Weighting::Weighted),
        )
        .await
        .unwrap();
    cista
        .add_contest(
            &operator(),
            a.org,
            id,
            NewContest {
                title: "Budget".to_owned(),
                description: String::new(),
                kind: ContestKind::Resolution {
                    threshold: Threshold::MajorityOfCast,
                },
            },
        )
        .await
        .unwrap();
    // Units 101 (1.25) and 102 (0.75) have weights no other unit has.
    let err = cista
        .publish_ballot(&operator(), a.org, id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("101, 102"), "{err}");
    // One vote per unit is fine.
    let mut s = settings(h, Secrecy::Secret, Weighting::PerUnit);
    s.title = "Budget".to_owned();
    cista
        .update_ballot_settings(&operator(), a.org, id, s)
        .await
        .unwrap();
    cista.publish_ballot(&operator(), a.org, id).await.unwrap();
}

/// Forgets that the migrations `versions` ran, and migrates: they, and only they, run again.
async fn replay(h: &Harness, versions: &[&str]) {
    for version in versions {
        h.tamper(&format!(
            "DELETE FROM seaql_migrations WHERE version = '{version}'"
        ))
        .await;
    }
    assert_eq!(h.store.migrate().await.unwrap(), versions);
}

/// Runs `sql` straight on the database: a guard refuses it (`cista:` in the error).
async fn refused_by_a_guard(h: &Harness, sql: &str) {
    let result = h.store.connection().execute_unprepared(sql).await;
    assert!(result.is_err(), "the database must refuse `{sql}`");
    assert!(result.unwrap_err().to_string().contains("cista:"), "{sql}");
}
