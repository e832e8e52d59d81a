//! The PKCS#11 key provider (issue 14, item 5): key-encryption keys are AES-256 secret-key
//! objects on an HSM token (tested against SoftHSM2), created on the token as sensitive and
//! not extractable, so they never leave it; data keys are wrapped and unwrapped inside the
//! token with AES-GCM (`CKM_AES_GCM`, 96-bit IV, 128-bit tag; the IV is stored before the
//! ciphertext). Each KEK is labelled with its id (`CKA_LABEL`, `kek-…`) and carries its creation
//! time in `CKA_ID` (8 bytes, big-endian microseconds): the newest is active, the others are
//! retired and still unwrap until removed. Standard: PKCS#11 v2.40 / v3.0 (OASIS), through the
//! `cryptoki` crate.

use crate::DataKey;
use crate::provider::{KekId, KeyProvider, KeyProviderError, ProviderInfo, WrappedKey};
use async_trait::async_trait;
use cista_types::{Rng, Timestamp};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::path::PathBuf;
use std::sync::Mutex;

const IV_LEN: usize = 12;
const TAG_BITS: u64 = 128;

/// Where the token is and how to log in.
#[derive(Clone)]
pub struct Pkcs11Settings {
    /// The PKCS#11 module (a shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token's label (`CKA_LABEL` of the token, as `softhsm2-util --show-slots` prints).
    pub token_label: String,
    /// The user PIN.
    pub pin: String,
}

impl std::fmt::Debug for Pkcs11Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Settings")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .finish_non_exhaustive()
    }
}

/// A key-encryption key on the token.
#[derive(Debug, Clone)]
struct TokenKek {
    id: KekId,
    created_micros: i64,
    handle: ObjectHandle,
}

/// Keys on a PKCS#11 token; one logged-in read-write session, used one call at a time.
pub struct Pkcs11Provider {
    label: String,
    module: PathBuf,
    session: Mutex<Session>,
}

impl std::fmt::Debug for Pkcs11Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Provider")
            .field("token", &self.label)
            .finish_non_exhaustive()
    }
}

fn token_name(label: &str) -> String {
    format!("the PKCS#11 token \"{label}\"")
}

fn unusable(label: &str, problem: impl Into<String>) -> KeyProviderError {
    KeyProviderError::Unusable {
        provider: token_name(label),
        problem: problem.into(),
    }
}

/// A cryptoki error in words that name the fix where one is known.
fn token_error(label: &str, what: &str, e: CkError) -> KeyProviderError {
    match e {
        CkError::Pkcs11(RvError::PinIncorrect, _) => unusable(
            label,
            "the token refused the PIN (CKR_PIN_INCORRECT): check keys.pin_file; a few more \
             wrong PINs lock the token",
        ),
        CkError::Pkcs11(RvError::PinLocked, _) => unusable(
            label,
            "its user PIN is locked after too many wrong PINs (CKR_PIN_LOCKED): unlock it with \
             the security officer's PIN, then start again",
        ),
        CkError::Pkcs11(RvError::DeviceRemoved | RvError::TokenNotPresent, _) => {
            KeyProviderError::Unavailable {
                provider: token_name(label),
                problem: format!("{what}: the token is not present"),
            }
        }
        other => unusable(label, format!("{what}: {other}")),
    }
}

impl Pkcs11Provider {
    /// Loads the module, finds the token by label and logs in. Errors: the module missing
    /// (`Missing`, naming `keys.module`), no token with that label (`Missing`, naming how to
    /// initialise one), a wrong or locked PIN (`Unusable`, naming the fix).
    pub fn open(settings: &Pkcs11Settings) -> Result<Self, KeyProviderError> {
        let label = settings.token_label.as_str();
        if !settings.module.exists() {
            return Err(KeyProviderError::Missing {
                provider: format!("the PKCS#11 module {}", settings.module.display()),
                remedy: "install it (SoftHSM2 on Debian: apt install softhsm2) or set \
                         keys.module to the HSM vendor's library"
                    .to_owned(),
            });
        }
        let context = Pkcs11::new(&settings.module)
            .map_err(|e| token_error(label, "loading the PKCS#11 module", e))?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(token_error(label, "initialising the module", e)),
        }
        let slots = context
            .get_slots_with_token()
            .map_err(|e| token_error(label, "listing the slots", e))?;
        let mut found = None;
        for slot in slots {
            let info = context
                .get_token_info(slot)
                .map_err(|e| token_error(label, "reading a token", e))?;
            if info.label().trim_end() == label {
                found = Some((slot, info.user_pin_locked()));
                break;
            }
        }
        let Some((slot, locked)) = found else {
            return Err(KeyProviderError::Missing {
                provider: token_name(label),
                remedy: format!(
                    "initialise a token with that label (SoftHSM2: softhsm2-util --init-token \
                     --free --label {label}) or set keys.token_label to an existing one"
                ),
            });
        };
        if locked {
            return Err(token_error(
                label,
                "logging in",
                CkError::Pkcs11(RvError::PinLocked, cryptoki::context::Function::Login),
            ));
        }
        let session = context
            .open_rw_session(slot)
            .map_err(|e| token_error(label, "opening a session", e))?;
        match session.login(
            UserType::User,
            Some(&AuthPin::new(settings.pin.clone().into())),
        ) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(token_error(label, "logging in", e)),
        }
        Ok(Self {
            label: label.to_owned(),
            module: settings.module.clone(),
            session: Mutex::new(session),
        })
    }

    /// Opens the token and makes its first KEK (`cista init`); refuses if it already holds one.
    pub fn create(
        settings: &Pkcs11Settings,
        rng: &dyn Rng,
        now: Timestamp,
    ) -> Result<Self, KeyProviderError> {
        let provider = Self::open(settings)?;
        if !provider.keks()?.is_empty() {
            return Err(KeyProviderError::AlreadyExists {
                provider: token_name(&provider.label),
            });
        }
        provider.generate(rng, now)?;
        Ok(provider)
    }

    /// Whether the token holds any KEK (so `cista init` reuses it).
    pub fn has_keys(&self) -> Result<bool, KeyProviderError> {
        Ok(!self.keks()?.is_empty())
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every KEK on the token, oldest first.
    fn keks(&self) -> Result<Vec<TokenKek>, KeyProviderError> {
        let session = self.lock();
        let handles = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(true),
            ])
            .map_err(|e| token_error(&self.label, "listing keys", e))?;
        let mut out = Vec::new();
        for handle in handles {
            let attributes = session
                .get_attributes(handle, &[AttributeType::Label, AttributeType::Id])
                .map_err(|e| token_error(&self.label, "reading a key", e))?;
            let mut id = None;
            let mut created = None;
            for attribute in attributes {
                match attribute {
                    Attribute::Label(bytes) => id = String::from_utf8(bytes).ok(),
                    Attribute::Id(bytes) => {
                        created = <[u8; 8]>::try_from(bytes.as_slice())
                            .ok()
                            .map(i64::from_be_bytes);
                    }
                    _ => {}
                }
            }
            // Only Cista's own keys: `kek-…` labels with a creation time.
            if let (Some(id), Some(created_micros)) = (id, created)
                && id.starts_with("kek-")
            {
                out.push(TokenKek {
                    id: KekId::new(id),
                    created_micros,
                    handle,
                });
            }
        }
        out.sort_by(|a, b| {
            (a.created_micros, a.id.as_str()).cmp(&(b.created_micros, b.id.as_str()))
        });
        Ok(out)
    }

    fn active(&self) -> Result<TokenKek, KeyProviderError> {
        self.keks()?.pop().ok_or_else(|| {
            unusable(
                &self.label,
                "it holds no Cista key-encryption key; run cista init",
            )
        })
    }

    /// A new AES-256 KEK generated on the token: sensitive, never extractable.
    fn generate(&self, rng: &dyn Rng, now: Timestamp) -> Result<KekId, KeyProviderError> {
        let id = crate::local_key_file::new_kek_id(rng, now);
        let template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::ValueLen(32.into()),
            Attribute::Label(id.as_str().as_bytes().to_vec()),
            Attribute::Id(now.unix_micros().to_be_bytes().to_vec()),
        ];
        self.lock()
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(|e| token_error(&self.label, "generating a key", e))?;
        Ok(id)
    }
}

#[async_trait]
impl KeyProvider for Pkcs11Provider {
    async fn info(&self) -> Result<ProviderInfo, KeyProviderError> {
        let mut keks = self.keks()?;
        let active = keks.pop().ok_or_else(|| {
            unusable(
                &self.label,
                "it holds no Cista key-encryption key; run cista init",
            )
        })?;
        Ok(ProviderInfo {
            kind: format!("PKCS#11 token \"{}\"", self.label),
            location: format!("module {}", self.module.display()),
            active_kek: active.id,
            retired_keks: keks.into_iter().map(|k| k.id).collect(),
        })
    }

    async fn wrap(&self, key: &DataKey, aad: &[u8]) -> Result<WrappedKey, KeyProviderError> {
        let active = self.active()?;
        let mut iv = [0u8; IV_LEN];
        cista_types::OsRng.fill(&mut iv);
        let aad = crate::provider::kek_aad(&active.id, aad);
        // The token may write the IV it used back into the parameters (some HSMs make their
        // own in FIPS mode): what is stored is what the parameters hold after encrypting.
        let mut params_iv = iv;
        let sealed = {
            let params = GcmParams::new(&mut params_iv, &aad, TAG_BITS.into())
                .map_err(|e| token_error(&self.label, "preparing AES-GCM", e))?;
            self.lock()
                .encrypt(&Mechanism::AesGcm(params), active.handle, key.expose())
                .map_err(|e| token_error(&self.label, "wrapping a key", e))?
        };
        let mut ciphertext = params_iv.to_vec();
        ciphertext.extend_from_slice(&sealed);
        Ok(WrappedKey {
            kek: active.id,
            ciphertext,
        })
    }

    async fn unwrap(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<DataKey, KeyProviderError> {
        let Some(kek) = self.keks()?.into_iter().find(|k| k.id == wrapped.kek) else {
            return Err(KeyProviderError::UnknownKek {
                kek: wrapped.kek.clone(),
                provider: token_name(&self.label),
            });
        };
        let wrong = || KeyProviderError::WrongKey {
            kek: kek.id.clone(),
        };
        let (iv, sealed) = wrapped
            .ciphertext
            .split_at_checked(IV_LEN)
            .ok_or_else(wrong)?;
        let mut iv = <[u8; IV_LEN]>::try_from(iv).map_err(|_| wrong())?;
        let aad = crate::provider::kek_aad(&kek.id, aad);
        let params = GcmParams::new(&mut iv, &aad, TAG_BITS.into())
            .map_err(|e| token_error(&self.label, "preparing AES-GCM", e))?;
        let plain = self
            .lock()
            .decrypt(&Mechanism::AesGcm(params), kek.handle, sealed)
            .map_err(|e| match e {
                // The tag did not verify: other material under that name, or altered bytes.
                CkError::Pkcs11(
                    RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange,
                    _,
                ) => wrong(),
                other => token_error(&self.label, "unwrapping a key", other),
            })?;
        DataKey::from_slice(&plain).map_err(|_| wrong())
    }

    async fn rotate(&self, rng: &dyn Rng, now: Timestamp) -> Result<KekId, KeyProviderError> {
        self.generate(rng, now)
    }

    async fn remove_retired(&self, kek: &KekId) -> Result<(), KeyProviderError> {
        let keks = self.keks()?;
        if keks.last().is_some_and(|active| &active.id == kek) {
            return Err(KeyProviderError::StillActive { kek: kek.clone() });
        }
        if let Some(retired) = keks.into_iter().find(|k| &k.id == kek) {
            self.lock()
                .destroy_object(retired.handle)
                .map_err(|e| token_error(&self.label, "removing a key", e))?;
        }
        Ok(())
    }
}

/// The module path SoftHSM2 installs on Debian: `keys.module`'s default.
pub const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
