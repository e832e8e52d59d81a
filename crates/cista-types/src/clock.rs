//! The `Clock` seam: the core never reads the system clock itself (clippy.toml forbids it), so
//! expiries, windows and retention can be tested with a `ManualClock`.

use crate::Timestamp;
use std::sync::Mutex;
use time::Duration;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The real clock. This is the one place allowed to read the system time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the single sanctioned read of the system clock
    fn now(&self) -> Timestamp {
        Timestamp::from_offset(time::OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to; for tests and deterministic tools.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = now.plus(by);
    }

    pub fn set(&self, to: Timestamp) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The system clock moved forward by an offset that only grows: time passes as usual, and a
/// test jumps past a deadline (a ballot's close) with `advance_to` instead of sleeping until
/// it. For servers under test, whose setup takes real time a frozen clock would not show.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_micros: std::sync::atomic::AtomicI64,
}

impl ShiftedClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (a negative duration is ignored: never backward).
    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.whole_microseconds()).unwrap_or(i64::MAX);
        if micros > 0 {
            self.offset_micros
                .fetch_add(micros, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Moves the clock forward to `at`, if it is not there yet.
    pub fn advance_to(&self, at: Timestamp) {
        let now = self.now();
        if now < at {
            self.advance(Duration::microseconds(at.unix_micros() - now.unix_micros()));
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        let offset = self.offset_micros.load(std::sync::atomic::Ordering::SeqCst);
        SystemClock.now().plus(Duration::microseconds(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_follows_the_system_clock_and_only_moves_forward() {
        let clock = ShiftedClock::new();
        let before = SystemClock.now();
        let now = clock.now();
        assert!(now >= before && now.unix_micros() - before.unix_micros() < 1_000_000);
        let target = now.plus(Duration::hours(2));
        clock.advance_to(target);
        assert!(clock.now() >= target);
        assert!(clock.now().unix_micros() - target.unix_micros() < 1_000_000);
        clock.advance(Duration::hours(-5));
        assert!(clock.now() >= target, "never backward");
        clock.advance_to(before);
        assert!(clock.now() >= target, "an earlier target changes nothing");
    }

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let start = Timestamp::from_unix_micros(1_700_000_000_000_000).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now().unix_micros(), start.unix_micros() + 90_000_000);
    }
}
