//! The readable copy of a subject access report (GDPR Art. 15; issue 14, item 6): everything
//! Cista holds about one person, in sections, as a US Letter PDF/A. The JSON download holds the
//! same data for machines (Art. 20). Text people wrote is only paragraph text; a character no
//! bundled font draws is printed as `?` (the JSON has it exactly), so the copy is never refused.

use crate::certificate::{BODY, MUTED, body, document_title, facts, letter_pages, section, text};
use crate::flow::Piece;
use crate::layout::{Block, Para, Style, Typesetter};
use crate::{ReportError, fonts, pdf};
use cista_core::platform::subject_access::SubjectAccessReport;
use cista_types::TimeZoneName;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Lays the report out; times are shown in UTC, saying so.
pub fn subject_access_pdf(report: &SubjectAccessReport) -> Result<Vec<u8>, ReportError> {
    let utc = TimeZoneName::utc();
    let generated = utc.format_precise(report.generated_at);
    let footer = format!(
        "Everything held about subject {}, generated {generated} by Cista. Confidential.",
        report.subject
    );
    let mut typesetter = Typesetter::new(fonts::context()?);
    let pages = catch_unwind(AssertUnwindSafe(|| {
        let pieces = pieces(report, &utc, &mut typesetter);
        letter_pages(&pieces, &footer, &mut typesetter)
    }))
    .map_err(|_| ReportError::Layout("the layout engine failed unexpectedly".to_owned()))?;
    pdf::write(
        &pages,
        crate::certificate::PAGE,
        &pdf::Info {
            title: "Everything held about you",
            author: "Cista",
            ident: &format!("cista-subject-access/{}", report.subject),
            created: report.generated_at,
        },
    )
}

/// `text` with every character no bundled font draws replaced by `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            let mut buffer = [0u8; 4];
            if cista_types::glyphs::check_printable(c.encode_utf8(&mut buffer)).is_ok() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn line(s: &str) -> Block {
    text(&printable(s))
}

fn none(t: &mut Typesetter, out: &mut Vec<Piece>, what: &str) {
    out.push(Piece::new(
        t.block(&Para::of(what, body().italic().ink(MUTED)).into(), BODY),
        4.0,
    ));
}

fn heading(t: &mut Typesetter, out: &mut Vec<Piece>, title: &str) {
    out.push(Piece::new(t.block(&section(title), BODY), 18.0).sticky());
}

fn pieces(report: &SubjectAccessReport, utc: &TimeZoneName, t: &mut Typesetter) -> Vec<Piece> {
    let mut out = Vec::new();
    let title = document_title(
        "Cista",
        "Everything held about you",
        &format!("Subject {}", report.subject),
    );
    out.push(Piece::new(t.block(&title, BODY), 0.0));
    out.push(Piece::new(
        t.para(
            &Para::of(
                "Your right of access (GDPR Art. 15): what this instance holds about you, read \
                 from it when this copy was made. The JSON download holds the same, for \
                 another service (Art. 20). Times are in UTC.",
                Style::serif(9.5, MUTED),
            ),
            BODY,
        ),
        10.0,
    ));
    person_pieces(report, utc, t, &mut out);
    belonging_pieces(report, utc, t, &mut out);
    vote_pieces(report, utc, t, &mut out);
    submission_pieces(report, utc, t, &mut out);
    let entries = report
        .audit_entries
        .iter()
        .map(|e| {
            format!(
                "#{}  {}  {}  ({})",
                e.seq,
                utc.format_precise(e.at),
                e.kind,
                if e.by_this_person {
                    "done by you, signed in"
                } else {
                    "about you"
                }
            )
        })
        .collect();
    list(t, &mut out, "Audit entries that name you", entries);
    out
}

fn person_pieces(
    report: &SubjectAccessReport,
    utc: &TimeZoneName,
    t: &mut Typesetter,
    out: &mut Vec<Piece>,
) {
    heading(t, out, "Your details");
    let mut rows: Vec<(&str, Block)> = Vec::new();
    if let Some(at) = report.erased_at {
        rows.push((
            "Erased",
            line(&format!(
                "{}: your name and contact details were destroyed",
                utc.format(at)
            )),
        ));
    }
    if let Some(p) = &report.person {
        rows.push(("Name", line(&format!("{} {}", p.first_name, p.last_name))));
        rows.push(("Email", line(p.email.as_deref().unwrap_or("none"))));
        rows.push(("Phone", line(p.phone.as_deref().unwrap_or("none"))));
    }
    if let Some(a) = &report.account {
        rows.push((
            "Account",
            line(&format!("{} since {}", a.status, utc.format(a.created_at))),
        ));
        rows.push((
            "Password",
            line(if a.password_set {
                "set (kept only as an Argon2id hash, which is not shown)"
            } else {
                "not set"
            }),
        ));
        rows.push((
            "Authenticator",
            line(if a.authenticator_enrolled {
                "enrolled (its secret is not shown)"
            } else {
                "none"
            }),
        ));
    }
    if rows.is_empty() {
        none(t, out, "Nothing.");
    } else {
        out.push(Piece::new(t.block(&facts(rows, 110.0), BODY), 8.0));
    }
}

/// A section of one line per item, or "None.".
fn list(t: &mut Typesetter, out: &mut Vec<Piece>, title: &str, lines: Vec<String>) {
    heading(t, out, title);
    if lines.is_empty() {
        none(t, out, "None.");
    }
    for text in lines {
        out.push(Piece::new(t.block(&line(&text), BODY), 2.0));
    }
}

fn belonging_pieces(
    report: &SubjectAccessReport,
    utc: &TimeZoneName,
    t: &mut Typesetter,
    out: &mut Vec<Piece>,
) {
    let memberships = report
        .memberships
        .iter()
        .map(|m| {
            format!(
                "{}: {} since {}",
                m.organization,
                m.role,
                utc.format(m.since)
            )
        })
        .collect();
    list(t, out, "Organizations", memberships);
    let units = report
        .units
        .iter()
        .map(|u| {
            format!(
                "{}, unit {}: voting interest {}{}; consent to electronic voting: {}",
                u.organization,
                u.unit,
                u.voting_interest,
                if u.designated_voter {
                    ", you are its designated voter"
                } else {
                    ""
                },
                u.consent
            )
        })
        .collect();
    list(t, out, "Units", units);
    let devices = report
        .devices
        .iter()
        .map(|d| {
            format!(
                "{}: {} ({}), {} calls",
                d.organization, d.name, d.state, d.uses
            )
        })
        .collect();
    list(
        t,
        out,
        "Phones signed in for field data collection",
        devices,
    );
}

fn vote_pieces(
    report: &SubjectAccessReport,
    utc: &TimeZoneName,
    t: &mut Typesetter,
    out: &mut Vec<Piece>,
) {
    heading(t, out, "Votes for your units");
    if report.votes.is_empty() {
        none(t, out, "None.");
    }
    for v in &report.votes {
        let mut blocks = vec![line(&format!(
            "{}, {}: unit {} voted {} on {}{}",
            v.organization,
            v.ballot,
            v.unit,
            v.channel,
            utc.format_precise(v.at),
            if v.cast_by_this_person {
                " (by you)"
            } else {
                " (by another owner)"
            }
        ))];
        if v.secret {
            blocks.push(
                Para::of(
                    "A secret ballot: the choice is in no one's reach, yours included.",
                    body().italic().ink(MUTED),
                )
                .into(),
            );
        }
        if v.sealed_until_close {
            blocks.push(
                Para::of(
                    "The choices are sealed until the ballot closes: nobody reads them before.",
                    body().italic().ink(MUTED),
                )
                .into(),
            );
        }
        for (contest, words) in &v.choices {
            blocks.push(line(&format!("{contest}: {}", words.join(", "))));
        }
        out.push(Piece::new(t.stack(&blocks, BODY), 6.0));
    }
}

fn submission_pieces(
    report: &SubjectAccessReport,
    utc: &TimeZoneName,
    t: &mut Typesetter,
    out: &mut Vec<Piece>,
) {
    for (title, list) in [
        ("Assessment results about you", &report.assessment_results),
        ("Records you collected", &report.records),
    ] {
        heading(t, out, title);
        if list.is_empty() {
            none(t, out, "None.");
        }
        for s in list {
            let blocks = vec![
                line(&format!(
                    "{}, {}: {} received {}",
                    s.organization,
                    s.form,
                    s.id,
                    utc.format_precise(s.received_at)
                )),
                Para::of(printable(&s.content.to_string()), Style::serif(8.5, MUTED)).into(),
            ];
            out.push(Piece::new(t.stack(&blocks, BODY), 6.0));
        }
    }
}
