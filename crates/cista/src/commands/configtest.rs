//! `cista configtest`: load the configuration and check each thing the server needs, printing
//! one line per check; exit 1 if any fails.

use crate::cli::ConfigtestArgs;
use crate::runtime::{Failure, Runtime};
use std::net::SocketAddr;
use std::process::ExitCode;

pub async fn run(rt: &Runtime, args: &ConfigtestArgs) -> Result<ExitCode, Failure> {
    if args.print {
        println!("{}", rt.config.to_redacted_toml());
    }
    let mut failed = false;
    let mut check = |ok: Result<String, String>, what: &str| match ok {
        Ok(detail) => println!("ok    {what}: {detail}"),
        Err(problem) => {
            failed = true;
            println!("FAIL  {what}: {problem}");
        }
    };
    check(Ok("loaded".to_owned()), "configuration");
    check(
        rt.config
            .server
            .listen
            .parse::<SocketAddr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("`{}` is not ADDR:PORT", rt.config.server.listen)),
        "server.listen",
    );
    if let Some(url) = &rt.config.server.public_url {
        check(
            if url.starts_with("https://") {
                Ok(url.clone())
            } else {
                Err(format!("`{url}` must start with https://"))
            },
            "server.public_url",
        );
    }
    if rt.config.map.tile_url.is_some() {
        check(
            rt.map_tiles()
                .map(|t| t.map_or_else(|| "off".to_owned(), |t| t.origin))
                .map_err(|e| e.0),
            "map.tile_url",
        );
    }
    check(disclosure(rt), "disclosure (security.txt)");
    check(
        cista_http::TlsSettings::load(&rt.paths.cert_file, &rt.paths.key_file)
            .map(|t| {
                format!(
                    "{} ({})",
                    rt.paths.cert_file.display(),
                    t.versions.join(", ")
                )
            })
            .map_err(|e| e.to_string()),
        "TLS certificate and key",
    );
    let keys = rt.key_provider();
    check(
        keys.as_ref()
            .map(|_| rt.keys_location())
            .map_err(ToString::to_string),
        "keys",
    );
    let store = rt.store(false, false).await;
    match &store {
        Ok(store) => {
            let status = store.schema_status().await;
            check(
                status
                    .map(|s| {
                        if s.pending.is_empty() {
                            format!("{}, schema up to date", store.location())
                        } else {
                            format!(
                                "{}, {} pending (applied at start or by `cista migrate`)",
                                store.location(),
                                cista_types::words::count(
                                    s.pending.len(),
                                    "migration",
                                    "migrations"
                                )
                            )
                        }
                    })
                    .map_err(|e| e.chain()),
                "database",
            );
        }
        Err(e) => check(Err(e.to_string()), "database"),
    }
    if keys.is_ok() && store.is_ok() {
        check(
            rt.open(false)
                .await
                .map(|c| {
                    format!(
                        "instance {:016x}, audit signing key unwraps",
                        c.instance().id
                    )
                })
                .map_err(|e| e.to_string()),
            "instance",
        );
    } else {
        // Say why the instance was not opened, so a missing line is never silent.
        println!("skip  instance: not opened, as the keys or the database above failed");
    }
    if failed {
        println!("configuration has problems");
        Ok(ExitCode::FAILURE)
    } else {
        println!("configuration OK");
        Ok(ExitCode::SUCCESS)
    }
}

/// The `[disclosure]` check: a contact on a public instance, and an Expires within the year.
fn disclosure(rt: &Runtime) -> Result<String, String> {
    let now = rt.now();
    match rt.disclosure(now) {
        Ok(Some(txt)) => match txt.expiry_problem(now) {
            Some(problem) => Err(problem),
            None => Ok(format!(
                "{}, expires {}",
                txt.contact.join(", "),
                txt.expires_field()
            )),
        },
        Ok(None) if rt.is_public() => Err("disclosure.contact is missing: a public instance \
                                           must say where vulnerabilities are reported; set \
                                           [disclosure] contact and expires (RFC 9116)"
            .to_owned()),
        Ok(None) => Ok(
            "not set: /.well-known/security.txt answers 404 (required once \
                        server.public_url names a public host)"
                .to_owned(),
        ),
        Err(e) => Err(e.0),
    }
}
