//! Resident memory for the benchmarks: this process's resident set size (`VmRSS` in
//! `/proc/self/status`, Linux), sampled while a measured part runs, so a report can give the
//! peak of that part rather than of the whole run (`VmHWM` would include the set-up, such as
//! hashing a thousand passwords).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How often the resident set size is read.
const EVERY: Duration = Duration::from_millis(20);

/// This process's resident set size in bytes now; `None` where `/proc` does not say.
pub(crate) fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A sampler of the resident set size, from [`PeakRss::watch`] to [`PeakRss::stop`].
pub(crate) struct PeakRss {
    peak: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    sampler: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    pub(crate) fn watch() -> Self {
        let peak = Arc::new(AtomicU64::new(resident_bytes().unwrap_or(0)));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn({
            let (peak, done) = (peak.clone(), done.clone());
            async move {
                while !done.load(Ordering::Relaxed) {
                    if let Some(now) = resident_bytes() {
                        peak.fetch_max(now, Ordering::Relaxed);
                    }
                    tokio::time::sleep(EVERY).await;
                }
            }
        });
        Self {
            peak,
            done,
            sampler,
        }
    }

    /// The highest resident set size seen, in bytes; `None` where it cannot be read.
    pub(crate) async fn stop(self) -> Option<u64> {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.sampler.await;
        if let Some(now) = resident_bytes() {
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        Some(self.peak.load(Ordering::Relaxed)).filter(|&b| b > 0)
    }
}
