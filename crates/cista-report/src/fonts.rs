//! The fonts documents are laid out with: Libertinus Serif and DejaVu Sans Mono (and New
//! Computer Modern, the last resort), borrowed from typst-assets, and the Noto fallbacks under
//! `fonts/` that draw the scripts those lack (Arabic, Indic, Thai, CJK, emoji, …). The Noto
//! files are committed gzip-compressed, embedded with `include_bytes!` and inflated once, on
//! the first document; nothing is read from disk or downloaded. `scripts/fonts/subset_fonts.py`
//! made them and says what each keeps; `cista_types::glyphs` is the table of what they draw,
//! and `tests/report/glyph_table.rs` proves that table is exactly what the layout draws with
//! them.

use crate::ReportError;
use flate2::read::GzDecoder;
use parley::fontique::{Blob, Collection, CollectionOptions, SourceCache};
use parley::{FontContext, FontFamilyName};
use skrifa::MetadataProvider;
use std::collections::BTreeSet;
use std::io::Read;
use std::sync::{Arc, LazyLock};

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

/// The Noto fallbacks, in the order of `FALLBACK`.
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

/// The families text falls back to when its own face lacks a character, in this order: the
/// Noto families (one per file of `NOTO`), then New Computer Modern for the symbols only it
/// has. The core refuses, at entry, any character none of them draws.
pub(crate) const FALLBACK: &[&str] = &[
    "Noto Sans",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Armenian",
    "Noto Sans Georgian",
    "Noto Sans Ethiopic",
    "Noto Sans Devanagari",
    "Noto Sans Bengali",
    "Noto Sans Gurmukhi",
    "Noto Sans Gujarati",
    "Noto Sans Oriya",
    "Noto Sans Tamil",
    "Noto Sans Telugu",
    "Noto Sans Kannada",
    "Noto Sans Malayalam",
    "Noto Sans Sinhala",
    "Noto Sans Thai",
    "Noto Sans Lao",
    "Noto Sans Khmer",
    "Noto Sans Myanmar",
    "Noto Sans CJK SC",
    "Noto Color Emoji",
    "NewComputerModern",
    "NewComputerModern Math",
];

/// The body text's family.
pub(crate) const SERIF: &str = "Libertinus Serif";
/// The family of hashes, keys and commands.
pub(crate) const MONO: &str = "DejaVu Sans Mono";

/// `first`, then every fallback, then the other base family: the family list a style is set
/// in. Every bundled family is in it, so a character any bundled font draws is drawn.
pub(crate) fn families(first: &'static str) -> Vec<FontFamilyName<'static>> {
    let last = if first == SERIF { MONO } else { SERIF };
    std::iter::once(first)
        .chain(FALLBACK.iter().copied())
        .chain(std::iter::once(last))
        .map(FontFamilyName::named)
        .collect()
}

/// A font file's bytes, shared by the layout (parley) and the PDF writer (krilla).
pub(crate) type FontBytes = Arc<Vec<u8>>;

/// Every font a document may use: typst-assets' fonts, then the Noto fallbacks. Inflated
/// once per process (a few tens of milliseconds); a file that does not inflate is reported,
/// not panicked on, though the tests make sure none does.
pub(crate) static ALL: LazyLock<Result<Vec<FontBytes>, String>> = LazyLock::new(|| {
    let mut fonts: Vec<FontBytes> = typst_assets::fonts()
        .map(|data| Arc::new(data.to_vec()))
        .collect();
    for font in NOTO {
        fonts.push(Arc::new(inflate(font)?));
    }
    Ok(fonts)
});

/// A font database holding exactly the bundled fonts: no system font is ever looked at, so a
/// document prints the same on every machine. Each document gets its own copy of one database
/// made on the first document (the fonts' tables are read once per process).
pub(crate) fn context() -> Result<FontContext, ReportError> {
    CONTEXT
        .as_ref()
        .cloned()
        .map_err(|e| ReportError::Fonts(e.clone()))
}

static CONTEXT: LazyLock<Result<FontContext, String>> = LazyLock::new(|| {
    let fonts = ALL.as_ref().map_err(Clone::clone)?;
    let mut collection = Collection::new(CollectionOptions {
        shared: false,
        system_fonts: false,
    });
    for data in fonts {
        let shared: Arc<dyn AsRef<[u8]> + Send + Sync> = data.clone();
        if collection
            .register_fonts(Blob::new(shared), None)
            .is_empty()
        {
            return Err("a bundled font has no usable face".to_owned());
        }
    }
    Ok(FontContext {
        collection,
        source_cache: SourceCache::default(),
    })
});

/// The first bundled font (its index in `ALL`) whose character map gives `c` a glyph, and that
/// glyph: where a character goes when the font chosen for its cluster lacks it (a mark of one
/// script on a letter of another, each drawn by a different font).
pub(crate) fn any_font_for(c: char) -> Option<(usize, u32)> {
    let fonts = ALL.as_ref().ok()?;
    fonts.iter().enumerate().find_map(|(i, data)| {
        let glyph = skrifa::FontRef::from_index(data, 0)
            .ok()?
            .charmap()
            .map(c)?
            .to_u32();
        (glyph != 0).then_some((i, glyph))
    })
}

/// Every code point that some bundled font's character map gives a glyph: where the layout's
/// font fallback looks. What the layout really draws is a subset (see
/// `unprintable_characters`).
pub fn coverage() -> Result<BTreeSet<u32>, ReportError> {
    let fonts = ALL.as_ref().map_err(|e| ReportError::Fonts(e.clone()))?;
    let mut covered = BTreeSet::new();
    for data in fonts {
        let font = skrifa::FontRef::from_index(data, 0)
            .map_err(|e| ReportError::Fonts(format!("a bundled font does not parse: {e}")))?;
        covered.extend(font.charmap().mappings().map(|(c, _)| c));
    }
    Ok(covered)
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

    #[test]
    fn every_bundled_font_inflates_and_parses() {
        let fonts = ALL.as_ref().unwrap();
        assert_eq!(fonts.len(), typst_assets::fonts().count() + NOTO.len());
        for (data, file) in fonts
            .iter()
            .skip(typst_assets::fonts().count())
            .zip(NOTO.iter().map(|f| f.file))
        {
            let font =
                skrifa::FontRef::from_index(data, 0).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(font.charmap().mappings().next().is_some(), "{file}");
        }
    }

    #[test]
    fn every_family_text_is_set_in_is_bundled_and_every_bundled_noto_family_is_used() {
        let mut cx = context().unwrap();
        let bundled: BTreeSet<String> = cx.collection.family_names().map(str::to_owned).collect();
        for family in [SERIF, MONO].iter().chain(FALLBACK) {
            assert!(
                bundled.contains(*family),
                "{family} is not bundled: {bundled:?}"
            );
        }
        let noto: BTreeSet<&String> = bundled.iter().filter(|f| f.starts_with("Noto")).collect();
        assert_eq!(noto.len(), NOTO.len(), "{noto:?}");
        for family in noto {
            assert!(
                FALLBACK.contains(&family.as_str()),
                "{family} is bundled but never used"
            );
        }
    }
}
