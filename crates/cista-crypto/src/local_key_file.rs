//! The local key-file provider: key-encryption keys in a TOML file with mode 0600, kept
//! outside the data directory so a copy of the data alone cannot be decrypted. The file is
//! re-read when it changes, so `cista keys rotate` in another process takes effect in a
//! running server without a restart.

use crate::provider::{KekId, KeyProvider, KeyProviderError, ProviderInfo, WrappedKey};
use crate::{CryptoError, DataKey, Sealed};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cista_types::{Rng, Timestamp};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

const HEADER: &str = "\
# Cista key-encryption keys. Keep this file secret: mode 0600, outside the data directory,
# and backed up apart from the database. Without it the database's keys cannot be unwrapped.
";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileDoc {
    format: u32,
    #[serde(default)]
    kek: Vec<KekEntry>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KekEntry {
    id: KekId,
    created: Timestamp,
    state: KekState,
    key: String,
}

impl std::fmt::Debug for KekEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KekEntry({}, {:?})", self.id, self.state)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum KekState {
    Active,
    Retired,
}

#[derive(Clone)]
struct LoadedKek {
    id: KekId,
    state: KekState,
    created: Timestamp,
    key: DataKey,
}

struct Loaded {
    keks: Vec<LoadedKek>,
    fingerprint: Option<FileFingerprint>,
}

/// What tells us the file changed. Every write replaces the file by rename, so the inode
/// changes even when two writes fall within one tick of a coarse modification clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileFingerprint {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl FileFingerprint {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        }
    }
}

pub struct LocalKeyFile {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for LocalKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalKeyFile({})", self.path.display())
    }
}

/// How errors name this provider: `the key file PATH`.
fn provider_name(path: &Path) -> String {
    format!("the key file {}", path.display())
}

fn file_error(path: &Path, problem: impl Into<String>) -> KeyProviderError {
    KeyProviderError::Unusable {
        provider: provider_name(path),
        problem: problem.into(),
    }
}

pub(crate) fn new_kek_id(rng: &dyn Rng, now: Timestamp) -> KekId {
    let mut suffix = [0u8; 4];
    rng.fill(&mut suffix);
    let date = now.as_offset().date();
    KekId::new(format!(
        "kek-{:04}{:02}{:02}-{}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        hex::encode(suffix)
    ))
}

/// Refuses a key file that group or others may read or write.
#[cfg(unix)]
fn check_permissions(path: &Path, meta: &fs::Metadata) -> Result<(), KeyProviderError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(file_error(
            path,
            format!(
                "it can be read by group or others (mode {mode:o}); run `chmod 600 {}` and \
                 start again",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &fs::Metadata) -> Result<(), KeyProviderError> {
    Ok(())
}

fn read_file(path: &Path) -> Result<Loaded, KeyProviderError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyProviderError::Missing {
                provider: provider_name(path),
                // The same words serve a new instance and an existing one whose keys are
                // elsewhere (a moved file, or a PKCS#11 token without its settings).
                remedy: "for a new instance run `cista init` to create it; for an existing one \
                         restore it or set keys.file to where it is, or, if its keys are in a \
                         PKCS#11 token, set keys.provider = \"pkcs11\" with keys.token_label \
                         and keys.pin_file"
                    .to_owned(),
            });
        }
        Err(e) => return Err(file_error(path, e.to_string())),
    };
    if !meta.is_file() {
        return Err(file_error(path, "it is not a regular file"));
    }
    check_permissions(path, &meta)?;
    let text = fs::read_to_string(path).map_err(|e| file_error(path, e.to_string()))?;
    let doc: KeyFileDoc =
        toml::from_str(&text).map_err(|e| file_error(path, format!("it is not valid: {e}")))?;
    if doc.format != 1 {
        return Err(file_error(
            path,
            format!("format {} is not supported (expected 1)", doc.format),
        ));
    }
    let mut keks = Vec::with_capacity(doc.kek.len());
    for entry in doc.kek {
        let raw = BASE64
            .decode(entry.key.as_bytes())
            .map_err(|_| file_error(path, format!("the key of {} is not base64", entry.id)))?;
        let key = DataKey::from_slice(&raw)
            .map_err(|_| file_error(path, format!("the key of {} is not 32 bytes", entry.id)))?;
        keks.push(LoadedKek {
            id: entry.id,
            state: entry.state,
            created: entry.created,
            key,
        });
    }
    let active = keks.iter().filter(|k| k.state == KekState::Active).count();
    if active != 1 {
        return Err(file_error(
            path,
            format!("it must hold exactly one active key, it holds {active}"),
        ));
    }
    Ok(Loaded {
        keks,
        fingerprint: Some(FileFingerprint::of(&meta)),
    })
}

/// Writes the file atomically: a 0600 temporary file beside it, synced, then renamed over.
fn write_file(path: &Path, keks: &[LoadedKek], create_new: bool) -> Result<(), KeyProviderError> {
    let doc = KeyFileDoc {
        format: 1,
        kek: keks
            .iter()
            .map(|k| KekEntry {
                id: k.id.clone(),
                created: k.created,
                state: k.state,
                key: BASE64.encode(k.key.expose()),
            })
            .collect(),
    };
    let body = toml::to_string(&doc).map_err(|e| file_error(path, e.to_string()))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| file_error(path, e.to_string()))?;
    let file_name = path
        .file_name()
        .ok_or_else(|| file_error(path, "the path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp", file_name.to_string_lossy()));
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .map_err(|e| file_error(path, e.to_string()))?;
    file.write_all(HEADER.as_bytes())
        .and_then(|()| file.write_all(body.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| file_error(path, e.to_string()))?;
    drop(file);
    if create_new && path.exists() {
        let _ = fs::remove_file(&tmp);
        return Err(KeyProviderError::AlreadyExists {
            provider: provider_name(path),
        });
    }
    fs::rename(&tmp, path).map_err(|e| file_error(path, e.to_string()))?;
    if let Ok(dir_handle) = fs::File::open(dir) {
        let _ = dir_handle.sync_all();
    }
    Ok(())
}

impl LocalKeyFile {
    /// Creates a new key file with one active KEK. Refuses to overwrite an existing file.
    pub fn create(path: &Path, rng: &dyn Rng, now: Timestamp) -> Result<Self, KeyProviderError> {
        if path.exists() {
            return Err(KeyProviderError::AlreadyExists {
                provider: provider_name(path),
            });
        }
        let keks = vec![LoadedKek {
            id: new_kek_id(rng, now),
            state: KekState::Active,
            created: now,
            key: DataKey::generate(rng),
        }];
        write_file(path, &keks, true)?;
        Self::open(path)
    }

    /// Opens an existing key file, refusing one readable by group or others.
    pub fn open(path: &Path) -> Result<Self, KeyProviderError> {
        let loaded = read_file(path)?;
        Ok(Self {
            path: path.to_owned(),
            loaded: Mutex::new(loaded),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Re-reads the file if it changed on disk since it was last read.
    fn refresh(&self, loaded: &mut Loaded) -> Result<(), KeyProviderError> {
        let now = fs::metadata(&self.path)
            .ok()
            .map(|m| FileFingerprint::of(&m));
        if now.is_none() || now != loaded.fingerprint {
            *loaded = read_file(&self.path)?;
        }
        Ok(())
    }
}

#[async_trait]
impl KeyProvider for LocalKeyFile {
    async fn info(&self) -> Result<ProviderInfo, KeyProviderError> {
        let mut loaded = self.lock();
        self.refresh(&mut loaded)?;
        let active = loaded
            .keks
            .iter()
            .find(|k| k.state == KekState::Active)
            .map(|k| k.id.clone())
            .ok_or_else(|| file_error(&self.path, "it holds no active key"))?;
        Ok(ProviderInfo {
            kind: "local key file".to_owned(),
            location: self.path.display().to_string(),
            active_kek: active,
            retired_keks: loaded
                .keks
                .iter()
                .filter(|k| k.state == KekState::Retired)
                .map(|k| k.id.clone())
                .collect(),
        })
    }

    async fn wrap(&self, key: &DataKey, aad: &[u8]) -> Result<WrappedKey, KeyProviderError> {
        let mut loaded = self.lock();
        // Always wrap under the newest active key, even if another process rotated just now.
        self.refresh(&mut loaded)?;
        let active = loaded
            .keks
            .iter()
            .find(|k| k.state == KekState::Active)
            .ok_or_else(|| file_error(&self.path, "it holds no active key"))?;
        let sealed = active
            .key
            .seal(
                &cista_types::OsRng,
                &crate::provider::kek_aad(&active.id, aad),
                key.expose(),
            )
            .map_err(|e| file_error(&self.path, e.to_string()))?;
        Ok(WrappedKey {
            kek: active.id.clone(),
            ciphertext: sealed.into_bytes(),
        })
    }

    async fn unwrap(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<DataKey, KeyProviderError> {
        let mut loaded = self.lock();
        // A KEK removed from the file must stop working here too, so re-read on any change.
        self.refresh(&mut loaded)?;
        let kek = loaded
            .keks
            .iter()
            .find(|k| k.id == wrapped.kek)
            .ok_or_else(|| KeyProviderError::UnknownKek {
                kek: wrapped.kek.clone(),
                provider: provider_name(&self.path),
            })?;
        let sealed = Sealed::from_bytes(wrapped.ciphertext.clone());
        let plain = kek
            .key
            .open(&crate::provider::kek_aad(&kek.id, aad), &sealed)
            .map_err(|e| match e {
                CryptoError::Decrypt | CryptoError::Malformed(_) => KeyProviderError::WrongKey {
                    kek: kek.id.clone(),
                },
                CryptoError::BadSignature(_) => KeyProviderError::WrongKey {
                    kek: kek.id.clone(),
                },
            })?;
        DataKey::from_slice(&plain).map_err(|_| KeyProviderError::WrongKey {
            kek: kek.id.clone(),
        })
    }

    async fn rotate(&self, rng: &dyn Rng, now: Timestamp) -> Result<KekId, KeyProviderError> {
        let mut loaded = self.lock();
        *loaded = read_file(&self.path)?;
        let id = new_kek_id(rng, now);
        let mut keks: Vec<LoadedKek> = loaded
            .keks
            .iter()
            .map(|k| LoadedKek {
                state: KekState::Retired,
                ..k.clone()
            })
            .collect();
        keks.push(LoadedKek {
            id: id.clone(),
            state: KekState::Active,
            created: now,
            key: DataKey::generate(rng),
        });
        write_file(&self.path, &keks, false)?;
        *loaded = read_file(&self.path)?;
        Ok(id)
    }

    async fn remove_retired(&self, kek: &KekId) -> Result<(), KeyProviderError> {
        let mut loaded = self.lock();
        *loaded = read_file(&self.path)?;
        if loaded
            .keks
            .iter()
            .any(|k| &k.id == kek && k.state == KekState::Active)
        {
            return Err(KeyProviderError::StillActive { kek: kek.clone() });
        }
        let keks: Vec<LoadedKek> = loaded
            .keks
            .iter()
            .filter(|k| &k.id != kek)
            .cloned()
            .collect();
        write_file(&self.path, &keks, false)?;
        *loaded = read_file(&self.path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cista_types::OsRng;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-22T12:00:00Z").unwrap()
    }

    #[tokio::test]
    async fn a_new_key_file_is_private_and_wraps_and_unwraps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.kek");
        let provider = LocalKeyFile::create(&path, &OsRng, now()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let dek = DataKey::generate(&OsRng);
        let wrapped = provider.wrap(&dek, b"org:1").await.unwrap();
        assert!(!wrapped.ciphertext.windows(32).any(|w| w == dek.expose()));
        assert_eq!(provider.unwrap(&wrapped, b"org:1").await.unwrap(), dek);
        assert!(provider.unwrap(&wrapped, b"org:2").await.is_err());
    }

    #[tokio::test]
    async fn a_key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.kek");
        LocalKeyFile::create(&path, &OsRng, now()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let err = LocalKeyFile::open(&path).unwrap_err();
            assert!(matches!(err, KeyProviderError::Unusable { .. }), "{err}");
            assert!(err.to_string().contains("mode 644"), "{err}");
            assert!(err.to_string().contains("chmod 600"));
        }
    }

    #[tokio::test]
    async fn a_different_key_file_fails_loudly() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalKeyFile::create(&dir.path().join("a.kek"), &OsRng, now()).unwrap();
        let second = LocalKeyFile::create(&dir.path().join("b.kek"), &OsRng, now()).unwrap();
        let wrapped = first.wrap(&DataKey::generate(&OsRng), b"x").await.unwrap();
        let err = second.unwrap(&wrapped, b"x").await.unwrap_err();
        assert!(matches!(err, KeyProviderError::UnknownKek { .. }), "{err}");

        // Same name, other material: the tag check catches it.
        let forged = WrappedKey {
            kek: second.info().await.unwrap().active_kek,
            ciphertext: wrapped.ciphertext.clone(),
        };
        let err = second.unwrap(&forged, b"x").await.unwrap_err();
        assert!(matches!(err, KeyProviderError::WrongKey { .. }), "{err}");
    }

    #[tokio::test]
    async fn rotation_keeps_old_keys_able_to_unwrap_and_another_handle_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.kek");
        let server = LocalKeyFile::create(&path, &OsRng, now()).unwrap();
        let dek = DataKey::generate(&OsRng);
        let old = server.wrap(&dek, b"k").await.unwrap();

        let cli = LocalKeyFile::open(&path).unwrap();
        let new_kek = cli.rotate(&OsRng, now()).await.unwrap();
        let rewrapped = cli.wrap(&dek, b"k").await.unwrap();
        assert_eq!(rewrapped.kek, new_kek);

        // The long-lived handle picks up the new key without being reopened.
        assert_eq!(server.unwrap(&rewrapped, b"k").await.unwrap(), dek);
        assert_eq!(server.unwrap(&old, b"k").await.unwrap(), dek);
        assert_eq!(server.info().await.unwrap().active_kek, new_kek);

        cli.remove_retired(&old.kek).await.unwrap();
        assert!(matches!(
            server.unwrap(&old, b"k").await,
            Err(KeyProviderError::UnknownKek { .. })
        ));
        assert!(matches!(
            cli.remove_retired(&new_kek).await,
            Err(KeyProviderError::StillActive { .. })
        ));
    }

    #[test]
    fn an_existing_key_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.kek");
        LocalKeyFile::create(&path, &OsRng, now()).unwrap();
        assert!(matches!(
            LocalKeyFile::create(&path, &OsRng, now()),
            Err(KeyProviderError::AlreadyExists { .. })
        ));
    }
}
