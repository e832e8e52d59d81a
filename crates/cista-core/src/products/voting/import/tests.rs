//! Unit tests of reading a roster file: every problem reported by line and column.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::error::ImportProblem;
use cista_types::PhoneRegion;

const HEADER: &str = "unit,weight,first_name,last_name,email,phone,designated_voter,consent\n";

#[test]
fn a_clean_file_groups_owners_by_unit() {
    let csv = format!(
        "{HEADER}101,1.5,Ana,Ruiz,ana@example.org,+13055550101,yes,yes\n\
         101,,Luis,Ruiz,luis@example.org,,,\n\
         102,0.75,Ana,Ruiz,ana@example.org,,,no\n"
    );
    let roster = parse_roster(csv.as_bytes(), None).unwrap();
    assert_eq!(roster.units.len(), 2);
    assert_eq!(roster.units[0].owners.len(), 2);
    assert_eq!(roster.units[0].weight.to_string(), "1.5");
    assert_eq!(roster.units[0].consent, Some(ConsentStatus::Consented));
    assert!(roster.units[0].owners[0].designated);
    assert_eq!(roster.units[1].consent, Some(ConsentStatus::OptedOut));
}

#[test]
fn every_bad_row_is_reported_by_line_and_column() {
    let csv = format!(
        "{HEADER}101,1,Ana,Ruiz,not-an-email,,,\n\
         102,abc,Bo,Li,bo@example.org,555,,\n\
         103,1,,Lee,cy@example.org,,maybe,\n\
         104,1,Di,Ng,di@example.org,,,sometimes\n\
         105,1,Ed,Ox\n"
    );
    let problems = parse_roster(csv.as_bytes(), None).unwrap_err();
    let found: Vec<(u64, Option<&str>)> = problems
        .iter()
        .map(|p| (p.line, p.column.as_deref()))
        .collect();
    assert_eq!(
        found,
        vec![
            (2, Some("email")),
            (3, Some("weight")),
            (3, Some("phone")),
            (4, Some("first_name")),
            (4, Some("designated_voter")),
            (5, Some("consent")),
            (6, None),
        ],
        "{problems:#?}"
    );
}

#[test]
fn a_file_of_misshapen_lines_stops_at_the_row_limit_and_lists_a_bounded_few() {
    // A line with one field where the header has three, half a million times over (1 MB).
    let csv = format!("unit,first_name,last_name\n{}", "x\n".repeat(500_000));
    let problems = parse_roster(csv.as_bytes(), None).unwrap_err();
    // 20,001 rows read, each misshapen, the last past the row limit: 20,002 problems, the
    // rest of the file never read. The limit is the file's problem, listed first.
    assert_eq!(problems.len(), MAX_ROWS + 2);
    let crate::Error::ImportRejected { problems, total } = rejection(problems) else {
        panic!("a rejection");
    };
    assert_eq!((problems.len(), total), (MAX_LISTED_PROBLEMS, MAX_ROWS + 2));
    assert_eq!(problems[0].line, 1);
    assert!(
        problems[0]
            .message
            .contains("more than 20000 rows (line 20002 is row 20001)"),
        "{}",
        problems[0].message
    );
    assert_eq!(
        (problems[1].line, problems[499].line),
        (2, 500),
        "then by line"
    );
    let shown = crate::Error::ImportRejected { problems, total }.to_string();
    assert!(shown.ends_with("20002 problems found"), "{shown}");
}

#[test]
fn a_header_of_many_wrong_names_reports_each_once_and_stops() {
    let repeated = format!(
        "unit,first_name,last_name{}\n101,Ana,Ruiz\n",
        ",x".repeat(300_000)
    );
    let problems = parse_roster(repeated.as_bytes(), None).unwrap_err();
    assert_eq!(messages(&problems).len(), 1, "{:?}", messages(&problems));
    let twice = "unit,unit,unit,first_name,last_name\n101,101,101,Ana,Ruiz\n";
    let problems = parse_roster(twice.as_bytes(), None).unwrap_err();
    assert_eq!(
        messages(&problems),
        ["line 1, column unit: appears more than once"]
    );
    let distinct: String = (0..2000).map(|i| format!(",x{i}")).collect();
    let header = format!("unit,first_name,last_name{distinct}\n101,Ana,Ruiz\n");
    let problems = parse_roster(header.as_bytes(), None).unwrap_err();
    assert_eq!(problems.len(), MAX_LISTED_PROBLEMS + 1);
    assert!(
        problems[MAX_LISTED_PROBLEMS]
            .message
            .contains("is this the roster file?")
    );
}

#[test]
fn units_must_agree_with_themselves() {
    let csv = format!(
        "{HEADER}101,1,Ana,Ruiz,ana@example.org,,yes,\n\
         101,2,Luis,Ruiz,luis@example.org,,yes,\n\
         102,,Bo,Li,bo@example.org,,,\n\
         103,1,Ana,Ortiz,ana@example.org,,,\n"
    );
    let problems = parse_roster(csv.as_bytes(), None).unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text[0].starts_with("line 3, column weight: is 2 but line 2"),
        "{text:?}"
    );
    assert!(
        text[1].starts_with("line 3, column designated_voter"),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("line 4, column weight: unit 102 has no voting weight")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("line 5, column email: is also on line 2")),
        "{text:?}"
    );
}

#[test]
fn headers_are_checked_before_any_row() {
    let problems = parse_roster(b"unit,colour,first_name\n1,red,Ana\n", None).unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        vec![
            "line 1, column colour: is not a known column; the columns are unit, weight, first_name, last_name, email, phone, designated_voter, consent (separated by commas, semicolons or tabs)",
            "line 1, column last_name: is missing from the header row",
        ]
    );
    assert!(parse_roster(b"unit,first_name,last_name\n", None).is_err());
    assert!(parse_roster(b"\xff\xfe", None).is_err());
    // A byte-order mark and header spacing are forgiven.
    let ok = "\u{feff}Unit, Weight ,First Name,Last Name\n1,1,Ana,Ruiz\n";
    assert_eq!(parse_roster(ok.as_bytes(), None).unwrap().units.len(), 1);
}

fn messages(problems: &[ImportProblem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

fn us() -> Option<PhoneRegion> {
    Some(PhoneRegion::US)
}

#[test]
fn a_european_roster_with_semicolons_and_decimal_commas_is_read() {
    // What a spreadsheet set to Spanish, French or German saves as CSV.
    let csv = "unit;weight;first_name;last_name;email\n\
               101;12,5;Ana;Ruiz;ana@example.org\n\
               102;87,5;Bo;Li;bo@example.org\n";
    let roster = parse_roster(csv.as_bytes(), None).unwrap();
    assert_eq!(roster.units[0].weight.to_string(), "12.5");
    assert_eq!(roster.units[1].weight.to_string(), "87.5");
    assert_eq!(roster.format.delimiter, Delimiter::Semicolon);
    assert!(roster.format.decimal_comma);
    assert_eq!(
        roster.format.describe(),
        "UTF-8, fields separated by semicolons, decimal commas"
    );
    assert_eq!(format_weight_sum(roster.weight_total_micros()), "100");
    assert_eq!(roster.weight_total_warning(), None);
}

#[test]
fn the_issues_uk_number_is_refused_naming_its_row() {
    // Before: "+44 07700 900123" was stored as the impossible +4407700900123. Now it is
    // checked against libphonenumber's metadata and refused: 07700 900xxx is Ofcom's range
    // reserved for fiction, which no one can be reached on.
    let csv = format!("{HEADER}101,1,Ana,Ruiz,,+44 07700 900123,,\n");
    let text = messages(&parse_roster(csv.as_bytes(), None).unwrap_err());
    assert_eq!(
        text,
        vec![
            "line 2, column phone: is not a valid number for country code +44 (wrong length, \
             or a range not in use)"
        ]
    );
}

#[test]
fn a_trunk_zero_after_the_country_code_is_stored_as_the_number_meant() {
    let csv = format!("{HEADER}101,1,Ana,Ruiz,,+44 (0)7400 123456,,\n");
    let roster = parse_roster(csv.as_bytes(), None).unwrap();
    let phone = roster.units[0].owners[0].phone.as_ref().unwrap();
    assert_eq!(phone.as_str(), "+447400123456");
}

#[test]
fn national_numbers_are_read_in_the_organizations_region_and_bad_ones_named_by_row() {
    let csv = format!(
        "{HEADER}101,1,Ana,Ruiz,,(305) 555-0142,,\n\
         102,1,Bo,Li,,555-0100,,\n\
         103,1,Cy,Lee,,+1 305 555 0100 ext. 4,,\n\
         104,1,Di,Ng,,+44 7700 90012,,\n"
    );
    let problems = parse_roster(csv.as_bytes(), us()).unwrap_err();
    let text = messages(&problems);
    assert_eq!(text.len(), 3, "{text:#?}");
    assert!(
        text[0].starts_with("line 3, column phone: is not a valid US number"),
        "{text:#?}"
    );
    assert!(
        text[1].starts_with("line 4, column phone: must not have an extension"),
        "{text:#?}"
    );
    assert!(
        text[2].starts_with("line 5, column phone: is not a valid number for country code +44"),
        "{text:#?}"
    );
    let good = format!("{HEADER}101,1,Ana,Ruiz,,(305) 555-0142,,\n");
    let roster = parse_roster(good.as_bytes(), us()).unwrap();
    assert_eq!(
        roster.units[0].owners[0].phone.as_ref().unwrap().as_str(),
        "+13055550142"
    );
    // Without a region, the national number needs its country code.
    let problems = parse_roster(good.as_bytes(), None).unwrap_err();
    assert!(
        messages(&problems)[0].contains("country code"),
        "{problems:?}"
    );
}

#[test]
fn a_tab_separated_file_is_read() {
    let tsv = "unit\tweight\tfirst_name\tlast_name\n101\t2,95\tAna\tRuiz, Jr.\n";
    let roster = parse_roster(tsv.as_bytes(), None).unwrap();
    assert_eq!(roster.format.delimiter, Delimiter::Tab);
    assert_eq!(roster.units[0].weight.to_string(), "2.95");
    assert_eq!(roster.units[0].owners[0].last_name.as_str(), "Ruiz, Jr.");
}

#[test]
fn a_byte_order_mark_crlf_blank_lines_empty_columns_and_loose_headers_are_forgiven() {
    let csv = "\u{feff}UNIT , Weight,First Name,last-name,,\r\n\
               101,1.5,Ana,Ruiz,,\r\n\
               102,0.5,Bo,Li,,\r\n\
               ,,,,,\r\n\
               \r\n\
               \r\n";
    let roster = parse_roster(csv.as_bytes(), None).unwrap();
    assert_eq!(roster.units.len(), 2);
    assert!(roster.format.encoding.contains("byte-order mark"));
    assert_eq!(roster.units[1].owners[0].last_name.as_str(), "Li");
    // A row with cells beyond the header's columns that are not empty is refused.
    // Lines are counted as an editor shows them, CRLF or not.
    let crlf = "unit,weight,first_name,last_name\r\n101,1,Ana,Ruiz\r\n102,x,Bo,Li\r\n";
    let text = messages(&parse_roster(crlf.as_bytes(), None).unwrap_err());
    assert!(text[0].starts_with("line 3, column weight"), "{text:?}");
    let extra = "unit,weight,first_name,last_name\n101,1,Ana,Ruiz,surplus\n";
    let text = messages(&parse_roster(extra.as_bytes(), None).unwrap_err());
    assert_eq!(text, vec!["line 2: has 5 fields but the header has 4"]);
    let short = "unit,weight,first_name,last_name\n101\n";
    let text = messages(&parse_roster(short.as_bytes(), None).unwrap_err());
    assert_eq!(text, vec!["line 2: has 1 field but the header has 4"]);
}

#[test]
fn excel_unicode_text_utf16_with_a_byte_order_mark_is_decoded() {
    let text =
        "unit\tweight\tfirst_name\tlast_name\r\n101\t12,5\tJosé\tNúñez\r\n102\t87,5\tBo\tLi\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let roster = parse_roster(&bytes, None).unwrap();
    assert_eq!(roster.units[0].owners[0].first_name.as_str(), "José");
    assert_eq!(roster.units[0].weight.to_string(), "12.5");
    assert_eq!(
        roster.format.describe(),
        "UTF-16 (little-endian), fields separated by tabs, decimal commas"
    );
}

#[test]
fn a_windows_1252_file_is_refused_saying_how_to_save_csv_utf8() {
    let bytes = b"unit,weight,first_name,last_name\n101,1,Jos\xe9,Ruiz\n";
    let text = messages(&parse_roster(bytes, None).unwrap_err());
    assert_eq!(text.len(), 1);
    assert!(
        text[0].starts_with("line 2: the file is not UTF-8 text: it has the byte E9"),
        "{}",
        text[0]
    );
    assert!(text[0].contains("“é” in Windows-1252"), "{}", text[0]);
    assert!(
        text[0].contains("“CSV UTF-8 (Comma delimited) (*.csv)”"),
        "{}",
        text[0]
    );
}

#[test]
fn quoted_fields_keep_their_delimiters_and_quotes() {
    let csv = "unit,weight,first_name,last_name\n\
               \"Lot 7, North\",1,\"Ana \"\"Nena\"\"\",\"Ruiz, Jr.\"\n";
    let roster = parse_roster(csv.as_bytes(), None).unwrap();
    assert_eq!(roster.units[0].label.as_str(), "Lot 7, North");
    assert_eq!(
        roster.units[0].owners[0].first_name.as_str(),
        "Ana \"Nena\""
    );
    let semi = "unit;weight;first_name;last_name\n\"7;A\";\"1,25\";Ana;Ruiz\n";
    let roster = parse_roster(semi.as_bytes(), None).unwrap();
    assert_eq!(roster.units[0].label.as_str(), "7;A");
    assert_eq!(roster.units[0].weight.to_string(), "1.25");
}

#[test]
fn a_decimal_comma_in_a_comma_separated_file_is_refused_with_what_to_write() {
    // Unquoted, the comma splits the weight into two fields.
    let csv = "unit,weight,first_name,last_name\n101,12,5,Ana,Ruiz\n";
    let text = messages(&parse_roster(csv.as_bytes(), None).unwrap_err());
    assert_eq!(text.len(), 1, "{text:?}");
    assert!(
        text[0].contains("the weight 12,5 seems to have a decimal comma"),
        "{}",
        text[0]
    );
    assert!(text[0].contains("Write 12.5 instead"), "{}", text[0]);
    // Quoted, it stays one field, but is still not certain.
    let quoted = "unit,weight,first_name,last_name\n101,\"12,5\",Ana,Ruiz\n";
    let text = messages(&parse_roster(quoted.as_bytes(), None).unwrap_err());
    assert!(
        text[0].starts_with("line 2, column weight: “12,5” has a comma"),
        "{}",
        text[0]
    );
}

#[test]
fn a_file_mixing_decimal_commas_and_points_or_percent_signs_is_refused() {
    let mixed = "unit;weight;first_name;last_name\n101;2,5;Ana;Ruiz\n102;1.000;Bo;Li\n";
    let text = messages(&parse_roster(mixed.as_bytes(), None).unwrap_err());
    assert!(
        text[0].starts_with("line 3, column weight: “1.000” has a decimal point but line 2"),
        "{text:?}"
    );
    let percents = "unit,weight,first_name,last_name\n101,2.95%,Ana,Ruiz\n102,0.0295,Bo,Li\n";
    let text = messages(&parse_roster(percents.as_bytes(), None).unwrap_err());
    assert!(
        text[0].contains("no percent sign but line 2 has one"),
        "{text:?}"
    );
}

#[test]
fn percentages_that_do_not_add_up_to_100_are_flagged_with_the_gap() {
    let short = "unit,weight,first_name,last_name\n101,49.95,Ana,Ruiz\n102,50,Bo,Li\n";
    let roster = parse_roster(short.as_bytes(), None).unwrap();
    let warning = roster.weight_total_warning().unwrap();
    assert!(
        warning.starts_with("The weights add up to 99.95"),
        "{warning}"
    );
    assert!(warning.contains("0.05 short"), "{warning}");
    let over = "unit;weight;first_name;last_name\n101;50,5 %;Ana;Ruiz\n102;50 %;Bo;Li\n";
    let roster = parse_roster(over.as_bytes(), None).unwrap();
    assert!(roster.format.percent);
    assert!(
        roster
            .weight_total_warning()
            .unwrap()
            .contains("0.5 too much")
    );
    let shares = "unit,weight,first_name,last_name\n101,0.5,Ana,Ruiz\n102,0.495,Bo,Li\n";
    let roster = parse_roster(shares.as_bytes(), None).unwrap();
    assert!(
        roster
            .weight_total_warning()
            .unwrap()
            .contains("0.005 short")
    );
    // Weights of one per unit, or percentages that add up, say nothing.
    let plain = "unit,weight,first_name,last_name\n101,1,Ana,Ruiz\n102,1,Bo,Li\n";
    assert_eq!(
        parse_roster(plain.as_bytes(), None)
            .unwrap()
            .weight_total_warning(),
        None
    );
}

#[test]
fn names_are_stored_composed_and_invisible_characters_refused() {
    let csv = "unit,weight,first_name,last_name\n101,1,Jose\u{301},Ruiz\n";
    let roster = parse_roster(csv.as_bytes(), None).unwrap();
    assert_eq!(roster.units[0].owners[0].first_name.as_str(), "Jos\u{e9}");
    let hidden = "unit,weight,first_name,last_name\n101,1,Ana\u{200b},Ruiz\n";
    let text = messages(&parse_roster(hidden.as_bytes(), None).unwrap_err());
    assert!(
        text[0].starts_with("line 2, column first_name: contains an invisible"),
        "{text:?}"
    );
    assert!(text[0].contains("U+200B"), "{text:?}");
}

#[test]
fn owners_whose_names_only_look_alike_are_flagged_naming_both() {
    let csv = "unit,weight,first_name,last_name\n\
               101,1,Oscar,Baker\n\
               102,1,Oscar,B\u{430}ker\n\
               103,1,Oscar,Baker\n";
    let roster = parse_roster(csv.as_bytes(), None).unwrap();
    let warnings = super::super::names::owner_warnings(&roster, &[]);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0]
            .starts_with("“Oscar Baker” (line 2) and “Oscar B\u{430}ker” (line 3) look the same"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("U+0430, Cyrillic"), "{}", warnings[0]);
    let on_file = vec!["Oscar B\u{430}ker".to_owned()];
    let plain = "unit,weight,first_name,last_name\n101,1,Oscar,Baker\n";
    let roster = parse_roster(plain.as_bytes(), None).unwrap();
    let warnings = super::super::names::owner_warnings(&roster, &on_file);
    assert!(warnings[0].contains("(on file)"), "{warnings:?}");
}
