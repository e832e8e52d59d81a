//! Which characters the certified documents can print. Names and titles are printed exactly as
//! typed, with the fonts cista-report embeds (Libertinus, DejaVu and New Computer Modern from
//! typst-assets, plus Noto fallbacks for the world's
//! major scripts and emoji); text they cannot draw is refused where it is entered, naming the
//! character, so a document never fails later. `table.rs` is generated from those fonts, and a
//! test in cista-report fails whenever the two disagree.

mod table;

use std::fmt;

/// Whether the layout draws the code point with one of the bundled fonts.
pub fn covered(c: u32) -> bool {
    table::COVERED
        .binary_search_by(|&(start, end)| {
            if end < c {
                std::cmp::Ordering::Less
            } else if start > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Unicode's default-ignorable code points (DerivedCoreProperties.txt, Unicode 16): joiners,
/// variation selectors, bidi controls, tags and the like. The shaper hides them once they have
/// done their work (joining an emoji sequence, say), and cista-report draws one left over as a
/// space of its width, so they need no glyph.
const DEFAULT_IGNORABLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
];

/// Whether Unicode calls `c` default-ignorable: it is invisible unless a font gives it a use.
pub fn is_default_ignorable(c: char) -> bool {
    let c = u32::from(c);
    DEFAULT_IGNORABLE
        .iter()
        .any(|&(start, end)| (start..=end).contains(&c))
}

/// Private-use code points: each font gives them its own meaning (or none), so a name that
/// holds one means nothing in particular, whatever some font draws for it.
fn is_private_use(c: char) -> bool {
    matches!(u32::from(c), 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

/// Whether a document can print `c`: the layout draws it with a bundled font, it is never
/// drawn (default-ignorable), or it is a line break or tab, which the layout handles itself.
/// Other control characters are not text; private-use characters have no agreed meaning.
pub fn is_printable(c: char) -> bool {
    match c {
        '\n' | '\t' => true,
        c if c.is_control() || is_private_use(c) => false,
        c => is_default_ignorable(c) || covered(u32::from(c)),
    }
}

/// The first character of `text` that cannot be printed, if any.
pub fn check_printable(text: &str) -> Result<(), Unprintable> {
    match text.chars().find(|&c| !is_printable(c)) {
        Some(character) => Err(Unprintable { character }),
        None => Ok(()),
    }
}

/// A character no bundled font can draw. Its message names the character and its code point
/// (the character alone may be invisible, or a box, on the page that shows the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unprintable {
    pub character: char,
}

impl fmt::Display for Unprintable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.character;
        let code = u32::from(c);
        let why = if is_private_use(c) {
            "it is a private-use character, which has no agreed shape"
        } else if c.is_control() {
            "it is a control character, not text"
        } else if matches!(code, 0x3400..=0x4DBF | 0x20000..=0x3FFFF) {
            "it is a rare Han character, outside the main CJK block that the fonts cover"
        } else {
            "no font of the printed documents has it"
        };
        if c.is_control() {
            write!(
                f,
                "contains the character U+{code:04X}, which cannot be printed: {why}"
            )
        } else {
            write!(
                f,
                "contains “{c}” (U+{code:04X}), which cannot be printed: {why}"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_scripts_people_write_them_in_are_printable() {
        for name in [
            "Jo Smith",
            "陈测试",
            "🏠 Team",
            "山田 太郎",
            "김민준",
            "محمد علي",
            "דוד כהן",
            "राहुल शर्मा",
            "สมชาย ใจดี",
            "Αλέξανδρος",
            "Иван Петров",
            "Nguyễn Văn Anh",
            "朱镕基",
            "株式会社 ㈱",
            "👩‍👩‍👧 Family",
            "🗳️ Vote",
            "ئەحمەد",
            "Ṣọ́lá Àdìgún",
        ] {
            assert_eq!(check_printable(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn private_use_unassigned_and_control_characters_are_named_and_refused() {
        let err = check_printable("Jo \u{E000} Smith").unwrap_err();
        assert_eq!(err.character, '\u{E000}');
        let message = err.to_string();
        assert!(message.contains("U+E000"), "{message}");
        assert!(message.contains("private-use"), "{message}");

        // U+0378 is unassigned (a gap in the Greek block).
        let err = check_printable("Α\u{378}").unwrap_err();
        assert!(err.to_string().contains("U+0378"), "{err}");

        let err = check_printable("bell\u{7}").unwrap_err();
        assert!(err.to_string().contains("U+0007"), "{err}");

        // A rare Han character of Extension B.
        let err = check_printable("𠀀").unwrap_err();
        assert!(err.to_string().contains("rare Han"), "{err}");
    }

    #[test]
    fn joiners_selectors_line_breaks_and_tabs_need_no_glyph() {
        for c in ['\u{200D}', '\u{200C}', '\u{FE0F}', '\u{E0067}', '\n', '\t'] {
            assert!(is_printable(c), "U+{:04X}", u32::from(c));
        }
        assert!(!is_printable('\r'));
    }
}
