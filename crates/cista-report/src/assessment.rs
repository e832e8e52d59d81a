//! The advisor's report of one assessment result (issue 12, item 5): who the client is (or
//! that they were erased), the band with its texts, every score, every answer in the words of
//! its question, and the versions and hashes that tie the report to the result Cista recorded.
//! Confidential: it names the client, so the portal serves it only behind a sign-in and an
//! audited vault read. Every text people wrote (the firm's questions, the client's answers and
//! name) is only ever the text of a paragraph, never markup.

use crate::certificate::{
    BODY, INK, MUTED, PANEL, Table, body, document_title, facts, letter_pages, mark, note, section,
    text,
};
use crate::flow::Piece;
use crate::layout::{Align, Block, Boxed, Para, Style, Track, Typesetter};
use crate::{ReportError, fonts, pdf};
use cista_core::products::assessment::{Client, ResultReport};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Lays out the report as a US Letter PDF/A with its fonts embedded. Refuses (rather than
/// prints wrong) a text with a character no bundled font draws; the core refuses those where
/// they are entered, so only text stored before that check can meet it.
pub fn assessment_report_pdf(report: &ResultReport) -> Result<Vec<u8>, ReportError> {
    assessment_report(report).map(|drawn| drawn.pdf)
}

/// A drawn document: the PDF and how many pages it has.
#[derive(Debug, Clone)]
pub struct Drawn {
    pub pdf: Vec<u8>,
    pub pages: usize,
}

/// `assessment_report_pdf`, with the number of pages (what the benchmark counts).
pub fn assessment_report(report: &ResultReport) -> Result<Drawn, ReportError> {
    printable(report)?;
    let d = &report.detail;
    let generated = d.time_zone.format_precise(report.generated_at);
    let footer = format!(
        "Assessment report, result {}. Confidential: names the client. Generated {generated} by Cista.",
        d.submission
    );
    let mut typesetter = Typesetter::new(fonts::context()?);
    let pages = catch_unwind(AssertUnwindSafe(|| {
        let pieces = pieces(report, &mut typesetter);
        letter_pages(&pieces, &footer, &mut typesetter)
    }))
    .map_err(|_| ReportError::Layout("the layout engine failed unexpectedly".to_owned()))?;
    let pdf = pdf::write(
        &pages,
        crate::certificate::PAGE,
        &pdf::Info {
            title: &format!("Assessment report: {}", d.title),
            author: &d.organization,
            ident: &format!("cista-assessment/{}/{}", d.submission, d.content_sha256),
            created: report.generated_at,
        },
    )?;
    Ok(Drawn {
        pdf,
        pages: pages.len(),
    })
}

/// Every text of the report that people wrote, checked against the bundled fonts.
fn printable(report: &ResultReport) -> Result<(), ReportError> {
    let d = &report.detail;
    let mut texts: Vec<(&'static str, String)> = vec![
        ("organization name", d.organization.clone()),
        ("assessment title", d.title.clone()),
        ("band", d.band_label.clone()),
        ("band text", d.band_client_text.clone()),
        ("band text", d.band_advisor_text.clone()),
        ("purpose", d.consented_to.clone()),
    ];
    if let Client::Known(f) = &report.client {
        texts.push(("client's name", format!("{} {}", f.first_name, f.last_name)));
        if let Some(email) = &f.email {
            texts.push(("client's email", email.as_str().to_owned()));
        }
    }
    for section in &d.sections {
        texts.push(("section title", section.title.clone()));
        for line in &section.answers {
            texts.push(("question", line.question.clone()));
            texts.push(("answer", line.answer.clone()));
        }
    }
    texts.extend(d.scores.iter().map(|s| ("score", s.label.clone())));
    for (what, text) in texts {
        cista_types::glyphs::check_printable(&text).map_err(|reason| ReportError::Unprintable {
            what,
            text,
            reason,
        })?;
    }
    Ok(())
}

/// The report's flow, cut into the pieces pages are made of.
fn pieces(report: &ResultReport, t: &mut Typesetter) -> Vec<Piece> {
    let d = &report.detail;
    let mut out = Vec::new();
    let title = document_title(&d.organization, "Assessment report", &d.title);
    out.push(Piece::new(t.block(&title, BODY), 0.0));
    out.push(Piece::new(
        t.para(
            &Para::of(
                "Confidential. This report names the client; the client's name and email are \
                 kept apart from the answers and can be erased on request, after which a new \
                 report no longer shows them. Scores were computed by Cista's server under the \
                 rules identified at the end.",
                Style::serif(9.5, MUTED),
            ),
            BODY,
        ),
        10.0,
    ));

    client_pieces(report, t, &mut out);
    result_pieces(report, t, &mut out);
    answer_pieces(report, t, &mut out);
    out.push(Piece::new(t.block(&verification(report), BODY), 20.0));
    out
}

/// Who the client is (or that they were erased), and where and when the answers came from.
fn client_pieces(report: &ResultReport, t: &mut Typesetter, out: &mut Vec<Piece>) {
    let d = &report.detail;
    let zone = &d.time_zone;
    out.push(Piece::new(t.block(&section("The client"), BODY), 18.0).sticky());
    let mut client = match &report.client {
        Client::Known(f) => vec![
            ("Name", text(&format!("{} {}", f.first_name, f.last_name))),
            (
                "Email",
                text(f.email.as_ref().map_or("none given", |e| e.as_str())),
            ),
        ],
        Client::Erased(at) => vec![(
            "Name and email",
            Para::of(
                format!(
                    "Erased on {} at the client's request; the answers below are kept \
                     de-identified.",
                    zone.format(*at)
                ),
                body().italic(),
            )
            .into(),
        )],
    };
    client.extend([
        ("Subject code", text(&d.subject.to_string())),
        ("Received", text(&zone.format_precise(d.received_at))),
        ("Sent from", text(&d.origin)),
        ("Agreed to", text(&d.consented_to)),
    ]);
    out.push(Piece::new(t.block(&facts(client, 120.0), BODY), 8.0));
}

/// The band with its texts, then every score.
fn result_pieces(report: &ResultReport, t: &mut Typesetter, out: &mut Vec<Piece>) {
    let d = &report.detail;
    out.push(Piece::new(t.block(&section("Result"), BODY), 18.0).sticky());
    let mut result = vec![
        Block::Columns(crate::layout::Grid {
            tracks: vec![Track::Auto, Track::Fr(1.0)],
            gutter: 10.0,
            row_gap: 0.0,
            cells: vec![
                mark(true, &d.band_label),
                Para::of(
                    if d.band_shown_to_client {
                        "The client was shown this band and the text for the client below."
                    } else {
                        "The client was not shown this band."
                    },
                    Style::serif(9.0, MUTED),
                )
                .into(),
            ],
        }),
        Block::Gap(6.0),
    ];
    if !d.band_advisor_text.trim().is_empty() {
        result.push(Para::of("For the advisor", body().bold()).into());
        result.push(text(&d.band_advisor_text));
        result.push(Block::Gap(4.0));
    }
    if !d.band_client_text.trim().is_empty() {
        result.push(Para::of("For the client", body().bold()).into());
        result.push(text(&d.band_client_text));
    }
    out.push(Piece::new(t.stack(&result, BODY), 8.0));

    out.push(Piece::new(t.block(&section("Scores"), BODY), 18.0).sticky());
    let columns = [
        (Track::Fr(1.0), Align::Left),
        (Track::Fixed(80.0), Align::Right),
        (Track::Fixed(110.0), Align::Left),
    ];
    let rows = d
        .scores
        .iter()
        .map(|s| {
            vec![
                Para::of(&s.label, body()),
                Para::of(&s.value, body()),
                Para::of(
                    if s.shown_to_client {
                        "Shown"
                    } else {
                        "Not shown"
                    },
                    body().ink(MUTED),
                ),
            ]
        })
        .collect();
    let table = Table::new(
        t,
        BODY,
        &columns,
        &["Score", "Value", "To the client"],
        rows,
    );
    out.push(Piece::new(t.block(&table.block(), BODY), 8.0));
}

/// Every section's questions and answers, a table each, its header repeated on each page.
fn answer_pieces(report: &ResultReport, t: &mut Typesetter, out: &mut Vec<Piece>) {
    let d = &report.detail;
    out.push(Piece::new(t.block(&section("Answers"), BODY), 18.0).sticky());
    for (i, s) in d.sections.iter().enumerate() {
        let heading = Para::of(&s.title, Style::serif(11.0, INK).bold());
        out.push(Piece::new(t.para(&heading, BODY), if i == 0 { 8.0 } else { 14.0 }).sticky());
        let columns = [(Track::Fr(1.2), Align::Left), (Track::Fr(1.0), Align::Left)];
        let rows: Vec<Vec<Para>> = s
            .answers
            .iter()
            .map(|a| {
                let style = if a.answered {
                    body()
                } else {
                    body().italic().ink(MUTED)
                };
                vec![Para::of(&a.question, body()), Para::of(&a.answer, style)]
            })
            .collect();
        let table = Table::new(t, BODY, &columns, &["Question", "Answer"], rows);
        let header = std::rc::Rc::new(t.block(&table.header, BODY));
        out.push(Piece::new((*header).clone(), 4.0).sticky());
        for row in &table.rows {
            let mut piece = Piece::new(t.block(row, BODY), 0.0);
            piece.header = Some(header.clone());
            out.push(piece);
        }
    }
}

/// What ties this report to the result as recorded, kept on one page.
fn verification(report: &ResultReport) -> Block {
    let d = &report.detail;
    let hex = |s: &str| -> Block { Para::of(s, Style::mono(7.6, INK)).into() };
    Block::Stack(vec![
        section("Verification"),
        Block::Gap(8.0),
        facts(
            vec![
                ("Result", text(&d.submission.to_string())),
                (
                    "Assessment",
                    text(&format!("{}, version {}", d.form_key, d.version)),
                ),
                ("Rules SHA-256", hex(&d.rules_sha256)),
                ("Definition SHA-256", hex(&d.definition_sha256)),
                ("Answers SHA-256", hex(&d.content_sha256)),
            ],
            120.0,
        ),
        Block::Gap(6.0),
        Block::Boxed(Boxed {
            content: vec![
                note(&format!(
                    "Cista's audit log records this result (a submission.received entry for \
                     result {}) with the same answers' hash and rules hash, and the operator's \
                     cista audit verify proves the log unaltered. Two results with the same \
                     rules hash were scored by the same rules.",
                    d.submission
                ))
                .into(),
            ],
            inset: (8.0, 8.0),
            fill: Some(PANEL),
            radius: 2.0,
            ..Boxed::default()
        }),
    ])
}
