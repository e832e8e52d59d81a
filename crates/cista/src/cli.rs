//! The command line: every command has `--help`, and every command takes `--config` and
//! `--data-dir` (also `CISTA_CONFIG`, `CISTA_DATA_DIR`).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "cista",
    version,
    about = "Cista: collect sensitive input from known people, with every security promise tested and shown.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// A TOML configuration file (layered over the defaults, under CISTA_… variables).
    #[arg(long, global = true, env = "CISTA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory: database, TLS files, local CA. The key file lives beside it.
    #[arg(
        long,
        global = true,
        env = "CISTA_DATA_DIR",
        value_name = "DIR",
        default_value = "cista-data"
    )]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a demo: initialize the data directory if needed (local CA, certificate, key file,
    /// SQLite database), create a demo organization, print the links, and serve HTTPS.
    Demo(DemoArgs),
    /// Serve HTTPS from an initialized data directory (see `init`).
    Serve(ServeArgs),
    /// Create the data directory, the local CA and server certificate, the key file and the
    /// database; safe to run again (existing files are reused, never overwritten).
    Init,
    /// Apply pending database migrations (forward only).
    Migrate,
    /// Check the configuration, certificate, key file and database, then exit.
    Configtest(ConfigtestArgs),
    /// Work with the tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Inspect and rotate key-encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Erase a person's personal data for good: their key is destroyed, a tombstone recorded,
    /// and their sessions, memberships and queued messages removed.
    Erase(EraseArgs),
    /// Manage an association's units and owners.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Create, list and revoke app tokens: the bearer credentials of the JSON API
    /// (`/api/v1/`), each for one organization and one purpose.
    #[command(subcommand, name = "app-token")]
    AppToken(AppTokenCommand),
    /// Import and export embedded assessments as files (questions, scoring rules, bands).
    #[command(subcommand)]
    Assessment(AssessmentCommand),
    /// Import and export record forms (field data collection) as files.
    #[command(subcommand, name = "record-form")]
    RecordForm(RecordFormCommand),
    /// Export the records of field data collection, as the review portal does.
    #[command(subcommand)]
    Records(RecordsCommand),
    /// Incident response (GDPR Art. 33/34): who an incident window could have touched.
    #[command(subcommand)]
    Breach(BreachCommand),
    /// Recount a closed ballot from its published bundle (`/e/BALLOT/bundle.json`) and check
    /// every signature, hash and inclusion proof; exit non-zero on any mismatch. Needs no
    /// database: anyone can run it.
    VerifyElection(VerifyElectionArgs),
    /// Measure performance on a throw-away instance (nothing of the data directory is used).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Continuous backup: status, an on-demand snapshot, a verified scratch restore.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Rebuild the database as it was at a moment, from the backup target, into a new
    /// directory (never over a live one); the erasure ledger is replayed before it is usable.
    Restore(RestoreArgs),
    /// Work with the blob store (attachments' files).
    #[command(subcommand)]
    Blobs(BlobsCommand),
}

#[derive(Debug, Subcommand)]
pub enum BlobsCommand {
    /// Remove blobs no attachment refers to and staging files of uploads that died, once
    /// they are older than the grace period (`serve` does this once a day by itself).
    Sweep(SweepArgs),
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Keep whatever was written in the last HOURS hours (at least 1): uploads in flight
    /// publish their file a moment before they record it.
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    pub grace_hours: u64,
    /// Count what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Show the shipping lag, the newest snapshot and the restorable window (exit 1 when the
    /// backup is failing or behind).
    Status,
    /// Take a snapshot now (through the running server if there is one).
    Snapshot,
    /// Restore the latest state into a scratch directory and check it: SQLite
    /// integrity_check, the erasure ledger replayed, and the audit log verified.
    Verify,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The moment to restore to, e.g. 2026-11-22T14:03:00Z, or `latest`.
    #[arg(long, value_name = "TIME")]
    pub to: String,
    /// A new or empty directory to restore into; becomes a data directory holding cista.db.
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Cast ballots over HTTPS with real sessions and print casts per second and p50/p99
    /// latency, next to the raw durable single-row commit rate of the same database; with the
    /// processor time a cast and a commit took and the casts per second the cores allow at it.
    Voting(BenchArgs),
    /// Submit embedded assessments through the real embed API (load token, origin, scoring,
    /// vault, audit) and print submissions per second and p50/p99 latency next to the raw
    /// durable commit rate of the same database; then the advisor's report's pages per second
    /// and the loader's gzipped size.
    Assessment(AssessmentBenchArgs),
    /// Send records through the real JSON API as collectors' phones do (device tokens paired
    /// over the API, a UUID idempotency key each), without and then with a 2 MB photo each,
    /// and print records/s, MB/s, p50/p99 and successes next to the raw durable commit rate
    /// of the same database; then the process's peak resident memory while 20 photos of 20 MB
    /// are uploaded at once.
    Collection(CollectionBenchArgs),
    /// The close, the published bundle, the bulletin page and `verify-election` of one
    /// weighted ballot of four contests at a million units (`--units`), every unit having
    /// voted (units and ballots written straight to the store): time and peak memory of each.
    Tally(TallyBenchArgs),
    /// The crash harness: casts votes at a steady rate through a real `cista serve` process
    /// that backs up continuously, kills it with SIGKILL at random moments, restores from
    /// the backup target into fresh directories and reports the worst lost acknowledged
    /// vote and whether a point-in-time restore matches a dump taken at that time. One round
    /// also takes the backup target away for a while.
    Crash(CrashArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Units (each with one owner who casts one ballot).
    #[arg(long, default_value_t = 300)]
    pub voters: usize,
    /// Browsers casting at the same time.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Single-row commits for the raw commit rate (from as many writers at once as casts).
    #[arg(long, default_value_t = 1000)]
    pub commits: u32,
    /// A PostgreSQL server to measure instead of SQLite (a scratch schema is created and
    /// dropped), e.g. postgres://postgres@127.0.0.1:5432/test.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<cista_types::Secret>,
    /// Fail (exit 1) when casts per second fall below this fraction of the raw commit rate
    /// measured in the same run, e.g. 0.5 (CI's check: a ratio, never an absolute time).
    #[arg(long, value_name = "FRACTION")]
    pub min_ratio: Option<f64>,
    /// After the measured casts, offer ten times the reached rate for this many seconds on a
    /// second ballot, and report what was accepted and what was shed (503).
    #[arg(long, value_name = "SECS")]
    pub overload: Option<u64>,
}

#[derive(Debug, Args)]
pub struct TallyBenchArgs {
    /// Units on the ballot's roll; every one of them votes.
    #[arg(long, default_value_t = 1_000_000)]
    pub units: usize,
    /// A PostgreSQL server to measure instead of SQLite (a scratch schema is created and
    /// dropped), e.g. postgres://postgres@127.0.0.1:5432/test.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<cista_types::Secret>,
}

#[derive(Debug, Args)]
pub struct AssessmentBenchArgs {
    /// Assessments submitted (each a load and a submission).
    #[arg(long, default_value_t = 500)]
    pub submissions: usize,
    /// Clients submitting at the same time.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Single-row commits for the raw commit rate.
    #[arg(long, default_value_t = 500)]
    pub commits: u32,
    /// Advisor's reports drawn, one after the other, for the pages-per-second figure.
    #[arg(long, default_value_t = 20)]
    pub reports: usize,
    /// A PostgreSQL server to measure instead of SQLite (a scratch schema is created and
    /// dropped), e.g. postgres://postgres@127.0.0.1:5432/test.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<cista_types::Secret>,
}

#[derive(Debug, Args)]
pub struct CollectionBenchArgs {
    /// Records sent in each of the two runs (without a photo, then each with a 2 MB photo).
    #[arg(long, default_value_t = 500)]
    pub records: usize,
    /// Phones sending at the same time (each a collector with a device token of its own).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Photos uploaded at once for the peak-memory figure.
    #[arg(long, default_value_t = 20)]
    pub large_photos: usize,
    /// The size of each of those photos in MB (10^6 bytes), 1 to 20 (the API takes 20 MiB).
    #[arg(long, default_value_t = 20)]
    pub large_photo_mb: usize,
    /// Single-row commits for the raw commit rate.
    #[arg(long, default_value_t = 500)]
    pub commits: u32,
    /// A PostgreSQL server to measure instead of SQLite (a scratch schema is created and
    /// dropped), e.g. postgres://postgres@127.0.0.1:5432/test.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<cista_types::Secret>,
}

#[derive(Debug, Args)]
pub struct CrashArgs {
    /// Kill-and-restore rounds.
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,
    /// Votes cast per second.
    #[arg(long, default_value_t = 40)]
    pub rate: u32,
    /// Units (and owners): enough for every round's votes.
    #[arg(long, default_value_t = 1500)]
    pub voters: usize,
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Import the units and owners from a CSV file (the whole roster): every bad row is
    /// reported by line and column and nothing is imported until the file is clean; a
    /// preview of additions, changes and removals is shown before anything is applied.
    /// Columns: unit, weight, first_name, last_name, email, phone, designated_voter, consent.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file (UTF-8, header row first, one row per owner).
    pub file: PathBuf,
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    /// Apply without asking (otherwise the preview is shown and you are asked to confirm).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct VerifyElectionArgs {
    /// The bundle file downloaded from the ballot's bulletin.
    pub bundle: PathBuf,
    /// The instance's verifier key as shown on its trust page (`/security`); when given, the
    /// bundle must be signed by exactly this key.
    #[arg(long, value_name = "VERIFIER_KEY")]
    pub key: Option<String>,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AppTokenCommand {
    /// Create a token and print it once (it is stored only as a hash).
    Create(AppTokenCreateArgs),
    /// List an organization's tokens, newest first: id, purpose, state, expiry, last use.
    List(AppTokenOrgArgs),
    /// Revoke a token at once (by its id, as `list` shows it).
    Revoke(AppTokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct AppTokenOrgArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
}

#[derive(Debug, Args)]
pub struct AppTokenCreateArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    /// What the token may do: `voting.results` (read ballots and closed ballots' results) or
    /// `forms.submit` (submit published forms and upload their files).
    #[arg(long)]
    pub purpose: String,
    /// Which system will hold it, e.g. "Board web site" (1 to 80 characters).
    #[arg(long)]
    pub label: String,
    /// Days until it expires (1 to 365).
    #[arg(long, default_value_t = cista_core::platform::access::app_tokens::DEFAULT_LIFETIME_DAYS)]
    pub days: i64,
}

#[derive(Debug, Args)]
pub struct AppTokenRevokeArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    /// The token's id, `at-` and 16 hexadecimal digits.
    #[arg(long)]
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum AssessmentCommand {
    /// Check an assessment file (JSON) whole and publish it as the next version of the
    /// organization's assessment KEY; a file whose rules do not hold is refused with the rule
    /// and the reason, and nothing is stored.
    Import(FormImportArgs),
    /// Print the newest version of an assessment as a file `import` takes back.
    Export(FormExportArgs),
}

#[derive(Debug, Args)]
pub struct FormImportArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    /// The form's key: 1 to 64 of a-z, 0-9, - and _, starting with a letter.
    #[arg(long)]
    pub key: String,
    /// The definition file (JSON; the formats are in `docs/assessment.md` and
    /// `docs/collection.md`).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct FormExportArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    /// The form's key.
    #[arg(long)]
    pub key: String,
}

#[derive(Debug, Subcommand)]
pub enum RecordFormCommand {
    /// Check a record form file (JSON) whole and publish it as the next version of the
    /// organization's form KEY (the same file published again changes nothing); a form that
    /// does not hold is refused naming the field, and nothing is stored.
    Import(FormImportArgs),
    /// Print the newest version of a record form as a file `import` takes back.
    Export(FormExportArgs),
}

#[derive(Debug, Subcommand)]
pub enum BreachCommand {
    /// List, from the audit log (and with `--scope members` the membership list), the people
    /// of an organization whose data an incident between --from and --to could have touched:
    /// by subject code, with counts per kind of data; erased people are marked (never to be
    /// contacted). Recorded in the audit log.
    Assess(BreachAssessArgs),
    /// Record a breach of an organization (GDPR Art. 33): the incident window, its scope and
    /// what happened. The organization is aware of it from now: the supervisory authority is
    /// to be told within 72 hours (the deadline is printed). The notice to the people
    /// concerned starts from a default with `[FILL IN: …]` parts (see `notice`).
    Record(BreachRecordArgs),
    /// List an organization's breaches with their 72-hour deadline, whether the authority
    /// was told, and how many people were told.
    List(BreachListArgs),
    /// Print a breach's notice (`Subject: …`, a blank line, the body: MiniJinja, with the
    /// names it may use), or with --set FILE replace it with that file's (same shape);
    /// with --preview print it as the first person would read it.
    Notice(BreachNoticeArgs),
    /// Tell each person the breach could have touched, by email through the outbox, in the
    /// breach's notice words: once each (a second run tells only those not yet told), never
    /// an erased person; people without an email address are counted, to be told another
    /// way. Each notice is one audit entry. Refused while the notice has `[FILL IN: …]` left.
    Notify(BreachRefArgs),
    /// Record that the supervisory authority was told of a breach: now, or at --at.
    Reported(BreachReportedArgs),
}

#[derive(Debug, clap::Args)]
pub struct BreachReportedArgs {
    #[command(flatten)]
    pub breach: BreachRefArgs,
    /// When it was told, RFC 3339 (by phone or through its portal before this is recorded);
    /// now when left out. Not in the future, not before the incident window.
    #[arg(long)]
    pub at: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct BreachRecordArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    /// The incident window's start, RFC 3339 (`2026-12-01T08:00:00Z`).
    #[arg(long)]
    pub from: String,
    /// The window's end, RFC 3339; later than --from, and now at the latest.
    #[arg(long)]
    pub to: String,
    /// `activity` (the people named by what happened in the window; the default) or
    /// `members` (also every member: an incident that exposed the stored data).
    #[arg(long, default_value = "activity")]
    pub scope: String,
    /// What happened, in a sentence or two, without naming anyone (the notice quotes it).
    #[arg(long)]
    pub description: String,
}

#[derive(Debug, clap::Args)]
pub struct BreachListArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct BreachRefArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    /// The breach's id (`br-` and 16 hexadecimal digits, as `record` and `list` print it).
    #[arg(long)]
    pub breach: String,
}

#[derive(Debug, clap::Args)]
pub struct BreachNoticeArgs {
    #[command(flatten)]
    pub breach: BreachRefArgs,
    /// A file holding the new notice: `Subject: …` on its first line, a blank line, the body.
    #[arg(long, conflicts_with = "preview")]
    pub set: Option<std::path::PathBuf>,
    /// Print the notice as a person would read it (with a sample first name).
    #[arg(long)]
    pub preview: bool,
}

#[derive(Debug, clap::Args)]
pub struct BreachAssessArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    /// The window's start, RFC 3339 (`2026-12-01T08:00:00Z`).
    #[arg(long)]
    pub from: String,
    /// The window's end, RFC 3339; later than --from.
    #[arg(long)]
    pub to: String,
    /// `activity` (the people named by what happened in the window; the default) or
    /// `members` (also every member: an incident that exposed the stored data).
    #[arg(long, default_value = "activity")]
    pub scope: String,
    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Write an organization's records (newest first, every one the filters let through, up
    /// to 50,000: more is refused) as CSV (photos as signed links valid 15 minutes), GeoJSON,
    /// or a ZIP with `records.csv` and the delivered photos (without their metadata);
    /// recorded in the audit log like an export from the portal.
    Export(RecordsExportArgs),
}

/// The formats `cista records export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordsFormat {
    Csv,
    Geojson,
    Zip,
}

#[derive(Debug, Args)]
pub struct RecordsExportArgs {
    /// The organization's slug.
    #[arg(long)]
    pub org: String,
    #[arg(long, value_enum)]
    pub format: RecordsFormat,
    /// Only the records of this form (its key).
    #[arg(long)]
    pub form: Option<String>,
    /// Only records in this review state: received, approved, rejected or needs_changes.
    #[arg(long)]
    pub state: Option<String>,
    /// Only records whose point lies in this box: south,west,north,east in degrees (a west
    /// edge east of the east edge crosses the antimeridian).
    #[arg(long, value_name = "S,W,N,E", allow_hyphen_values = true)]
    pub area: Option<String>,
    /// Write to FILE (a ZIP first to FILE.part, renamed when whole). Default: standard output,
    /// except for a ZIP to a terminal.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization and invite its first owner; prints the owner's one-time link
    /// (also sent to them by email).
    Create(OrgCreateArgs),
    /// Invite an owner to an existing organization: another one, or again someone the server
    /// already knew whose invitation to join expired unanswered. Prints the one-time link
    /// (also sent by email).
    InviteOwner(OrgInviteOwnerArgs),
}

#[derive(Debug, Args)]
pub struct OrgInviteOwnerArgs {
    /// The organization's short name (its slug).
    #[arg(long)]
    pub org: String,
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub first_name: String,
    #[arg(long)]
    pub last_name: String,
    /// The owner's mobile number: with its country code, or national in the organization's
    /// country for phone numbers.
    #[arg(long)]
    pub phone: Option<String>,
}

#[derive(Debug, Args)]
pub struct OrgCreateArgs {
    /// The organization's name, e.g. "Palm Court Condominium Association".
    #[arg(long)]
    pub name: String,
    /// The short name in its URLs (a-z, 0-9, hyphens). Default: made from the name.
    #[arg(long)]
    pub slug: Option<String>,
    #[arg(long)]
    pub owner_email: String,
    #[arg(long)]
    pub owner_first_name: String,
    #[arg(long)]
    pub owner_last_name: String,
    /// The owner's mobile number, for SMS sign-in: with its country code, or national when
    /// --phone-region is given.
    #[arg(long)]
    pub owner_phone: Option<String>,
    /// The time zone ballot windows are set and shown in (an IANA name).
    #[arg(long, default_value = "UTC", value_name = "ZONE")]
    pub time_zone: String,
    /// The country whose national phone numbers are accepted without a country code, as two
    /// letters (US, CA, GB, ES…). Without it every number needs its country code.
    #[arg(long, value_name = "CC")]
    pub phone_region: Option<String>,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The person's subject code (shown in the audit log and on the people page).
    pub subject: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The HTTPS listen address (overrides server.listen), e.g. 127.0.0.1:8443.
    #[arg(long, env = "CISTA_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// How long after the demo is set up its quick poll closes, in seconds (10 to 86400): a
    /// shorter wait for a walk-through or a browser test. Only a newly created poll uses it.
    #[arg(
        long,
        default_value_t = 120,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u32).range(10..=86_400)
    )]
    pub quick_poll_seconds: u32,
}

#[derive(Debug, Args)]
pub struct ConfigtestArgs {
    /// Also print the effective configuration (secrets redacted).
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every entry, the Merkle tree and every signed checkpoint; exit non-zero and
    /// name the first bad entry if anything was edited, deleted or reordered.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// A file holding a signed checkpoint kept outside the database (as printed by an earlier
    /// `audit verify`): the log must still hold every entry it covers, unchanged. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub against: Vec<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Show the key provider, its key-encryption keys and how many stored keys each wraps.
    Status,
    /// Make a new key-encryption key active and re-wrap every stored key under it. A running
    /// server keeps working throughout and picks up the new key by itself.
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Afterwards, delete retired key-encryption keys that no stored key uses. Backups taken
    /// before the rotation need the old key to restore: keep it unless you mean to retire it.
    #[arg(long)]
    pub remove_retired: bool,
}
