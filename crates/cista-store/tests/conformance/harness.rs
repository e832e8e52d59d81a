//! A fresh, isolated store per test: a temporary SQLite file, or a private schema on the
//! PostgreSQL server named by `CISTA_TEST_POSTGRES_URL`.

use cista_core::{AccessSettings, Actor, Cista, Deps};
use cista_crypto::LocalKeyFile;
use cista_store::{ConnectOptions, SeaStore, SeaVault};
use cista_testkit::db::TestDatabase;
use cista_types::{ManualClock, OsRng, Timestamp};
use sea_orm::{ConnectionTrait, Statement};
use std::sync::Arc;

#[derive(Debug)]
pub struct Harness {
    pub store: Arc<SeaStore>,
    pub vault: Arc<SeaVault>,
    /// The test's database (SQLite file or PostgreSQL schema) and directory.
    pub db: TestDatabase,
    pub clock: Arc<ManualClock>,
}

fn start_time() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-22T14:03:00.123456Z").unwrap()
}

impl Harness {
    pub async fn sqlite() -> Self {
        Self::open(TestDatabase::sqlite()).await
    }

    /// `None` (after saying so) when no PostgreSQL URL is configured and it is not required.
    pub async fn postgres() -> Option<Self> {
        Some(Self::open(TestDatabase::postgres().await?).await)
    }

    async fn open(db: TestDatabase) -> Self {
        let store = SeaStore::connect_and_migrate(&db.target, &ConnectOptions::default())
            .await
            .unwrap_or_else(|e| panic!("store: {}", e.chain()));
        let vault = SeaVault::on(&store);
        vault.migrate().await.unwrap();
        Self {
            store: Arc::new(store),
            vault: Arc::new(vault),
            db,
            clock: Arc::new(ManualClock::new(start_time())),
        }
    }

    pub fn key_file_path(&self) -> std::path::PathBuf {
        self.db.dir.path().join("test.kek")
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
        self.deps_with_provider(keys)
    }

    /// As `deps_with`, with any key provider.
    pub fn deps_with_provider(&self, keys: Arc<dyn cista_crypto::KeyProvider>) -> Deps {
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

    /// Leaves `subject` known to the vault alone, as an invitation or a roll import stopped
    /// between the vault and the store does: their links, queued messages, memberships and
    /// account are deleted, their vault entry (bound to the subject) kept.
    pub async fn forget_in_store(&self, subject: cista_types::SubjectCode) {
        let s = subject.as_i64();
        for sql in [
            format!("DELETE FROM credentials WHERE subject = {s}"),
            format!("DELETE FROM outbox WHERE recipient = {s}"),
            format!("DELETE FROM memberships WHERE subject = {s}"),
            format!("DELETE FROM accounts WHERE subject = {s}"),
        ] {
            self.tamper(&sql).await;
        }
    }

    pub async fn exec(&self, stmt: Statement) {
        self.store.connection().execute_raw(stmt).await.unwrap();
    }

    pub fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    /// Every byte the database holds (see `TestDatabase::raw_bytes`).
    pub async fn raw_database_bytes(&self) -> Vec<u8> {
        self.db.raw_bytes()
    }

    pub async fn cleanup(self) {
        self.db.cleanup().await;
    }
}

use cista_core::platform::access::invitations::{Invited, Invitee};
use cista_core::platform::notices::{Delivery, DeliveryOutcome, Notice};
use cista_core::ports::{CredentialPurpose, Organization};
use cista_types::{OrgName, OrgSlug, Password};

pub use cista_testkit::fixtures::{PASSWORD, invitee, token_of};

/// Sets `PASSWORD` from invitation `link`, as its person would.
pub async fn choose_password(cista: &Cista, link: &str) {
    cista
        .set_password_with_link(
            token_of(link),
            CredentialPurpose::Invite,
            &Password::parse(PASSWORD).unwrap(),
        )
        .await
        .unwrap();
}

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

    /// The link of the newest invitation to join among the messages due to `address` (other
    /// messages made at the same instant may be due after it).
    pub async fn join_link_to(&self, cista: &Cista, address: &str) -> String {
        self.deliver_all(cista)
            .await
            .into_iter()
            .rev()
            .find_map(|d| match d.notice {
                Notice::JoinInvitation { link, .. } if d.address == address => Some(link),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no invitation to join was sent to {address}"))
    }

    /// Accepts the invitation to join last sent to `address`, as its person would (choosing
    /// `PASSWORD` on the way if they have none yet).
    pub async fn accept_join(&self, cista: &Cista, address: &str) {
        let link = self.join_link_to(cista, address).await;
        let token = token_of(&link);
        let view = cista
            .inspect_link(token, CredentialPurpose::Join)
            .await
            .unwrap();
        if view.chooses_password {
            cista
                .set_password_with_link(
                    token,
                    CredentialPurpose::Join,
                    &Password::parse(PASSWORD).unwrap(),
                )
                .await
                .unwrap();
        } else {
            cista.accept_join_invitation(token).await.unwrap();
        }
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
        choose_password(cista, &link).await;
        invited
    }

    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }
}
