//! `cista record-form import|export` against a stopped instance: a record form checked whole,
//! published as versions (the same file again changes nothing), refused naming the field at
//! fault, and read back as a file `import` takes.

use crate::{cista_command, create_org, fails, init, ok};

fn record_form(data: &std::path::Path, args: &[&str]) -> std::process::Command {
    cista_command(data, "record-form", args)
}

fn import(data: &std::path::Path, file: &std::path::Path) -> std::process::Command {
    record_form(
        data,
        &[
            "import",
            "--org",
            "river-watch",
            "--key",
            "wells",
            file.to_str().unwrap(),
        ],
    )
}

#[test]
fn a_record_form_file_is_imported_checked_versioned_and_exported() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let org = create_org(
        &data,
        "River Watch",
        ("Robin", "Chen", "robin@river.example"),
    );
    assert_eq!(org, "river-watch");
    let file = tmp.path().join("wells.json");
    std::fs::write(
        &file,
        cista_testkit::fixtures::record_form("Well survey").to_string(),
    )
    .unwrap();
    let imported = ok(import(&data, &file)).stdout;
    assert!(
        imported.contains("wells version 1 of river-watch (5 fields): Well survey"),
        "{imported}"
    );
    let again = ok(import(&data, &file)).stdout;
    assert!(
        again.contains("wells version 1 of"),
        "the same file changes nothing: {again}"
    );
    // Saved by an editor that writes a byte order mark: the same file.
    let marked = tmp.path().join("marked.json");
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(&std::fs::read(&file).unwrap());
    std::fs::write(&marked, bytes).unwrap();
    let same = ok(import(&data, &marked)).stdout;
    assert!(same.contains("wells version 1 of"), "{same}");
    // A file far larger than any definition is refused by its size, unread.
    let huge = tmp.path().join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 * 1024 * 1024)
        .unwrap();
    let refused = fails(import(&data, &huge));
    assert!(refused.contains("a definition holds at most"), "{refused}");

    let mut broken = cista_testkit::fixtures::record_form("Well survey");
    broken["fields"][0]["min"] = serde_json::json!(5000);
    let broken_file = tmp.path().join("broken.json");
    std::fs::write(&broken_file, broken.to_string()).unwrap();
    let refused = fails(import(&data, &broken_file));
    assert!(refused.contains("fields[0]"), "{refused}");

    let exported = ok(record_form(
        &data,
        &["export", "--org", "river-watch", "--key", "wells"],
    ))
    .stdout;
    let back: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(back["fields"][1]["max_length"], 100000);
    assert_eq!(
        back["fields"][4]["max_bytes"],
        10 * 1024 * 1024,
        "defaults spelled out"
    );
    let round_trip = tmp.path().join("back.json");
    std::fs::write(&round_trip, &exported).unwrap();
    let same = ok(import(&data, &round_trip)).stdout;
    assert!(same.contains("wells version 1 of"), "{same}");
    let missing = fails(record_form(
        &data,
        &["export", "--org", "river-watch", "--key", "nope"],
    ));
    assert!(missing.contains("no record form nope"), "{missing}");
}
