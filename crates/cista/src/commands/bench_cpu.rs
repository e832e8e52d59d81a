//! Processor time for the benchmarks, over a measured part: this process's (all its threads:
//! the server and its clients, `CLOCK_PROCESS_CPUTIME_ID`) and the whole machine's busy time
//! (`/proc/stat`, Linux; the database server's share when it runs on the same machine), so a
//! report can give what one cast or one commit costs in processor time and the most the cores
//! allow at that cost, the machine's own limit measured in the same run.

use std::time::{Duration, Instant};

/// The machine's processor counters at one moment: busy ticks summed over every core
/// (`/proc/stat`'s `cpu` line), and how many cores it counts (its `cpuN` lines).
#[derive(Clone, Copy, Debug, PartialEq)]
struct MachineTicks {
    busy: u64,
    cores: usize,
}

/// Reads `/proc/stat` text (proc(5)): the first line's fields are ticks (`USER_HZ`) spent in
/// user, nice, system, idle, iowait, irq, softirq, steal, guest and guest_nice mode. Busy is
/// user + nice + system + irq + softirq: not idle or waiting for a disk, and not stolen by the
/// hypervisor (time the machine did not have); guest time is already inside user. `None` when
/// the text is not in that form.
#[cfg(any(target_os = "linux", test))]
fn parse_proc_stat(text: &str) -> Option<MachineTicks> {
    let mut lines = text.lines();
    let mut fields = lines.next()?.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields.map(str::parse).collect::<Result<_, _>>().ok()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, ..] = ticks[..] else {
        return None;
    };
    let cores = lines
        .take_while(|l| l.starts_with("cpu"))
        .filter(|l| {
            l.split_whitespace()
                .next()
                .and_then(|name| name.strip_prefix("cpu"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    Some(MachineTicks {
        busy: user + nice + system + irq + softirq,
        cores,
    })
}

#[cfg(target_os = "linux")]
fn machine_ticks() -> Option<MachineTicks> {
    parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?).filter(|t| t.cores > 0)
}

#[cfg(not(target_os = "linux"))]
fn machine_ticks() -> Option<MachineTicks> {
    None
}

/// Ticks per second of `/proc/stat`'s counters (`USER_HZ`); `None` where the kernel does
/// not say (rustix gives 0 then).
#[cfg(target_os = "linux")]
fn ticks_per_second() -> Option<u64> {
    Some(rustix::param::clock_ticks_per_second()).filter(|&hz| hz > 0)
}

#[cfg(not(target_os = "linux"))]
fn ticks_per_second() -> Option<u64> {
    None
}

/// The fewest ticks of the cores' capacity (wall clock × cores × `USER_HZ`) over which the
/// machine's busy time is given: its counters move a whole tick at a time on each core, so
/// over 25 ticks (an eighth of a second on two cores at 100 Hz; a default raw commit round on
/// PostgreSQL is about that long) a reading is within a tick a core at either end, 8 % at
/// worst; a shorter part gives this process's time alone.
const FEWEST_TICKS: f64 = 25.0;

/// This process's processor time so far, all threads together; `None` where it cannot be read.
#[cfg(target_os = "linux")]
fn process_time() -> Option<Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Some(Duration::new(
        u64::try_from(t.tv_sec).ok()?,
        u32::try_from(t.tv_nsec).ok()?,
    ))
}

#[cfg(not(target_os = "linux"))]
fn process_time() -> Option<Duration> {
    None
}

/// A measured part's processor counters, from [`CpuMeter::start`] to [`CpuMeter::stop`].
pub(crate) struct CpuMeter {
    started: Instant,
    process: Option<Duration>,
    machine: Option<MachineTicks>,
}

/// The processor time a measured part took: wall clock, this process's time, and the whole
/// machine's busy time over the same span (`None` where `/proc` does not say).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuUse {
    pub wall: Duration,
    pub process: Duration,
    pub machine: Option<MachineUse>,
}

/// The whole machine's busy time over a measured part, and its number of cores.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MachineUse {
    pub busy: Duration,
    pub cores: usize,
}

impl CpuMeter {
    pub(crate) fn start() -> Self {
        Self {
            machine: machine_ticks(),
            process: process_time(),
            started: Instant::now(),
        }
    }

    /// What the part took; `None` where this process's time cannot be read. The machine's
    /// part is left out where `/proc/stat` cannot be read, its counters went backwards, or the
    /// part was too short for them (see [`FEWEST_TICKS`]).
    pub(crate) fn stop(self) -> Option<CpuUse> {
        let wall = self.started.elapsed();
        let process = process_time()?.checked_sub(self.process?)?;
        let machine = self
            .machine
            .zip(machine_ticks())
            .zip(ticks_per_second())
            .and_then(|((before, after), hz)| {
                let ticks = after.busy.checked_sub(before.busy)?;
                let hz = hz as f64;
                let capacity = wall.as_secs_f64() * after.cores as f64 * hz;
                (after.cores == before.cores && capacity >= FEWEST_TICKS).then(|| MachineUse {
                    busy: Duration::from_secs_f64(ticks as f64 / hz),
                    cores: after.cores,
                })
            });
        Some(CpuUse {
            wall,
            process,
            machine,
        })
    }
}

/// Microseconds of `time` for each of `count` operations.
fn micros_each(time: Duration, count: u64) -> f64 {
    time.as_secs_f64() * 1e6 / count.max(1) as f64
}

impl CpuUse {
    /// The machine's busy time over the part as the report uses it, with its cores: at least
    /// this process's time, which it includes (the counters move a whole tick, `USER_HZ`, at a
    /// time and can read a little less), and at most the cores' capacity over the wall clock
    /// (they can read a tick more); `None` where the machine's time is not known.
    fn machine_busy(&self) -> Option<(Duration, usize)> {
        let m = self.machine?;
        let capacity = self.wall.mul_f64(m.cores as f64);
        Some((m.busy.max(self.process).min(capacity), m.cores))
    }

    /// The report's words for `count` operations (`what`: "a cast", "a commit") in this span:
    /// processor time each, all of the machine's and this process's, and how busy the cores
    /// were.
    pub(crate) fn describe(&self, count: u64, what: &str) -> String {
        let process = micros_each(self.process, count);
        match self.machine_busy() {
            Some((busy, cores)) => {
                let machine = micros_each(busy, count);
                let percent = 100.0 * busy.as_secs_f64()
                    / (self.wall.as_secs_f64() * cores as f64).max(f64::EPSILON);
                format!(
                    "{machine:.0} µs of processor time {what} (this process {process:.0} µs, the rest of the machine {:.0} µs), {cores} cores {:.0} % busy",
                    (machine - process).max(0.0),
                    percent.min(100.0)
                )
            }
            None => format!("this process {process:.0} µs of processor time {what}"),
        }
    }

    /// The most operations a second the machine's cores allow at this part's processor time
    /// for each of `count` operations, with every core busy; `None` where the machine's time
    /// is not known. Whatever else ran on the machine meanwhile counts in that time, and so
    /// lowers the ceiling; a reading over the cores' capacity (a tick too many) is taken as
    /// the capacity, so the ceiling is never under the rate the part reached.
    pub(crate) fn ceiling(&self, count: u64) -> Option<f64> {
        let (busy, cores) = self.machine_busy()?;
        let each = busy.as_secs_f64() / count.max(1) as f64;
        (each > 0.0).then(|| cores as f64 / each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_STAT: &str = "cpu  4705 150 1120 16250 520 0 25 7 0 0\n\
        cpu0 2350 75 560 8125 260 0 12 3 0 0\n\
        cpu1 2355 75 560 8125 260 0 13 4 0 0\n\
        intr 114930548 113199788 3 0 5 263 0 4 [...]\n\
        ctxt 1990473\n";

    /// Busy is user + nice + system + irq + softirq; idle, iowait and steal are not; the cores
    /// are the numbered `cpu` lines.
    #[test]
    fn busy_ticks_and_cores_are_read_off_proc_stat() {
        assert_eq!(
            parse_proc_stat(PROC_STAT),
            Some(MachineTicks {
                busy: 4705 + 150 + 1120 + 25,
                cores: 2
            })
        );
        assert_eq!(parse_proc_stat(""), None);
        assert_eq!(parse_proc_stat("intr 1 2 3\n"), None);
        assert_eq!(parse_proc_stat("cpu 1 2 3\n"), None, "too few fields");
        assert_eq!(parse_proc_stat("cpu 1 2 x 4 5 6 7\n"), None);
    }

    /// The meter reads this process's time on Linux: a spin of the calling thread for 300 ms
    /// of processor time shows in it, and the machine's busy time (which includes it) is
    /// given over a part that long.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_spin_shows_in_this_process_time() {
        let spin = Duration::from_millis(300);
        let meter = CpuMeter::start();
        let began = process_time().unwrap();
        let give_up = Instant::now() + Duration::from_secs(30);
        let mut spins = 0u64;
        while process_time().unwrap() - began < spin && Instant::now() < give_up {
            spins = std::hint::black_box(spins + 1);
        }
        let used = meter.stop().expect("this process's time on Linux");
        assert!(used.process >= spin, "{used:?}");
        let machine = used.machine.expect("the machine's time over 300 ms");
        assert!(machine.cores >= 1, "{used:?}");
        // Within a few of the counters' ticks of this process's time, which it includes.
        assert!(
            machine.busy + Duration::from_millis(20) * machine.cores as u32 >= spin,
            "{used:?}"
        );
    }

    /// A ceiling is the cores divided by the processor time each, and the description gives
    /// the machine's time per operation, this process's and the rest.
    #[test]
    fn the_ceiling_is_the_cores_over_the_time_each() {
        let used = CpuUse {
            wall: Duration::from_secs(1),
            process: Duration::from_millis(600),
            machine: Some(MachineUse {
                busy: Duration::from_millis(1600),
                cores: 2,
            }),
        };
        // 1,000 operations at 1.6 ms each: 1,250 a second on two cores.
        assert_eq!(used.ceiling(1000).map(f64::round), Some(1250.0));
        let words = used.describe(1000, "a cast");
        assert!(
            words.starts_with("1600 µs of processor time a cast"),
            "{words}"
        );
        assert!(
            words.contains("this process 600 µs, the rest of the machine 1000 µs"),
            "{words}"
        );
        assert!(words.contains("2 cores 80 % busy"), "{words}");
        // Counters that read more than the cores could give (a tick too many over a short
        // part) are never shown as more than 100 % busy.
        let over = CpuUse {
            wall: Duration::from_millis(100),
            ..used
        };
        let words = over.describe(1000, "a cast");
        assert!(words.contains("2 cores 100 % busy"), "{words}");
        // 1,000 operations in 100 ms: the ceiling is at least those 10,000 a second.
        assert_eq!(over.ceiling(1000).map(f64::round), Some(10_000.0));
        let alone = CpuUse {
            machine: None,
            ..used
        };
        assert_eq!(alone.ceiling(1000), None);
    }
}
