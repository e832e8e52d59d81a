//! The demo association: forty units of Palm Court with varied voting interests, owners (some
//! with several units, one couple sharing a unit, one unit voting only on paper, two without
//! consent on file), and two open ballots: a secret board election and a recorded, weighted
//! amendment vote. Made once, through the same core calls a manager's pages use.

use crate::runtime::Failure;
use cista_core::ports::VoteOrigin;
use cista_core::products::voting::ballots::{BallotSettings, NewContest};
use cista_core::products::voting::definition::{
    ContestKind, Secrecy, Threshold, Weighting, candidates_from_lines,
};
use cista_core::{Actor, Cista};
use cista_types::{OrgId, Percent};
use time::Duration;

/// An owner who is not on the generated list.
struct NamedOwner {
    units: &'static [&'static str],
    first: &'static str,
    last: &'static str,
    email: &'static str,
    phone: &'static str,
    /// The designated voter of a unit with several owners.
    designated: bool,
}

const NAMED_OWNERS: [NamedOwner; 4] = [
    NamedOwner {
        units: &["101", "305"],
        first: "Manuel",
        last: "Moreno",
        email: "manuel@palm-court.example",
        phone: "+13055550142",
        designated: false,
    },
    NamedOwner {
        units: &["204"],
        first: "Sofia",
        last: "Alvarez",
        email: "sofia@palm-court.example",
        phone: "+13055550177",
        designated: true,
    },
    NamedOwner {
        units: &["204"],
        first: "Daniel",
        last: "Alvarez",
        email: "daniel@palm-court.example",
        phone: "",
        designated: false,
    },
    NamedOwner {
        units: &["402", "403"],
        first: "Priya",
        last: "Shah",
        email: "priya@palm-court.example",
        phone: "",
        designated: false,
    },
];

const FIRST: [&str; 20] = [
    "Amelia", "Bruno", "Carmen", "Dmitri", "Elena", "Farid", "Grace", "Hector", "Isabel", "Jonah",
    "Keiko", "Luis", "Mara", "Nadia", "Oscar", "Paula", "Quinn", "Rosa", "Tomas", "Valeria",
];
const LAST: [&str; 20] = [
    "Acosta", "Baker", "Castillo", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ibarra",
    "Jensen", "Kowalski", "Lopez", "Mendez", "Novak", "Okafor", "Petrov", "Quintero", "Reyes",
    "Santos", "Torres",
];

/// Voting interests (percent of the whole) by position on a floor: corner three-bedrooms,
/// two-bedrooms, one-bedrooms. Five floors of eight add up to exactly 100.
fn weight(position: usize) -> &'static str {
    match position {
        1 | 8 => "2.95",
        2 | 7 => "2.55",
        _ => "2.25",
    }
}

/// The roster CSV: 40 units on five floors.
pub fn roster() -> String {
    let mut csv =
        String::from("unit,weight,first_name,last_name,email,phone,designated_voter,consent\n");
    let mut generated = 0usize;
    for floor in 1..=5 {
        for position in 1..=8 {
            let label = format!("{floor}0{position}");
            // 508 opted out: paper only. 107 and 306 have no consent on file yet.
            let consent = match label.as_str() {
                "508" => "no",
                "107" | "306" => "",
                _ => "yes",
            };
            let named: Vec<_> = NAMED_OWNERS
                .iter()
                .filter(|o| o.units.contains(&label.as_str()))
                .collect();
            if named.is_empty() {
                let first = FIRST
                    .get(generated % FIRST.len())
                    .copied()
                    .unwrap_or("Alex");
                let last = LAST
                    .get((generated * 7 + 3) % LAST.len())
                    .copied()
                    .unwrap_or("Smith");
                generated += 1;
                csv.push_str(&format!(
                    "{label},{},{first},{last},{}.{}.{label}@palm-court.example,,,{consent}\n",
                    weight(position),
                    first.to_lowercase(),
                    last.to_lowercase(),
                ));
            } else {
                for (i, owner) in named.iter().enumerate() {
                    let w = if i == 0 { weight(position) } else { "" };
                    let d = if owner.designated { "yes" } else { "" };
                    let c = if i == 0 { consent } else { "" };
                    csv.push_str(&format!(
                        "{label},{w},{},{},{},{},{d},{c}\n",
                        owner.first, owner.last, owner.email, owner.phone
                    ));
                }
            }
        }
    }
    csv
}

/// Imports the roster and publishes the two ballots, unless the association has units
/// already. Returns lines to print.
pub async fn seed(
    cista: &Cista,
    operator: &Actor,
    org: OrgId,
    quick_poll: Duration,
) -> Result<Vec<String>, Failure> {
    if !cista.store().voting().units(org).await?.is_empty() {
        return Ok(vec!["reused  association (units and ballots)".to_owned()]);
    }
    let csv = roster();
    let plan = cista.plan_import(operator, org, csv.as_bytes()).await?;
    let imported = cista
        .apply_import(operator, org, csv.as_bytes(), &plan.fingerprint, &|_, _| {})
        .await?;
    let owners: std::collections::BTreeSet<_> = cista
        .store()
        .voting()
        .unit_owners(org)
        .await?
        .into_iter()
        .map(|o| o.subject)
        .collect();
    let now = cista.clock().now();
    seed_election(cista, operator, org, now).await?;
    seed_amendment(cista, operator, org, now).await?;
    let poll_closes = seed_poll(cista, operator, org, now, quick_poll).await?;
    Ok(vec![
        format!(
            "created association   {} units, {} owners (unit 508 votes on paper only)",
            imported.units_added,
            owners.len()
        ),
        "created ballots       a secret board election and a recorded amendment vote, open 14 days"
            .to_owned(),
        format!(
            "created quick poll    closes at {poll_closes} ({} from now); then its results, \
             certified PDF and public bulletin appear",
            in_words(quick_poll)
        ),
    ])
}

/// A percentage from its text, such as `"66.67"`.
fn percent(p: &str) -> Result<Percent, Failure> {
    Percent::parse(p).map_err(Failure::from)
}

/// The demo ballots' settings: open since a minute before `now` for 14 days, paper allowed,
/// SMS notices with reminders 72 and 24 hours before the close.
fn settings(
    now: cista_types::Timestamp,
    title: &str,
    description: &str,
    secrecy: Secrecy,
    weighting: Weighting,
    quorum: Percent,
    min_turnout: Option<Percent>,
) -> BallotSettings {
    BallotSettings {
        title: title.to_owned(),
        description: description.to_owned(),
        opens_at: now.plus(Duration::minutes(-1)),
        closes_at: now.plus(Duration::days(14)),
        secrecy,
        weighting,
        quorum,
        min_turnout,
        paper: true,
        notify_sms: true,
        reminder_hours: vec![72, 24],
    }
}

/// Creates and publishes the secret board election (three seats of five candidates).
async fn seed_election(
    cista: &Cista,
    operator: &Actor,
    org: OrgId,
    now: cista_types::Timestamp,
) -> Result<(), Failure> {
    let election = cista
        .create_ballot(
            operator,
            org,
            settings(
                now,
                "2027 Board of Directors election",
                "Elect three directors for two-year terms. Secret ballot: nobody, staff included, \
                 can see how a unit voted.",
                Secrecy::Secret,
                Weighting::PerUnit,
                percent("20")?,
                Some(percent("20")?),
            ),
        )
        .await?;
    cista
        .add_contest(
            operator,
            org,
            election,
            NewContest {
                title: "Board of Directors".to_owned(),
                description: "Choose up to three candidates.".to_owned(),
                kind: ContestKind::Election {
                    seats: 3,
                    candidates: candidates_from_lines(
                        "Alma Diaz\nBen Okoro\nCarla Sosa\nDavid Feld\nErin Walsh",
                    ),
                    shuffle: true,
                },
            },
        )
        .await?;
    cista.publish_ballot(operator, org, election).await?;
    Ok(())
}

/// Creates and publishes the recorded, weighted vote on the pets amendment and the budget.
async fn seed_amendment(
    cista: &Cista,
    operator: &Actor,
    org: OrgId,
    now: cista_types::Timestamp,
) -> Result<(), Failure> {
    let amendment = cista
        .create_ballot(
            operator,
            org,
            settings(
                now,
                "Amendment to Article 12 (pets) and 2027 budget",
                "Recorded vote, weighted by each unit's voting interest.",
                Secrecy::Recorded,
                Weighting::Weighted,
                percent("50")?,
                None,
            ),
        )
        .await?;
    for (title, description, threshold) in [
        (
            "Amend Article 12: allow one pet up to 25 lb per unit",
            "Needs two thirds of all voting interests.",
            Threshold::ShareOfAllInterests {
                percent: percent("66.67")?,
            },
        ),
        (
            "Approve the 2027 operating budget",
            "Needs a majority of the votes cast.",
            Threshold::MajorityOfCast,
        ),
    ] {
        cista
            .add_contest(
                operator,
                org,
                amendment,
                NewContest {
                    title: title.to_owned(),
                    description: description.to_owned(),
                    kind: ContestKind::Resolution { threshold },
                },
            )
            .await?;
    }
    cista.publish_ballot(operator, org, amendment).await?;
    Ok(())
}

/// Paper ballots already in the quick poll's box, as if collected at the office: (unit, answer).
const POLL_PAPER: [(&str, &str); 12] = [
    ("102", "yes"),
    ("103", "yes"),
    ("104", "no"),
    ("106", "yes"),
    ("108", "abstain"),
    ("201", "yes"),
    ("202", "no"),
    ("203", "yes"),
    ("301", "yes"),
    ("302", "no"),
    ("303", "yes"),
    ("304", "yes"),
];

/// How long `span` is, as the demo says it: "2 minutes", "90 seconds".
fn in_words(span: Duration) -> String {
    match span.whole_seconds() {
        s if s % 60 == 0 && s > 60 => format!("{} minutes", s / 60),
        60 => "1 minute".to_owned(),
        s => format!("{s} seconds"),
    }
}

/// A secret one-question poll that closes `after` the demo is set up (two minutes unless
/// `cista demo --quick-poll-seconds` says otherwise), so a new user sees a ballot closed by
/// the worker: its results, the certified PDF, the bulletin and a bundle to recount. Returns when it closes, in the association's time zone.
async fn seed_poll(
    cista: &Cista,
    operator: &Actor,
    org: OrgId,
    now: cista_types::Timestamp,
    after: Duration,
) -> Result<String, Failure> {
    let closes_at = now.plus(after);
    let poll = cista
        .create_ballot(
            operator,
            org,
            BallotSettings {
                title: "Quick poll: pool hours".to_owned(),
                description: format!(
                    "A short secret poll: it closes {} after the demo is set up, so the \
                     results, the certified PDF and the public bulletin can be seen.",
                    in_words(after)
                ),
                opens_at: now.plus(Duration::minutes(-1)),
                closes_at,
                secrecy: Secrecy::Secret,
                weighting: Weighting::PerUnit,
                quorum: Percent::parse("10")?,
                min_turnout: None,
                paper: true,
                notify_sms: false,
                reminder_hours: Vec::new(),
            },
        )
        .await?;
    let contest = cista
        .add_contest(
            operator,
            org,
            poll,
            NewContest {
                title: "Keep the pool open until 10 pm from May to September".to_owned(),
                description: "Needs a majority of the votes cast.".to_owned(),
                kind: ContestKind::Resolution {
                    threshold: Threshold::MajorityOfCast,
                },
            },
        )
        .await?;
    cista.publish_ballot(operator, org, poll).await?;
    let ballot = cista.ballot(operator, org, poll).await?;
    let definition_hash = ballot.stored.definition_hash.to_hex();
    let units = cista.store().voting().units(org).await?;
    // A secret ballot's paper ballots come in two envelopes: check in each outer envelope by
    // unit, open them together as one batch, then enter the inner ballots with no unit.
    for (label, _) in POLL_PAPER {
        let Some(unit) = units.iter().find(|u| u.label.as_str() == label) else {
            continue;
        };
        cista
            .check_in_envelope(operator, poll, unit.id, VoteOrigin::default())
            .await?;
    }
    let batch = cista
        .open_paper_batch(operator, poll, cista_types::Weight::ONE)
        .await?;
    for (_, answer) in POLL_PAPER {
        cista
            .enter_inner_ballot(
                operator,
                poll,
                batch.number,
                &definition_hash,
                &[(format!("c{contest}"), answer.to_owned())],
            )
            .await?;
    }
    Ok(ballot.local(closes_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roster_is_forty_units_whose_interests_add_up_to_a_hundred() {
        let roster =
            cista_core::products::voting::import::parse_roster(roster().as_bytes(), None).unwrap();
        assert_eq!(roster.units.len(), 40);
        let total: i64 = roster.units.iter().map(|u| u.weight.micros()).sum();
        assert_eq!(total, 100_000_000);
        let u204 = roster
            .units
            .iter()
            .find(|u| u.label.as_str() == "204")
            .unwrap();
        assert_eq!(u204.owners.len(), 2);
        assert!(u204.owners[0].designated);
    }
}
