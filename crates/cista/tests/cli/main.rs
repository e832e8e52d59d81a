//! The `cista` binary as an operator uses it: every command, every refusal the foundation
//! promises (one clear line, exit 1, nothing written), the demo's whole life, and PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod app_tokens;
mod assessment_restore;
mod assessments;
mod backup;
mod bad_input;
mod blobs;
mod breach;
mod commands;
mod demo;
mod error_reporting;
mod hsm;
mod people;
mod postgres;
mod record_forms;
mod records_export;
mod two_servers;
mod voting;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_cista");

/// A command for the binary with a clean environment: only the variables a test sets.
pub fn cista(data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("CISTA_") {
            command.env_remove(key);
        }
    }
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn");
    command
}

/// `cista COMMAND ARGS…` on the instance at `data_dir`.
pub fn cista_command(data_dir: &Path, command: &str, args: &[&str]) -> Command {
    let mut run = cista(data_dir);
    run.arg(command).args(args);
    run
}

/// Creates the organization `name` with an owner (first and last name, email); returns its
/// slug.
pub fn create_org(data_dir: &Path, name: &str, owner: (&str, &str, &str)) -> String {
    let (first, last, email) = owner;
    ok(cista_command(
        data_dir,
        "org",
        &[
            "create",
            "--name",
            name,
            "--owner-email",
            email,
            "--owner-first-name",
            first,
            "--owner-last-name",
            last,
        ],
    ));
    name.to_lowercase().replace(' ', "-")
}

#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut command: Command) -> Ran {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs and expects success.
pub fn ok(command: Command) -> Ran {
    let ran = run(command);
    assert_eq!(
        ran.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        ran.stdout, ran.stderr
    );
    ran
}

/// Runs and expects exit 1 with one `error:` line on standard error; returns that line.
pub fn fails(command: Command) -> String {
    let ran = run(command);
    assert_eq!(
        ran.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        ran.stdout, ran.stderr
    );
    let errors: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "one error line expected, got:\n{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    errors[0].to_owned()
}

pub fn init(data_dir: &Path) -> Ran {
    let mut command = cista(data_dir);
    command.arg("init");
    ok(command)
}

pub use cista_testkit::fixtures::free_port;

/// A server process whose standard output is read line by line.
#[derive(Debug)]
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Self {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until a line containing `needle` appears.
    pub fn wait_for(&mut self, needle: &str) {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let out = self.child.wait_with_output_lossy();
                    panic!(
                        "`{needle}` never appeared; stdout:\n{}\nstderr:\n{out}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(mut self) -> i32 {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

trait LossyOutput {
    fn wait_with_output_lossy(&mut self) -> String;
}

impl LossyOutput for Child {
    fn wait_with_output_lossy(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut err, &mut text);
        }
        text
    }
}

/// An HTTPS client that trusts only the data directory's local CA.
pub fn client(data_dir: &Path, port: u16) -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ca = std::fs::read(data_dir.join("tls/ca.pem")).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap()
}

pub fn kek_path(data_dir: &Path) -> PathBuf {
    let mut p = data_dir.as_os_str().to_owned();
    p.push(".kek");
    PathBuf::from(p)
}

/// Runs SQL directly on a data directory's SQLite database, as an attacker with file access.
pub fn tamper_sqlite(data_dir: &Path, sql: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sea_orm::ConnectionTrait as _;
        let store = cista_store::SeaStore::connect(
            &cista_store::Target::SqliteFile(data_dir.join("cista.db")),
            &cista_store::ConnectOptions::default(),
        )
        .await
        .unwrap();
        store.connection().execute_unprepared(sql).await.unwrap();
    });
}

/// One query on a SQLite file, returning the first column as text.
pub fn query_sqlite(db: &Path, sql: &str) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sea_orm::ConnectionTrait as _;
        let store = cista_store::SeaStore::connect(
            &cista_store::Target::SqliteFile(db.to_owned()),
            &cista_store::ConnectOptions {
                create_if_missing: false,
                ..cista_store::ConnectOptions::default()
            },
        )
        .await
        .unwrap();
        let rows: Vec<String> = store
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .into_iter()
            .map(|row| {
                row.try_get_by_index::<String>(0)
                    .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                    .unwrap()
            })
            .collect();
        // Closed before returning: the last connection's close removes the -wal and -shm
        // files, which must not happen while the caller lists the directory.
        store.connection().close_by_ref().await.unwrap();
        rows
    })
}
