//! `cista serve` and `cista demo`: check everything that can be checked before binding (TLS
//! files, key file, database, instance), then serve HTTPS until SIGTERM or Ctrl-C, signing
//! audit checkpoints in the background.

use crate::cli::{DemoArgs, ServeArgs};
use crate::commands::init;
use crate::files::write_private;
use crate::runtime::{Failure, Runtime};
use cista_core::platform::access::invitations::Invitee;
use cista_core::ports::AccountStatus;
use cista_core::{Actor, Cista};
use cista_http::web::limits::{AuthLimiter, AuthLimits};
use cista_http::{AppState, DemoInfo, Limits, Listeners, TlsSettings, TlsStats};
use cista_notify::{OutboxWorker, WebhookWorker};
use cista_types::{Email, PersonName, Phone, PhoneRegion, Role};
use cista_types::{OrgName, OrgSlug, OsRng, Rng as _, TimeZoneName};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

const DEMO_ORG_NAME: &str = "Palm Court Condominium Association";
const DEMO_ORG_SLUG: &str = "palm-court";
const DEMO_TIME_ZONE: &str = "America/New_York";

/// The demo's people: the association's manager (the organization's owner role, who must
/// enrol an authenticator) and a unit owner with a mobile number, for the SMS sign-in. The
/// other owners come with the roster (`demo_data`).
const DEMO_PEOPLE: [(&str, &str, &str, Option<&str>, Role); 2] = [
    (
        "Olivia",
        "Ortiz",
        "owner@palm-court.example",
        None,
        Role::Owner,
    ),
    (
        "Manuel",
        "Moreno",
        "manuel@palm-court.example",
        Some("+1 305 555 0142"),
        Role::Member,
    ),
];

/// Sign-in links made in this run, by email: printed as they are, not made again (a second
/// link would mean a second email in the outbox, with a link the terminal never showed).
pub type FreshLinks = std::collections::BTreeMap<String, String>;

/// Invites the demo's staff member and first owner once (later runs find them); returns the
/// links of those invited now.
async fn demo_people(
    rt: &Runtime,
    cista: &Cista,
    org: cista_types::OrgId,
) -> Result<FreshLinks, Failure> {
    let operator = rt.operator();
    let mut fresh = FreshLinks::new();
    for (first, last, email, phone, role) in DEMO_PEOPLE {
        let invitee = Invitee {
            first_name: PersonName::parse(first)?,
            last_name: PersonName::parse(last)?,
            email: Email::parse(email)?,
            phone: phone
                .map(|p| Phone::parse(p, Some(PhoneRegion::US)))
                .transpose()?,
            role,
        };
        invite_once(cista, &operator, org, invitee, &mut fresh).await?;
    }
    Ok(fresh)
}

/// Invites someone to one of the demo's organizations unless they are there already (a later
/// run); a link made now is kept in `fresh`, to be printed.
pub async fn invite_once(
    cista: &Cista,
    operator: &Actor,
    org: cista_types::OrgId,
    invitee: Invitee,
    fresh: &mut FreshLinks,
) -> Result<(), Failure> {
    let email = invitee.email.as_str().to_owned();
    match cista.invite(operator, org, invitee).await {
        Ok(invited) => {
            if let Some(link) = invited.link {
                fresh.insert(email, link);
            }
            Ok(())
        }
        Err(cista_core::Error::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The people whose sign-in links the demo prints: the manager and two owners. Someone
/// without a password gets a fresh one-time link (older ones stop working); someone with a
/// password signs in at /sign-in.
async fn demo_links(
    rt: &Runtime,
    cista: &Cista,
    org: cista_types::OrgId,
    origin: &str,
    fresh: &FreshLinks,
) -> Result<Vec<String>, Failure> {
    let mut lines = Vec::new();
    for (who, email) in DEMO_LINKS {
        lines.extend(sign_in_line(rt, cista, org, origin, fresh, (who, email)).await?);
    }
    Ok(lines)
}

/// One of the demo's organizations (name, slug, time zone): found by its slug on a later run
/// (and `false`), or created now (and `true`).
pub async fn demo_organization(
    rt: &Runtime,
    cista: &Cista,
    (name, slug, zone): (&str, &str, &str),
    phone_region: Option<PhoneRegion>,
) -> Result<(cista_core::ports::Organization, bool), Failure> {
    let slug = OrgSlug::parse(slug)?;
    if let Some(org) = cista.store().organization_by_slug(&slug).await? {
        return Ok((org, false));
    }
    let org = cista
        .create_organization_with(
            &rt.operator(),
            OrgName::parse(name)?,
            slug,
            TimeZoneName::parse(zone)?,
            phone_region,
        )
        .await?;
    Ok((org, true))
}

/// The line the demo prints for one person: a one-time link (this run's, or a new one) for
/// someone without a password, else where to sign in; nothing for someone unknown.
pub async fn sign_in_line(
    rt: &Runtime,
    cista: &Cista,
    org: cista_types::OrgId,
    origin: &str,
    fresh: &FreshLinks,
    (who, email): (&str, &str),
) -> Result<Option<String>, Failure> {
    let operator = rt.operator();
    let Some(subject) = cista.subject_for_email(&operator, email).await? else {
        return Ok(None);
    };
    let invited = cista
        .store()
        .account(subject)
        .await?
        .is_some_and(|a| a.status == AccountStatus::Invited);
    Ok(Some(if !invited {
        format!("{who} ({email}): has a password; sign in at {origin}/sign-in")
    } else if let Some(link) = fresh.get(email) {
        format!("{who} ({email}): {link}")
    } else {
        let link = cista.resend_invitation(&operator, org, subject).await?;
        format!("{who} ({email}): {link}")
    }))
}

/// Whose links the demo prints: the manager and two owners (Manuel owns 101 and 305; Sofia is
/// the designated voter of 204, which she shares with Daniel).
const DEMO_LINKS: [(&str, &str); 3] = [
    ("Olivia Ortiz, manager", "owner@palm-court.example"),
    (
        "Manuel Moreno, owner of 101 and 305",
        "manuel@palm-court.example",
    ),
    (
        "Sofia Alvarez, designated voter of 204",
        "sofia@palm-court.example",
    ),
];

fn bind(addr: &str, what: &str) -> Result<TcpListener, Failure> {
    let parsed: SocketAddr = addr.parse().map_err(|_| {
        Failure(format!(
            "{what} `{addr}` is not an address such as 127.0.0.1:8443"
        ))
    })?;
    TcpListener::bind(parsed).map_err(|e| {
        Failure(format!(
            "cannot listen on {addr}: {e}; choose another address with --listen (e.g. 127.0.0.1:{})",
            parsed.port().saturating_add(1)
        ))
    })
}

fn public_origin(rt: &Runtime, bound: SocketAddr) -> Result<String, Failure> {
    match &rt.config.server.public_url {
        Some(url) => {
            let trimmed = url.trim_end_matches('/');
            if !trimmed.starts_with("https://") {
                return Err(Failure(format!(
                    "server.public_url `{url}` must start with https:// (Cista serves only HTTPS)"
                )));
            }
            Ok(trimmed.to_owned())
        }
        None => Ok(format!("https://localhost:{}", bound.port())),
    }
}

fn metrics_token(rt: &Runtime) -> Result<Option<Arc<str>>, Failure> {
    if let Some(token) = &rt.config.metrics.token {
        return Ok(Some(Arc::from(token.expose())));
    }
    let default_file = &rt.paths.metrics_token_file;
    if default_file.exists() {
        let token = std::fs::read_to_string(default_file)
            .map_err(|e| Failure(format!("{}: {e}", default_file.display())))?;
        return Ok(Some(Arc::from(token.trim())));
    }
    Ok(None)
}

/// Completes on SIGTERM or SIGINT (Ctrl-C). The handlers are registered when this is called,
/// not when it is first awaited: a signal that arrives while we still start up must stop us
/// gracefully, not kill us.
#[cfg(unix)]
pub(crate) fn shutdown_signal()
-> Result<impl std::future::Future<Output = ()> + Send + 'static, Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| Failure(format!("cannot handle SIGTERM: {e}")))?;
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| Failure(format!("cannot handle SIGINT: {e}")))?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}

#[cfg(not(unix))]
pub(crate) fn shutdown_signal()
-> Result<impl std::future::Future<Output = ()> + Send + 'static, Failure> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Signs a checkpoint whenever the log has grown, every `interval`, and once more at stop.
fn spawn_checkpointer(cista: Cista, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match cista.sign_checkpoint(&Actor::System).await {
                Ok(Some(cp)) => {
                    tracing::info!(size = cp.size, root = %cp.root, "signed audit checkpoint");
                    metrics::gauge!("cista_audit_checkpoint_size").set(cp.size as f64);
                }
                Ok(None) => {}
                Err(e) => tracing::error!(code = e.code(), cause = %e.chain(), "checkpoint failed"),
            }
            if let Ok(head) = cista.store().audit_head().await {
                metrics::gauge!("cista_audit_entries").set(head.size as f64);
            }
        }
    })
}

/// Closes ballots at their closing time, shuffles open ballot boxes and sends scheduled
/// reminders, every `interval`; once an hour, purges what has expired (forms' first outcomes,
/// access attempts, assessment results past their form's retention period). Safe in several
/// processes at once.
fn spawn_voting_worker(cista: Cista, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Forms' first outcomes are kept a day for repeats; the expired ones go once an hour.
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            tick.tick().await;
            if last_purge.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(3600)) {
                last_purge = Some(std::time::Instant::now());
                if let Err(e) = cista.purge_submissions().await {
                    tracing::warn!(code = e.code(), cause = %e.chain(), "could not purge old form submissions");
                }
                if let Err(e) = cista.purge_access_attempts().await {
                    tracing::warn!(code = e.code(), cause = %e.chain(), "could not purge old access attempts");
                }
                match cista.apply_retention().await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(
                        deleted,
                        "assessment results past their retention period deleted"
                    ),
                    Err(e) => {
                        tracing::warn!(code = e.code(), cause = %e.chain(), "could not apply the assessments' retention periods")
                    }
                }
            }
            match cista.run_voting_work(&Actor::System).await {
                Ok(done) if done.closed + done.shuffled + done.reminders > 0 => tracing::info!(
                    closed = done.closed,
                    shuffled = done.shuffled,
                    reminders = done.reminders,
                    waiting_for_paper = done.waiting_for_paper,
                    "voting work"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(code = e.code(), cause = %e.chain(), "voting work failed")
                }
            }
        }
    })
}

/// Sweeps the blob store once a day, the first time an hour after the start (see
/// `Cista::sweep_blobs`; `cista blobs sweep` runs the same by hand). Safe in several processes
/// at once: a blob swept twice is removed once.
fn spawn_blob_sweeper(
    cista: Cista,
    blobs: Arc<cista_backup::blobs::ObjectBlobStore>,
) -> tokio::task::JoinHandle<()> {
    const EVERY: Duration = Duration::from_secs(24 * 3600);
    tokio::spawn(async move {
        let first = tokio::time::Instant::now() + Duration::from_secs(3600);
        let mut tick = tokio::time::interval_at(first, EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match cista.sweep_blobs(&*blobs, EVERY, false).await {
                Ok(found) => tracing::info!(
                    removed_blobs = found.orphans,
                    removed_staging = found.stale_staging,
                    kept = found.referenced + found.recent,
                    "blob sweep"
                ),
                Err(e) => tracing::warn!(code = e.code(), cause = %e.chain(), "blob sweep failed"),
            }
        }
    })
}

/// Processes photos of records as they arrive (see `Cista::process_photos`): every two seconds
/// a pass over what came in since, a few at a time, so a burst of uploads never holds more
/// than one photo's pixels in memory at once. Safe in several processes at once: a photo two
/// passes processed is recorded once.
fn spawn_photo_worker(
    cista: Cista,
    blobs: Arc<cista_backup::blobs::ObjectBlobStore>,
) -> tokio::task::JoinHandle<()> {
    const EVERY: Duration = Duration::from_secs(2);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match cista.process_photos(&Actor::System, &*blobs, 8).await {
                Ok(pass) if pass.processed + pass.unreadable > 0 => tracing::info!(
                    processed = pass.processed,
                    unreadable = pass.unreadable,
                    "photos processed"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(code = e.code(), cause = %e.chain(), "photo processing failed");
                }
            }
        }
    })
}

/// Body size, request timeout and in-flight bound from `[server]`.
fn server_limits(rt: &Runtime) -> Limits {
    Limits {
        body_bytes: rt.config.server.body_limit_bytes,
        request_timeout: Duration::from_secs(rt.config.server.request_timeout_secs.max(1)),
        max_in_flight: rt.config.server.max_in_flight.max(1),
        ..Limits::default()
    }
}

async fn run_server(
    rt: &Runtime,
    cista: Cista,
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
    tls: TlsSettings,
    https: TcpListener,
    demo: Option<DemoInfo>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Failure> {
    let (email, sms) = rt.senders(demo.is_some())?;
    let demo_flag = demo.is_some();
    let messaging = vec![
        cista_http::MessagingLine {
            channel: "Email".to_owned(),
            public: email.describe_public(),
            staff: email.describe(),
        },
        cista_http::MessagingLine {
            channel: "SMS".to_owned(),
            public: sms.describe_public(),
            staff: sms.describe(),
        },
    ];
    let map_tiles = rt.map_tiles()?;
    let third_parties = crate::third_parties::listed(&rt.config, &rt.paths);
    let disclosure = rt.disclosure(rt.now())?;
    match &disclosure {
        Some(txt) => {
            if let Some(problem) = txt.expiry_problem(rt.now()) {
                tracing::warn!(%problem, "security.txt");
            }
        }
        None if rt.is_public() => tracing::warn!(
            "disclosure.contact is not set: /.well-known/security.txt answers 404; say where \
             vulnerabilities are reported (RFC 9116)"
        ),
        None => {}
    }
    let bound = https
        .local_addr()
        .map_err(|e| Failure(format!("listener: {e}")))?;
    let http_redirect = match &rt.config.server.http_redirect_listen {
        Some(addr) => Some(bind(addr, "server.http_redirect_listen")?),
        None => None,
    };
    let interval = Duration::from_secs(rt.config.audit.checkpoint_interval_secs.max(1));
    let backup = super::backup::start(rt, &cista, write_turn).await?;
    let blobs = Arc::new(super::backup::blob_store(rt)?);
    let state = AppState::new(cista_http::Shared {
        cista: cista.clone(),
        public_origin: Arc::from(public_origin(rt, bound)?),
        tls: Arc::new(tls),
        tls_stats: Arc::new(TlsStats::default()),
        http_redirect: http_redirect.is_some(),
        metrics_token: metrics_token(rt)?,
        limits: server_limits(rt),
        auth_limiter: AuthLimiter::new(AuthLimits {
            per_minute: rt.config.limits.auth_per_minute,
            response_floor: Duration::from_millis(rt.config.limits.auth_response_floor_ms),
        }),
        demo,
        checkpoint_interval: interval,
        messaging: Arc::from(messaging),
        backup: backup.probe.clone(),
        blobs: blobs.clone(),
        map_tiles,
        third_parties: Arc::from(third_parties),
        disclosure,
    });
    cista_http::ops::metrics::handle();
    let checkpointer = spawn_checkpointer(cista.clone(), interval);
    let sweeper = spawn_blob_sweeper(cista.clone(), blobs.clone());
    let photos = spawn_photo_worker(cista.clone(), blobs);
    let voting = spawn_voting_worker(
        cista.clone(),
        Duration::from_secs(rt.config.voting.worker_interval_secs.max(1)),
    );
    let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
    tracing::info!(email = %email.describe(), sms = %sms.describe(), "outbox worker started");
    let worker = tokio::spawn(
        OutboxWorker {
            cista: cista.clone(),
            email,
            sms,
        }
        .run(Duration::from_secs(1), worker_stopped.clone()),
    );
    let webhooks = tokio::spawn(
        webhook_worker(rt, &cista, demo_flag)?.run(Duration::from_secs(1), worker_stopped),
    );
    tracing::info!(listen = %bound, public_origin = %state.public_origin, "serving HTTPS");
    let result = cista_http::serve(
        state,
        Listeners {
            https,
            http_redirect,
        },
        shutdown,
        Duration::from_secs(rt.config.server.shutdown_grace_secs),
    )
    .await;
    checkpointer.abort();
    sweeper.abort();
    photos.abort();
    voting.abort();
    let _ = stop_worker.send(true);
    let _ = worker.await;
    let _ = webhooks.await;
    // One last checkpoint so everything written before the stop is covered, then ship it.
    if let Err(e) = cista.sign_checkpoint(&Actor::System).await {
        tracing::error!(cause = %e.chain(), "final checkpoint failed");
    }
    backup.stop().await;
    tracing::info!("stopped");
    result.map_err(|e| Failure(format!("server: {e}")))
}

/// The webhook worker. In the demo it also trusts the demo's local certificate authority,
/// whose certificate the demo's own receiver (this server) presents.
fn webhook_worker(rt: &Runtime, cista: &Cista, demo: bool) -> Result<WebhookWorker, Failure> {
    let mut roots = Vec::new();
    if demo && rt.paths.ca_file.exists() {
        roots
            .push(std::fs::read(&rt.paths.ca_file).map_err(|e| {
                Failure(format!("cannot read {}: {e}", rt.paths.ca_file.display()))
            })?);
    }
    WebhookWorker::new(cista.clone(), &roots).map_err(|e| Failure(e.0))
}

pub async fn serve(mut rt: Runtime, args: &ServeArgs) -> Result<(), Failure> {
    let shutdown = shutdown_signal()?;
    if let Some(listen) = &args.listen {
        rt.config.server.listen.clone_from(listen);
    }
    // Everything is checked before the port is taken, so a bad setup never half-starts.
    let tls = TlsSettings::load(&rt.paths.cert_file, &rt.paths.key_file)?;
    let (cista, write_turn) = rt.open_parts(rt.config.database.migrate_on_start).await?;
    let https = bind(&rt.config.server.listen, "server.listen")?;
    run_server(&rt, cista, write_turn, tls, https, None, shutdown).await
}

pub async fn demo(mut rt: Runtime, args: &DemoArgs) -> Result<(), Failure> {
    let shutdown = shutdown_signal()?;
    rt.demo = true;
    if let Some(listen) = &args.serve.listen {
        rt.config.server.listen.clone_from(listen);
    }
    // The demo backs up continuously to a directory beside its data directory.
    if rt.paths.backup_target.is_none() {
        let dir = crate::config::Resolved::default_backup_dir(&rt.paths.data_dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure(format!("cannot create {}: {e}", dir.display())))?;
        rt.paths.backup_target = Some(dir.display().to_string());
    }
    let done = init::initialize(&rt).await?;
    let cista = done.cista;
    // A Florida association: national numbers are US numbers.
    let (org, org_created) = demo_organization(
        &rt,
        &cista,
        (DEMO_ORG_NAME, DEMO_ORG_SLUG, DEMO_TIME_ZONE),
        Some(PhoneRegion::US),
    )
    .await?;
    let mut fresh = demo_people(&rt, &cista, org.id).await?;
    let quick_poll = time::Duration::seconds(i64::from(args.quick_poll_seconds));
    let mut association =
        super::demo_data::seed(&cista, &rt.operator(), org.id, quick_poll).await?;
    if rt.config.metrics.token.is_none() && !rt.paths.metrics_token_file.exists() {
        let token: String = OsRng.bytes32().iter().map(|b| format!("{b:02x}")).collect();
        write_private(&rt.paths.metrics_token_file, token.as_bytes())?;
    }
    cista.sign_checkpoint(&Actor::System).await?;
    let tls = TlsSettings::load(&rt.paths.cert_file, &rt.paths.key_file)?;
    let https = bind(&rt.config.server.listen, "server.listen")?;
    let bound = https
        .local_addr()
        .map_err(|e| Failure(format!("listener: {e}")))?;
    let origin = public_origin(&rt, bound)?;
    // The advisory firm and its own web site, on the two ports after Cista's.
    let sites = super::demo_firm::FirmSites::bind(bound)?;
    let (listed, unlisted) = (sites.listed_origin()?, sites.unlisted_origin()?);
    let (firm, firm_lines) = super::demo_firm::seed(&rt, &cista, &listed, &mut fresh).await?;
    association.extend(firm_lines);
    let (river_org, river, webhook_secret) =
        super::demo_river::seed(&rt, &cista, &origin, &mut fresh).await?;
    let receiver = Arc::new(cista_http::demo_receiver::DemoReceiver::default());
    receiver.set_secret(webhook_secret.expose());
    let mut links = demo_links(&rt, &cista, org.id, &origin, &fresh).await?;
    links.extend(super::demo_firm::advisor_link(&rt, &cista, firm, &origin, &fresh).await?);
    links.extend(
        super::demo_river::coordinator_link(&rt, &cista, river_org, &origin, &fresh).await?,
    );
    print_demo_guide(&rt, &done.lines, org_created, &association, &origin, &links);
    println!();
    println!("Harbor Advisory's embedded assessment (Ada Brooks, its advisor, signs in above):");
    println!("  The firm's web site     {listed}/   (the widget: answer, send, see your profile)");
    println!(
        "  A site not on its list  {unlisted}/   (the browser refuses the widget; so does Cista)"
    );
    println!(
        "  Results (advisors)      {origin}/admin/{}/assessments/{}",
        super::demo_firm::FIRM_SLUG,
        super::demo_firm::FORM_KEY
    );
    println!();
    println!("River Watch's field data collection (open a link on a phone, or at phone size):");
    for line in &river {
        println!("  {line}");
    }
    println!(
        "  Collectors' phones      {origin}/admin/{}/people   (Robin, above: Phones of each collector)",
        super::demo_river::RIVER_SLUG
    );
    println!(
        "  Webhook deliveries      {origin}/demo/webhooks   (the demo's receiver; the log: {origin}/admin/{}/webhooks)",
        super::demo_river::RIVER_SLUG
    );
    println!("Press Ctrl-C to stop.");
    let demo = Some(DemoInfo {
        organization: format!(
            "{DEMO_ORG_NAME} (association voting), {} (an embedded assessment) and {} (field data collection)",
            super::demo_firm::FIRM_NAME,
            super::demo_river::RIVER_NAME
        ),
        outbox_dir: Some(rt.paths.outbox_dir.clone()),
        webhooks: Some(receiver),
    });
    let (stop_sites, sites_stop) = tokio::sync::watch::channel(false);
    sites.spawn(&tls, &origin, &sites_stop);
    let shutdown = async move {
        shutdown.await;
        let _ = stop_sites.send(true);
    };
    run_server(&rt, cista, done.write_turn, tls, https, demo, shutdown).await
}

/// Prints what the demo set up, where to open it, the sign-in links, how to trust the local
/// certificate authority, and where its data and backup go.
fn print_demo_guide(
    rt: &Runtime,
    setup: &[String],
    org_created: bool,
    association: &[String],
    origin: &str,
    links: &[String],
) {
    let ca = rt.paths.ca_file.display();
    println!("Cista demo");
    for line in setup {
        println!("  {line}");
    }
    println!(
        "  {} organization    {DEMO_ORG_NAME}",
        if org_created { "created" } else { "reused " }
    );
    for line in association {
        println!("  {line}");
    }
    println!();
    println!("Open in a browser (after trusting the local CA, below):");
    println!("  Landing page        {origin}/");
    println!("  Trust page          {origin}/security");
    println!("  Trust report (JSON) {origin}/api/v1/trust");
    println!("  Sign in             {origin}/sign-in");
    println!("  Vote (owners)       {origin}/vote");
    println!("  Manage (staff)      {origin}/admin/{DEMO_ORG_SLUG}");
    println!("  Test my device      {origin}/vote/test-device");
    println!(
        "  Demo outbox         {origin}/demo/outbox   (email and SMS land here, nothing is sent)"
    );
    if !links.is_empty() {
        println!();
        println!(
            "Sign-in links (each works once, for {} hours, to choose a password):",
            rt.config.access.invite_ttl_hours
        );
        for line in links {
            println!("  {line}");
        }
    }
    println!();
    println!("The local certificate authority is {ca}");
    println!("Trust it to open the pages without a warning:");
    println!("  curl       curl --cacert {ca} {origin}/security");
    println!(
        "  Firefox    Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import: {ca}"
    );
    println!(
        "  Chromium   Settings > Privacy and security > Security > Manage certificates > Authorities > Import: {ca}"
    );
    println!(
        "  Debian     sudo cp {ca} /usr/local/share/ca-certificates/cista-demo.crt && sudo update-ca-certificates"
    );
    if rt.config.metrics.token.is_none() {
        println!();
        println!(
            "Metrics: curl --cacert {ca} -H \"Authorization: Bearer $(cat {})\" {origin}/metrics",
            rt.paths.metrics_token_file.display()
        );
    }
    println!();
    println!(
        "Data is kept in {} and reused on the next run. Logs (JSON) go to standard error.",
        rt.paths.data_dir.display()
    );
    if let Some(target) = &rt.paths.backup_target {
        println!(
            "Backup: every commit is shipped, encrypted, to {target}; try `cista backup status \
             --data-dir {}`.",
            rt.paths.data_dir.display()
        );
    }
}
