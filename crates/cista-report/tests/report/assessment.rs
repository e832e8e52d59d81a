//! The advisor's report of an assessment result, read back as text and as page images: the
//! firm, the client (or that they were erased), the band and its texts, every score, every
//! answer in words, and the hashes; text people wrote printed literally; a long report runs
//! onto a second page with the answers' header repeated.

use crate::{render_bytes, squeezed};
use cista_core::platform::people::PersonFields;
use cista_core::products::assessment::{
    AnswerLine, AnswerSection, Client, ResultDetail, ResultReport, ScoreLine,
};
use cista_report::{ReportError, assessment_report_pdf};
use cista_types::{Email, PersonName, SubjectCode, SubmissionId, TimeZoneName, Timestamp};

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).unwrap()
}

fn line(question: &str, answer: Option<&str>) -> AnswerLine {
    AnswerLine {
        question: question.to_owned(),
        answer: answer.unwrap_or("Not answered").to_owned(),
        answered: answer.is_some(),
    }
}

fn report(client: Client, extra_questions: usize) -> ResultReport {
    let mut goals = vec![
        line(
            "What do you want the money to do?",
            Some("Grow over time; Pay an income"),
        ),
        line(
            "Anything else we should know?",
            Some("<b>Call</b> after 5 pm & #panic(\"x\")"),
        ),
        line("What share of your savings would you invest?", None),
    ];
    goals.extend((0..extra_questions).map(|i| {
        line(
            &format!("Extra question number {i} with a rather long wording to wrap a line?"),
            Some("An answer"),
        )
    }));
    ResultReport {
        detail: ResultDetail {
            organization: "Harbor Advisory".to_owned(),
            title: "Investment risk profile".to_owned(),
            form_key: "risk-profile".to_owned(),
            version: 2,
            submission: SubmissionId::from_i64(4_242_424_242),
            subject: SubjectCode::from_i64(7_123_456_789),
            client_erased_at: None,
            received_at: at("2026-12-02T15:04:05Z"),
            time_zone: TimeZoneName::parse("America/New_York").unwrap(),
            sections: vec![
                AnswerSection {
                    title: "Your situation".to_owned(),
                    answers: vec![
                        line(
                            "When will you need most of the money you invest?",
                            Some("In more than 7 years"),
                        ),
                        line("How old are you?", Some("45")),
                    ],
                },
                AnswerSection {
                    title: "Your goals".to_owned(),
                    answers: goals,
                },
            ],
            scores: vec![
                ScoreLine {
                    label: "Capacity for risk".to_owned(),
                    value: "11".to_owned(),
                    shown_to_client: false,
                },
                ScoreLine {
                    label: "Risk score (0 to 100)".to_owned(),
                    value: "71".to_owned(),
                    shown_to_client: true,
                },
            ],
            band_label: "Growth".to_owned(),
            band_client_text: "You can accept swings for higher long-term growth.".to_owned(),
            band_advisor_text: "Discuss an equity-heavy portfolio.".to_owned(),
            band_shown_to_client: true,
            consented_to: "Harbor Advisory uses your answers to suggest a risk profile.".to_owned(),
            origin: "https://www.harbor-advisory.example".to_owned(),
            rules_sha256: "ab".repeat(32),
            definition_sha256: "cd".repeat(32),
            content_sha256: "ef".repeat(32),
        },
        client,
        generated_at: at("2026-12-02T15:10:00Z"),
    }
}

fn zebediah() -> Client {
    Client::Known(PersonFields {
        first_name: PersonName::parse("Zebediah").unwrap(),
        last_name: PersonName::parse("Quillfeather").unwrap(),
        email: Some(Email::parse("zeb@client.example").unwrap()),
        phone: None,
    })
}

#[test]
fn the_report_names_the_client_and_shows_every_answer_score_and_hash() {
    let report = report(zebediah(), 0);
    let (rendered, text) = render_bytes(
        &assessment_report_pdf(&report).unwrap(),
        "assessment-report",
    );
    let flat = squeezed(&text);
    for expected in [
        "Harbor Advisory",
        "Assessment report",
        "Investment risk profile",
        "Zebediah Quillfeather",
        "zeb@client.example",
        "7123456789",
        "2 December 2026",
        "https://www.harbor-advisory.example",
        "Growth",
        "Discuss an equity-heavy portfolio.",
        "Risk score (0 to 100)",
        "In more than 7 years",
        "Not answered",
        "risk-profile, version 2",
        &"ab".repeat(32),
        &"ef".repeat(32),
        "Page 1 of",
    ] {
        assert!(
            flat.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    // What people wrote is printed as written, never read as markup.
    let raw = squeezed(&rendered.raw_text());
    assert!(
        raw.contains("<b>Call</b> after 5 pm & #panic(\"x\")"),
        "{raw}"
    );
    assert!(rendered.fonts().contains("yes"), "fonts embedded");
}

#[test]
fn an_erased_client_is_not_named_and_a_long_report_runs_onto_more_pages() {
    let report = report(Client::Erased(at("2026-12-02T16:00:00Z")), 40);
    let (_, text) = render_bytes(
        &assessment_report_pdf(&report).unwrap(),
        "assessment-report-erased",
    );
    let flat = squeezed(&text);
    assert!(flat.contains("Erased on 2 December 2026"), "{text}");
    assert!(!flat.contains("Zebediah") && !flat.contains("zeb@"));
    assert!(flat.contains("Page 2 of"), "{text}");
    assert!(
        flat.matches("Question Answer").count() >= 3,
        "the answers' header is repeated on the next page: {text}"
    );
}

#[test]
fn a_character_no_font_draws_is_refused_not_printed_as_a_box() {
    let mut report = report(zebediah(), 0);
    report.detail.sections[0].answers[0].answer = "private \u{E000} use".to_owned();
    let e = assessment_report_pdf(&report).unwrap_err();
    assert!(
        matches!(e, ReportError::Unprintable { what: "answer", .. }),
        "{e}"
    );
}
