//! The overload phase of `cista bench voting --overload SECS`: casts offered at ten times the
//! rate the measured phase reached, open-loop (each sent at its moment, whether or not earlier
//! ones were answered), for SECS seconds, on a second ballot of the same association. The
//! server must shed what it cannot take (503 with `Retry-After`) rather than queue without
//! bound; afterwards every acknowledged cast must be stored, nothing stored twice, and the
//! process's memory must have stayed bounded.

use super::bench::{Browser, ms, percentile, publish_ballot};
use super::bench_memory::PeakRss;
use crate::runtime::Failure;
use cista_core::Cista;
use cista_types::{OrgId, UnitId};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Requests the load generator keeps outstanding at most; past it a planned cast is counted as
/// not sent (the generator's own bound, so its memory stays bounded too).
const MAX_OUTSTANDING: usize = 8192;

/// What an open-loop run sent and how each cast ended.
#[derive(Default)]
struct Sent {
    outcomes: Vec<Offered>,
    planned: u64,
    not_sent: u64,
    wall: Duration,
}

/// How one offered cast ended.
enum Offered {
    /// 303 to the receipt: acknowledged, so it must be stored.
    Accepted(UnitId, Duration),
    /// 503 with `Retry-After`: shed.
    Shed,
    /// Any other answer (the unit had voted already: the refusal page), or no answer.
    Other(u16),
    Failed,
}

pub(crate) struct Overload<'a> {
    pub cista: &'a Cista,
    pub org: OrgId,
    pub origin: &'a str,
    pub browsers: &'a [Browser],
    pub units: &'a [UnitId],
}

impl Overload<'_> {
    /// Offers `10 × reached` casts per second for `seconds`, then checks the ballot; prints the
    /// report and fails when an acknowledged vote is missing or a vote is stored twice.
    pub(crate) async fn run(&self, reached: f64, seconds: u64) -> Result<(), Failure> {
        let (ballot, hash) = publish_ballot(self.cista, self.org, "Overload ballot").await?;
        let rate = (reached * 10.0).max(1.0);
        println!(
            "Offering {rate:.0} casts/s (10 × {reached:.0}) for {seconds} s on a second ballot…"
        );
        let memory = PeakRss::watch();
        let until = Instant::now() + Duration::from_secs(seconds);
        let sent = self.open_loop(ballot, &hash, rate, until, true).await?;
        let peak = memory.stop().await;
        self.report(ballot, sent, peak).await
    }

    /// Offers each unit's cast once at half the `reached` rate, each at its moment, on a
    /// ballot of its own, and prints the latency of those casts: the latency a server working
    /// at half its throughput gives.
    pub(crate) async fn paced(&self, reached: f64) -> Result<(), Failure> {
        let (ballot, hash) = publish_ballot(self.cista, self.org, "Paced ballot").await?;
        let rate = (reached / 2.0).max(1.0);
        let seconds = self.units.len() as f64 / rate;
        println!("Casting at half that rate, {rate:.0} casts/s, for {seconds:.1} s…");
        let until = Instant::now() + Duration::from_secs_f64(seconds + 0.5);
        let sent = self.open_loop(ballot, &hash, rate, until, false).await?;
        let mut latencies: Vec<Duration> = sent
            .outcomes
            .iter()
            .filter_map(|o| match o {
                Offered::Accepted(_, took) => Some(*took),
                _ => None,
            })
            .collect();
        latencies.sort();
        println!(
            "  at half rate   {} of {} accepted, cast latency p50 {}   p99 {}   max {}",
            latencies.len(),
            sent.planned,
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 99.0)),
            ms(latencies.last().copied().unwrap_or_default())
        );
        if latencies.len() as u64 != sent.planned {
            return Err(Failure(format!(
                "at half rate only {} of {} casts were accepted",
                latencies.len(),
                sent.planned
            )));
        }
        Ok(())
    }

    /// Sends casts at `rate` per second until `until`, each at its moment whether or not the
    /// earlier ones were answered, taking owners and their units in turn (over and over when
    /// `cycle`, else each once), and collects how each ended.
    async fn open_loop(
        &self,
        ballot: cista_types::BallotId,
        hash: &str,
        rate: f64,
        until: Instant,
        cycle: bool,
    ) -> Result<Sent, Failure> {
        let period = Duration::from_secs_f64(1.0 / rate);
        let started = Instant::now();
        let mut casts = tokio::task::JoinSet::new();
        let mut sent = Sent::default();
        let pairs = self.browsers.iter().zip(self.units.iter());
        let pairs: Box<dyn Iterator<Item = _>> = if cycle {
            Box::new(pairs.cycle())
        } else {
            Box::new(pairs)
        };
        for (k, (browser, unit)) in pairs.enumerate() {
            let at = started + period * u32::try_from(k).unwrap_or(u32::MAX);
            if at >= until {
                break;
            }
            tokio::time::sleep_until(at.into()).await;
            sent.planned += 1;
            while let Some(done) = casts.try_join_next() {
                sent.outcomes
                    .push(done.map_err(|e| Failure(e.to_string()))?);
            }
            if casts.len() >= MAX_OUTSTANDING {
                sent.not_sent += 1;
                continue;
            }
            let (browser, unit, hash) = (browser.clone(), *unit, hash.to_owned());
            let origin = self.origin.to_owned();
            casts.spawn(async move { offer(&browser, &origin, ballot, unit, &hash).await });
        }
        while let Some(done) = casts.join_next().await {
            sent.outcomes
                .push(done.map_err(|e| Failure(e.to_string()))?);
        }
        sent.wall = started.elapsed();
        Ok(sent)
    }

    async fn report(
        &self,
        ballot: cista_types::BallotId,
        sent: Sent,
        peak: Option<u64>,
    ) -> Result<(), Failure> {
        let mut acknowledged = BTreeSet::new();
        let (mut latencies, mut shed, mut failed) = (Vec::new(), 0u64, 0u64);
        let mut other = std::collections::BTreeMap::<u16, u64>::new();
        let Sent {
            outcomes,
            planned,
            not_sent,
            wall,
        } = sent;
        for outcome in outcomes {
            match outcome {
                Offered::Accepted(unit, took) => {
                    acknowledged.insert(unit);
                    latencies.push(took);
                }
                Offered::Shed => shed += 1,
                Offered::Other(status) => *other.entry(status).or_default() += 1,
                Offered::Failed => failed += 1,
            }
        }
        latencies.sort();
        let voting = self.cista.store().voting();
        let stored: BTreeSet<UnitId> = voting
            .participation(ballot)
            .await?
            .into_iter()
            .map(|p| p.unit)
            .collect();
        let rows = voting.participation(ballot).await?.len();
        let boxed = voting.box_count(ballot).await?;
        println!();
        println!(
            "Overload — {planned} casts offered in {:.1} s",
            wall.as_secs_f64()
        );
        println!(
            "  accepted       {} answers with a receipt, for {} units (a repeat of an owner's form gets its first cast's receipt; p50 {}, p99 {})",
            latencies.len(),
            acknowledged.len(),
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 99.0))
        );
        println!("  shed           {shed} answered 503 with Retry-After");
        let other: Vec<String> = other.iter().map(|(s, n)| format!("{n} × {s}")).collect();
        println!(
            "  other answers  {} (a unit that had voted gets the refusal page)",
            if other.is_empty() {
                "none".to_owned()
            } else {
                other.join(", ")
            }
        );
        println!("  no answer      {failed} (connection refused or reset)   not sent: {not_sent}");
        if let Some(bytes) = peak {
            println!("  memory         peak RSS {:.1} MB", bytes as f64 / 1e6);
        }
        println!("  check          {rows} participation rows, {boxed} ballot box entries");
        let lost = acknowledged.difference(&stored).count();
        if lost > 0 || rows != stored.len() || boxed != rows as u64 {
            return Err(Failure(format!(
                "overload: {lost} acknowledged votes missing, {rows} participation rows for {} units, {boxed} box entries",
                stored.len()
            )));
        }
        Ok(())
    }
}

/// One cast of `browser` for `unit`, and how it ended.
async fn offer(
    browser: &Browser,
    origin: &str,
    ballot: cista_types::BallotId,
    unit: UnitId,
    hash: &str,
) -> Offered {
    let began = Instant::now();
    let sent = browser
        .post(format!("{origin}/vote/{ballot}/unit/{unit}"))
        .header("origin", origin)
        .form(&[
            ("csrf", browser.csrf.as_str()),
            ("definition", hash),
            ("c1", "yes"),
            ("c2", "1"),
        ])
        .send()
        .await;
    let Ok(response) = sent else {
        return Offered::Failed;
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let receipt = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| l.ends_with("/receipt"));
    let _ = response.bytes().await;
    match status {
        303 if receipt => Offered::Accepted(unit, began.elapsed()),
        503 if retry_after => Offered::Shed,
        other => Offered::Other(other),
    }
}
