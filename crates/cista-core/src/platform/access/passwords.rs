//! Passwords: the strength check that explains itself (zxcvbn, score 3 of 4 or better, with
//! the person's own name and email counted as guessable), and the hasher that runs Argon2id on
//! the blocking pool, a few at a time, so a flood of sign-ins queues instead of starving the
//! server, and past a queue limit is refused.

use crate::{Error, Result};
use cista_types::Password;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// The least zxcvbn score accepted (0 = too guessable … 4 = very unguessable).
pub const MIN_SCORE: u8 = 3;

/// Refuses a guessable password with zxcvbn's own explanation and suggestions. `context`
/// holds words an attacker would try first: the person's names, email, the organization.
pub fn check_strength(password: &Password, context: &[&str]) -> Result<()> {
    // zxcvbn still scores "janedoe1985" as fair for Jane Doe; say it plainly instead.
    let lowered = password.expose().to_lowercase();
    if context
        .iter()
        .map(|w| w.trim().to_lowercase())
        .any(|w| w.chars().count() >= 3 && lowered.contains(&w))
    {
        return Err(Error::WeakPassword {
            reason: "it contains your name, your email address or your organization's name."
                .to_owned(),
        });
    }
    let entropy = zxcvbn::zxcvbn(password.expose(), context);
    if u8::from(entropy.score()) >= MIN_SCORE {
        return Ok(());
    }
    let mut reason = String::new();
    if let Some(feedback) = entropy.feedback() {
        if let Some(warning) = feedback.warning() {
            reason.push_str(&warning.to_string());
        }
        for suggestion in feedback.suggestions() {
            if !reason.is_empty() {
                reason.push(' ');
            }
            reason.push_str(&suggestion.to_string());
        }
    }
    if reason.is_empty() {
        reason = "add more words or characters that are not a common pattern".to_owned();
    }
    Err(Error::WeakPassword { reason })
}

/// Hashes and verifies passwords off the async threads, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue_limit: usize,
}

/// How long a caller refused by a full hashing queue is told to wait, in seconds.
const BUSY_RETRY_SECS: u64 = 2;

/// Releases a place in the queue when dropped.
struct QueueSlot(Arc<AtomicUsize>);

impl Drop for QueueSlot {
    fn drop(&mut self) {
        // The last in the queue, done or dropped: the burst of sign-ins is over, and the
        // hashes' working memory (19 MiB each, kept between them) is freed.
        if self.0.fetch_sub(1, Ordering::SeqCst) == 1 {
            cista_crypto::password::release_working_memory();
        }
    }
}

impl PasswordHasher {
    pub fn new(concurrent: usize, queue_limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue_limit: queue_limit.max(1),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue_limit {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            // A full queue drains in about a hash time per place; a short wait is honest.
            return Err(Error::RateLimited {
                retry_after_secs: BUSY_RETRY_SECS,
            });
        }
        let _slot = QueueSlot(self.waiting.clone());
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Internal("the password hasher was shut down".to_owned()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Error::Internal(format!("password hashing task failed: {e}")))
    }

    pub async fn hash(&self, password: &Password) -> Result<String> {
        let plain = password.expose().to_owned();
        self.run(move || cista_crypto::password::hash_password(&plain))
            .await?
            .map_err(Error::from)
    }

    /// Verifies against `stored`, or against a dummy hash when there is none, so that an
    /// unknown account costs the same time as a wrong password. The password is compared in
    /// NFC, as `Password::parse` stores it; a password that is not in NFC as typed is also
    /// compared as typed, for passwords chosen before they were normalized (the cost of the
    /// second hash depends on the text typed, never on the account).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        use unicode_normalization::UnicodeNormalization as _;
        let composed: String = password.nfc().collect();
        let as_typed = (composed != password).then(|| password.to_owned());
        let (phc, real) = match stored {
            Some(phc) => (phc.to_owned(), true),
            None => (cista_crypto::password::dummy_hash().to_owned(), false),
        };
        let matched = self
            .run(move || {
                cista_crypto::password::verify_password(&composed, &phc)
                    || as_typed
                        .is_some_and(|raw| cista_crypto::password::verify_password(&raw, &phc))
            })
            .await?;
        Ok(real && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same text typed composed (NFC) or decomposed (NFD) is the same password.
    #[tokio::test]
    async fn a_password_is_the_same_however_its_accents_were_typed() {
        let hasher = PasswordHasher::new(1, 4);
        let composed = "caf\u{e9} r\u{e9}sum\u{e9} lighthouse 58";
        let decomposed = "cafe\u{301} re\u{301}sume\u{301} lighthouse 58";
        let stored = hasher
            .hash(&Password::parse(decomposed).unwrap())
            .await
            .unwrap();
        assert!(hasher.verify(composed, Some(&stored)).await.unwrap());
        assert!(hasher.verify(decomposed, Some(&stored)).await.unwrap());
        assert!(
            !hasher
                .verify("cafe resume lighthouse 58", Some(&stored))
                .await
                .unwrap()
        );
        // One chosen before passwords were normalized still signs in as it was typed.
        let legacy = cista_crypto::password::hash_password(decomposed).unwrap();
        assert!(hasher.verify(decomposed, Some(&legacy)).await.unwrap());
        assert!(Password::parse("tangerine\u{0}lighthouse gravel").is_err());
    }

    #[test]
    fn guessable_passwords_are_refused_with_an_explanation() {
        let weak = Password::parse("password1").unwrap();
        let Err(Error::WeakPassword { reason }) = check_strength(&weak, &[]) else {
            panic!("a top-100 password was accepted");
        };
        assert!(!reason.is_empty());
        let own = Password::parse("janedoe1985").unwrap();
        assert!(
            check_strength(&own, &["jane", "doe"]).is_err(),
            "the person's own name"
        );
        let good = Password::parse("orbit-mango-cellar-91").unwrap();
        assert!(check_strength(&good, &["jane", "doe"]).is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_verifies_and_a_missing_hash_never_matches() {
        let hasher = PasswordHasher::new(2, 8);
        let password = Password::parse("orbit-mango-cellar-91").unwrap();
        let phc = hasher.hash(&password).await.unwrap();
        assert!(
            hasher
                .verify("orbit-mango-cellar-91", Some(&phc))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("orbit-mango-cellar-92", Some(&phc))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("orbit-mango-cellar-91", None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_beyond_the_queue_is_refused_not_queued_forever() {
        let hasher = PasswordHasher::new(1, 3);
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let h = hasher.clone();
            tasks.push(tokio::spawn(async move { h.verify("x", None).await }));
        }
        let mut refused = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), Err(Error::RateLimited { .. })) {
                refused += 1;
            }
        }
        assert!(refused > 0, "the queue limit never applied");
        assert!(refused < 12, "nothing was served");
    }
}
