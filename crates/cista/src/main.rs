//! The `cista` binary: parses the command line, loads the configuration, wires the store, the
//! key provider and the core together, and runs one command. Failures print one line naming
//! the problem and exit 1.
#![allow(clippy::print_stdout)] // a command-line tool's output is its purpose

mod certs;
mod cli;
mod commands;
mod config;
mod error_reporting;
mod files;
mod logging;
mod runtime;
mod third_parties;

use clap::Parser as _;
use cli::{
    AuditCommand, BackupCommand, BenchCommand, BlobsCommand, Cli, Command, KeysCommand,
    MembersCommand, OrgCommand, RecordsCommand,
};
use runtime::{Failure, Runtime};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: glibc serves the 19 MiB blocks of each Argon2id hash
/// from its heap once a few have been freed (its mmap threshold grows with them) and keeps
/// that memory after the hash, so a server that had signed in a thousand people held a
/// gigabyte; mimalloc gives freed memory back, and allocates faster under many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    let cli = Cli::parse();
    // More than one rustls crypto provider is linked; choose one explicitly for every client.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// Keeps the kernel from backing the allocator's memory with 2 MiB transparent huge pages.
/// mimalloc asks for them (`madvise(MADV_HUGEPAGE)` on its arenas), so where THP is in
/// `madvise` mode (Debian's default) a few small allocations in a fresh arena made 2 MiB
/// resident each: an idle `cista demo` measured 81 MB RSS with 35 MB of huge pages, 49 MB
/// without them. The flag is the process's (`prctl(2)`, `PR_SET_THP_DISABLE`), but the
/// allocator's first arena was touched before `main` (the Rust runtime's start-up allocates),
/// so two huge pages (4 MiB) were already resident; the flag is kept across `execve(2)`, so
/// the process sets it and starts itself again, and the new image has it from its first
/// allocation (idle `serve`: 38.4 MB RSS instead of 41.9 MB). Arguments, environment, open
/// files and the process id are kept. Where THP is off, or the flag is already set (by the
/// first start, or a parent), nothing happens; any failure only costs memory, so the process
/// then goes on as it is. Tools that follow one image (valgrind without
/// `--trace-children`) see only the first.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt as _;
        /// Set on the second image: it never starts a third, even where a sandbox accepts the
        /// flag and then does not keep it.
        const STARTED_AGAIN: &str = config::STARTED_WITHOUT_THP;
        let thp_on = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .is_ok_and(|mode| !mode.contains("[never]"));
        let already_off = rustix::thread::transparent_huge_pages_are_disabled().unwrap_or(true);
        // Started through the dynamic loader (`ld-linux… ./cista`), /proc/self/exe is the
        // loader, which would not know what to run.
        let exe = std::fs::read_link("/proc/self/exe").ok().filter(|exe| {
            exe.file_name()
                .is_some_and(|name| !name.to_string_lossy().starts_with("ld-"))
        });
        let Some(exe) = exe else {
            return;
        };
        if !thp_on
            || already_off
            || std::env::var_os(STARTED_AGAIN).is_some()
            || rustix::thread::disable_transparent_huge_pages(true).is_err()
        {
            return;
        }
        let mut args = std::env::args_os();
        // The binary's own path rather than /proc/self/exe: the kernel names a process
        // (`/proc/PID/comm`, what `ps` and `top` show) after the file it executes, and
        // /proc/self/exe would name it `exe`. Should the file have been deleted since, the exec
        // fails and this image goes on as it is; had it been replaced by an upgrade, the new
        // binary starts, as any restart would.
        let mut again = std::process::Command::new(exe);
        if let Some(name) = args.next() {
            again.arg0(name);
        }
        // Returns only if the exec failed.
        let _ = again.env(STARTED_AGAIN, "1").args(args).exec();
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    // Commands that use no configuration run before it is read: anyone can recount a bundle,
    // and the benchmark makes its own throw-away instance.
    match &cli.command {
        Command::VerifyElection(args) => return commands::verify_election::run(args),
        Command::Bench(BenchCommand::Voting(args)) => {
            logging::init(&config::LogConfig::default(), "warn", false);
            commands::bench::run(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Bench(BenchCommand::Assessment(args)) => {
            logging::init(&config::LogConfig::default(), "warn", false);
            commands::bench_assessment::run(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Bench(BenchCommand::Collection(args)) => {
            logging::init(&config::LogConfig::default(), "warn", false);
            commands::bench_collection::run(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Bench(BenchCommand::Tally(args)) => {
            logging::init(&config::LogConfig::default(), "warn", false);
            commands::bench_tally::run(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Bench(BenchCommand::Crash(args)) => {
            logging::init(&config::LogConfig::default(), "warn", false);
            return commands::crash::run(args).await;
        }
        _ => {}
    }
    let rt = Runtime::load(&cli.global)?;
    let serving = matches!(cli.command, Command::Demo(_) | Command::Serve(_));
    // Flushes what is queued (at most 2 s) when `run` returns.
    let reporting = error_reporting::init(&rt.config.errors, env!("CARGO_PKG_VERSION"))?;
    logging::init(
        &rt.config.log,
        if serving { "info" } else { "warn" },
        reporting.is_some(),
    );
    match &cli.command {
        Command::Demo(args) => commands::serve::demo(rt, args).await?,
        Command::Serve(args) => commands::serve::serve(rt, args).await?,
        Command::Init => commands::init::run(&rt).await?,
        Command::Migrate => commands::migrate::run(&rt).await?,
        Command::Configtest(args) => return commands::configtest::run(&rt, args).await,
        Command::Audit(AuditCommand::Verify(args)) => {
            return commands::audit::verify(&rt, args).await;
        }
        Command::Keys(KeysCommand::Status) => return commands::keys::status(&rt).await,
        Command::Keys(KeysCommand::Rotate(args)) => commands::keys::rotate(&rt, args).await?,
        Command::Org(OrgCommand::Create(args)) => commands::org::create(&rt, args).await?,
        Command::Org(OrgCommand::InviteOwner(args)) => {
            commands::org::invite_owner(&rt, args).await?
        }
        Command::Erase(args) => commands::erase::run(&rt, args).await?,
        Command::AppToken(command) => commands::app_token::run(&rt, command).await?,
        Command::Assessment(command) => commands::assessment::run(&rt, command).await?,
        Command::RecordForm(command) => commands::record_form::run(&rt, command).await?,
        Command::Breach(command) => commands::breach::run(&rt, command).await?,
        Command::Records(RecordsCommand::Export(args)) => {
            commands::records::export(&rt, args).await?;
        }
        Command::Members(MembersCommand::Import(args)) => {
            commands::members::import(&rt, args).await?;
        }
        Command::Backup(BackupCommand::Status) => return commands::backup::status(&rt).await,
        Command::Backup(BackupCommand::Snapshot) => commands::backup::snapshot(&rt).await?,
        Command::Backup(BackupCommand::Verify) => commands::backup::verify(&rt).await?,
        Command::Restore(args) => commands::backup::restore(&rt, args).await?,
        Command::Blobs(BlobsCommand::Sweep(args)) => commands::blobs::sweep(&rt, args).await?,
        Command::VerifyElection(_) | Command::Bench(_) => {}
    }
    Ok(ExitCode::SUCCESS)
}
