//! The roster upload with files as spreadsheets really write them, over real HTTPS, on SQLite
//! and (when configured) PostgreSQL: a European file with semicolons and decimal commas, a
//! phone with a trunk zero after the country code and a national number read in the
//! organization's country, the total of the weights and a warning when percentages do not
//! add up, a look-alike owner flagged, a Windows-1252 file refused with how to save it.

use crate::people;
use crate::voting::operator;
use crate::web::sign_in;
use crate::{Options, TestServer, csrf_in, on_postgres};
use cista_core::Cista;
use cista_store::Target;
use cista_types::{OrgId, PhoneRegion, Role, SubjectCode};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};

const UNITS: &str = "/admin/palm-court/units";

/// The failing input of the issue: a roster saved by a spreadsheet set to a European
/// language; with a phone written with the trunk zero after +44, and a US national number.
const EUROPEAN: &str = "unit;weight;first_name;last_name;email;phone\r\n\
    101;12,5;Ana;Ruiz;ana@palm.example;+44 07400 123456\r\n\
    102;37,5;Bo;Li;bo@palm.example;(305) 555-0142\r\n\
    103;24,95;Oscar;Baker;oscar@palm.example;\r\n\
    104;25;Oscar;B\u{430}ker;oscar.b@palm.example;\r\n";

async fn palm_court(cista: &Cista) -> OrgId {
    cista_testkit::fixtures::palm_court_id(cista).await
}

/// A server on SQLite, and `email` with `role` in Palm Court, signed in.
async fn staff_of_palm_court(email: &str, role: Role) -> (TestServer, OrgId, Client) {
    let server = TestServer::start(Options::default()).await;
    let org = palm_court(&server.state.cista).await;
    people::active(&server.state.cista, org, email, role).await;
    let browser = sign_in(&server, email).await;
    (server, org, browser)
}

async fn upload(
    browser: &Client,
    server: &TestServer,
    token: &str,
    bytes: &[u8],
) -> (StatusCode, String) {
    let file = Part::bytes(bytes.to_vec())
        .file_name("roster.csv")
        .mime_str("text/csv")
        .unwrap();
    let r = browser
        .post(server.url(&format!("{UNITS}/import")))
        .header("origin", server.origin.as_str())
        .multipart(
            Form::new()
                .text("csrf", token.to_owned())
                .part("file", file),
        )
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Posts the apply form of `preview` with `carried` as the file it carries back.
async fn apply(
    browser: &Client,
    server: &TestServer,
    token: &str,
    preview: &str,
    carried: &str,
) -> reqwest::Response {
    crate::web::post(
        browser,
        server,
        &format!("{UNITS}/import/apply"),
        token,
        &[
            ("fingerprint", &hidden(preview, "fingerprint")),
            ("file_base64", carried),
        ],
    )
    .await
}

fn hidden(html: &str, name: &str) -> String {
    crate::web::between(html, &format!(r#"name="{name}" value=""#), "\"").to_owned()
}

/// The stored phone numbers of the roster's owners, by first name.
async fn phones(cista: &Cista, org: OrgId) -> Vec<(String, Option<String>)> {
    let subjects: Vec<SubjectCode> = cista
        .store()
        .voting()
        .unit_owners(org)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.subject)
        .collect();
    let mut found: Vec<(String, Option<String>)> = cista
        .read_people(&operator(), org, &subjects, "test")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(_, f)| f)
        .map(|f| (f.first_name.to_string(), f.phone.map(|p| p.to_string())))
        .collect();
    found.sort();
    found.dedup();
    found
}

async fn spreadsheet_files_preview_and_import(target: Option<Target>) {
    let server = TestServer::start_on(Options::default(), target).await;
    let cista = &server.state.cista;
    let org = palm_court(cista).await;
    cista
        .set_phone_region(&operator(), org, Some(PhoneRegion::US))
        .await
        .unwrap();
    people::active(cista, org, "admin@palm.example", Role::Admin).await;
    let admin = sign_in(&server, "admin@palm.example").await;
    let (_, html) = crate::web::page(&admin, &server, UNITS).await;
    let token = csrf_in(&html);

    // A Windows-1252 file: refused, saying which byte and how to save "CSV UTF-8".
    let (status, html) = upload(
        &admin,
        &server,
        &token,
        b"unit;weight;first_name;last_name\n101;1;Jos\xe9;Ruiz\n",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("line 2"), "{html}");
    assert!(
        html.contains("is not UTF-8 text: it has the byte E9"),
        "{html}"
    );
    assert!(html.contains("“é” in Windows-1252"), "{html}");
    assert!(
        html.contains("CSV UTF-8 (Comma delimited) (*.csv)"),
        "{html}"
    );

    // A decimal comma in a comma-separated file: refused with what to write instead.
    let (status, html) = upload(
        &admin,
        &server,
        &token,
        b"unit,weight,first_name,last_name\n101,12,5,Ana,Ruiz\n",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Write 12.5 instead"), "{html}");

    // Invalid numbers are refused naming their rows: a US number too short, and the issue's
    // UK number, in a range reserved for fiction (it used to be stored as +4407700900123).
    let bad_phone = EUROPEAN
        .replace("(305) 555-0142", "555-0100")
        .replace("+44 07400 123456", "+44 07700 900123");
    let (status, html) = upload(&admin, &server, &token, bad_phone.as_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("line 2, column phone"), "{html}");
    assert!(
        html.contains("is not a valid number for country code +44 (wrong length"),
        "{html}"
    );
    assert!(html.contains("line 3, column phone"), "{html}");
    assert!(html.contains("is not a valid US number"), "{html}");

    // The European file: read, its total shown, the percentages and the look-alike flagged.
    let (status, preview) = upload(&admin, &server, &token, EUROPEAN.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(
        preview.contains("UTF-8, fields separated by semicolons, decimal commas"),
        "{preview}"
    );
    assert!(
        preview.contains(r#"<dd id="weight-total">99.95</dd>"#),
        "{preview}"
    );
    assert!(preview.contains("Check before applying"), "{preview}");
    assert!(preview.contains("they are 0.05 short"), "{preview}");
    assert!(
        preview.contains("“Oscar Baker” (line 4) and “Oscar B\u{430}ker” (line 5) look the same"),
        "{preview}"
    );
    assert!(preview.contains("U+0430, Cyrillic"), "{preview}");
    assert!(cista.roster(&operator(), org).await.unwrap().is_empty());

    let r = apply(
        &admin,
        &server,
        &token,
        &preview,
        &hidden(&preview, "file_base64"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let roster = cista.roster(&operator(), org).await.unwrap();
    let weights: Vec<String> = roster.iter().map(|u| u.unit.weight.to_string()).collect();
    assert_eq!(weights, vec!["12.5", "37.5", "24.95", "25"]);
    assert_eq!(
        phones(cista, org).await,
        vec![
            ("Ana".to_owned(), Some("+447400123456".to_owned())),
            ("Bo".to_owned(), Some("+13055550142".to_owned())),
            ("Oscar".to_owned(), None),
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreadsheet_files_preview_and_import_on_sqlite() {
    spreadsheet_files_preview_and_import(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreadsheet_files_preview_and_import_on_postgresql() {
    on_postgres(|target| spreadsheet_files_preview_and_import(Some(target))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_country_for_phone_numbers_is_an_organization_setting() {
    let (server, org, owner) = staff_of_palm_court("owner@palm.example", Role::Owner).await;
    let cista = &server.state.cista;
    let (_, html) = crate::web::page(&owner, &server, "/admin/palm-court").await;
    assert!(html.contains("Country for phone numbers"), "{html}");
    let token = csrf_in(&html);
    let settings =
        |zone: &'static str, region: &'static str| [("time_zone", zone), ("phone_region", region)];
    let r = crate::web::post(
        &owner,
        &server,
        "/admin/palm-court/settings",
        &token,
        &settings("America/New_York", "XX"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("two-letter country code"));
    let r = crate::web::post(
        &owner,
        &server,
        "/admin/palm-court/settings",
        &token,
        &settings("America/New_York", "us"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let stored = cista.store().organization(org).await.unwrap().unwrap();
    assert_eq!(stored.phone_region, Some(PhoneRegion::US));
    let (_, html) = crate::web::page(&owner, &server, "/admin/palm-court?done=settings").await;
    assert!(html.contains("read as US numbers"), "{html}");

    // An invitation now takes a national number and stores it in international form.
    let (_, html) = crate::web::page(&owner, &server, "/admin/palm-court/invite").await;
    assert!(html.contains("As a US number"), "{html}");
    let r = crate::web::post(
        &owner,
        &server,
        "/admin/palm-court/invite",
        &csrf_in(&html),
        &[
            ("first_name", "Jose\u{301}"),
            ("last_name", "Núñez"),
            ("email", "jose@palm.example"),
            ("phone", "305-555-0177"),
            ("role", "member"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let members: Vec<SubjectCode> = cista
        .store()
        .members(org)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    let fields = cista
        .read_people(&operator(), org, &members, "test")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(_, f)| f)
        .find(|f| {
            f.email
                .as_ref()
                .is_some_and(|e| e.as_str() == "jose@palm.example")
        })
        .unwrap();
    assert_eq!(fields.phone.unwrap().as_str(), "+13055550177");
    assert_eq!(fields.first_name.as_str(), "Jos\u{e9}");

    // Emptying the setting requires the country code again.
    let r = crate::web::post(
        &owner,
        &server,
        "/admin/palm-court/settings",
        &token,
        &settings("America/New_York", ""),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let stored = cista.store().organization(org).await.unwrap().unwrap();
    assert_eq!(stored.phone_region, None);
    server.stop().await;
}

/// A roster near the upload limit previews and applies: the page carries the previewed file
/// back compressed (before, as base64, a file over about 740 KB previewed cleanly, then its
/// apply was refused with 413). 4,300 owners with long names make a 900 KB file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_near_the_upload_limit_previews_and_applies() {
    let (server, org, admin) = staff_of_palm_court("admin@palm.example", Role::Admin).await;
    let cista = &server.state.cista;
    let (_, html) = crate::web::page(&admin, &server, UNITS).await;
    let token = csrf_in(&html);
    let letters = |mut i: usize| {
        let mut s = String::new();
        for _ in 0..4 {
            s.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
        }
        s
    };
    let mut file = String::from("unit,weight,first_name,last_name\n");
    for i in 0..4300 {
        let tail = "n".repeat(95);
        file.push_str(&format!(
            "{i},1,A{}{tail},B{}{tail}\n",
            letters(i),
            letters(i)
        ));
    }
    assert!(
        file.len() > 850_000 && file.len() < 1_000_000,
        "{}",
        file.len()
    );
    let (status, preview) = upload(&admin, &server, &token, file.as_bytes()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        &preview[..preview.len().min(2000)]
    );
    let carried = hidden(&preview, "file_base64");
    assert!(
        carried.len() < file.len() / 2,
        "compressed: {}",
        carried.len()
    );
    let r = apply(&admin, &server, &token, &preview, &carried).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(cista.roster(&operator(), org).await.unwrap().len(), 4300);
    units_are_listed_a_page_at_a_time(&admin, &server).await;
    people_are_listed_a_page_at_a_time(&admin, &server, org).await;

    // What comes back must be what `carried` made: anything else is refused, nothing applied.
    for broken in ["not base64!", "aGVsbG8="] {
        let r = apply(&admin, &server, &token, &preview, broken).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{broken}");
    }
    server.stop().await;
}

/// A file with more problems than a page lists: the true count, the first 500 by line, and
/// what to do next; nothing imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_many_problems_lists_the_first_ones_and_counts_them_all() {
    let (server, org, admin) = staff_of_palm_court("admin@palm.example", Role::Admin).await;
    let (_, html) = crate::web::page(&admin, &server, UNITS).await;
    let token = csrf_in(&html);
    let rows: String = (0..600).map(|i| format!("{i},1,,Ruiz\n")).collect();
    let file = format!("unit,weight,first_name,last_name\n{rows}");
    let (status, html) = upload(&admin, &server, &token, file.as_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("600 problems found in roster.csv"), "{html}");
    assert!(html.contains("The first 500 are listed, by line"), "{html}");
    assert_eq!(html.matches("<tr><th scope=\"row\">line ").count(), 500);
    assert!(html.contains("line 501, column first_name"), "{html}");
    assert!(!html.contains("line 502,"), "{html}");
    let cista = &server.state.cista;
    assert!(cista.roster(&operator(), org).await.unwrap().is_empty());
    server.stop().await;
}

/// With 4,300 units on file, the units page lists 200 at a time, in natural order, and reads
/// only those units' owners (one audited read of their names); a search pages the same way.
async fn units_are_listed_a_page_at_a_time(admin: &Client, server: &TestServer) {
    let rows = |html: &str| html.matches("<th scope=\"row\">").count();
    let (status, first) = crate::web::page(admin, server, UNITS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&first), 200);
    assert!(first.contains("4300 units on file"), "{first}");
    assert!(first.contains("Page 1 of 22"), "{first}");
    assert!(first.contains("<th scope=\"row\">199</th>") && !first.contains(">200</th>"));
    assert!(first.contains("href=\"/admin/palm-court/units?page=2#roster\" rel=\"next\""));
    let read = server
        .state
        .cista
        .store()
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .find(|e| e.kind == "person.read")
        .unwrap();
    assert!(read.details.contains("units page"), "{}", read.details);
    let subjects: serde_json::Value = serde_json::from_str(&read.details).unwrap();
    assert_eq!(
        subjects["subjects"].as_array().unwrap().len(),
        200,
        "only the page's owners"
    );
    for (path, shown, first_label) in [
        (format!("{UNITS}?page=22"), 100, "4200"),
        (format!("{UNITS}?page=999"), 100, "4200"),
        (format!("{UNITS}?page=nonsense"), 200, "0"),
        (format!("{UNITS}?q=429&page=1"), 14, "429"),
    ] {
        let (status, html) = crate::web::page(admin, server, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(rows(&html), shown, "{path}");
        assert!(
            html.contains(&format!("<th scope=\"row\">{first_label}</th>")),
            "{path}"
        );
    }
    // A search that matches more than a page pages too, its links keeping the search.
    let ones = (0..4300)
        .filter(|i: &i32| i.to_string().contains('1'))
        .count();
    let (_, html) = crate::web::page(admin, server, &format!("{UNITS}?q=1&page=2")).await;
    assert_eq!(rows(&html), (ones - 200).min(200));
    assert!(html.contains(&format!("{ones} units match")), "{html}");
    let end = html.find("\" rel=\"prev\"").unwrap();
    let previous = &html[html[..end].rfind("href=\"").unwrap() + 6..end];
    assert!(
        previous.starts_with("/admin/palm-court/units?q=1&") && previous.ends_with("page=1#roster"),
        "{previous}"
    );
}

/// With 4,300 owners the people page lists 200 at a time, by role and then last name, the
/// pages following on from each other; a search pages the same way, its links keeping it.
async fn people_are_listed_a_page_at_a_time(admin: &Client, server: &TestServer, org: OrgId) {
    const PEOPLE: &str = "/admin/palm-court/people";
    let names = |html: &str| -> Vec<String> {
        html.split("<th scope=\"row\">")
            .skip(1)
            .map(|row| row[..row.find('<').unwrap()].trim().to_owned())
            .collect()
    };
    let members = server.state.cista.store().members(org).await.unwrap();
    let total = members.len();
    assert!(total > 4300, "{total}");
    let pages = total.div_ceil(200);
    let (status, first) = crate::web::page(admin, server, PEOPLE).await;
    assert_eq!(status, StatusCode::OK);
    assert!(first.len() < 1_500_000, "a page of {} bytes", first.len());
    assert!(first.contains(&format!("{total} people in the organization")));
    assert!(first.contains(&format!("Page 1 of {pages}")), "{first}");
    assert!(first.contains("href=\"/admin/palm-court/people?page=2#people\" rel=\"next\""));
    let (_, second) = crate::web::page(admin, server, &format!("{PEOPLE}?page=2")).await;
    let (_, last) = crate::web::page(admin, server, &format!("{PEOPLE}?page={pages}")).await;
    let (_, past) = crate::web::page(admin, server, &format!("{PEOPLE}?page=99999")).await;
    let (_, odd) = crate::web::page(admin, server, &format!("{PEOPLE}?page=-1")).await;
    assert_eq!(names(&first).len(), 200);
    assert_eq!(names(&second).len(), 200);
    assert_eq!(names(&last).len(), total - 200 * (pages - 1));
    assert_eq!(names(&past), names(&last));
    assert_eq!(names(&odd), names(&first));
    // The owners of units come after the staff, by last name, and page 2 goes on from page 1.
    let owners: Vec<String> = names(&first)
        .into_iter()
        .chain(names(&second))
        .filter(|n| n.ends_with("nnnnn"))
        .collect();
    assert!(owners.len() > 350, "{}", owners.len());
    let last_name = |n: &String| n.split(' ').nth(1).unwrap().to_lowercase();
    assert!(
        owners
            .windows(2)
            .all(|w| last_name(&w[0]) <= last_name(&w[1]))
    );
    // A search by unit label: 429, 1429, 2429, 3429 and 4290–4299.
    let (_, found) = crate::web::page(admin, server, &format!("{PEOPLE}?q=429")).await;
    assert_eq!(names(&found).len(), 14);
    assert!(found.contains("14 people match"), "{found}");
    assert!(!found.contains("Page 1 of"));
    let (_, html) = crate::web::page(admin, server, &format!("{PEOPLE}?q=nnnnn&page=2")).await;
    assert!(html.contains("4300 people match"), "{html}");
    assert!(html.contains("Page 2 of 22"), "{html}");
    assert!(
        html.contains("href=\"/admin/palm-court/people?q=nnnnn&#38;page=3#people\""),
        "{}",
        &html[html.find("<nav class=\"pages\"").unwrap()..]
    );
}
