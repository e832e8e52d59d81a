//! `cista breach assess`: who an incident window could have touched (GDPR Art. 33/34), for the
//! operator answering an incident. Prints one line per person (subject code, erased or not,
//! counts per kind of data) or JSON, and the Art. 33 reminder: the supervisory authority is
//! told within 72 hours of becoming aware of a personal data breach.

use crate::cli::BreachAssessArgs;
use crate::runtime::{Failure, Runtime};
use cista_core::platform::breach::BreachScope;
use cista_types::Timestamp;

fn time(flag: &str, text: &str) -> Result<Timestamp, Failure> {
    Timestamp::parse_rfc3339(text.trim()).map_err(|_| {
        Failure(format!(
            "{flag} {text:?} is not an RFC 3339 time such as 2026-12-01T08:00:00Z"
        ))
    })
}

pub async fn assess(rt: &Runtime, args: &BreachAssessArgs) -> Result<(), Failure> {
    let from = time("--from", &args.from)?;
    let to = time("--to", &args.to)?;
    let scope = BreachScope::parse(&args.scope)?;
    let (cista, org) = rt.open_org(&args.org).await?;
    let assessment = cista
        .assess_breach(&rt.operator(), org.id, (from, to), scope)
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&assessment).map_err(|e| Failure(e.to_string()))?
        );
        return Ok(());
    }
    println!(
        "{} of {} could have been touched between {} and {} ({} can be told; erased \
         people are never contacted)",
        cista_types::words::count(assessment.people.len(), "person", "people"),
        org.slug,
        from.to_rfc3339(),
        to.to_rfc3339(),
        assessment.to_notify()
    );
    for person in &assessment.people {
        let kinds: Vec<String> = person
            .kinds
            .iter()
            .map(|(kind, n)| format!("{kind} ({n})"))
            .collect();
        println!(
            "{}{}  {}",
            person.subject,
            if person.erased { "  ERASED" } else { "" },
            kinds.join(", ")
        );
    }
    println!(
        "A personal data breach is reported to the supervisory authority within 72 hours of \
         becoming aware of it (GDPR Art. 33), and the people at high risk are told without \
         undue delay (Art. 34)."
    );
    Ok(())
}
