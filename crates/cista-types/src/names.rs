//! Names people read and compare (a person's names, unit labels, candidate names, ballot
//! titles): one spelling per name (Unicode NFC, single spaces), no invisible characters that
//! could make two different names look the same, and a look-alike check (UTS #39 skeletons)
//! so that two names a reader cannot tell apart are shown to staff before they are used.
//!
//! Invisible characters are refused where they can have no visible effect: controls, bidi
//! controls (the "Trojan Source" characters), zero-width spaces, word joiners, soft hyphens,
//! Hangul fillers. Joiners and variation selectors are kept where a script or an emoji needs
//! them (a ZWNJ in a Persian name, a ZWJ inside an emoji sequence, an ideographic variation
//! selector after a Han character), because refusing those would refuse real names.

use crate::ParseError;
use icu_properties::props::{
    BidiControl, DefaultIgnorableCodePoint, Emoji, EmojiModifier, ExtendedPictographic,
    GeneralCategory, GeneralCategoryGroup, JoinControl, RegionalIndicator, Script,
    VariationSelector,
};
use icu_properties::{CodePointMapData, CodePointSetData, PropertyNamesLong};
use unicode_normalization::UnicodeNormalization;

/// U+1F3F4 WAVING BLACK FLAG, the base of emoji tag sequences (the flags of England, Scotland
/// and Wales), the one place tag characters are visible.
const BLACK_FLAG: char = '\u{1F3F4}';

fn is_tag(c: char) -> bool {
    ('\u{E0020}'..='\u{E007F}').contains(&c)
}

fn script(c: char) -> Script {
    CodePointMapData::<Script>::new().get(c)
}

fn category(c: char) -> GeneralCategory {
    CodePointMapData::<GeneralCategory>::new().get(c)
}

/// Letters and marks of scripts that never need a joiner or a variation selector to be
/// written (Latin, Greek, Cyrillic, and the characters shared by all scripts).
fn is_simple_script(c: char) -> bool {
    let s = script(c);
    s == Script::Latin
        || s == Script::Greek
        || s == Script::Cyrillic
        || s == Script::Common
        || s == Script::Inherited
}

fn is_complex_letter_or_mark(c: char) -> bool {
    let gc = category(c);
    (GeneralCategoryGroup::Letter.contains(gc) || GeneralCategoryGroup::Mark.contains(gc))
        && !is_simple_script(c)
}

fn is_emoji_part(c: char) -> bool {
    CodePointSetData::new::<ExtendedPictographic>().contains(c)
        || CodePointSetData::new::<EmojiModifier>().contains(c)
        || CodePointSetData::new::<RegionalIndicator>().contains(c)
        || c == '\u{FE0F}'
}

/// Why an invisible character at this place is refused, or None when it is kept.
fn refusal(prev: Option<char>, c: char, next: Option<char>) -> Option<&'static str> {
    let gc = category(c);
    if gc == GeneralCategory::Control {
        return Some("a control character");
    }
    if CodePointSetData::new::<BidiControl>().contains(c) {
        return Some("a text-direction control character");
    }
    if CodePointSetData::new::<JoinControl>().contains(c) {
        let joins =
            |x: Option<char>| x.is_some_and(|x| is_emoji_part(x) || is_complex_letter_or_mark(x));
        return (!(joins(prev) && joins(next)))
            .then_some("a zero-width joiner or non-joiner where it joins nothing");
    }
    if CodePointSetData::new::<VariationSelector>().contains(c) {
        let varies = prev.is_some_and(|p| {
            !CodePointSetData::new::<VariationSelector>().contains(p)
                && (CodePointSetData::new::<Emoji>().contains(p) || is_complex_letter_or_mark(p))
        });
        return (!varies).then_some("a variation selector where it changes nothing");
    }
    if is_tag(c) {
        let in_flag = prev.is_some_and(|p| p == BLACK_FLAG || is_tag(p));
        return (!in_flag).then_some("an invisible tag character");
    }
    if gc == GeneralCategory::PrivateUse || gc == GeneralCategory::Unassigned {
        return Some("a character that has no agreed meaning (private use or unassigned)");
    }
    if CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c) {
        // Mongolian free variation selectors and the like are marks of their script.
        let of_script =
            gc == GeneralCategory::NonspacingMark && prev.is_some_and(is_complex_letter_or_mark);
        return (!of_script).then_some("an invisible character");
    }
    if gc == GeneralCategory::Format {
        return Some("an invisible formatting character");
    }
    None
}

/// Cleans a name as typed: NFC, every run of whitespace one space, trimmed; then checks it is
/// 1 to `max_chars` characters with nothing invisible out of place. `what` names the field in
/// the message (e.g. "name", "unit", "candidate name").
pub fn clean_name(raw: &str, what: &'static str, max_chars: usize) -> Result<String, ParseError> {
    let composed: String = raw.nfc().collect();
    let spaced = composed.split_whitespace().collect::<Vec<_>>().join(" ");
    if spaced.is_empty() {
        return Err(ParseError::new(what, "must not be empty"));
    }
    if spaced.chars().count() > max_chars {
        return Err(ParseError::new(
            what,
            format!("must be at most {max_chars} characters"),
        ));
    }
    check_visible(&spaced).map_err(|m| ParseError::new(what, m))?;
    Ok(spaced)
}

/// Checks that text has no invisible character out of place; the error says which and where.
pub fn check_visible(text: &str) -> Result<(), String> {
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        if let Some(why) = refusal(prev, *c, next) {
            return Err(format!(
                "contains {why} (U+{:04X}) at character {}; delete it and type the text again \
                 (such characters come with text copied from documents and web pages, are \
                 invisible, and can make two different words look the same)",
                u32::from(*c),
                i + 1
            ));
        }
    }
    Ok(())
}

/// Checks text of several lines (a description, a reason) as `check_visible` checks a name,
/// line by line: line breaks (`\n`, `\r\n`) and tabs are kept, anything else invisible out of
/// place is refused, naming the line when there are several.
pub fn check_visible_text(text: &str) -> Result<(), String> {
    let several = text.contains('\n');
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line).replace('\t', " ");
        check_visible(&line).map_err(|why| {
            if several {
                format!("{why} (line {})", n + 1)
            } else {
                why
            }
        })?;
    }
    Ok(())
}

/// The forms two names are compared in: the UTS #39 skeleton as is (so `I` and `l` fold
/// together, as they look alike in many fonts), and the skeleton of the name in lower case (so
/// letter case does not hide a look-alike such as Cyrillic `а` for `a`). Invisible characters
/// are dropped by the skeleton itself. Two names look alike when either form is equal.
pub fn lookalike_keys(name: &str) -> [String; 2] {
    [
        unicode_security::skeleton(name).collect(),
        unicode_security::skeleton(&name.to_lowercase()).collect(),
    ]
}

fn describe_char(c: char) -> String {
    let script_name = PropertyNamesLong::<Script>::new()
        .get(script(c))
        .unwrap_or("Unknown")
        .replace('_', " ");
    if CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c) {
        format!("an invisible U+{:04X}", u32::from(c))
    } else {
        format!("“{c}” (U+{:04X}, {script_name})", u32::from(c))
    }
}

/// Says how two different names with one look-alike key differ, for a warning.
pub fn describe_difference(first: &str, second: &str) -> String {
    let visible = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| !CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(*c))
            .collect()
    };
    let (a, b) = (visible(first), visible(second));
    if a == b {
        let hidden: Vec<String> = first
            .chars()
            .chain(second.chars())
            .filter(|c| CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(*c))
            .map(|c| format!("U+{:04X}", u32::from(c)))
            .collect();
        return format!(
            "differ only by invisible characters ({})",
            hidden.join(", ")
        );
    }
    if first.to_lowercase() == second.to_lowercase() {
        return "differ only in letter case".to_owned();
    }
    let mut parts = Vec::new();
    if a.len() == b.len() {
        for (x, y) in a.iter().zip(&b) {
            if x != y {
                parts.push(format!(
                    "{} in the first where the second has {}",
                    describe_char(*x),
                    describe_char(*y)
                ));
            }
        }
    } else {
        for c in a.iter().filter(|c| !b.contains(c)) {
            parts.push(format!("{} in the first", describe_char(*c)));
        }
        for c in b.iter().filter(|c| !a.contains(c)) {
            parts.push(format!("{} in the second", describe_char(*c)));
        }
    }
    format!("differ only by look-alike characters: {}", parts.join("; "))
}

/// Two entries of a list whose names a reader cannot tell apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookAlike {
    /// Index of the first name in the list given.
    pub first: usize,
    /// Index of the second name.
    pub second: usize,
    /// How they differ, e.g. "differ only by look-alike characters: …".
    pub how: String,
}

/// Finds the pairs of different names in `names` that look the same. A name repeated exactly
/// is not reported (two people may share a name; repeats are checked elsewhere): each
/// distinct spelling is compared with the first different spelling of its key.
pub fn find_lookalikes<S: AsRef<str>>(names: &[S]) -> Vec<LookAlike> {
    let mut pairs = std::collections::BTreeSet::new();
    for which in 0..2 {
        let mut by_key: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for (i, name) in names.iter().enumerate() {
            let [exact, folded] = lookalike_keys(name.as_ref());
            let key = if which == 0 { exact } else { folded };
            let spellings = by_key.entry(key).or_default();
            let seen = spellings
                .iter()
                .any(|j| names.get(*j).map(AsRef::as_ref) == Some(name.as_ref()));
            if !seen {
                spellings.push(i);
            }
        }
        for spellings in by_key.values() {
            if let Some((&first, rest)) = spellings.split_first() {
                pairs.extend(rest.iter().map(|&second| (first, second)));
            }
        }
    }
    pairs
        .into_iter()
        .filter_map(|(first, second)| {
            let (a, b) = (names.get(first)?, names.get(second)?);
            Some(LookAlike {
                first,
                second,
                how: describe_difference(a.as_ref(), b.as_ref()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn clean(raw: &str) -> Result<String, ParseError> {
        clean_name(raw, "name", 100)
    }

    #[test]
    fn a_decomposed_letter_is_stored_composed() {
        let decomposed = "Jose\u{301}";
        let stored = clean(decomposed).unwrap();
        assert_eq!(stored, "Jos\u{e9}");
        assert_eq!(stored.chars().count(), 4);
    }

    #[test]
    fn spaces_of_every_kind_become_one_plain_space() {
        assert_eq!(clean("  Oscar\u{a0}\u{a0}Baker\t").unwrap(), "Oscar Baker");
        assert_eq!(clean("Ana\u{3000}María").unwrap(), "Ana María");
    }

    #[test]
    fn invisible_characters_out_of_place_are_refused_with_their_code() {
        for (raw, code) in [
            ("Oscar\u{200b}Baker", "U+200B"),
            ("Oscar Ba\u{200d}ker", "U+200D"),
            ("\u{202e}rekaB racsO", "U+202E"),
            ("Ana\u{ad}Ruiz", "U+00AD"),
            ("Ana\u{2060}", "U+2060"),
            ("Ana\u{7}", "U+0007"),
            ("a\u{fe0f}", "U+FE0F"),
            ("\u{3164}", "U+3164"),
            ("Ana\u{e000}", "U+E000"),
            ("Ana\u{e0041}", "U+E0041"),
        ] {
            let e = clean(raw).unwrap_err();
            assert!(e.message.contains(code), "{raw:?}: {}", e.message);
            assert!(e.message.contains("invisible") || e.message.contains("meaning"));
        }
    }

    #[test]
    fn joiners_and_selectors_that_scripts_and_emoji_need_are_kept() {
        for name in [
            "\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}", // Persian, with ZWNJ
            "\u{915}\u{94d}\u{200d}\u{937}", // Devanagari, ZWJ after virama
            "\u{1f469}\u{200d}\u{1f469}\u{200d}\u{1f467} Team", // emoji family
            "\u{2764}\u{fe0f} Club",         // heart, emoji style
            "\u{8fbb}\u{e0100}",             // Han with an ideographic variation
            "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f} fans", // England flag
            "陈测试",
            "O'Brien-Núñez",
        ] {
            assert!(clean(name).is_ok(), "{name:?}: {:?}", clean(name));
        }
    }

    #[test]
    fn a_cyrillic_a_is_flagged_against_the_latin_name() {
        let names = ["Oscar Baker", "Ana Ruiz", "Oscar B\u{430}ker"];
        let found = find_lookalikes(&names);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].first, found[0].second), (0, 2));
        assert!(
            found[0].how.contains("U+0430, Cyrillic"),
            "{}",
            found[0].how
        );
        assert!(found[0].how.contains("U+0061, Latin"), "{}", found[0].how);
    }

    #[test]
    fn names_that_differ_by_an_invisible_selector_or_by_case_are_flagged() {
        let found = find_lookalikes(&["\u{2764} Club", "\u{2764}\u{fe0f} Club"]);
        assert_eq!(found.len(), 1);
        assert!(found[0].how.contains("invisible"), "{}", found[0].how);
        let found = find_lookalikes(&["Ian Lee", "lan Lee"]);
        assert_eq!(found.len(), 1, "I and l look the same in many fonts");
        let found = find_lookalikes(&["Ana Ruiz", "ANA RUIZ"]);
        assert!(found[0].how.contains("letter case"));
    }

    #[test]
    fn the_same_name_twice_and_different_names_are_not_flagged() {
        assert!(
            find_lookalikes(&["Oscar Baker", "Oscar Baker", "Ana Ruiz", "Ana Ruis"]).is_empty()
        );
    }
}
