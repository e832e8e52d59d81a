//! Association voting on both stores: the roster import, one vote per unit under concurrency
//! and across channels, the secret ballot box that nothing links to the ledger, recorded
//! ballots, refusals, sealed results, the tally and the bundle anyone can recount, reminders,
//! and the database rules that keep voting records.

use crate::Harness;
use cista_core::platform::notices::Notice;
use cista_core::ports::{BallotStatus, ConsentStatus, Unit, UnitOwner, VoteOrigin};
use cista_core::products::voting::VotingNotice;
use cista_core::products::voting::ballots::{BallotSettings, NewContest};
use cista_core::products::voting::bundle::verify_bundle;
use cista_core::products::voting::cast::CastRequest;
use cista_core::products::voting::definition::{
    ContestKind, Secrecy, Threshold, Weighting, candidates_from_lines,
};
use cista_core::products::voting::record::RecordFile;
use cista_core::products::voting::tally::ContestResult;
use cista_core::{Access, Actor, Cista, Error, PersonActor, Store as _};
use cista_types::{BallotId, Clock as _, OrgId, Percent, Role, SubjectCode, Timestamp};
use sea_orm::{ConnectionTrait, Statement};
use std::collections::{BTreeMap, BTreeSet};
use time::Duration;

fn operator() -> Actor {
    Actor::operator("test")
}

pub const HEADER: &str = "unit,weight,first_name,last_name,email,phone,designated_voter,consent\n";

/// Eight units: 101 and 102 belong to one person; 103 has two owners and no designated voter;
/// 104 has two owners and a designated voter; 105 has no consent on file; 106 opted out.
pub fn roster() -> String {
    format!(
        "{HEADER}\
         101,1.25,Ana,Ruiz,ana@palm.example,+13055550101,,yes\n\
         102,0.75,Ana,Ruiz,ana@palm.example,,,yes\n\
         103,1,Bo,Li,bo@palm.example,,,yes\n\
         103,,Cy,Li,cy@palm.example,,,\n\
         104,1,Di,Ng,di@palm.example,,yes,yes\n\
         104,,Ed,Ng,ed@palm.example,,,\n\
         105,1,Fay,Oh,fay@palm.example,,,\n\
         106,1,Gus,Po,gus@palm.example,,,no\n\
         107,1,Hal,Qi,hal@palm.example,,,yes\n\
         108,1,Ivy,Ro,ivy@palm.example,,,yes\n"
    )
}

/// An association with the roster imported.
pub struct Association {
    pub org: OrgId,
    pub units: BTreeMap<String, Unit>,
    pub owners: Vec<UnitOwner>,
}

impl Association {
    pub fn unit(&self, label: &str) -> &Unit {
        &self.units[label]
    }

    /// The owners of a unit, designated voter first.
    pub fn owners_of(&self, label: &str) -> Vec<SubjectCode> {
        let id = self.unit(label).id;
        let mut owners: Vec<&UnitOwner> = self.owners.iter().filter(|o| o.unit == id).collect();
        owners.sort_by_key(|o| !o.designated);
        owners.iter().map(|o| o.subject).collect()
    }

    /// A signed-in owner of the unit (its designated voter, or its first owner).
    pub fn voter(&self, label: &str) -> Actor {
        self.person(self.owners_of(label)[0], Access::Full)
    }

    pub fn person(&self, subject: SubjectCode, access: Access) -> Actor {
        Actor::Person(PersonActor {
            subject,
            access,
            roles: BTreeMap::from([(self.org, Role::Member)]),
        })
    }
}

pub async fn association(h: &Harness, cista: &Cista, slug: &str) -> Association {
    let org = h.org(cista, slug).await;
    let plan = cista
        .plan_import(&operator(), org.id, roster().as_bytes())
        .await
        .unwrap();
    cista
        .apply_import(
            &operator(),
            org.id,
            roster().as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await
        .unwrap();
    load(cista, org.id).await
}

async fn load(cista: &Cista, org: OrgId) -> Association {
    let units = cista
        .store()
        .voting()
        .units(org)
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.label.to_string(), u))
        .collect();
    let owners = cista.store().voting().unit_owners(org).await.unwrap();
    Association { org, units, owners }
}

pub fn window_start(h: &Harness) -> Timestamp {
    h.clock.now().plus(Duration::hours(1))
}

pub fn settings(h: &Harness, secrecy: Secrecy, weighting: Weighting) -> BallotSettings {
    let opens = window_start(h);
    BallotSettings {
        title: "Annual meeting 2026".to_owned(),
        description: "Board election and bylaw amendment".to_owned(),
        opens_at: opens,
        closes_at: opens.plus(Duration::days(7)),
        secrecy,
        weighting,
        quorum: Percent::parse("30").unwrap(),
        min_turnout: Some(Percent::parse("20").unwrap()),
        paper: true,
        notify_sms: true,
        reminder_hours: vec![48],
    }
}

/// A published ballot with a two-thirds resolution (contest 1) and a two-seat election of
/// three candidates (contest 2); the clock is moved into its window.
pub async fn open_ballot(
    h: &Harness,
    cista: &Cista,
    a: &Association,
    secrecy: Secrecy,
    weighting: Weighting,
) -> BallotId {
    let id = cista
        .create_ballot(&operator(), a.org, settings(h, secrecy, weighting))
        .await
        .unwrap();
    cista
        .add_contest(
            &operator(),
            a.org,
            id,
            NewContest {
                title: "Amend article 7".to_owned(),
                description: String::new(),
                kind: ContestKind::Resolution {
                    threshold: Threshold::TwoThirdsOfCast,
                },
            },
        )
        .await
        .unwrap();
    cista
        .add_contest(
            &operator(),
            a.org,
            id,
            NewContest {
                title: "Board of directors".to_owned(),
                description: String::new(),
                kind: ContestKind::Election {
                    seats: 2,
                    candidates: candidates_from_lines("Alma Diaz\nBen Ortiz\nCarla Sosa"),
                    shuffle: true,
                },
            },
        )
        .await
        .unwrap();
    cista.publish_ballot(&operator(), a.org, id).await.unwrap();
    h.clock.set(window_start(h).plus(Duration::minutes(1)));
    id
}

pub async fn hash_of(cista: &Cista, id: BallotId) -> String {
    cista
        .store()
        .voting()
        .ballot(id)
        .await
        .unwrap()
        .unwrap()
        .definition_hash
        .to_hex()
}

pub fn request(ballot: BallotId, unit: &Unit, hash: &str, fields: &[(&str, &str)]) -> CastRequest {
    CastRequest {
        ballot,
        unit: unit.id,
        definition_hash: hash.to_owned(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        origin: VoteOrigin {
            ip: Some("192.0.2.7".to_owned()),
            user_agent: Some("conformance".to_owned()),
            staff: None,
        },
        submission: None,
    }
}

async fn counts(h: &Harness, ballot: BallotId) -> (usize, u64, usize) {
    let store = &h.store;
    (
        store.voting().participation(ballot).await.unwrap().len(),
        store.voting().box_count(ballot).await.unwrap(),
        store.voting().refusals(ballot).await.unwrap().len(),
    )
}

async fn audit_kinds(cista: &Cista) -> Vec<String> {
    cista
        .store()
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// Closes the ballot as the worker would, after its closing time.
pub async fn close(h: &Harness, cista: &Cista, ballot: BallotId) {
    let b = cista
        .store()
        .voting()
        .ballot(ballot)
        .await
        .unwrap()
        .unwrap();
    h.clock.set(b.closes_at.plus(Duration::seconds(1)));
    let done = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(done.closed, 1);
}

async fn rows_i64(h: &Harness, sql: &str) -> Vec<Vec<i64>> {
    let db = h.store.connection();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|r| {
            (0..)
                .map_while(|i| r.try_get_by_index::<i64>(i).ok())
                .collect()
        })
        .collect()
}

async fn rows_text(h: &Harness, sql: &str) -> Vec<String> {
    let db = h.store.connection();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}

// --- the roster ----------------------------------------------------------------------------

pub async fn the_roster_is_checked_whole_previewed_then_applied(h: &Harness) {
    let cista = h.cista().await;
    let org = h.org(&cista, "roster").await;

    // A file with problems is refused whole: nothing is written.
    let bad = format!("{HEADER}101,1,Ana,Ruiz,ana@palm.example,,,\n102,x,Bo,Li,bo@palm,,,\n");
    let Err(Error::ImportRejected(problems)) =
        cista.plan_import(&operator(), org.id, bad.as_bytes()).await
    else {
        panic!("a bad file must be rejected");
    };
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(text[0].starts_with("line 3, column weight"), "{text:?}");
    assert!(text[1].starts_with("line 3, column email"), "{text:?}");
    assert!(
        cista
            .store()
            .voting()
            .units(org.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(cista.store().members(org.id).await.unwrap().is_empty());

    // A clean file: the preview, then the import.
    let plan = cista
        .plan_import(&operator(), org.id, roster().as_bytes())
        .await
        .unwrap();
    assert_eq!(plan.units_added.len(), 8);
    assert_eq!(plan.owners_added.len(), 10);
    assert_eq!(plan.people_new, 9, "Ana owns two units and is one person");
    let wrong = cista
        .apply_import(
            &operator(),
            org.id,
            roster().as_bytes(),
            "not-the-preview",
            &|_, _| {},
        )
        .await
        .unwrap_err();
    assert!(matches!(wrong, Error::Conflict(_)), "{wrong:?}");
    assert!(
        cista
            .store()
            .voting()
            .units(org.id)
            .await
            .unwrap()
            .is_empty()
    );
    let progress = std::sync::Mutex::new(Vec::new());
    let done = cista
        .apply_import(
            &operator(),
            org.id,
            roster().as_bytes(),
            &plan.fingerprint,
            &|d, t| {
                progress.lock().unwrap().push((d, t));
            },
        )
        .await
        .unwrap();
    assert_eq!(done.people_new, 9);
    let progress = progress.into_inner().unwrap();
    assert_eq!(progress.last(), Some(&(plan.work(), plan.work())));
    let a = load(&cista, org.id).await;
    assert_eq!(a.units.len(), 8);
    assert_eq!(a.owners_of("101"), a.owners_of("102"));
    assert_eq!(a.unit("101").weight.to_string(), "1.25");
    assert_eq!(a.unit("101").consent, ConsentStatus::Consented);
    assert_eq!(a.unit("105").consent, ConsentStatus::None);
    assert_eq!(a.unit("106").consent, ConsentStatus::OptedOut);
    assert_eq!(cista.store().members(org.id).await.unwrap().len(), 9);
    assert!(
        audit_kinds(&cista)
            .await
            .contains(&"units.imported".to_owned())
    );

    // Importing the same file again changes nothing.
    let again = cista
        .plan_import(&operator(), org.id, roster().as_bytes())
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(again.units_unchanged, 8);

    // A changed file: a weight, a new owner, a unit gone, a new unit.
    let changed = roster()
        .replace("107,1,Hal,Qi", "107,2,Hal,Qi")
        .replace("108,1,Ivy,Ro,ivy@palm.example,,,yes\n", "")
        + "109,1,Jo,Su,jo@palm.example,,,\n105,,Kim,Oh,kim@palm.example,,,\n";
    let plan = cista
        .plan_import(&operator(), org.id, changed.as_bytes())
        .await
        .unwrap();
    assert_eq!(plan.units_added, vec!["109"]);
    assert_eq!(plan.units_retired, vec!["108"]);
    assert_eq!(plan.units_changed.len(), 1);
    assert_eq!(plan.units_changed[0].changes, vec!["weight 1 → 2"]);
    assert_eq!(
        plan.owners_added,
        vec![
            ("105".to_owned(), "Kim Oh".to_owned()),
            ("109".to_owned(), "Jo Su".to_owned())
        ]
    );
    assert_eq!(
        plan.owners_removed,
        vec![("108".to_owned(), "Ivy Ro".to_owned())]
    );
    cista
        .apply_import(
            &operator(),
            org.id,
            changed.as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await
        .unwrap();
    let a = load(&cista, org.id).await;
    assert!(a.unit("108").retired_at.is_some());
    assert_eq!(a.unit("107").weight.to_string(), "2");
    assert_eq!(a.owners_of("105").len(), 2);

    // Only owners and administrators import.
    let member = a.voter("101");
    let err = cista
        .plan_import(&member, org.id, roster().as_bytes())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
}

// --- one vote per unit ---------------------------------------------------------------------

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

// --- secrecy ---------------------------------------------------------------------------------

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

    // Trackers are random, not sequential: cast order is not their order (1 in 720 chance).
    let mut sorted = cast_trackers.clone();
    sorted.sort_unstable();
    assert_ne!(
        cast_trackers, sorted,
        "trackers must not grow with casting order"
    );

    // After the worker's shuffle, storage order is tracker order, whatever the casting order.
    cista.run_voting_work(&Actor::System).await.unwrap();
    let stored = if h.is_postgres() {
        rows_i64(
            h,
            &format!("SELECT tracker FROM ballot_box WHERE ballot_id = {ballot} ORDER BY ctid"),
        )
        .await
    } else {
        // The tracker is the rowid: rows live in the table's B-tree in tracker order.
        let rows = rows_i64(h, "SELECT rowid, tracker FROM ballot_box").await;
        assert!(rows.iter().all(|r| r[0] == r[1]), "{rows:?}");
        rows_i64(h, "SELECT tracker FROM ballot_box").await
    };
    let stored: Vec<i64> = stored.into_iter().map(|r| r[0]).collect();
    let mut all = stored.clone();
    all.sort_unstable();
    assert_eq!(stored, all, "storage order is tracker order");
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
    // Choices are sealed: the raw bytes hold no readable choice.
    let raw = h.raw_database_bytes().await;
    let needle = br#""answer":"yes""#;
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "choices must be encrypted at rest"
    );
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

// --- refusals --------------------------------------------------------------------------------

pub async fn refused_casts_are_explained_recorded_and_store_nothing(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "refusals").await;
    let opens = window_start(h);
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let good = [("c1", "yes"), ("c2", "1")];
    let other_owner = a.owners_of("104")[1];
    // (who, unit, form fields, definition hash on the form, expected error code)
    type Case<'a> = (Actor, &'a str, Vec<(&'a str, &'a str)>, String, &'a str);
    let cases: Vec<Case> = vec![
        (
            a.voter("101"),
            "101",
            vec![("c1", "yes"), ("c2", "9")],
            hash.clone(),
            "bad_request",
        ),
        (
            a.voter("101"),
            "101",
            vec![("c1", "yes"), ("c2", "1"), ("c2", "2"), ("c2", "3")],
            hash.clone(),
            "invalid_input",
        ),
        (
            a.voter("101"),
            "101",
            vec![("c2", "1")],
            hash.clone(),
            "invalid_input",
        ),
        (
            a.voter("101"),
            "101",
            vec![("c1", "yes"), ("c9", "1")],
            hash.clone(),
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
            hash.clone(),
            "not_eligible",
        ),
        (
            a.person(other_owner, Access::Full),
            "104",
            good.to_vec(),
            hash.clone(),
            "not_eligible",
        ),
        (
            a.voter("105"),
            "105",
            good.to_vec(),
            hash.clone(),
            "consent_required",
        ),
        (
            a.voter("106"),
            "106",
            good.to_vec(),
            hash.clone(),
            "consent_required",
        ),
    ];
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
    let b = association(h, &cista, "elsewhere").await;
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

// --- results ---------------------------------------------------------------------------------

pub async fn results_stay_sealed_until_the_close_then_the_bundle_recounts(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "results").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
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
                    request(ballot, a.unit(label), &hash, &fields),
                )
                .await
                .unwrap(),
        );
    }
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

    // Before the close: sealed everywhere, for everyone; turnout and quorum are live.
    let member = a.voter("101");
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
    let v = verify_bundle(&bundle, None);
    assert!(v.ok(), "{v:#?}");
    assert!(verify_bundle(&bundle, Some(&bundle.verifier_key)).ok());
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
    assert!(!verify_bundle(&bundle, Some("someone+00000000+AQ==")).ok());
    // Each receipt's tracker is in the bundle with a proof that holds.
    for r in &receipts {
        let (_, ballot, proven) =
            cista_core::products::voting::bundle::find_tracker(&bundle, r.tracker).unwrap();
        assert!(proven);
        assert_eq!(
            ballot
                .choices
                .describe(&cista_core::products::voting::close::definition_of(&bundle).unwrap()),
            r.choices
        );
    }
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

pub async fn voting_records_cannot_be_changed_or_deleted(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "retention").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    cista
        .cast_vote(
            &a.voter("101"),
            request(ballot, a.unit("101"), &hash, &[("c1", "yes")]),
        )
        .await
        .unwrap();
    let db = h.store.connection();
    let refuse = |sql: String| async move {
        let result = db.execute_unprepared(&sql).await;
        assert!(result.is_err(), "the database must refuse `{sql}`");
        assert!(result.unwrap_err().to_string().contains("cista:"), "{sql}");
    };
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

pub async fn a_correction_is_a_cancel_and_a_reissue(h: &Harness) {
    let cista = h.cista().await;
    let a = association(h, &cista, "reissue").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    cista
        .cast_vote(
            &a.voter("101"),
            request(ballot, a.unit("101"), &hash, &[("c1", "yes")]),
        )
        .await
        .unwrap();
    let err = cista
        .cancel_ballot(&operator(), a.org, ballot, " ")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
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
