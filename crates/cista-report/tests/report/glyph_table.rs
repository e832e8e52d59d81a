//! The table of printable characters the core checks names against
//! (`cista-types/src/glyphs/table.rs`) is exactly what the certificate's layout draws with the
//! bundled fonts: every character some font maps, laid out where names and titles go, less
//! those that still come out as a missing-glyph box (a character the font chosen for its
//! cluster lacks is drawn by any bundled font that has it, so today none). With `CISTA_WRITE_GLYPH_TABLE=1` the test writes the table;
//! without, it fails whenever the table and the fonts disagree, so they cannot drift apart.

use crate::fixtures::{Pick, close, definition, election};
use cista_core::products::voting::definition::{Secrecy, Weighting};
use cista_report::{certified_results_pdf, font_coverage, unprintable_characters};
use cista_types::glyphs;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Characters laid out as names would hold them: `words` characters to a word, words to a
/// name of at most `per_name` characters.
fn names(chars: &[char], per_name: usize, words: usize) -> Vec<String> {
    chars
        .chunks(per_name)
        .map(|run| {
            run.chunks(words)
                .map(|w| w.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// A certificate holding `names` in every place names and titles are printed: each as a
/// contest title (bold) with itself as the only candidate (regular), and all of them in the
/// ballot title (italic), unless `short_title` (a PDF's metadata holds the title, and PDF/A
/// caps its strings at 32,767 bytes; the builder caps titles at 200 characters).
fn certificate(names: &[String], short_title: bool) -> crate::fixtures::Closed {
    let contests = names
        .iter()
        .zip(1u32..)
        .map(|(name, id)| election(id, name, 1, &[name.as_str()]))
        .collect();
    let title = if short_title {
        "Every character".to_owned()
    } else {
        names.join(" ")
    };
    let definition = definition(
        &title,
        Weighting::PerUnit,
        Secrecy::Secret,
        "10",
        None,
        contests,
    );
    let picks = (0..names.len())
        .map(|_| Pick::Candidates(vec![1]))
        .collect();
    close("Glyph Towers", definition, &["1"; 2], vec![picks], 0, 0)
}

/// What the layout cannot draw of `chars`, set in runs of neighbouring code points (a
/// script's letters, marks and signs together, as names hold them).
fn undrawn(chars: &[char]) -> BTreeSet<char> {
    let closed = certificate(&names(chars, 110, 11), false);
    unprintable_characters(&closed.document()).unwrap()
}

fn ranges(points: impl IntoIterator<Item = u32>) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for c in points {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == c => *end = c,
            _ => out.push((c, c)),
        }
    }
    out
}

fn table_source(ranges: &[(u32, u32)]) -> String {
    let mut s = String::from(
        "//! Generated from the fonts cista-report embeds by\n\
         //! `CISTA_WRITE_GLYPH_TABLE=1 cargo test -p cista-report --test report glyph_table`;\n\
         //! do not edit. That test fails whenever this table and the fonts disagree.\n\n\
         /// Inclusive ranges of the code points that the certificate's layout draws with a\n\
         /// bundled font, ascending, neither overlapping nor touching.\n\
         #[rustfmt::skip]\n\
         pub(super) const COVERED: &[(u32, u32)] = &[\n",
    );
    for (a, b) in ranges {
        s.push_str(&format!("    (0x{a:04X}, 0x{b:04X}),\n"));
    }
    s.push_str("];\n");
    s
}

#[test]
fn the_glyph_table_is_exactly_what_the_bundled_fonts_draw() {
    let started = Instant::now();
    // Candidates: every character some font maps that could be text at all (control and
    // private-use characters never are; default-ignorable ones are never drawn).
    let candidates: Vec<char> = font_coverage()
        .unwrap()
        .into_iter()
        .filter_map(char::from_u32)
        .filter(|&c| {
            !c.is_control()
                && !glyphs::is_default_ignorable(c)
                && !matches!(u32::from(c), 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
                && c != ' '
        })
        .collect();
    let undrawn = undrawn(&candidates);
    let drawn: BTreeSet<u32> = candidates
        .iter()
        .filter(|c| !undrawn.contains(c))
        .map(|&c| u32::from(c))
        .chain([u32::from(' ')])
        .collect();
    let listed: Vec<String> = undrawn
        .iter()
        .map(|&c| format!("U+{:04X}", u32::from(c)))
        .collect();
    eprintln!(
        "{} characters mapped; {} not drawn where names go ({}); in {:?}",
        candidates.len(),
        undrawn.len(),
        listed.join(" "),
        started.elapsed()
    );

    let source = table_source(&ranges(drawn.iter().copied()));
    // The checkout being tested, read when the test runs (cargo sets it): a test binary reused
    // from a target directory shared with another checkout carries that checkout's path.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let path = manifest_dir.join("../cista-types/src/glyphs/table.rs");
    if std::env::var_os("CISTA_WRITE_GLYPH_TABLE").is_some() {
        std::fs::write(&path, &source).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == source,
        "{} does not match the bundled fonts: regenerate it with \
         CISTA_WRITE_GLYPH_TABLE=1 cargo test -p cista-report --test report glyph_table",
        path.display()
    );
    // And the table as the core reads it agrees on every code point.
    for c in 0..=0x10FFFF_u32 {
        assert_eq!(glyphs::covered(c), drawn.contains(&c), "U+{c:04X}");
    }
}

#[test]
fn every_character_the_core_accepts_prints_in_a_pdf_in_bounded_time() {
    // Every character the core lets into a printed name, in runs of mixed scripts: the PDF/A
    // writer refuses any missing glyph, so a written PDF is the proof.
    let accepted: Vec<char> = (0..=0x10FFFF_u32)
        .filter_map(char::from_u32)
        .filter(|&c| glyphs::is_printable(c) && !c.is_whitespace())
        .collect();
    assert!(accepted.len() > 45_000, "{} characters", accepted.len());
    let closed = certificate(&names(&accepted, 110, 11), true);
    let started = Instant::now();
    let bytes = certified_results_pdf(&closed.document()).unwrap();
    let took = started.elapsed();
    eprintln!(
        "{} characters: a PDF of {} bytes in {took:?}",
        accepted.len(),
        bytes.len()
    );
    // Unoptimized, on a busy machine, this takes about a minute; a blow-up (a fallback search
    // per character gone quadratic, say) would take far longer.
    assert!(took < Duration::from_secs(300), "took {took:?}");
    let rendered = crate::poppler::Rendered::new(&bytes);
    let raw = rendered.raw_text();
    for c in "陈测试한국어ひらがなΕλληνικάКириллицаअमितمحمدשלום🏠".chars()
    {
        assert!(raw.contains(c), "{c} missing from the text layer");
    }
}
