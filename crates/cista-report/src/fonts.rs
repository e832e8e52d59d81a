//! The fonts documents are laid out with: Typst's own (typst-assets: Libertinus Serif, New
//! Computer Modern, DejaVu Sans Mono), borrowed from the binary, and the Noto fallbacks under
//! `fonts/` that draw the scripts those lack (Arabic, Indic, Thai, CJK, emoji, …). The Noto
//! files are committed gzip-compressed, embedded with `include_bytes!` and inflated once, on
//! the first document; nothing is read from disk or downloaded. `scripts/fonts/subset_fonts.py`
//! made them and says what each keeps; `cista_types::glyphs` is the table of what they draw,
//! and `tests/report/glyph_table.rs` proves that table is exactly what the layout draws with
//! them.

use crate::ReportError;
use flate2::read::GzDecoder;
use std::collections::BTreeSet;
use std::io::Read;
use std::sync::LazyLock;
use typst::foundations::Bytes;
use typst::text::FontInfo;

/// One committed fallback font: its file name under `fonts/` and its compressed bytes.
struct Compressed {
    file: &'static str,
    gzip: &'static [u8],
}

macro_rules! noto {
    ($($file:literal),* $(,)?) => {
        &[$(Compressed { file: $file, gzip: include_bytes!(concat!("../fonts/", $file)) }),*]
    };
}

/// The Noto fallbacks, in the order the templates list their families.
const NOTO: &[Compressed] = noto![
    "NotoSans-Regular.ttf.gz",
    "NotoSansArabic-Regular.ttf.gz",
    "NotoSansHebrew-Regular.ttf.gz",
    "NotoSansArmenian-Regular.ttf.gz",
    "NotoSansGeorgian-Regular.ttf.gz",
    "NotoSansEthiopic-Regular.ttf.gz",
    "NotoSansDevanagari-Regular.ttf.gz",
    "NotoSansBengali-Regular.ttf.gz",
    "NotoSansGurmukhi-Regular.ttf.gz",
    "NotoSansGujarati-Regular.ttf.gz",
    "NotoSansOriya-Regular.ttf.gz",
    "NotoSansTamil-Regular.ttf.gz",
    "NotoSansTelugu-Regular.ttf.gz",
    "NotoSansKannada-Regular.ttf.gz",
    "NotoSansMalayalam-Regular.ttf.gz",
    "NotoSansSinhala-Regular.ttf.gz",
    "NotoSansThai-Regular.ttf.gz",
    "NotoSansLao-Regular.ttf.gz",
    "NotoSansKhmer-Regular.ttf.gz",
    "NotoSansMyanmar-Regular.ttf.gz",
    "NotoSansCJKsc-Regular.otf.gz",
    "NotoColorEmoji.ttf.gz",
];

/// No committed font inflates past this; a larger one is a broken file, not a font.
const MAX_FONT_BYTES: u64 = 64 << 20;

/// Every font a document may use: Typst's, then the Noto fallbacks. Inflated once per
/// process (a few tens of milliseconds); a file that does not inflate is reported, not
/// panicked on, though the tests make sure none does.
pub(crate) static ALL: LazyLock<Result<Vec<Bytes>, String>> = LazyLock::new(|| {
    let mut fonts: Vec<Bytes> = typst_assets::fonts().map(Bytes::new).collect();
    for font in NOTO {
        fonts.push(Bytes::new(inflate(font)?));
    }
    Ok(fonts)
});

/// Every code point that some bundled font's character map gives a glyph: where Typst's font
/// fallback looks. What the layout really draws is a subset (see `unprintable_characters`).
pub fn coverage() -> Result<BTreeSet<u32>, ReportError> {
    let fonts = ALL.as_ref().map_err(|e| ReportError::Fonts(e.clone()))?;
    Ok(fonts
        .iter()
        .flat_map(|data| FontInfo::iter(data.as_slice()).collect::<Vec<_>>())
        .flat_map(|info| info.coverage.iter().collect::<Vec<_>>())
        .collect())
}

fn inflate(font: &Compressed) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    GzDecoder::new(font.gzip)
        .take(MAX_FONT_BYTES)
        .read_to_end(&mut data)
        .map_err(|e| format!("the bundled font {} is damaged: {e}", font.file))?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;
    use std::collections::BTreeSet;
    use typst::text::Font;

    #[test]
    fn the_ignorable_characters_the_core_lets_through_are_those_typst_skips() {
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            assert_eq!(
                cista_types::glyphs::is_default_ignorable(c),
                typst::text::is_default_ignorable(c),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn every_bundled_font_inflates_and_parses() {
        let fonts = ALL.as_ref().unwrap();
        assert_eq!(fonts.len(), typst_assets::fonts().count() + NOTO.len());
        for (data, file) in fonts
            .iter()
            .skip(typst_assets::fonts().count())
            .zip(NOTO.iter().map(|f| f.file))
        {
            let font = Font::new(data.clone(), 0).unwrap_or_else(|| panic!("{file}"));
            assert!(font.info().coverage.iter().next().is_some(), "{file}");
        }
    }

    #[test]
    fn the_template_falls_back_to_every_bundled_family_and_only_those() {
        let template = include_str!("../templates/results.typ");
        let line = template
            .lines()
            .find(|l| l.starts_with("#let fallback = ("))
            .expect("the template lists its fallback fonts");
        let listed: BTreeSet<&str> = line.split('"').skip(1).step_by(2).collect();
        let bundled: BTreeSet<String> = ALL.as_ref().unwrap()[typst_assets::fonts().count()..]
            .iter()
            .map(|data| Font::new(data.clone(), 0).unwrap().info().family.clone())
            .collect();
        let bundled: BTreeSet<&str> = bundled.iter().map(String::as_str).collect();
        assert_eq!(listed, bundled);
    }
}
