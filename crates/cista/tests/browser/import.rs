//! The roster upload in Chromium with files as spreadsheets write them: a European file
//! (semicolons, decimal commas, a phone with a trunk zero after +44, a look-alike name) shows
//! its preview with the total of the weights and the warnings a manager must see; a
//! Windows-1252 file shows how to save it as "CSV UTF-8". Screenshots of both.

use crate::{Browser, OWNER};
use thirtyfour::prelude::*;

const EUROPEAN: &str = "unit;weight;first_name;last_name;email;phone\r\n\
    101;12,5;Ana;Ruiz;ana@palm.example;+44 07400 123456\r\n\
    102;37,5;Bo;Li;bo@palm.example;(305) 555-0142\r\n\
    103;24,95;Oscar;Baker;oscar@palm.example;\r\n\
    104;25;Oscar;B\u{430}ker;oscar.b@palm.example;\r\n";

/// Chooses `bytes` (written to a file named `name`) in the upload form and sends it.
async fn upload(b: &Browser, dir: &std::path::Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    b.go("/admin/palm-court/units").await;
    let input = b.driver.find(By::Id("file")).await.unwrap();
    input.send_keys(path.display().to_string()).await.unwrap();
    let button = b
        .driver
        .find(By::Css("form.upload button[type=submit]"))
        .await
        .unwrap();
    b.click_and_wait(button).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreadsheet_files_preview_with_totals_and_warnings_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    b.first_sign_in(OWNER, true).await;

    upload(&b, files.path(), "roster-es.csv", EUROPEAN.as_bytes()).await;
    let preview = b.main_text().await;
    for text in [
        "Preview of the import",
        "Check before applying",
        "The weights add up to 99.95",
        "0.05 short",
        "“Oscar Baker” (line 4) and “Oscar B\u{430}ker” (line 5) look the same",
        "U+0430, Cyrillic",
        "Total of the weights\n99.95",
        "UTF-8, fields separated by semicolons, decimal commas",
    ] {
        assert!(preview.contains(text), "{text}: {preview}");
    }
    b.shot("import-preview-european.png").await;

    upload(
        &b,
        files.path(),
        "roster-latin1.csv",
        b"unit;weight;first_name;last_name\r\n101;1;Jos\xe9;Ruiz\r\n",
    )
    .await;
    let problems = b.main_text().await;
    assert!(problems.contains("The file was not imported"), "{problems}");
    assert!(problems.contains("“é” in Windows-1252"), "{problems}");
    assert!(
        problems.contains("CSV UTF-8 (Comma delimited) (*.csv)"),
        "{problems}"
    );
    b.shot("import-problems-windows-1252.png").await;
    assert!(b.problems().await.is_empty(), "{:?}", b.problems().await);
}

/// A roster near the upload limit (870 KB, 3,100 owners) previews and applies from the page:
/// the preview carries the file back compressed. A file with 600 bad rows lists the first 500
/// with the true count. Screenshots of both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_roster_applies_and_a_long_list_of_problems_is_cut_in_chromium() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    b.first_sign_in(OWNER, true).await;

    // Short names, as on a real roster, and long addresses (which the units page does not
    // show) to make the file 870 KB: 3,100 owners.
    let mut large = String::from("unit,weight,first_name,last_name,email\n");
    for i in 0..3100 {
        let name: String = (0..4)
            .map(|k| char::from(b'a' + ((i / 26usize.pow(k)) % 26) as u8))
            .collect();
        let local = format!("{name}.{}", "x".repeat(58));
        let domain = format!(
            "{}.{}.{}.example",
            "d".repeat(63),
            "e".repeat(63),
            "f".repeat(40)
        );
        large.push_str(&format!("L{i},1,Ana,Ruiz {name},{local}@{domain}\n"));
    }
    assert!(large.len() > 800_000, "{}", large.len());
    upload(&b, files.path(), "roster-large.csv", large.as_bytes()).await;
    let preview = b.main_text().await;
    assert!(preview.contains("Preview of the import"), "{preview}");
    let apply = b
        .driver
        .find(By::XPath(
            "//main//button[normalize-space(text())='Apply this import']",
        ))
        .await
        .unwrap();
    b.click_and_wait(apply).await;
    let applied = b.main_text().await;
    for text in ["The import is applied.", "3100 units on file."] {
        assert!(applied.contains(text), "{text}: {applied}");
    }
    b.shot("import-applied-3100-units.png").await;
    // 200 units a page: the last of 16 holds the last 100, with links back.
    b.go("/admin/palm-court/units?page=16#roster").await;
    let last = b.main_text().await;
    assert!(last.contains("Page 16 of 16"), "{last}");
    assert!(
        last.contains("L3099") && !last.contains("L2999\n"),
        "{last}"
    );
    b.shot("units-last-page.png").await;
    b.go("/admin/palm-court/units?q=L3099").await;
    let found = b.main_text().await;
    assert!(found.contains("L3099"), "{found}");
    // The people page lists 200 at a time too, by last name; Next goes on from there.
    b.go("/admin/palm-court/people").await;
    let people = b.main_text().await;
    assert!(people.contains("Page 1 of 16"), "{people}");
    let next = b
        .driver
        .find(By::Css("nav.pages a[rel='next']"))
        .await
        .unwrap();
    b.click_and_wait(next).await;
    let second = b.main_text().await;
    assert!(second.contains("Page 2 of 16"), "{second}");
    assert!(second.contains("Ruiz "), "{second}");
    b.shot("people-second-page.png").await;

    let bad: String = (0..600).map(|i| format!("{i},1,,Ruiz\n")).collect();
    let bad = format!("unit,weight,first_name,last_name\n{bad}");
    upload(&b, files.path(), "roster-bad.csv", bad.as_bytes()).await;
    let problems = b.main_text().await;
    assert!(
        problems.contains("600 problems found in roster-bad.csv"),
        "{problems}"
    );
    assert!(problems.contains("The first 500 are listed"), "{problems}");
    b.shot("import-problems-first-500.png").await;
    assert!(b.problems().await.is_empty(), "{:?}", b.problems().await);
}
