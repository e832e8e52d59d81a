//! Association voting on both stores: the roster import, one vote per unit under concurrency
//! and across channels, the secret ballot box that nothing links to the ledger, recorded
//! ballots, refusals, sealed results, the tally and the bundle anyone can recount, reminders,
//! and the database rules that keep voting records.

use crate::Harness;
use cista_core::platform::notices::Notice;
use cista_core::ports::{BallotStatus, ConsentStatus, StoredBallot, Unit, UnitOwner, VoteOrigin};
use cista_core::products::voting::VotingNotice;
use cista_core::products::voting::ballots::{BallotSettings, NewContest};
use cista_core::products::voting::bundle::{Bundle, verify_bundle};
use cista_core::products::voting::cast::CastRequest;
use cista_core::products::voting::cast::Receipt;
use cista_core::products::voting::definition::{
    ContestKind, Secrecy, Threshold, Weighting, candidates_from_lines,
};
use cista_core::products::voting::import::ImportPlan;
use cista_core::products::voting::record::RecordFile;
use cista_core::products::voting::tally::ContestResult;
use cista_core::{Access, Actor, Cista, Error, PersonActor, Store as _};
use cista_types::{BallotId, Clock as _, OrgId, Percent, Role, SubjectCode, Timestamp};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::collections::{BTreeMap, BTreeSet};
use time::Duration;

mod cast_read;
mod casting;
mod ledger;
mod outage;
mod published;
mod records;
mod refusals;
mod results;
mod roster;
mod secrecy;

pub use cast_read::{
    a_casts_one_read_keeps_to_the_ballots_organization, a_casts_one_read_matches_the_reads_apart,
};
pub use casting::{
    a_group_writes_its_rows_at_once_and_the_primary_keys_still_decide,
    a_hundred_concurrent_casts_for_one_unit_store_exactly_one,
    a_shuffle_drops_no_ballot_cast_in_flight,
    a_transaction_reads_its_box_as_it_stands_in_the_transaction,
    concurrent_casts_commit_together_and_one_failing_cast_takes_none_down,
    group_commits_are_counted_with_the_casts_they_hold,
    paper_and_online_refuse_each_other_in_either_order,
    participation_from_before_the_roll_weight_column_is_weighed_from_the_roll,
};
pub use ledger::{
    the_ballot_page_reads_who_took_part_a_page_at_a_time,
    the_roll_reads_in_natural_order_from_its_stored_keys,
};
pub use outage::a_key_provider_outage_refuses_retryably_and_leaves_nothing_half_done;
pub use published::a_large_ballot_publishes_page_by_page_and_finds_any_tracker;
pub use records::{
    a_box_keyed_by_its_tracker_alone_is_rekeyed_whole, a_correction_is_a_cancel_and_a_reissue,
    a_weighted_secret_ballot_refuses_weights_that_identify_units,
    owners_are_notified_and_reminded_until_they_vote,
    the_box_guard_is_replaced_in_an_upgraded_database, voting_records_cannot_be_changed_or_deleted,
};
pub use refusals::{
    a_server_fault_during_a_cast_is_not_recorded_against_the_unit,
    consent_is_recorded_with_when_and_how, refused_casts_are_explained_recorded_and_store_nothing,
    text_the_database_cannot_store_is_the_callers_error,
};
pub use results::results_stay_sealed_until_the_close_then_the_bundle_recounts;
pub use roster::{
    a_phone_alone_names_only_a_member_of_the_organization,
    a_roster_is_still_previewed_after_an_owner_is_erased,
    an_email_of_someone_outside_the_organization_is_refused_until_they_join,
    the_roster_is_checked_whole_previewed_then_applied,
};
pub use secrecy::{
    a_close_shuffles_what_was_cast_since_the_last_shuffle, a_close_waits_for_a_shuffle_under_way,
    a_large_box_is_shuffled_part_by_part, a_recorded_ballot_links_choices_to_the_unit,
    a_rewrite_never_waits_on_a_cast_that_waits_on_it,
    a_secret_ballot_box_holds_nothing_that_links_it_to_the_ledger,
    a_shuffle_waits_for_a_cancel_and_leaves_the_cancelled_box,
    a_vote_cast_between_two_parts_of_a_shuffle_is_kept,
    votes_are_cast_and_kept_while_the_box_is_shuffled,
};

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
    association_with(h, cista, slug, &roster()).await
}

/// A second association of a test: `roster()` with people of its own (an owner of two
/// associations is invited to join the second; see `access::joining`).
pub async fn another_association(h: &Harness, cista: &Cista, slug: &str) -> Association {
    let own = roster().replace("@palm.example", &format!("@{slug}.example"));
    association_with(h, cista, slug, &own).await
}

/// An association with `roster` (a CSV with `HEADER`) imported.
pub async fn association_with(h: &Harness, cista: &Cista, slug: &str, roster: &str) -> Association {
    let org = h.org(cista, slug).await;
    imported(cista, org.id, roster).await;
    load(cista, org.id).await
}

/// Previews `roster` for `org`, applies that preview, and returns it.
pub async fn imported(cista: &Cista, org: OrgId, roster: &str) -> ImportPlan {
    let plan = cista
        .plan_import(&operator(), org, roster.as_bytes())
        .await
        .unwrap();
    cista
        .apply_import(
            &operator(),
            org,
            roster.as_bytes(),
            &plan.fingerprint,
            &|_, _| {},
        )
        .await
        .unwrap();
    plan
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

/// A secret ballot, one per unit, opened in `a`, with unit `label`'s vote (`choice` in contest
/// `c1`) cast by its owner.
pub async fn open_with_one_vote(
    h: &Harness,
    cista: &Cista,
    a: &Association,
    label: &str,
    choice: &str,
) -> BallotId {
    let ballot = open_ballot(h, cista, a, Secrecy::Secret, Weighting::PerUnit).await;
    let hash = hash_of(cista, ballot).await;
    cista
        .cast_vote(
            &a.voter(label),
            request(ballot, a.unit(label), &hash, &[("c1", choice)]),
        )
        .await
        .unwrap();
    ballot
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

/// Starts a pass of the voting worker and checks that 300 ms later it is still waiting, for
/// what `waiting_for` says; returns the pass, to await once that is let go.
pub async fn a_worker_pass_waiting(
    cista: &Cista,
    waiting_for: &str,
) -> tokio::task::JoinHandle<cista_core::Result<cista_core::products::voting::close::WorkDone>> {
    let worker = {
        let cista = cista.clone();
        tokio::spawn(async move { cista.run_voting_work(&Actor::System).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !worker.is_finished(),
        "the pass did not wait for {waiting_for}"
    );
    worker
}

/// The unit of `org` labelled `label` exactly, as stored.
pub async fn unit_labelled(cista: &Cista, org: OrgId, label: &str) -> Unit {
    cista
        .store()
        .voting()
        .units(org)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.label.as_str() == label)
        .unwrap_or_else(|| panic!("no unit {label}"))
}

/// The ballot as stored.
pub async fn stored_ballot(cista: &Cista, ballot: BallotId) -> StoredBallot {
    cista
        .store()
        .voting()
        .ballot(ballot)
        .await
        .unwrap()
        .unwrap()
}

/// Sets the clock to a second after the ballot's closing time.
pub async fn past_closing_time(h: &Harness, cista: &Cista, ballot: BallotId) {
    let b = stored_ballot(cista, ballot).await;
    h.clock.set(b.closes_at.plus(Duration::seconds(1)));
}

/// Closes the ballot as the worker would, after its closing time.
pub async fn close(h: &Harness, cista: &Cista, ballot: BallotId) {
    past_closing_time(h, cista, ballot).await;
    let done = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(done.closed, 1);
}

/// The rows of `sql` read straight from the database, each as its leading integer columns.
pub async fn rows_i64(h: &Harness, sql: &str) -> Vec<Vec<i64>> {
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
