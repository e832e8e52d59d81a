//! Wrapped keys: only ciphertext at rest, loud failure with the wrong key file, rotation
//! without downtime.

use crate::Harness;
use cista_core::ports::{KeyPurpose, StoredKey};
use cista_core::{Actor, Cista, Error, Store as _};
use cista_crypto::envelope::aad;
use cista_crypto::{KeyProvider as _, KeyProviderError, LocalKeyFile, Sealed};
use cista_types::{OrgName, OrgSlug, OsRng, Timestamp};
use std::sync::Arc;

fn operator() -> Actor {
    Actor::operator("test")
}

async fn org(cista: &Cista, slug: &str) -> cista_core::ports::Organization {
    cista
        .create_organization(
            &operator(),
            OrgName::parse(&format!("Org {slug}")).unwrap(),
            OrgSlug::parse(slug).unwrap(),
        )
        .await
        .unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub async fn the_database_holds_only_wrapped_keys(h: &Harness) {
    let cista = h.cista().await;
    let a = org(&cista, "alpha").await;
    let b = org(&cista, "beta").await;
    let keys = h.key_file();
    let raw = h.raw_database_bytes().await;
    assert!(!raw.is_empty());
    let stored = h.store.stored_keys().await.unwrap();
    assert_eq!(
        stored.len(),
        6,
        "two organization keys, the audit signing key and three instance-level keys"
    );
    for key in &stored {
        let clear = keys
            .unwrap(
                &key.wrapped,
                &StoredKey::wrap_aad(key.id, key.purpose, key.org),
            )
            .await
            .unwrap();
        let secret = clear.expose();
        assert!(
            !contains(&raw, secret),
            "a {:?} key is stored in the clear",
            key.purpose
        );
        assert!(
            !contains(&raw, hex::encode(secret).as_bytes()),
            "a {:?} key is stored in the clear (hex)",
            key.purpose
        );
        assert_ne!(key.wrapped.ciphertext.as_slice(), secret.as_slice());
    }
    // A canary sealed under an organization's key is ciphertext too.
    let sealed = cista
        .seal_for_org(
            a.id,
            &aad("test", "payload", "1"),
            b"canary-name Jane Q. Voter",
        )
        .await
        .unwrap();
    assert!(!contains(sealed.as_bytes(), b"canary-name"));
    assert_eq!(
        cista
            .open_for_org(a.id, &aad("test", "payload", "1"), &sealed)
            .await
            .unwrap(),
        b"canary-name Jane Q. Voter"
    );
    assert!(
        cista
            .open_for_org(b.id, &aad("test", "payload", "1"), &sealed)
            .await
            .is_err()
    );
}

pub async fn a_wrong_key_encryption_key_fails_loudly(h: &Harness) {
    let cista = h.cista().await;
    org(&cista, "alpha").await;

    // A different key file: its KEK names nothing stored here.
    let other = Arc::new(
        LocalKeyFile::create(&h.db.dir.path().join("other.kek"), &OsRng, h.clock_now()).unwrap(),
    );
    let err = Cista::open(h.deps_with(other)).await.unwrap_err();
    assert!(
        matches!(err, Error::Keys(KeyProviderError::UnknownKek { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("key file"), "{err}");

    // The right KEK name over different key material: the GCM tag check refuses it.
    let path = h.key_file_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let original_key = text
        .lines()
        .find_map(|l| l.strip_prefix("key = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let forged_key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode([0x42u8; 32])
    };
    let forged_path = h.db.dir.path().join("forged.kek");
    let forged_text = text.replace(&original_key, &forged_key);
    write_private(&forged_path, &forged_text);
    let forged = Arc::new(LocalKeyFile::open(&forged_path).unwrap());
    let err = Cista::open(h.deps_with(forged)).await.unwrap_err();
    assert!(
        matches!(err, Error::Keys(KeyProviderError::WrongKey { .. })),
        "{err:?}"
    );
}

fn write_private(path: &std::path::Path, text: &str) {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

pub async fn rotation_rewraps_every_key_while_a_running_server_keeps_working(h: &Harness) {
    // The "server" holds its own handle on the key file for the whole test.
    let server = Cista::open_or_initialize(h.deps_with(h.key_file()), &operator(), None)
        .await
        .unwrap()
        .0;
    let orgs = [
        org(&server, "alpha").await,
        org(&server, "beta").await,
        org(&server, "gamma").await,
    ];
    let place = aad("test", "payload", "1");
    let mut sealed: Vec<Sealed> = Vec::new();
    for o in &orgs {
        sealed.push(
            server
                .seal_for_org(o.id, &place, o.slug.as_str().as_bytes())
                .await
                .unwrap(),
        );
    }
    let before = server.key_status(&operator()).await.unwrap();
    let old_kek = before.provider.active_kek.clone();
    // three organizations, the audit signing key and three instance-level keys
    assert_eq!(before.keys_by_kek.get(&old_kek), Some(&7));

    // The "operator" rotates from another process with its own handle.
    let cli = Cista::open(h.deps_with(Arc::new(LocalKeyFile::open(&h.key_file_path()).unwrap())))
        .await
        .unwrap();
    let head_before = h.store.audit_head().await.unwrap().size;
    let report = cli.rotate_keys(&operator(), false).await.unwrap();
    assert_eq!(report.rewrapped, 7);
    assert_ne!(report.new_kek, old_kek);
    assert_eq!(report.kept, vec![old_kek.clone()]);
    assert!(h.store.audit_head().await.unwrap().size > head_before);

    for key in h.store.stored_keys().await.unwrap() {
        assert_eq!(
            key.wrapped.kek, report.new_kek,
            "{:?} was not rewrapped",
            key.purpose
        );
    }
    // The running server reads the rewrapped keys and the data sealed before the rotation.
    for (o, s) in orgs.iter().zip(&sealed) {
        assert_eq!(
            server.open_for_org(o.id, &place, s).await.unwrap(),
            o.slug.as_str().as_bytes()
        );
    }
    // New keys the server creates now are wrapped under the new KEK.
    let delta = org(&server, "delta").await;
    assert_eq!(
        h.store
            .org_data_key(delta.id)
            .await
            .unwrap()
            .unwrap()
            .wrapped
            .kek,
        report.new_kek
    );
    // The server's signing key still unwraps: a restart works.
    Cista::open(h.deps_with(h.key_file())).await.unwrap();
    let status = server.key_status(&operator()).await.unwrap();
    assert!(status.missing_keks.is_empty());
    assert_eq!(status.provider.retired_keks, vec![old_kek]);
    assert!(server.verify_audit(&operator()).await.unwrap().is_ok());
    assert_eq!(
        Actor::System
            .authorize(cista_core::Action::RotateKeys)
            .unwrap_err()
            .code(),
        "forbidden"
    );
}

pub async fn retired_keys_are_removed_only_when_asked_and_unused(h: &Harness) {
    let cista = h.cista().await;
    org(&cista, "alpha").await;
    let first = cista.rotate_keys(&operator(), false).await.unwrap();
    assert_eq!(first.kept.len(), 1);
    let second = cista.rotate_keys(&operator(), true).await.unwrap();
    assert_eq!(second.removed.len(), 2, "{second:?}");
    assert!(second.kept.is_empty());
    let status = cista.key_status(&operator()).await.unwrap();
    assert!(status.provider.retired_keks.is_empty());
    assert_eq!(status.keys_by_kek.len(), 1);
    // Everything still opens after the old keys are gone.
    Cista::open(h.deps_with(h.key_file())).await.unwrap();
}

pub async fn sealed_values_open_only_for_their_organization_and_place(h: &Harness) {
    let cista = h.cista().await;
    let a = org(&cista, "alpha").await;
    let here = aad("submissions", "payload", "7");
    let sealed = cista.seal_for_org(a.id, &here, b"answer").await.unwrap();
    let err = cista
        .open_for_org(a.id, &aad("submissions", "payload", "8"), &sealed)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "crypto_check_failed");
    // A stored key moved onto another organization's row does not unwrap.
    let key = h.store.org_data_key(a.id).await.unwrap().unwrap();
    let wrong_place = StoredKey::wrap_aad(key.id, KeyPurpose::AuditSigning, None);
    assert!(
        h.key_file()
            .unwrap(&key.wrapped, &wrong_place)
            .await
            .is_err()
    );
}

impl Harness {
    pub fn clock_now(&self) -> Timestamp {
        use cista_types::Clock as _;
        self.clock.now()
    }
}
