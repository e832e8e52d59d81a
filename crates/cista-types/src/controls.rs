//! Control characters in text people enter. Line breaks and tabs are text: a line break is
//! `\n`, or `\r\n` as Windows writes it and as browsers submit a textarea's (HTML, "Form
//! submission": newlines are normalized to CR LF). Every other control character (C0, DEL,
//! C1, and `\r` on its own) is refused where the text is entered: it would garble a page, a
//! CSV cell, a message or a document.

/// Whether `text` holds a control character other than a line break (`\n`, `\r\n`) or a tab.
pub fn has_stray_control(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
            continue;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            return true;
        }
    }
    false
}

/// Whether `text` says something a reader can see: at least one character that is neither
/// white space nor default-ignorable (joiners, bidi controls: `glyphs::is_default_ignorable`),
/// no stray control character, and nothing invisible out of place
/// (`names::check_visible_text`: a bidi override among readable words reorders them). For a
/// reason or purpose a person must state, which the audit log keeps and pages show.
pub fn is_readable(text: &str) -> bool {
    text.chars()
        .any(|c| !c.is_whitespace() && !crate::glyphs::is_default_ignorable(c))
        && !has_stray_control(text)
        && crate::names::check_visible_text(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_tabs_are_text_and_nothing_else_is() {
        for fine in [
            "",
            "plain",
            "a\nb",
            "a\r\nb",
            "a\tb",
            "\r\n\r\n",
            "é ✓ 漢字",
        ] {
            assert!(!has_stray_control(fine), "{fine:?}");
        }
        for stray in [
            "a\rb",
            "a\r",
            "\r\r\n",
            "a\0b",
            "\u{1b}[2J",
            "\u{7f}",
            "\u{85}",
        ] {
            assert!(has_stray_control(stray), "{stray:?}");
        }
        for stray in ["a\rb", "a\0b", "\u{1b}[2J"] {
            assert!(!is_readable(stray), "{stray:?}");
        }
        for unreadable in [
            "",
            " \n\t",
            "\u{202e}\u{200b}",
            "\u{200d}",
            "ok\u{202e}evil",
            "typo\u{200b}",
            "two\r\nlines\u{2066}",
        ] {
            assert!(!is_readable(unreadable), "{unreadable:?}");
        }
        for readable in ["typo", "é", "Audit\r\nrequest", "✓"] {
            assert!(is_readable(readable), "{readable:?}");
        }
    }
}
