//! Password hashing with Argon2id at OWASP's minimum cost (m = 19 MiB, t = 2, p = 1), stored as
//! PHC strings. These functions are CPU-bound and block: callers run them on a bounded blocking
//! pool (see `cista_core::platform::access::passwords`), never on the async threads.
//!
//! Each hash fills 19 MiB of working memory. During a burst of sign-ins it is kept from one hash
//! to the next (zeroed after each, a few buffers at most; see `WorkingMemory`) rather than
//! allocated afresh and faulted in page by page.

use crate::CryptoError;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use zeroize::Zeroize;

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over memory.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;
/// Bytes of salt in a new hash (the PHC string format's recommended length).
const SALT_LEN: usize = 16;
/// Bytes of output in a new hash.
const OUTPUT_LEN: usize = 32;

fn policy() -> Result<Params, CryptoError> {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_LEN))
        .map_err(|_| CryptoError::Malformed("argon2 parameters"))
}

/// Argon2's working memory at the policy's size, kept for the next hash while sign-ins keep
/// coming (`release_working_memory` frees it). Hashes run a few at a time
/// (`access.concurrent_hashes`, 2 by default), so as many buffers are kept as ran at once, up
/// to `KEPT_AT_MOST`; a buffer of another size (a stored hash made under other parameters) is
/// used once and freed.
#[derive(Debug)]
struct WorkingMemory;

/// The most policy-sized buffers kept between hashes (19 MiB each).
const KEPT_AT_MOST: usize = 4;

/// The most working memory a stored hash may ask for, in 1 KiB blocks (1 GiB, 54 times the
/// policy's): a damaged or altered hash asking for more never matches, rather than having
/// the process allocate it.
const MOST_BLOCKS: usize = 1 << 20;

static KEPT: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Whether a buffer given back is kept: set by each hash that starts, cleared by
/// `release_working_memory`, so that a hash still running when the memory was released (its
/// request gone) frees its buffer when it ends rather than keeping it on an idle server.
static KEEPING: AtomicBool = AtomicBool::new(false);

impl WorkingMemory {
    /// Runs `work` with `blocks` blocks of working memory, then zeroes them: what a hash
    /// leaves in them would let anyone who reads them test guesses at the password cheaply.
    /// None when `blocks` is over `MOST_BLOCKS` or cannot be allocated.
    fn with<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> Option<T> {
        if blocks > MOST_BLOCKS {
            return None;
        }
        let policy_sized = policy().is_ok_and(|p| p.block_count() == blocks);
        let kept = if policy_sized {
            KEEPING.store(true, Ordering::SeqCst);
            KEPT.lock().unwrap_or_else(PoisonError::into_inner).pop()
        } else {
            None
        };
        let mut memory = match kept {
            Some(memory) => memory,
            None => {
                let mut fresh = Vec::new();
                fresh.try_reserve_exact(blocks).ok()?;
                fresh.resize(blocks, Block::new());
                fresh
            }
        };
        let result = work(&mut memory);
        for block in &mut memory {
            block.as_mut().zeroize();
        }
        if policy_sized && KEEPING.load(Ordering::SeqCst) {
            let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.len() < KEPT_AT_MOST {
                kept.push(memory);
            }
        }
        Some(result)
    }
}

/// Frees the working memory kept between hashes, and has a hash still running free its own
/// when it ends. The password hasher calls it when its queue has emptied (also when the last
/// request in it was dropped), so that a server between bursts of sign-ins keeps none.
pub fn release_working_memory() {
    KEEPING.store(false, Ordering::SeqCst);
    let released = std::mem::take(&mut *KEPT.lock().unwrap_or_else(PoisonError::into_inner));
    drop(released);
}

/// Argon2 `argon2` run over `password` and `salt` into `out`, in kept working memory.
fn hash_into(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let blocks = argon2.params().block_count();
    WorkingMemory::with(blocks, |memory| {
        argon2
            .hash_password_into_with_memory(password, salt, out, memory)
            .is_ok()
    })
    .unwrap_or(false)
}

/// Hashes a password with a fresh random salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, the salt and hash in unpadded base64).
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let params = policy()?;
    let mut salt = [0u8; SALT_LEN];
    cista_types::Rng::fill(&cista_types::OsRng, &mut salt);
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; OUTPUT_LEN];
    if !hash_into(&argon2, password.as_bytes(), &salt, &mut out) {
        return Err(CryptoError::Malformed("argon2 hashing failed"));
    }
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|_| CryptoError::Malformed("argon2 parameters"))?,
        salt: Some(Salt::new(&salt).map_err(|_| CryptoError::Malformed("argon2 salt"))?),
        hash: Some(Output::new(&out).map_err(|_| CryptoError::Malformed("argon2 output"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the stored PHC string, compared in constant time
/// (`Output`'s equality). A malformed hash never matches. The algorithm, version and
/// parameters come from the stored hash, so older hashes still verify.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
    let mut out = vec![0u8; expected.len()];
    hash_into(&argon2, password.as_bytes(), salt, &mut out)
        && Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// Whether a stored hash is weaker than the current policy (and should be replaced at the next
/// successful sign-in).
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let get = |name: &str| {
        parsed
            .params
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .and_then(|(_, v)| v.to_string().parse::<u32>().ok())
    };
    parsed.algorithm.as_str() != "argon2id"
        || get("m").is_none_or(|m| m < MEMORY_KIB)
        || get("t").is_none_or(|t| t < ITERATIONS)
}

/// A real hash of a random password, made once. Verifying against it costs what verifying a
/// real account costs, so "no such account" takes as long as "wrong password".
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 24];
        cista_types::Rng::fill(&cista_types::OsRng, &mut random);
        hash_password(&hex::encode(random)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests here take turns: they share the kept working memory, and two of them count it.
    static TURNS: Mutex<()> = Mutex::new(());

    fn turn() -> std::sync::MutexGuard<'static, ()> {
        TURNS.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[test]
    fn hashes_are_argon2id_at_the_policy_cost_and_verify() {
        let _turn = turn();
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("correct horse battery stapler", &phc));
        assert!(!needs_rehash(&phc));
        assert_ne!(
            phc,
            hash_password("correct horse battery staple").unwrap(),
            "salted"
        );
    }

    /// Hashes made by the argon2 crate's own `PasswordHasher` (as stored before the working
    /// memory was kept) verify here, and hashes made here verify there: the same algorithm,
    /// salt, parameters and encoding, whatever the memory held before.
    #[test]
    fn hashes_agree_with_the_argon2_crates_own_hasher_and_verifier() {
        let _turn = turn();
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let library = Argon2::new(Algorithm::Argon2id, Version::V0x13, policy().unwrap());
        let theirs = library
            .hash_password(b"orbit-mango-cellar-91")
            .unwrap()
            .to_string();
        // Twice each: the second runs in the memory the first one used.
        for _ in 0..2 {
            assert!(verify_password("orbit-mango-cellar-91", &theirs));
            assert!(!verify_password("orbit-mango-cellar-92", &theirs));
        }
        assert!(
            !KEPT
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
        );
        let ours = hash_password("orbit-mango-cellar-91").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            library
                .verify_password(b"orbit-mango-cellar-91", &parsed)
                .is_ok()
        );
        assert!(
            library
                .verify_password(b"orbit-mango-cellar-92", &parsed)
                .is_err()
        );
        // A hash under other parameters (the weaker `m`, `t` of an older policy) runs in
        // memory of its own size.
        let older = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        );
        let older = older.hash_password(b"x").unwrap().to_string();
        assert!(verify_password("x", &older));
        assert!(!verify_password("y", &older));
        assert!(needs_rehash(&older));
    }

    /// At most `KEPT_AT_MOST` buffers are kept however many hashes ran at once, each is zeroed
    /// when it is given back, and `release_working_memory` frees them.
    #[test]
    fn working_memory_is_kept_zeroed_and_bounded() {
        let _turn = turn();
        let phc = hash_password("orbit-mango-cellar-91").unwrap();
        std::thread::scope(|s| {
            for _ in 0..KEPT_AT_MOST + 2 {
                s.spawn(|| assert!(verify_password("orbit-mango-cellar-91", &phc)));
            }
        });
        let kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(
            !kept.is_empty() && kept.len() <= KEPT_AT_MOST,
            "{}",
            kept.len()
        );
        let policy_blocks = policy().unwrap().block_count();
        for memory in kept.iter() {
            assert_eq!(memory.len(), policy_blocks);
            assert!(memory.iter().all(|b| b.as_ref().iter().all(|w| *w == 0)));
        }
        drop(kept);
        release_working_memory();
        assert!(
            KEPT.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
        );
    }

    /// A hash still running when the memory is released (its sign-in gone) frees its buffer
    /// when it ends; the next hash keeps its own again.
    #[test]
    fn a_hash_ending_after_a_release_keeps_nothing() {
        let _turn = turn();
        let phc = hash_password("orbit-mango-cellar-91").unwrap();
        release_working_memory();
        let blocks = policy().unwrap().block_count();
        let ran = WorkingMemory::with(blocks, |_| release_working_memory());
        assert!(ran.is_some());
        assert!(
            KEPT.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
        );
        assert!(verify_password("orbit-mango-cellar-91", &phc));
        assert_eq!(KEPT.lock().unwrap_or_else(PoisonError::into_inner).len(), 1);
        release_working_memory();
    }

    /// A stored hash asking for more memory than `MOST_BLOCKS` never matches, and is not
    /// allocated.
    #[test]
    fn a_hash_asking_for_too_much_memory_never_matches() {
        let _turn = turn();
        let ours = hash_password("x").unwrap();
        let huge = ours.replace("m=19456", "m=4294967295");
        assert_ne!(huge, ours);
        assert!(!verify_password("x", &huge));
    }

    #[test]
    fn malformed_or_weak_hashes_never_match_and_ask_for_rehash() {
        let _turn = turn();
        assert!(!verify_password("x", "not a hash"));
        assert!(needs_rehash("not a hash"));
        let weak = "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
        assert!(needs_rehash(weak));
        assert!(!verify_password("x", dummy_hash()));
    }
}
