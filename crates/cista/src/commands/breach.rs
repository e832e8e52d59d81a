//! `cista breach …`: the operator's side of a personal data breach (GDPR Art. 33/34).
//! `assess` lists who an incident window could have touched (subject code, erased or not,
//! counts per kind of data); `record` records a breach and prints its 72-hour deadline;
//! `list` shows each breach's deadline and who was told; `notice` prints or replaces the words
//! of the notice; `notify` queues it to each person through the outbox; `reported` records
//! that the supervisory authority was told.

use crate::cli::{
    BreachAssessArgs, BreachCommand, BreachListArgs, BreachNoticeArgs, BreachRecordArgs,
    BreachRefArgs, BreachReportedArgs,
};
use crate::runtime::{Failure, Runtime};
use cista_core::Cista;
use cista_core::platform::breach::template::NAMES;
use cista_core::platform::breach::{
    Breach, BreachId, BreachScope, DeadlineState, NewBreach, NoticeTemplate, minutes_in_words,
};
use cista_core::ports::Organization;
use cista_types::Timestamp;

/// The window given by `--from` and `--to`. Errors: a time that is not RFC 3339, or an end
/// that is not after the start, as one line naming the flags.
fn window(from: &str, to: &str) -> Result<(Timestamp, Timestamp), Failure> {
    let (from, to) = (time("--from", from)?, time("--to", to)?);
    if to <= from {
        return Err(Failure(
            "the window must end after it starts: --to must be later than --from".to_owned(),
        ));
    }
    Ok((from, to))
}

pub async fn run(rt: &Runtime, command: &BreachCommand) -> Result<(), Failure> {
    match command {
        BreachCommand::Assess(args) => assess(rt, args).await,
        BreachCommand::Record(args) => record(rt, args).await,
        BreachCommand::List(args) => list(rt, args).await,
        BreachCommand::Notice(args) => notice(rt, args).await,
        BreachCommand::Notify(args) => notify(rt, args).await,
        BreachCommand::Reported(args) => reported(rt, args).await,
    }
}

fn time(flag: &str, text: &str) -> Result<Timestamp, Failure> {
    Timestamp::parse_rfc3339(text.trim()).map_err(|_| {
        Failure(format!(
            "{flag} {text:?} is not an RFC 3339 time such as 2026-12-01T08:00:00Z"
        ))
    })
}

async fn assess(rt: &Runtime, args: &BreachAssessArgs) -> Result<(), Failure> {
    let (from, to) = window(&args.from, &args.to)?;
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

/// The deadline's state in words, in the organization's zone.
fn deadline_words(org: &Organization, breach: &Breach, now: Timestamp) -> String {
    let deadline = org.time_zone.format(breach.deadline());
    match breach.deadline_state(now) {
        DeadlineState::Reported { at, late: false } => format!(
            "the supervisory authority was told {} (deadline {deadline})",
            org.time_zone.format(at)
        ),
        DeadlineState::Reported { at, late: true } => format!(
            "the supervisory authority was told {}, after the deadline {deadline}",
            org.time_zone.format(at)
        ),
        DeadlineState::Open { minutes_left } => format!(
            "tell the supervisory authority by {deadline} ({} left)",
            minutes_in_words(minutes_left)
        ),
        DeadlineState::Overdue { minutes_over } => format!(
            "OVERDUE: the supervisory authority was to be told by {deadline}, {} ago; tell it \
             now, with the reasons for the delay (Art. 33(1))",
            minutes_in_words(minutes_over)
        ),
    }
}

async fn record(rt: &Runtime, args: &BreachRecordArgs) -> Result<(), Failure> {
    let (from, to) = window(&args.from, &args.to)?;
    let scope = BreachScope::parse(&args.scope)?;
    let (cista, org) = rt.open_org(&args.org).await?;
    let breach = cista
        .record_breach(
            &rt.operator(),
            org.id,
            NewBreach {
                from,
                to,
                scope,
                description: args.description.clone(),
            },
        )
        .await?;
    let people = cista
        .breach_people(&rt.operator(), org.id, breach.id)
        .await?
        .1;
    println!("Breach {} of {} recorded.", breach.id, org.slug);
    println!(
        "Deadline: {}.",
        deadline_words(&org, &breach, cista.clock().now())
    );
    let erased = people.iter().filter(|p| p.person.erased).count();
    let by_email = people.iter().filter(|p| p.has_email).count();
    println!(
        "{} could have been touched: {by_email} can be told by email, {erased} erased (never \
         contacted), {} without an email address.",
        cista_types::words::count(people.len(), "person", "people"),
        people.len() - by_email - erased
    );
    println!(
        "Next: fill in the notice (cista breach notice --org {0} --breach {1} > notice.txt, \
         edit, --set notice.txt), then cista breach notify --org {0} --breach {1}.",
        org.slug, breach.id
    );
    Ok(())
}

async fn list(rt: &Runtime, args: &BreachListArgs) -> Result<(), Failure> {
    let (cista, org) = rt.open_org(&args.org).await?;
    let operator = rt.operator();
    let now = cista.clock().now();
    let breaches = cista.breaches(&operator, org.id).await?;
    if args.json {
        let mut out = Vec::new();
        for breach in &breaches {
            let told = cista.breach_notices(&operator, org.id, breach.id).await?;
            out.push(serde_json::json!({
                "breach": breach,
                "deadline": breach.deadline(),
                "deadline_state": breach.deadline_state(now),
                "people_told": told.len(),
            }));
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| Failure(e.to_string()))?
        );
        return Ok(());
    }
    if breaches.is_empty() {
        println!("{} has no recorded breach.", org.slug);
    }
    for breach in &breaches {
        let told = cista.breach_notices(&operator, org.id, breach.id).await?;
        println!(
            "{}  recorded {}  window {} to {}  scope {}  {} told\n    {}",
            breach.id,
            org.time_zone.format(breach.recorded_at),
            org.time_zone.format(breach.from),
            org.time_zone.format(breach.to),
            breach.scope.as_str(),
            cista_types::words::count(told.len(), "person", "people"),
            deadline_words(&org, breach, now)
        );
    }
    Ok(())
}

async fn open_breach(
    rt: &Runtime,
    args: &BreachRefArgs,
) -> Result<(Cista, Organization, BreachId), Failure> {
    let id: BreachId = args.breach.trim().parse()?;
    let (cista, org) = rt.open_org(&args.org).await?;
    Ok((cista, org, id))
}

/// The notice as a file: `Subject: …`, a blank line, the body.
fn notice_file(notice: &NoticeTemplate) -> String {
    format!("Subject: {}\n\n{}", notice.subject, notice.body)
}

/// Reads a notice file back. Errors: a clear line unless it is a `Subject: …` line, a blank
/// line and the body (a subject wrapped onto a second line is refused, not taken as body).
fn parse_notice_file(text: &str) -> Result<NoticeTemplate, Failure> {
    let shape = || {
        Failure(
            "the notice file starts with a line `Subject: …`, then a blank line, then the body"
                .to_owned(),
        )
    };
    let text = text.replace("\r\n", "\n");
    let (first, rest) = text.split_once('\n').ok_or_else(shape)?;
    let subject = first.strip_prefix("Subject:").ok_or_else(shape)?;
    let body = rest.strip_prefix('\n').ok_or_else(shape)?;
    Ok(NoticeTemplate {
        subject: subject.trim().to_owned(),
        body: body.to_owned(),
    })
}

async fn notice(rt: &Runtime, args: &BreachNoticeArgs) -> Result<(), Failure> {
    let (cista, org, id) = open_breach(rt, &args.breach).await?;
    let operator = rt.operator();
    if let Some(path) = &args.set {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
        let words = parse_notice_file(&text)?;
        cista
            .set_breach_notice(&operator, org.id, id, words.clone())
            .await?;
        println!("The notice of breach {id} is saved.");
        if let Some(left) = words.left_to_fill() {
            println!("It still has text to fill in before it can be sent: {left}");
        }
        return Ok(());
    }
    if args.preview {
        let (subject, body) = cista
            .preview_breach_notice(&operator, org.id, id, "Alex")
            .await?;
        print!("Subject: {subject}\n\n{body}");
        if !body.ends_with('\n') {
            println!();
        }
        eprintln!(
            "(\"Alex\" stands for each person's first name; the kinds of data are each person's own)"
        );
        return Ok(());
    }
    let breach = cista.breach(&operator, org.id, id).await?;
    print!("{}", notice_file(&breach.notice));
    eprintln!("\nNames the notice may use ({{{{ name }}}}):");
    for (name, what) in NAMES {
        eprintln!("  {name}: {what}");
    }
    Ok(())
}

async fn notify(rt: &Runtime, args: &BreachRefArgs) -> Result<(), Failure> {
    let (cista, org, id) = open_breach(rt, args).await?;
    let done = cista.notify_breach(&rt.operator(), org.id, id).await?;
    println!(
        "{} queued in the outbox (the running server sends them); {} told before; {} erased, \
         never contacted; {} without an email address, to be told another way.",
        cista_types::words::count(done.sent, "notice", "notices"),
        done.already_told,
        done.erased,
        done.without_email
    );
    Ok(())
}

async fn reported(rt: &Runtime, args: &BreachReportedArgs) -> Result<(), Failure> {
    let at = args.at.as_deref().map(|t| time("--at", t)).transpose()?;
    let (cista, org, id) = open_breach(rt, &args.breach).await?;
    let operator = rt.operator();
    let first = cista
        .record_breach_reported(&operator, org.id, id, at)
        .await?;
    let breach = cista.breach(&operator, org.id, id).await?;
    if !first {
        println!("Already recorded:");
    }
    println!("{}", deadline_words(&org, &breach, cista.clock().now()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_file_goes_out_and_back_unchanged() {
        let notice = NoticeTemplate::default();
        assert_eq!(parse_notice_file(&notice_file(&notice)).unwrap(), notice);
        assert!(parse_notice_file("Hello").is_err());
        assert!(
            parse_notice_file("Subject: Palm Court\nincident\n\nBody").is_err(),
            "a wrapped subject is refused, not taken as the body"
        );
        let crlf = parse_notice_file("Subject: S\r\n\r\nBody\r\n").unwrap();
        assert_eq!(crlf.subject, "S");
        assert_eq!(crlf.body, "Body\n");
    }
}
