//! Wall time and CPU time.
//!
//! CPU time is read from the OS with `getrusage`: this process's threads plus every child
//! process it has waited for, so a process-pool variant counts its workers' CPU once they
//! are reaped. CPU seconds divided by wall seconds is the number of cores kept busy: a global
//! lock shows about 1.0, two threads computing freely about 2.0.

use std::time::Instant;

/// User + system CPU time consumed so far by this process and its waited-for children.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuTime {
    /// Seconds used by this process (all its threads).
    pub own_s: f64,
    /// Seconds used by terminated children this process has waited for.
    pub children_s: f64,
}

impl CpuTime {
    /// Reads the counters now.
    pub fn now() -> Self {
        Self {
            own_s: rusage_seconds(libc::RUSAGE_SELF),
            children_s: rusage_seconds(libc::RUSAGE_CHILDREN),
        }
    }

    /// Own plus children's seconds.
    pub fn total_s(&self) -> f64 {
        self.own_s + self.children_s
    }

    /// CPU seconds used since `earlier`.
    pub fn since(&self, earlier: &CpuTime) -> f64 {
        (self.total_s() - earlier.total_s()).max(0.0)
    }
}

fn rusage_seconds(who: libc::c_int) -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable `rusage`; getrusage only writes into it.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: getrusage returned 0, so it initialised the struct (and it was zeroed anyway).
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Wall clock and CPU clock started together.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    wall: Instant,
    cpu: CpuTime,
}

impl Stopwatch {
    /// Starts both clocks.
    pub fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: CpuTime::now(),
        }
    }

    /// Wall seconds since start.
    pub fn wall_s(&self) -> f64 {
        self.wall.elapsed().as_secs_f64()
    }

    /// CPU seconds (own + reaped children) since start.
    pub fn cpu_s(&self) -> f64 {
        CpuTime::now().since(&self.cpu)
    }

    /// The instant the stopwatch started.
    pub fn started(&self) -> Instant {
        self.wall
    }
}

/// The tutorials' `@timed` decorator: runs `f`, prints `took: 1.234 s` and returns its value.
///
/// ```
/// let sum = shared::timed(|| (1..=10u64).sum::<u64>());
/// assert_eq!(sum, 55);
/// ```
pub fn timed<T>(f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    crate::say!("took: {:.3} s", start.elapsed().as_secs_f64());
    value
}
