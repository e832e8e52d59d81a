//! The certified results PDF, read back the way a person and a reader program see it: as text
//! (pdftotext) and as page images (pdftoppm), from ballots counted by the real tally.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod assessment;
mod fixtures;
mod glyph_table;
mod poppler;
mod scripts;

use cista_core::products::voting::definition::{Answer, Secrecy, Threshold, Weighting};
use cista_report::{ReportError, certified_results_pdf};
use fixtures::{Closed, Pick, annual_meeting, close, definition, election, resolution};
use poppler::Rendered;

/// Renders, checks every page image is a real, non-blank page with nothing in the right
/// margin, and saves the PDF and first page for people to look at when
/// `CISTA_SCREENSHOT_DIR` is set.
fn render(closed: &Closed, name: &str) -> (Rendered, String) {
    render_bytes(&certified_results_pdf(&closed.document()).unwrap(), name)
}

/// `render` for any of Cista's US Letter documents.
fn render_bytes(bytes: &[u8], name: &str) -> (Rendered, String) {
    let rendered = Rendered::new(bytes);

    let pngs = rendered.pngs();
    if let Some(dir) = std::env::var_os("CISTA_SCREENSHOT_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.pdf")), bytes).unwrap();
        for (i, png) in pngs.iter().enumerate() {
            std::fs::copy(png, dir.join(format!("{name}-page{}.png", i + 1))).unwrap();
        }
    }
    assert!(!pngs.is_empty(), "pdftoppm wrote no page");
    for png in &pngs {
        let data = std::fs::read(png).unwrap();
        assert!(
            data.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{png:?} is not a PNG"
        );
        assert!(data.len() > 10_000, "{png:?} is only {} bytes", data.len());
    }
    let greys = rendered.greys();
    assert_eq!(greys.len(), pngs.len());
    for (i, page) in greys.iter().enumerate() {
        // US Letter at 80 dpi.
        assert_eq!((page.width, page.height), (680, 880), "page {}", i + 1);
        let dark = page.dark_share();
        assert!(
            dark > 0.004 && dark < 0.25,
            "page {} is {:.2}% dark: blank or smeared",
            i + 1,
            dark * 100.0
        );
        // The right margin is 0.95 in (76 px); leave a little room for italic overhang.
        assert_eq!(
            page.dark_right_of(680 - 60),
            0,
            "page {} has ink in its right margin: something overflows",
            i + 1
        );
    }

    let text = rendered.text();
    (rendered, text)
}

/// The text with runs of spaces collapsed, for phrases that the layout may space out.
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_certificate_shows_the_counts_the_outcomes_and_the_integrity_figures() {
    let closed = annual_meeting();
    let bytes = certified_results_pdf(&closed.document()).unwrap();
    // An archival PDF (PDF/A-2b), every font embedded, so the filed copy reads the same later.
    assert!(
        String::from_utf8_lossy(&bytes).contains("<pdfaid:part>2</pdfaid:part>"),
        "not declared PDF/A-2"
    );
    let (rendered, text) = render(&closed, "results-certificate");
    let fonts = rendered.fonts();
    let faces: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(faces.len() >= 2, "{fonts}");
    for face in faces {
        // Columns: name, type, encoding, then emb sub uni: all "yes".
        assert!(
            face.contains(" yes yes yes "),
            "a font is not embedded: {face}"
        );
    }
    let flat = squeezed(&text);

    for expected in [
        "Certified results",
        "Palm Court Condominium Association, Inc.",
        "2027 Annual Meeting: Board of Directors and Budget",
        "Board of Directors",
        "Adopt the 2027 operating budget",
        "ELECTED",
        "PASSED",
        "NOT PASSED",
        "Anyone can recount: download the bundle from the bulletin and run cista verify-election BUNDLE.",
        "Name of the election official / secretary",
        "Signature",
        "Date",
        "America/New_York",
        "1 December 2026, 09:00 EST",
        "8 December 2026, 09:00 EST",
        "8 December 2026, 09:00:03 EST",
        "Secret",
        "Weighted by each unit's voting interest",
        "30% of all voting interests",
        "20% of eligible units",
        "66.67% of all voting interests",
        "a majority of the votes cast",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // A long name wraps inside its cell; the reading-order text keeps it in one piece.
    let raw = squeezed(&rendered.raw_text());
    for name in closed.candidate_names() {
        assert!(raw.contains(&name), "missing candidate {name:?} in:\n{raw}");
    }

    let r = &closed.results;
    let t = &r.tally.turnout;
    assert_eq!((t.voted_units, t.eligible_units), (29, 40));
    for expected in [
        r.ballot_list_sha256.as_str(),
        r.root_sha256.as_str(),
        r.definition_sha256.as_str(),
        closed.key_id.as_str(),
        closed.bulletin_url.as_str(),
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // The key may wrap at its separators; all of it is there.
    assert!(
        text.split_whitespace()
            .collect::<String>()
            .contains(&closed.key),
        "missing the verifier key in:\n{text}"
    );
    // Exact figures: 29 of 40 units, weights summed to the millionth, shares to 2 places.
    let voted = cista_types::voting::format_weight_sum(i128::from(t.voted_weight));
    let eligible = cista_types::voting::format_weight_sum(i128::from(t.eligible_weight));
    assert_eq!(eligible, "100");
    assert!(flat.contains("29 of 40"), "{text}");
    assert!(flat.contains("72.50%"), "{text}");
    assert!(flat.contains(&format!("{voted} of {eligible}")), "{text}");
    assert!(flat.contains("Page 1 of"), "{text}");
    assert!(
        flat.contains("percentages are rounded to two decimal places"),
        "{text}"
    );
}

#[test]
fn markup_in_names_and_titles_is_printed_literally() {
    let hostile = r#"#panic("x") *bold* $math$ <label> @ref \ [link]"#;
    let definition = definition(
        &format!("Title {hostile}"),
        Weighting::PerUnit,
        Secrecy::Recorded,
        "50",
        None,
        vec![
            election(1, "Seat #1 #{ } ] [", 1, &[hostile, "Jo Smith"]),
            resolution(2, hostile, Threshold::TwoThirdsOfCast),
        ],
    );
    let votes = (0..3)
        .map(|_| vec![Pick::Candidates(vec![1]), Pick::Answer(Answer::Yes)])
        .collect();
    let closed = close(
        &format!("Org {hostile}"),
        definition,
        &["1", "1", "1", "1"],
        votes,
        0,
        0,
    );
    let (_, text) = render(&closed, "results-injection");
    let flat = squeezed(&text);
    for expected in [
        format!("Org {hostile}"),
        format!("Title {hostile}"),
        "Seat #1 #{ } ] [".to_owned(),
        hostile.to_owned(),
    ] {
        assert!(flat.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        flat.contains("ELECTED") && flat.contains("PASSED"),
        "{text}"
    );
    assert!(flat.contains("One vote per unit"), "{text}");
}

#[test]
fn a_tie_for_the_last_seat_and_long_names_are_reported_and_fit_the_page() {
    // 100 candidates, some with long names (one with no space in 120 characters), on a
    // one-vote-per-unit ballot where 2 of 10 units voted: a tie for the second seat, and
    // several pages.
    let long_word = "X".repeat(120);
    let mut names: Vec<String> = (1..=100)
        .map(|i| {
            if i % 10 == 0 {
                format!(
                    "Candidate number {i} with a very long name that goes on and on, Esq., \
                     of the Oceanfront Tower"
                )
            } else {
                format!("Candidate {i}")
            }
        })
        .collect();
    names[50] = long_word.clone();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let definition = definition(
        "Special election",
        Weighting::PerUnit,
        Secrecy::Secret,
        "20",
        Some("20"),
        vec![
            election(1, "Directors", 2, &refs),
            resolution(
                2,
                "Ratify the special assessment",
                Threshold::MajorityOfCast,
            ),
        ],
    );
    let votes = vec![
        vec![Pick::Candidates(vec![1, 2]), Pick::Answer(Answer::Yes)],
        vec![Pick::Candidates(vec![1, 3]), Pick::Answer(Answer::Yes)],
    ];
    let closed = close("Oceanfront Tower HOA", definition, &["1"; 10], votes, 1, 0);
    let (rendered, text) = render(&closed, "results-tie");
    let flat = squeezed(&text);
    let pages = rendered.greys().len();
    assert!(pages >= 3, "100 candidates on {pages} pages");
    assert!(flat.contains(&format!("Page {pages} of {pages}")), "{text}");
    for expected in [
        "ELECTED",
        "TIED",
        "Tie for the last seat between Candidate 2, Candidate 3: decided by the association's rules.",
        "1 of 2 seats is left open.",
        "PASSED",
        "Valid: the quorum and the minimum turnout were reached.",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(flat.matches("ELECTED").count(), 1, "{text}");
    // The unbreakable name is printed whole (perhaps across lines), not cut off.
    let raw = rendered.raw_text();
    let joined: String = raw.split_whitespace().collect();
    assert!(joined.contains(&long_word), "{raw}");
}

#[test]
fn without_a_quorum_nothing_passes_and_nobody_is_elected() {
    let definition = definition(
        "Special election",
        Weighting::PerUnit,
        Secrecy::Secret,
        "50",
        Some("20"),
        vec![
            election(1, "Directors", 2, &["Ann Lee", "Bo Diaz", "Cy Park"]),
            resolution(
                2,
                "Ratify the special assessment",
                Threshold::MajorityOfCast,
            ),
        ],
    );
    let votes = vec![
        vec![Pick::Candidates(vec![1, 2]), Pick::Answer(Answer::Yes)],
        vec![Pick::Candidates(vec![1, 3]), Pick::Answer(Answer::Yes)],
    ];
    let closed = close("Oceanfront Tower HOA", definition, &["1"; 10], votes, 1, 0);
    let (_, text) = render(&closed, "results-no-quorum");
    let flat = squeezed(&text);
    for expected in [
        "NOT PASSED: quorum not reached",
        "Yes reached a majority of the votes cast, but the quorum was not reached.",
        "NOT VALID: the quorum was not reached; nobody is elected.",
        "2 of 2 seats are left open.",
        "50% of all eligible units",
        "2 of 10 units (20.00%)",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !flat.contains("ELECTED"),
        "nobody is elected without a quorum"
    );
    assert!(
        !flat.contains("TIED"),
        "a tie in an invalid election is moot"
    );
}

#[test]
fn results_of_another_ballot_are_refused() {
    let mut closed = annual_meeting();
    closed.results.ballot = "1".to_owned();
    let err = certified_results_pdf(&closed.document()).unwrap_err();
    assert!(matches!(err, ReportError::Inconsistent(_)), "{err}");

    let mut closed = annual_meeting();
    closed.results.definition_sha256 = "0".repeat(64);
    let err = certified_results_pdf(&closed.document()).unwrap_err();
    assert!(err.to_string().contains("different definition"), "{err}");

    let mut closed = annual_meeting();
    closed.key_id = "deadbeef".to_owned();
    let err = certified_results_pdf(&closed.document()).unwrap_err();
    assert!(err.to_string().contains("deadbeef"), "{err}");

    let mut closed = annual_meeting();
    closed.results.tree_size += 1;
    assert!(certified_results_pdf(&closed.document()).is_err());
}

#[test]
fn a_ballot_nobody_voted_in_still_renders() {
    let definition = definition(
        "Quiet ballot",
        Weighting::Weighted,
        Secrecy::Secret,
        "30",
        None,
        vec![
            resolution(1, "Repaint the lobby", Threshold::TwoThirdsOfCast),
            election(2, "Treasurer", 1, &["Ann Lee", "Bo Diaz"]),
        ],
    );
    let closed = close("Quiet Acres", definition, &["1.5", "2.5"], Vec::new(), 0, 0);
    let (_, text) = render(&closed, "results-nobody-voted");
    let flat = squeezed(&text);
    for expected in [
        "0 of 2",
        "0 of 4 voting interests (0.00%)",
        "NOT PASSED: quorum not reached",
        "NOT VALID",
        "1 of 1 seat is left open.",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
