//! A local S3-protocol server for tests: moto's `moto_server`, from the Python environment
//! `.ci/run` installs. With `CISTA_TEST_REQUIRE_S3=1` (as CI sets) a missing server fails the
//! test instead of skipping it.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bucket every server starts with.
pub const BUCKET: &str = "cista-test";

/// Starts a server, or says why not: `None` (after saying so) when there is none and none is
/// required; a panic when `CISTA_TEST_REQUIRE_S3` is set and none starts.
pub fn required() -> Option<S3Server> {
    let server = S3Server::start();
    if server.is_none() {
        assert!(
            std::env::var_os("CISTA_TEST_REQUIRE_S3").is_none(),
            "CISTA_TEST_REQUIRE_S3 is set but moto_server could not be started"
        );
        eprintln!("SKIPPED: no moto_server (set CISTA_TEST_MOTO to its path)");
    }
    server
}

/// moto's S3-protocol server on a free local port, with the bucket `BUCKET` created; killed
/// when dropped.
#[derive(Debug)]
pub struct S3Server {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl S3Server {
    /// Starts moto from `CISTA_TEST_MOTO` (or beside `CISTA_TEST_PYTHON`); `None` when there
    /// is none (see `required`).
    pub fn start() -> Option<Self> {
        let moto = std::env::var_os("CISTA_TEST_MOTO")
            .map(PathBuf::from)
            .or_else(|| {
                let python = std::env::var_os("CISTA_TEST_PYTHON")?;
                Some(Path::new(&python).with_file_name("moto_server"))
            })?;
        if !moto.exists() {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = std::process::Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let server = Self { child, endpoint };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Create the bucket with a plain PUT (moto accepts it unsigned).
                let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
                use std::io::{Read, Write};
                write!(stream, "PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
                let mut response = String::new();
                stream.read_to_string(&mut response).ok()?;
                assert!(response.starts_with("HTTP/1.1 200"), "moto: {response}");
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
