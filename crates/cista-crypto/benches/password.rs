//! What a sign-in costs: Argon2id at the policy parameters (19 MiB, t = 2, p = 1), one at a
//! time and two at once (the default `access.concurrent_hashes` on a 2-core machine). Prints
//! milliseconds per verification and verifications per second.
//!
//! Run: `cargo bench -p cista-crypto --bench password`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use cista_crypto::password::{hash_password, verify_password};
use std::time::Instant;

fn main() {
    let phc = hash_password("orbit-mango-cellar-91").unwrap();
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(verify_password("orbit-mango-cellar-91", &phc));
    }
    let one = started.elapsed().as_secs_f64() / f64::from(rounds);
    println!(
        "argon2id verify, 1 at a time: {:.1} ms each, {:.1}/s",
        one * 1e3,
        1.0 / one
    );

    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..rounds {
                    assert!(verify_password("orbit-mango-cellar-91", &phc));
                }
            });
        }
    });
    let total = started.elapsed().as_secs_f64();
    println!(
        "argon2id verify, 2 at once:   {:.1} verifications/s ({} in {:.2} s)",
        f64::from(rounds * 2) / total,
        rounds * 2,
        total
    );
}
