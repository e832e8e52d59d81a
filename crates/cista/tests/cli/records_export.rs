//! `cista records export` on the demo's River Watch (30 records, a photo on every third): CSV
//! with photos as signed links on the configured origin, GeoJSON to standard output, the area
//! and state filters, a ZIP of the records and their delivered photos (none of the phone's
//! metadata) written whole or not at all, bad filters refused by name, every export audited.

use crate::{Running, cista, cista_command, fails, free_port, ok};
use std::path::Path;
use std::time::{Duration, Instant};

fn export(data: &Path, args: &[&str]) -> std::process::Command {
    let mut all = vec!["export", "--org", "river-watch"];
    all.extend_from_slice(args);
    cista_command(data, "records", &all)
}

#[test]
fn records_export_writes_csv_geojson_and_a_zip_of_the_delivered_photos() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cista-data");
    let port = free_port();
    let mut command = cista(&data);
    command.args(["demo", "--listen", &format!("127.0.0.1:{port}")]);
    let mut demo = Running::spawn(command);
    demo.wait_for("Press Ctrl-C to stop.");
    // The server's worker makes each photo's delivered copy; wait until all ten have one.
    let zip_path = tmp.path().join("river.zip");
    let zip_arg = zip_path.to_str().unwrap();
    let started = Instant::now();
    loop {
        let ran = ok(export(&data, &["--format", "zip", "--out", zip_arg]));
        if ran
            .stderr
            .contains("30 records and 10 photos of river-watch exported as zip")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{}",
            ran.stderr
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(demo.terminate(), 0);

    let files = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(cista_testkit::fixtures::unzip(
            std::fs::read(&zip_path).unwrap(),
        ));
    assert_eq!(files.len(), 11, "records.csv and ten photos");
    assert_eq!(files[0].name, "records.csv");
    assert!(!tmp.path().join("river.zip.part").exists());
    for photo in &files[1..] {
        assert!(
            photo.name.starts_with("photos/") && photo.name.ends_with(".jpg"),
            "{}",
            photo.name
        );
        assert!(photo.stored, "stored, not deflated");
        for canary in [&b"Exif\0\0"[..], b"SN12345", b"CanaryCreek"] {
            assert!(
                !photo.bytes.windows(canary.len()).any(|w| w == canary),
                "{}",
                photo.name
            );
        }
    }

    let csv_path = tmp.path().join("approved.csv");
    ok(export(
        &data,
        &[
            "--format",
            "csv",
            "--state",
            "approved",
            "--out",
            csv_path.to_str().unwrap(),
        ],
    ));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    exports_are_private_and_a_directory_is_refused(&data, tmp.path(), &[&csv_path, &zip_path]);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",photos.links"), "{csv}");
    let rows: Vec<&str> = lines.collect();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.contains(",approved,")),
        "{csv}"
    );
    // No `server.public_url` is configured: the links name localhost on the listening port.
    assert!(
        rows.iter()
            .any(|r| r.contains("https://localhost:8443/media/") && r.contains("&signature=")),
        "signed links on the public origin: {csv}"
    );

    let geojson = ok(export(
        &data,
        &["--format", "geojson", "--area", "-90,-180,90,180"],
    ))
    .stdout;
    let geo: serde_json::Value = serde_json::from_str(&geojson).unwrap();
    assert_eq!(
        geo["features"].as_array().unwrap().len(),
        30,
        "every record has a point"
    );
    let nowhere = ok(export(&data, &["--format", "geojson", "--area", "0,0,1,1"])).stdout;
    let geo: serde_json::Value = serde_json::from_str(&nowhere).unwrap();
    assert!(geo["features"].as_array().unwrap().is_empty());

    let refused = fails(export(&data, &["--format", "csv", "--area", "10,0,5,1"]));
    assert!(refused.contains("south"), "{refused}");
    let refused = fails(export(&data, &["--format", "csv", "--area", "1,2,3"]));
    assert!(refused.contains("south,west,north,east"), "{refused}");
    let refused = fails(export(&data, &["--format", "csv", "--state", "lost"]));
    assert!(refused.contains("needs_changes"), "{refused}");

    let log = ok(cista_command(&data, "audit", &["verify"])).stdout;
    assert!(log.starts_with("audit log OK: "), "{log}");
}

/// Personal data: each export readable by the owner only. A directory given as the file is
/// refused before anything is written, and nothing is left beside it.
fn exports_are_private_and_a_directory_is_refused(data: &Path, tmp: &Path, written: &[&Path]) {
    #[cfg(unix)]
    for file in written {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    for format in ["zip", "csv"] {
        let out = tmp.join("a-directory");
        std::fs::create_dir_all(&out).unwrap();
        let line = crate::fails(export(
            data,
            &["--format", format, "--out", out.to_str().unwrap()],
        ));
        assert!(line.contains("a-directory"), "{format}: {line}");
        let left: Vec<_> = std::fs::read_dir(tmp)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains("a-directory") && name != "a-directory")
            .collect();
        assert!(left.is_empty(), "{format}: {left:?}");
    }
}
