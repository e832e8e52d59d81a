//! A fresh, isolated store per test: a temporary SQLite file, or a private schema on the
//! PostgreSQL server named by `CISTA_TEST_POSTGRES_URL`.

use cista_core::{AccessSettings, Actor, Cista, Deps};
use cista_crypto::LocalKeyFile;
use cista_store::{ConnectOptions, SeaStore, SeaVault, Target};
use cista_testkit::postgres::PrivateSchema;
use cista_types::{ManualClock, OsRng, Timestamp};
use sea_orm::{ConnectionTrait, Statement};
use std::sync::Arc;

#[derive(Debug)]
pub struct Harness {
    pub store: Arc<SeaStore>,
    pub vault: Arc<SeaVault>,
    pub target: Target,
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    /// The test's own schema on PostgreSQL, dropped afterwards.
    pg: Option<PrivateSchema>,
}

fn start_time() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-22T14:03:00.123456Z").unwrap()
}

impl Harness {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::SqliteFile(dir.path().join("cista.db"));
        Self::open(target, dir, None).await
    }

    /// `None` (after saying so) when no PostgreSQL URL is configured and it is not required.
    pub async fn postgres() -> Option<Self> {
        let schema = PrivateSchema::create().await?;
        let dir = tempfile::tempdir().unwrap();
        let target = Target::parse(&schema.url()).unwrap();
        Some(Self::open(target, dir, Some(schema)).await)
    }

    async fn open(target: Target, dir: tempfile::TempDir, pg: Option<PrivateSchema>) -> Self {
        let store = SeaStore::connect_and_migrate(&target, &ConnectOptions::default())
            .await
            .unwrap_or_else(|e| panic!("store: {}", e.chain()));
        let vault = SeaVault::on(&store);
        vault.migrate().await.unwrap();
        Self {
            store: Arc::new(store),
            vault: Arc::new(vault),
            target,
            dir,
            clock: Arc::new(ManualClock::new(start_time())),
            pg,
        }
    }

    pub fn key_file_path(&self) -> std::path::PathBuf {
        self.dir.path().join("test.kek")
    }

    /// The key file, created on first use.
    pub fn key_file(&self) -> Arc<LocalKeyFile> {
        let path = self.key_file_path();
        if path.exists() {
            Arc::new(LocalKeyFile::open(&path).unwrap())
        } else {
            Arc::new(LocalKeyFile::create(&path, &OsRng, start_time()).unwrap())
        }
    }

    pub fn deps_with(&self, keys: Arc<LocalKeyFile>) -> Deps {
        Deps {
            store: self.store.clone(),
            vault: self.vault.clone(),
            keys,
            clock: self.clock.clone(),
            rng: Arc::new(OsRng),
            settings: AccessSettings::default(),
        }
    }

    /// An initialized instance on this store, using the harness key file.
    pub async fn cista(&self) -> Cista {
        let (cista, _) = Cista::open_or_initialize(
            self.deps_with(self.key_file()),
            &Actor::operator("test"),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("open: {}", e.chain()));
        cista
    }

    /// Runs raw SQL around the store, as an attacker with database access would.
    pub async fn tamper(&self, sql: &str) {
        self.store
            .connection()
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("tamper `{sql}`: {e}"));
    }

    pub async fn exec(&self, stmt: Statement) {
        self.store.connection().execute_raw(stmt).await.unwrap();
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// Every byte the database holds: the SQLite files, or a pg_dump of the test schema.
    pub async fn raw_database_bytes(&self) -> Vec<u8> {
        match (&self.target, &self.pg) {
            (Target::SqliteFile(path), _) => {
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let file = format!("{}{suffix}", path.display());
                    if let Ok(bytes) = std::fs::read(&file) {
                        all.extend(bytes);
                    }
                }
                all
            }
            (_, Some(schema)) => {
                let out = std::process::Command::new("pg_dump")
                    .args([
                        "--data-only",
                        "--schema",
                        schema.name(),
                        "--dbname",
                        schema.server_url(),
                    ])
                    .output()
                    .expect("pg_dump must be installed for the PostgreSQL conformance run");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
            _ => panic!("no raw bytes for this target"),
        }
    }

    pub async fn cleanup(self) {
        if let Some(schema) = self.pg {
            schema.drop_now().await;
        }
    }
}

use cista_core::platform::access::invitations::{Invited, Invitee};
use cista_core::platform::notices::{Delivery, DeliveryOutcome, Notice};
use cista_core::ports::{CredentialPurpose, Organization};
use cista_types::{Email, OrgName, OrgSlug, Password, PersonName, Phone, Role};

pub fn invitee(first: &str, last: &str, email: &str, phone: Option<&str>, role: Role) -> Invitee {
    Invitee {
        first_name: PersonName::parse(first).unwrap(),
        last_name: PersonName::parse(last).unwrap(),
        email: Email::parse(email).unwrap(),
        phone: phone.map(|p| Phone::parse(p, None).unwrap()),
        role,
    }
}

/// The one-time token at the end of a link.
pub fn token_of(link: &str) -> &str {
    link.rsplit('/').next().unwrap()
}

pub const PASSWORD: &str = "orbit-mango-cellar-91";

impl Harness {
    pub async fn org(&self, cista: &Cista, slug: &str) -> Organization {
        cista
            .create_organization(
                &Actor::operator("test"),
                OrgName::parse(&format!("Org {slug}")).unwrap(),
                OrgSlug::parse(slug).unwrap(),
            )
            .await
            .unwrap()
    }

    /// Takes every due message as the delivery worker would, marking each delivered.
    pub async fn deliver_all(&self, cista: &Cista) -> Vec<Delivery> {
        let due = cista.due_deliveries(&Actor::System, 100).await.unwrap();
        for d in &due {
            cista
                .record_delivery(&Actor::System, d.id, d.attempts, DeliveryOutcome::Delivered)
                .await
                .unwrap();
        }
        due
    }

    /// The newest link or code sent to `address`.
    pub async fn last_notice_to(&self, cista: &Cista, address: &str) -> Notice {
        self.deliver_all(cista)
            .await
            .into_iter()
            .rev()
            .find(|d| d.address == address)
            .unwrap_or_else(|| panic!("nothing was sent to {address}"))
            .notice
    }

    /// Invites someone and sets their password from the emailed link.
    pub async fn active_person(&self, cista: &Cista, org: &Organization, who: Invitee) -> Invited {
        let email = who.email.as_str().to_owned();
        let invited = cista
            .invite(&Actor::operator("test"), org.id, who)
            .await
            .unwrap();
        let Notice::Invitation { link, .. } = self.last_notice_to(cista, &email).await else {
            panic!("no invitation was sent");
        };
        cista
            .set_password_with_link(
                token_of(&link),
                CredentialPurpose::Invite,
                &Password::parse(PASSWORD).unwrap(),
            )
            .await
            .unwrap();
        invited
    }

    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }
}
