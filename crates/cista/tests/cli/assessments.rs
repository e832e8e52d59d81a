//! `cista assessment import|export` against a stopped instance: a definition checked whole,
//! published as versions, refused with the rule at fault, read back as the file it was.

use crate::{cista_command, create_org, fails, init, ok};

fn assessment(data: &std::path::Path, args: &[&str]) -> std::process::Command {
    cista_command(data, "assessment", args)
}

/// `cista assessment import` of `file` as the organization's assessment `risk-profile`.
fn import(data: &std::path::Path, org: &str, file: &std::path::Path) -> std::process::Command {
    assessment(
        data,
        &[
            "import",
            "--org",
            org,
            "--key",
            "risk-profile",
            file.to_str().unwrap(),
        ],
    )
}

#[test]
fn an_assessment_file_is_imported_checked_versioned_and_exported_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let org = create_org(
        &data,
        "Harbor Advisory",
        ("Hana", "Okafor", "hana@harbor.example"),
    );
    let org = org.as_str();
    assert_eq!(org, "harbor-advisory");
    let file = tmp.path().join("risk.json");
    std::fs::write(&file, cista_core::products::assessment::RISK_PROFILE).unwrap();

    let imported = ok(import(&data, org, &file)).stdout;
    assert!(
        imported.contains(
            "risk-profile version 1 of harbor-advisory (10 questions, 3 scores, 3 bands)"
        ),
        "{imported}"
    );
    assert!(imported.contains("score risk: from 2 to 100"), "{imported}");

    // A division that could be by zero: refused, naming the score, and nothing stored.
    let mut broken: serde_json::Value =
        serde_json::from_str(cista_core::products::assessment::RISK_PROFILE).unwrap();
    broken["scores"][2]["logic"] = serde_json::json!({ "/": [100, { "var": "points.drop" }] });
    let broken_file = tmp.path().join("broken.json");
    std::fs::write(&broken_file, broken.to_string()).unwrap();
    let refused = fails(import(&data, org, &broken_file));
    assert!(
        refused.contains("score risk: division by zero"),
        "{refused}"
    );

    let exported = ok(assessment(
        &data,
        &["export", "--org", org, "--key", "risk-profile"],
    ))
    .stdout;
    let exported: serde_json::Value = serde_json::from_str(&exported).unwrap();
    let original: serde_json::Value =
        serde_json::from_str(cista_core::products::assessment::RISK_PROFILE).unwrap();
    assert_eq!(exported["title"], original["title"]);
    assert_eq!(
        exported["scores"][2]["logic"],
        original["scores"][2]["logic"]
    );
    // Defaults are spelled out in the normal form: re-importing it is the same version.
    assert_eq!(exported["scores"][0]["decimals"], 2);
    let export_file = tmp.path().join("exported.json");
    std::fs::write(&export_file, exported.to_string()).unwrap();
    let again = ok(import(&data, org, &export_file)).stdout;
    assert!(again.contains("risk-profile version 1 of"), "{again}");

    let missing = fails(assessment(
        &data,
        &["export", "--org", org, "--key", "nope"],
    ));
    assert!(missing.contains("that assessment"), "{missing}");
}
