//! # The GIL, rebuilt and measured
//!
//! Mirrors seed 000 "Python's GIL problem", seed 001 "Differences in CPU usage" and seed 004
//! "The infamous Global Interpreter Lock (GIL)".
//!
//! The lesson: a global interpreter lock turns threads doing CPU work into turn-taking (about
//! 1x, one core busy), while threads that wait (I/O) or call native code that lets go of the
//! lock (a C extension) still overlap. Rust has no such lock, so the very same CPU work on
//! threads runs on every core. Here the lock is real: a process-wide `static GIL`, handed from
//! thread to thread every 5 ms like CPython's switch interval, so the numbers are measured,
//! not argued.
//!
//! Run: `cargo run --release -p examples-threads -- gil`
//!
//! Output: four small tables (serial, 2 threads, 4 threads). "CPU work under the GIL" stays
//! near 1.00x with about 1.0 core busy; "without the GIL" reaches about the number of cores;
//! "I/O" reaches the number of threads (waiting needs no core); "C extension" reaches about
//! the number of cores.
//!
//! Seed 001 says Python threads "will never use more than 1 CPU core"; seed 004 corrects it:
//! they do, whenever the GIL is released. Both halves show up below, measured.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};
use shared::measure::ideal;
use shared::workloads::service;
use shared::{Bench, Variant};

use crate::cli::Args;

/// The one lock every "interpreter" thread must hold to run "Python" code.
static GIL: Mutex<()> = Mutex::new(());

/// CPython's default `sys.getswitchinterval()`: a thread holding the GIL gives it up to a
/// waiting thread after this long.
pub const SWITCH_INTERVAL: Duration = Duration::from_millis(5);

/// Whether the interpreter uses the global lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// CPython: one thread in the interpreter at a time.
    Gil,
    /// Rust (or free-threaded Python): no global lock.
    NoGil,
}

/// A tiny "interpreter": runs CPU work the way CPython runs bytecode, and counts how many
/// threads are inside it at once (1 at most under the GIL: the section checks it).
#[derive(Debug)]
pub struct Interpreter {
    mode: Mode,
    inside: AtomicUsize,
    max_inside: AtomicUsize,
}

impl Interpreter {
    /// An interpreter with or without the GIL.
    pub const fn new(mode: Mode) -> Self {
        Self {
            mode,
            inside: AtomicUsize::new(0),
            max_inside: AtomicUsize::new(0),
        }
    }

    /// The most threads ever seen inside the interpreter together.
    pub fn max_inside(&self) -> usize {
        self.max_inside.load(Ordering::SeqCst)
    }

    /// Enters the interpreter to run "Python" code: under [`Mode::Gil`] this takes the GIL
    /// (waiting for it if another thread holds it). Hand the guard back to [`Self::leave`].
    pub fn enter(&self) -> Option<MutexGuard<'static, ()>> {
        // This lock is the whole GIL: one process-wide mutex, held by whichever thread runs
        // interpreter code; any other thread that wants to run some waits here.
        let guard = (self.mode == Mode::Gil).then(|| GIL.lock());
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_inside.fetch_max(now, Ordering::SeqCst);
        guard
    }

    /// Leaves the interpreter, releasing the GIL taken by [`Self::enter`].
    pub fn leave(&self, guard: Option<MutexGuard<'static, ()>>) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
    }

    /// Pure "Python" CPU work: counts the primes in `range` by trial division.
    ///
    /// Under the GIL the lock is held throughout, except that every [`SWITCH_INTERVAL`] it is
    /// handed to a waiting thread, if any (`bump` is a fair hand-over, as CPython forces).
    /// `at_start` runs once inside the interpreter (the tests put a barrier there).
    pub fn count_primes(&self, range: std::ops::Range<u64>, at_start: impl FnOnce()) -> u64 {
        let mut guard = self.enter();
        at_start();
        let mut slice_start = Instant::now();
        let mut count = 0;
        for n in range {
            count += u64::from(is_prime(n));
            if n % 64 == 0 && slice_start.elapsed() >= SWITCH_INTERVAL {
                if let Some(g) = guard.as_mut() {
                    // New: the only thing the GIL adds. Other threads may now run; we wait
                    // our turn to continue.
                    self.inside.fetch_sub(1, Ordering::SeqCst);
                    MutexGuard::bump(g);
                    let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
                    self.max_inside.fetch_max(now, Ordering::SeqCst);
                }
                slice_start = Instant::now();
            }
        }
        self.leave(guard);
        count
    }

    /// `time.sleep(d)` (or any blocking I/O call): a moment of interpreter work to make the
    /// call, then the GIL is released while the thread waits.
    pub fn sleep(&self, d: Duration) {
        let guard = self.enter();
        self.leave(guard);
        std::thread::sleep(d);
    }

    /// A C-extension call such as `np.fft.fft`: it releases the GIL around native work
    /// (`Py_BEGIN_ALLOW_THREADS`), so other threads run meanwhile.
    pub fn call_native<T>(&self, native: impl FnOnce() -> T) -> T {
        let guard = self.enter();
        self.leave(guard);
        native()
    }
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// Runs `tasks` task indices on `threads` OS threads (task i on thread i % threads) and
/// returns the results in task order.
fn on_threads<T: Send>(threads: usize, tasks: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let mut results: Vec<Option<T>> = (0..tasks).map(|_| None).collect();
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                // Thread t takes tasks t, t + threads, ...: the same split for every variant.
                // Scoped threads may borrow `work` and have all ended when the scope returns.
                s.spawn(move || {
                    (t..tasks)
                        .step_by(threads)
                        .map(|i| (i, work(i)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("a worker thread panicked") {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every task ran"))
        .collect()
}

/// Measures `work` serially and on 2 and 4 threads, checks every variant's results equal the
/// serial ones, and gives each variant the ideal that `ideal_s(threads, serial_s)` states.
fn compare<T: Send + PartialEq + std::fmt::Debug>(
    s: &mut Bench,
    tasks: usize,
    work: impl Fn(usize) -> T + Sync,
    ideal_s: impl Fn(usize, f64) -> f64,
) {
    let serial = s.measure(Variant::serial(tasks), |_| on_threads(1, tasks, &work));
    let serial_s = s.baseline_s().unwrap_or_default();
    for threads in [2, 4] {
        let name = format!("{threads} threads");
        let v = Variant::new(&name, threads, tasks).ideal_s(ideal_s(threads, serial_s));
        let parallel = s.measure(v, |_| on_threads(threads, tasks, &work));
        s.check(
            &format!("{name}: same results as serial"),
            parallel == serial,
            "",
        );
    }
}

/// The same work serially and on 2 and 4 threads: CPU work with the GIL and without it, I/O
/// under it, and a C extension that releases it.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-threads", "gil", c);
    s.title("seed 000 GIL problem / 001 CPU usage / 004 GIL, with a real global lock");

    let tasks = 4;
    // Each task counts the primes in its own block of 0..limit: same total work for every
    // variant. Trial division costs about sqrt(n) per prime, so the work below n grows like
    // n^1.5; blocks of equal cost (not equal length) keep every thread equally busy.
    let limit: u64 = c.size(3_200_000, 80_000);
    let edge = |i: usize| (limit as f64 * (i as f64 / tasks as f64).powf(2.0 / 3.0)) as u64;
    let primes = |i: usize| edge(i)..edge(i + 1);

    // CPU-bound "Python": the lock is the bottleneck, not the cores.
    let with_gil = Interpreter::new(Mode::Gil);
    s.workload("CPU work under the GIL (pure-Python style)");
    compare(
        &mut s,
        tasks,
        |i| with_gil.count_primes(primes(i), || ()),
        |_, serial| serial,
    );

    // The same code and threads, with the lock removed: what Rust threads always are.
    let no_gil = Interpreter::new(Mode::NoGil);
    s.workload("the same CPU work without the GIL (Rust threads)");
    compare(
        &mut s,
        tasks,
        |i| no_gil.count_primes(primes(i), || ()),
        |t, serial| ideal::cpu_bound(serial, t, tasks),
    );

    // Waiting releases the lock, so waits overlap however many cores there are.
    let io_tasks = 8;
    let wait = c.tutorial_sleep(0.25);
    s.workload("I/O under the GIL (time.sleep releases it)");
    compare(
        &mut s,
        io_tasks,
        |_| with_gil.sleep(wait),
        |t, _| ideal::waves(wait.as_secs_f64(), io_tasks, t),
    );

    // Native code that drops the lock: parallel again, up to the cores.
    let fft = service::Workload::new(c.seed, tasks, 1, c.size(1 << 22, 1 << 14));
    s.workload("C-extension work under the GIL (an FFT that releases it)");
    compare(
        &mut s,
        tasks,
        |i| with_gil.call_native(|| fft.cpu_step(i, 0)),
        |t, serial| ideal::cpu_bound(serial, t, tasks),
    );
    s.check(
        "the GIL let one thread at a time run \"Python\" code",
        with_gil.max_inside() == 1,
        format!("at most {} inside at once", with_gil.max_inside()),
    );

    shared::say!();
    shared::say!("  Under the GIL, CPU work takes turns: ~1x however many threads, ~1 core busy.");
    shared::say!("  Waiting and native calls let go of it; Rust threads never had it.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    #[test]
    fn with_the_gil_only_one_thread_is_ever_inside() {
        let interp = Interpreter::new(Mode::Gil);
        let start = Barrier::new(2);
        std::thread::scope(|s| {
            for t in 0..2u64 {
                let (interp, start) = (&interp, &start);
                s.spawn(move || {
                    start.wait();
                    // Long enough to cross several switch intervals, so both threads take turns.
                    interp.count_primes(t * 200_000..(t + 1) * 200_000, || ());
                });
            }
        });
        assert_eq!(interp.max_inside(), 1);
    }

    #[test]
    fn without_the_gil_two_threads_are_inside_together() {
        let interp = Interpreter::new(Mode::NoGil);
        // Both threads wait for each other while inside: only possible with no global lock.
        let inside = Barrier::new(2);
        std::thread::scope(|s| {
            for _ in 0..2 {
                let (interp, inside) = (&interp, &inside);
                s.spawn(move || {
                    interp.count_primes(0..1_000, || {
                        inside.wait();
                    })
                });
            }
        });
        assert_eq!(interp.max_inside(), 2);
    }

    #[test]
    fn sleeping_and_native_calls_leave_the_interpreter() {
        let interp = Interpreter::new(Mode::Gil);
        interp.sleep(Duration::from_millis(1));
        assert_eq!(interp.call_native(|| 41 + 1), 42);
        assert_eq!(interp.inside.load(Ordering::SeqCst), 0);
        assert_eq!(interp.max_inside(), 1);
    }

    #[test]
    fn prime_counts_are_right_and_equal_with_or_without_the_gil() {
        assert_eq!(Interpreter::new(Mode::Gil).count_primes(0..100, || ()), 25);
        assert_eq!(
            Interpreter::new(Mode::NoGil).count_primes(0..10_000, || ()),
            1229
        );
        let threaded = on_threads(3, 5, |i| i * i);
        assert_eq!(threaded, [0, 1, 4, 9, 16]);
    }
}
