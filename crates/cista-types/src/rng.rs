//! The `Rng` seam: every random value (ids, keys, nonces, tokens) comes through it, so tests can
//! make randomness reproducible where that helps and production uses the operating system.

use std::sync::Mutex;

/// A source of random bytes.
pub trait Rng: Send + Sync + std::fmt::Debug {
    fn fill(&self, buf: &mut [u8]);

    /// 32 random bytes, e.g. for a key or a token.
    fn bytes32(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.fill(&mut out);
        out
    }

    /// A random positive 63-bit identifier (never zero, never sequential).
    fn id63(&self) -> i64 {
        loop {
            let mut buf = [0u8; 8];
            self.fill(&mut buf);
            let value = (u64::from_le_bytes(buf) >> 1) as i64;
            if value != 0 {
                return value;
            }
        }
    }
}

/// The operating system's cryptographically secure generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // Without the OS generator no key, nonce or token can be made safely; there is no
            // degraded mode worth offering, so stop the process rather than continue weakly.
            eprintln!("fatal: the operating system's random number generator failed");
            std::process::abort();
        }
    }
}

/// A deterministic generator (SplitMix64) for tests that need reproducible ids. Never use it
/// for secrets: it is predictable by design.
#[derive(Debug)]
pub struct SeededRng {
    state: Mutex<u64>,
}

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        Self {
            state: Mutex::new(seed),
        }
    }
}

impl Rng for SeededRng {
    fn fill(&self, buf: &mut [u8]) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for chunk in buf.chunks_mut(8) {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let bytes = z.to_le_bytes();
            for (dst, src) in chunk.iter_mut().zip(bytes.iter()) {
                *dst = *src;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_and_differ() {
        let rng = OsRng;
        let a = rng.id63();
        let b = rng.id63();
        assert!(a > 0 && b > 0);
        assert_ne!(a, b);
    }

    #[test]
    fn a_seeded_generator_repeats_itself() {
        assert_eq!(SeededRng::new(7).bytes32(), SeededRng::new(7).bytes32());
        assert_ne!(SeededRng::new(7).bytes32(), SeededRng::new(8).bytes32());
    }
}
