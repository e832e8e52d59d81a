//! Names in every script people write them in: printed with the bundled fonts and read back in
//! order by pdftotext; a character no font draws is refused, named, before any layout.

use super::{render, squeezed};
use crate::fixtures::{Pick, close, definition, election, resolution};
use cista_core::products::voting::definition::{Answer, Secrecy, Threshold, Weighting};
use cista_core::products::voting::tally::ContestResult;
use cista_report::{ReportError, certified_results_pdf};
use cista_types::glyphs;

/// Names as people write them, one script (or mix) each.
const NAMES: &[&str] = &[
    "陈测试",
    "🏠 Team",
    "山田 太郎",
    "やまだ はなこ",
    "김민준",
    "محمد علي",
    "דוד כהן",
    "राहुल शर्मा",
    "สมชาย ใจดี",
    "Αλέξανδρος Παπαδόπουλος",
    "Иван Петров",
    "Nguyễn Văn Anh",
    "陳大文",
    "ਗੁਰਪ੍ਰੀਤ ਸਿੰਘ",
    "தமிழ்செல்வன்",
    "অমিত দাস",
    "Արամ Պետրոսյան",
    "ნინო ბერიძე",
    "👩‍👩‍👧 Family",
    "Zoë O’Brien-Łukasiewicz",
    "කමල් පෙරේරා",
    "សុខ សំណាង",
    "ສົມພອນ ແກ້ວ",
    "အောင် ဆန်း",
    "አበበ ቢቂላ",
    "శ్రీనివాస్ రావు",
    "ರಾಜ್ ಕುಮಾರ್",
    "മോഹൻ ലാൽ",
    "નરેન્દ્ર પટેલ",
    "ସୁଭାଷ ଦାସ",
    "カタカナ テスト",
    "박지성",
    "Ṣọ́lá Àdìgún",
    "Þórður Ásgeirsson",
    "Çağrı Öztürk",
];

/// Whether `c` belongs to a right-to-left script (Hebrew, Arabic and their presentation forms).
fn is_rtl(c: char) -> bool {
    matches!(u32::from(c), 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// The text as pdftotext reads it back, without spaces and invisible characters.
fn letters(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| !c.is_whitespace() && !glyphs::is_default_ignorable(c))
        .collect()
}

/// Where `name` is in `raw` (from position `from` of `letters(raw)`), read the way pdftotext
/// writes it: spaces may come and go; a right-to-left name's words come in visual order; and
/// in complex scripts a cluster's text may be repeated (pdftotext gives each glyph of a
/// cluster the cluster's text), so the name's letters must appear in order within a short
/// stretch rather than exactly.
fn find_loosely(raw: &[char], from: usize, name: &str) -> Option<usize> {
    // Runs of right-to-left words, reversed; everything else as written.
    let mut words: Vec<&str> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for word in name.split_whitespace() {
        if word.chars().any(is_rtl) {
            run.push(word);
        } else {
            words.extend(run.drain(..).rev());
            words.push(word);
        }
    }
    words.extend(run.drain(..).rev());
    let needle = letters(&words.concat());
    let first = *needle.first()?;
    (from..raw.len()).find(|&start| {
        if raw[start] != first {
            return false;
        }
        let window = &raw[start..raw.len().min(start + 2 * needle.len() + 2)];
        let mut rest = needle.iter().peekable();
        for c in window {
            if rest.peek() == Some(&c) {
                rest.next();
            }
        }
        rest.peek().is_none()
    })
}

#[test]
fn names_titles_and_the_organization_in_many_scripts_print_in_order() {
    let organization = "東京マンション管理組合 🏢";
    let title = "2027 選挙 — Ψηφοφορία · Голосование · Bầu cử";
    let contest = "理事会 이사회 مجلس";
    let motion = "बजट स्वीकृत करें (ยอมรับงบประมาณ)";
    let definition = definition(
        title,
        Weighting::PerUnit,
        Secrecy::Secret,
        "50",
        None,
        vec![
            election(1, contest, 3, NAMES),
            resolution(2, motion, Threshold::MajorityOfCast),
        ],
    );
    // The first three lead (6, 5 and 3 votes); the rest follow in the tally's order.
    let votes: Vec<Vec<Pick>> = (0..6u32)
        .map(|v| {
            let chosen = match v {
                0..=2 => vec![1, 2, 3],
                3 | 4 => vec![1, 2],
                _ => vec![1],
            };
            vec![Pick::Candidates(chosen), Pick::Answer(Answer::Yes)]
        })
        .collect();
    let closed = close(organization, definition, &["1"; 8], votes, 0, 0);
    let (rendered, text) = render(&closed, "results-scripts");

    // Every face used is embedded (CJK, Arabic, Indic, … and the emoji as a Type 3 font).
    let fonts = rendered.fonts();
    for family in [
        "NotoSansCJKsc",
        "NotoSansArabic",
        "NotoSansDevanagari",
        "NotoSansThai",
        "NotoSansGurmukhi",
        "NotoSansTamil",
        "NotoSansBengali",
        "NotoSansGeorgian",
    ] {
        assert!(fonts.contains(family), "{family} not used:\n{fonts}");
    }
    assert!(fonts.contains("Type 3"), "no emoji font:\n{fonts}");
    for face in fonts.lines().skip(2) {
        assert!(
            face.contains(" yes "),
            "a font is not embedded: {face}\n{fonts}"
        );
    }

    let raw = letters(&rendered.raw_text());
    for expected in [organization, title, contest, motion] {
        assert!(
            find_loosely(&raw, 0, expected).is_some(),
            "missing {expected:?} in:\n{text}"
        );
    }
    // The candidates, in the tally's order, each where the one before left off.
    let ContestResult::Election { candidates, .. } = &closed.results.tally.contests[0] else {
        panic!("the first contest is an election");
    };
    assert_eq!(candidates.len(), NAMES.len());
    let mut from = 0;
    for c in candidates {
        let at = find_loosely(&raw, from, &c.name)
            .unwrap_or_else(|| panic!("{:?} missing or out of order in:\n{text}", c.name));
        from = at + 1;
    }
    let flat = squeezed(&text);
    assert!(flat.contains("ELECTED"), "{text}");
}

#[test]
fn a_character_no_bundled_font_draws_is_refused_before_layout_naming_it() {
    for (org, title, names, what, code) in [
        (
            "Palm \u{E000} Court",
            "Ballot",
            ["Ann Lee", "Bo Diaz"],
            "organization name",
            "U+E000",
        ),
        (
            "Palm Court",
            "Ballot \u{378}",
            ["Ann Lee", "Bo Diaz"],
            "ballot title",
            "U+0378",
        ),
        (
            "Palm Court",
            "Ballot",
            ["Ann Lee", "Bo \u{F0000}"],
            "candidate name",
            "U+F0000",
        ),
    ] {
        let definition = definition(
            title,
            Weighting::PerUnit,
            Secrecy::Secret,
            "10",
            None,
            vec![election(1, "Board", 1, &names)],
        );
        let closed = close(org, definition, &["1"; 2], Vec::new(), 0, 0);
        let Err(err) = certified_results_pdf(&closed.document()) else {
            panic!("{what} with {code} was printed");
        };
        assert!(matches!(err, ReportError::Unprintable { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains(what) && message.contains(code),
            "{message}"
        );
    }
}

#[test]
fn tabs_line_breaks_and_joiners_in_names_and_titles_print() {
    // What the core lets through without a glyph of its own: a tab, a line break, joiners,
    // a variation selector, a right-to-left mark.
    let definition = definition(
        "First line\nsecond line",
        Weighting::PerUnit,
        Secrecy::Secret,
        "10",
        None,
        vec![election(
            1,
            "Board\tof directors",
            1,
            &[
                "Ann\tLee",
                "می\u{200C}خواهم",
                "❤\u{FE0F} Team",
                "\u{200F}דוד",
            ],
        )],
    );
    let closed = close("Palm Court", definition, &["1"; 2], Vec::new(), 0, 0);
    let (_, text) = render(&closed, "results-invisibles");
    let flat = squeezed(&text);
    for expected in [
        "First line",
        "second line",
        "Board",
        "directors",
        "Ann",
        "Lee",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
