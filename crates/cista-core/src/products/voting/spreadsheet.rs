//! What spreadsheets really write when asked for CSV: UTF-8 with or without a byte-order mark,
//! UTF-16 with one (Excel's "Unicode text"), or a legacy 8-bit code page (Excel's plain "CSV"
//! on Windows and older Macs); commas, semicolons (where the decimal separator is a comma) or
//! tabs between fields; decimal commas and percent signs in numbers. Text is decoded only when
//! its encoding is certain (a byte-order mark or valid UTF-8), and a number only read when its
//! reading is certain: otherwise the message says what to change in the file, and how.

use std::borrow::Cow;

/// How to get a file Cista reads, from each common spreadsheet.
pub const SAVE_AS_UTF8: &str = "Save the file again as UTF-8: in Excel, File › Save As › \
     “CSV UTF-8 (Comma delimited) (*.csv)”; in LibreOffice Calc, File › Save As › “Text CSV \
     (.csv)”, tick “Edit filter settings” and choose the character set “Unicode (UTF-8)”; in \
     Numbers, File › Export To › CSV with the text encoding “Unicode (UTF-8)”; Google Sheets \
     (File › Download › CSV) always writes UTF-8.";

/// Why the bytes are not text Cista can read, with the line it noticed it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    pub line: u64,
    pub message: String,
}

/// The file as text, and the encoding it was read in (for the preview).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub encoding: &'static str,
}

fn line_of(bytes: &[u8], offset: usize) -> u64 {
    bytes
        .get(..offset)
        .map_or(1, |b| b.iter().filter(|c| **c == b'\n').count() as u64 + 1)
}

/// Reads the bytes as text: UTF-8 (a leading byte-order mark is dropped), or UTF-16 when a
/// byte-order mark says so. Anything else is refused with the way to re-save it: a legacy
/// code page (Windows-1252, Mac Roman, ISO 8859-x…) cannot be told apart from the others
/// with certainty, and a wrong guess would silently change the names in the file.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, Undecodable> {
    if let Some((encoding, bom_length)) = encoding_rs::Encoding::for_bom(bytes) {
        let body = bytes.get(bom_length..).unwrap_or_default();
        if encoding == encoding_rs::UTF_8 {
            return utf8(body, "UTF-8 (with a byte-order mark)");
        }
        // UTF-16, little or big endian: what Excel's "Unicode text" writes.
        return match encoding.decode_without_bom_handling_and_without_replacement(body) {
            Some(text) => Ok(Decoded {
                text: Cow::Owned(text.into_owned()),
                encoding: if encoding == encoding_rs::UTF_16LE {
                    "UTF-16 (little-endian)"
                } else {
                    "UTF-16 (big-endian)"
                },
            }),
            None => Err(Undecodable {
                line: 1,
                message: format!("starts as UTF-16 text but is damaged further on. {SAVE_AS_UTF8}"),
            }),
        };
    }
    if let Some(zero) = bytes.iter().position(|b| *b == 0) {
        return Err(Undecodable {
            line: line_of(bytes, zero),
            message: format!(
                "holds zero bytes, as UTF-16 text without a byte-order mark or a spreadsheet's \
                 own format (such as .xlsx or .numbers) does; Cista reads CSV text. {SAVE_AS_UTF8}"
            ),
        });
    }
    utf8(bytes, "UTF-8")
}

fn utf8<'a>(bytes: &'a [u8], encoding: &'static str) -> Result<Decoded<'a>, Undecodable> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Decoded {
            text: Cow::Borrowed(text),
            encoding,
        }),
        Err(e) => {
            let at = e.valid_up_to();
            let bad = bytes.get(at..).unwrap_or_default();
            let shown: Vec<String> = bad
                .iter()
                .take(e.error_len().unwrap_or(1))
                .map(|b| format!("{b:02X}"))
                .collect();
            // Only to help the reader recognise the character: never to read the file.
            let (guess, _, _) = encoding_rs::WINDOWS_1252.decode(bad.get(..1).unwrap_or_default());
            let guess = guess.chars().next().filter(|c| !c.is_control());
            let hint = match guess {
                Some(c) => format!(
                    ", which is “{c}” in Windows-1252, the encoding Excel's plain “CSV (Comma \
                     delimited)” and many older programs save in"
                ),
                None => String::new(),
            };
            Err(Undecodable {
                line: line_of(bytes, at),
                message: format!(
                    "is not UTF-8 text: it has the byte {}{hint}. Cista does not guess \
                     encodings, because a wrong guess changes names without telling anyone. \
                     {SAVE_AS_UTF8}",
                    shown.join(" ")
                ),
            })
        }
    }
}

/// The character between fields, chosen from the header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Comma,
    Semicolon,
    Tab,
}

impl Delimiter {
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
            Delimiter::Tab => b'\t',
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Delimiter::Comma => "commas",
            Delimiter::Semicolon => "semicolons",
            Delimiter::Tab => "tabs",
        }
    }

    /// Picks the delimiter under which the header line names the most known columns (`known`
    /// says whether a header cell is one); with no known column at all, the one that occurs
    /// most in the line, and commas when none does.
    pub fn detect(header_line: &str, known: impl Fn(&str) -> bool) -> Self {
        let all = [Delimiter::Comma, Delimiter::Semicolon, Delimiter::Tab];
        let score = |d: Delimiter| {
            header_line
                .split(char::from(d.byte()))
                .filter(|cell| known(cell.trim().trim_matches('"')))
                .count()
        };
        let best =
            all.into_iter()
                .map(|d| (score(d), d))
                .fold((0, Delimiter::Comma), |best, next| {
                    if next.0 > best.0 { next } else { best }
                });
        if best.0 > 0 {
            return best.1;
        }
        all.into_iter()
            .map(|d| (header_line.matches(char::from(d.byte())).count(), d))
            .fold((0, Delimiter::Comma), |best, next| {
                if next.0 > best.0 { next } else { best }
            })
            .1
    }
}

/// A number cell as written, made ready for `Weight::parse`: a decimal comma becomes a point
/// where that is certain, a trailing percent sign is noted and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberCell {
    /// The number with a decimal point (or none).
    pub text: String,
    /// Written with a decimal comma.
    pub decimal_comma: bool,
    /// Written with a decimal point.
    pub decimal_point: bool,
    /// Written with a percent sign.
    pub percent: bool,
}

/// Reads a number cell of a file with this delimiter. A decimal comma is certain in a file
/// whose fields are not separated by commas (what spreadsheets write where a comma is the
/// decimal separator); in a comma-separated file a comma inside a number can be a decimal
/// comma or a thousands separator, so it is refused with what to write instead.
pub fn number_cell(raw: &str, delimiter: Delimiter) -> Result<NumberCell, String> {
    let trimmed = raw.trim();
    let (body, percent) = match trimmed.strip_suffix('%') {
        Some(rest) => (rest.trim_end(), true),
        None => (trimmed, false),
    };
    let commas = body.matches(',').count();
    let points = body.matches('.').count();
    if commas > 0 && points > 0 {
        return Err(format!(
            "“{trimmed}” has both a comma and a point: write the number without thousands \
             separators, with one decimal separator, e.g. 1234.5"
        ));
    }
    if commas > 0 {
        if delimiter == Delimiter::Comma {
            let pointed = body.replace(',', ".");
            return Err(format!(
                "“{trimmed}” has a comma, which in this comma-separated file could be a decimal \
                 comma or a thousands separator. Write {pointed} for a decimal, or save the file \
                 with semicolons between fields (a spreadsheet set to a language that writes \
                 decimal commas does that when it saves as CSV)"
            ));
        }
        if commas > 1 {
            return Err(format!(
                "“{trimmed}” has more than one comma: write the number without thousands \
                 separators"
            ));
        }
        return Ok(NumberCell {
            text: body.replace(',', "."),
            decimal_comma: true,
            decimal_point: false,
            percent,
        });
    }
    Ok(NumberCell {
        text: body.to_owned(),
        decimal_comma: false,
        decimal_point: points > 0,
        percent,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn utf8_with_or_without_a_byte_order_mark_is_read() {
        let plain = decode("unit,weight\n".as_bytes()).unwrap();
        assert_eq!(plain.text, "unit,weight\n");
        let marked = decode("\u{feff}unit,weight\n".as_bytes()).unwrap();
        assert_eq!(marked.text, "unit,weight\n");
        assert!(marked.encoding.contains("byte-order mark"));
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_decoded() {
        let text = "unit\tweight\tfirst_name\n101\t12,5\tJosé\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let decoded = decode(&le).unwrap();
        assert_eq!(decoded.text, text);
        assert_eq!(decoded.encoding, "UTF-16 (little-endian)");
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode(&be).unwrap().text, text);
        // A lone surrogate is damage, not text.
        let mut broken = vec![0xFF, 0xFE];
        broken.extend([0x00, 0xD8, 0x41, 0x00]);
        assert!(decode(&broken).unwrap_err().message.contains("damaged"));
    }

    #[test]
    fn windows_1252_is_refused_with_how_to_save_as_utf8() {
        let latin = b"unit,first_name\n101,Jos\xe9\n";
        let e = decode(latin).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("byte E9"), "{}", e.message);
        assert!(e.message.contains("“é” in Windows-1252"), "{}", e.message);
        assert!(
            e.message.contains("CSV UTF-8 (Comma delimited)"),
            "{}",
            e.message
        );
        let e = decode(b"u\0n\0i\0t\0").unwrap_err();
        assert!(e.message.contains("zero bytes"), "{}", e.message);
    }

    #[test]
    fn the_delimiter_is_the_one_that_names_known_columns() {
        let known = |c: &str| ["unit", "weight", "first_name", "last_name"].contains(&c);
        assert_eq!(
            Delimiter::detect("unit;weight;first_name;last_name", known),
            Delimiter::Semicolon
        );
        assert_eq!(
            Delimiter::detect("unit\tweight\tfirst_name", known),
            Delimiter::Tab
        );
        assert_eq!(
            Delimiter::detect("\"unit\",\"weight\"", known),
            Delimiter::Comma
        );
        assert_eq!(Delimiter::detect("a;b;c", known), Delimiter::Semicolon);
        assert_eq!(Delimiter::detect("abc", known), Delimiter::Comma);
    }

    #[test]
    fn a_decimal_comma_is_read_only_where_it_is_certain() {
        let read = number_cell("12,5", Delimiter::Semicolon).unwrap();
        assert_eq!((read.text.as_str(), read.decimal_comma), ("12.5", true));
        assert_eq!(number_cell("2,95 %", Delimiter::Tab).unwrap().text, "2.95");
        assert!(number_cell("2,95 %", Delimiter::Tab).unwrap().percent);
        let e = number_cell("12,5", Delimiter::Comma).unwrap_err();
        assert!(e.contains("Write 12.5"), "{e}");
        assert!(e.contains("semicolons"), "{e}");
        assert!(number_cell("1.234,5", Delimiter::Semicolon).is_err());
        assert!(number_cell("1,234,5", Delimiter::Semicolon).is_err());
        let point = number_cell("2.95", Delimiter::Semicolon).unwrap();
        assert!(point.decimal_point && !point.decimal_comma);
    }
}
