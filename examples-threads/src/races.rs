//! # Reference counts, a lost update, a leak, and what the compiler refuses
//!
//! Mirrors seed 003 "Concurrency vs parallelism", section "Global Interpreter Lock"
//! (`sys.getrefcount`, race conditions, premature deallocation, memory leaks), and seed 001
//! "Parallel Programming in Python", section "Differences in memory management" (threads
//! share memory, so races are easy to write).
//!
//! The lesson: sharing memory between threads needs the same care in every language, but
//! Rust checks it when compiling. A read-then-write of a shared counter loses updates when two
//! cores interleave it; `fetch_add` or a `Mutex` never do. Sharing a non-thread-safe value, or
//! letting a thread borrow a local that may be freed first, does not compile (the doctests
//! below). What the compiler does not stop is a leak: a cycle of `Arc`s is never freed, and a
//! `Weak` back-pointer is the fix.
//!
//! Run: `cargo run --release -p examples-threads -- races`; the refused programs are checked
//! by `cargo test -p examples-threads --doc`.
//!
//! Output: reference counts 1, 2, 1; the racy counter short of its target by a share that
//! varies from run to run, beside exact `fetch_add`, `Mutex` and local counts; a forced
//! interleaving that loses one update every time; a cycle never freed, its `Weak` fix freed.
//!
//! Where the tutorial is misleading: the GIL protects the interpreter's own bookkeeping
//! (reference counts), not your data: `counter += 1` on Python threads is a read, an add and a
//! write, and loses updates like the racy loop here. Its "race" (two threads each append 4,
//! giving `[1, 2, 3, 4, 4]`) is no race: both appends were asked for. Its "premature
//! deallocation" cannot happen in Python, where the other thread's reference keeps the list
//! alive. Its "leak" (a list that keeps growing) is a design bug no language prevents, while
//! CPython's cycle collector does free reference cycles, which `Rc`/`Arc` never do.
//!
//! ## What the compiler refuses
//!
//! An `Rc` counts its references without atomics, so two threads updating the count could
//! corrupt it: it cannot cross to another thread (E0277, cannot be sent between threads safely).
//!
//! ```compile_fail,E0277
//! use std::rc::Rc;
//!
//! let shared = Rc::new(vec![1, 2, 3]);
//! let for_thread = Rc::clone(&shared);
//! std::thread::spawn(move || for_thread.len()).join().unwrap();
//! ```
//!
//! Nor can a `Cell` be shared: two threads writing it at once would be a data race (E0277,
//! `Cell<u64>` cannot be shared between threads safely).
//!
//! ```compile_fail,E0277
//! use std::cell::Cell;
//!
//! let counter = Cell::new(0u64);
//! std::thread::scope(|s| {
//!     s.spawn(|| counter.set(counter.get() + 1));
//!     s.spawn(|| counter.set(counter.get() + 1));
//! });
//! ```
//!
//! Premature deallocation: a spawned thread may run longer than the function that started
//! it, so it may not borrow that function's locals, which would be freed under it (E0373,
//! the closure may outlive the current function).
//!
//! ```compile_fail,E0373
//! fn spawn_reader() -> std::thread::JoinHandle<usize> {
//!     let data = vec![1, 2, 3];
//!     std::thread::spawn(|| data.len())
//! }
//! # spawn_reader();
//! ```
//!
//! The fix: `std::thread::scope` joins every thread it spawned before it returns, so its
//! threads may borrow locals (and `Arc` would give each thread its own owning handle).
//!
//! ```
//! let data = vec![1, 2, 3];
//! let (len, sum) = std::thread::scope(|s| {
//!     let len = s.spawn(|| data.len());
//!     let sum = s.spawn(|| data.iter().sum::<i32>());
//!     (len.join().unwrap(), sum.join().unwrap())
//! });
//! assert_eq!((len, sum), (3, 6));
//! drop(data); // freed only after both threads have finished
//! ```

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Weak};

use parking_lot::Mutex;
use shared::measure::ideal;
use shared::{Bench, Variant, say};

use crate::cli::Args;

/// `Arc::strong_count` before, during and after a thread holds a clone: `[1, 2, 1]`.
///
/// `sys.getrefcount(x)` says 2 for a single `x` because passing `x` to it adds a reference;
/// `Arc::strong_count(&x)` only borrows, so it says 1.
pub fn reference_counts() -> anyhow::Result<[usize; 3]> {
    let x = Arc::new(vec![1, 2, 3]);
    let before = Arc::strong_count(&x);
    let for_thread = Arc::clone(&x);
    let (seen_tx, seen_rx) = crossbeam_channel::bounded(0);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    // The thread owns its clone; it reports the count while both handles are alive, then
    // waits until the count has been read, so the figure cannot depend on timing.
    let handle = std::thread::spawn(move || {
        let _ = seen_tx.send(Arc::strong_count(&for_thread));
        let _ = done_rx.recv();
        for_thread.len()
    });
    let during = seen_rx.recv();
    drop(done_tx);
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("the reference-count thread panicked"))?;
    let during = during.map_err(|_| anyhow::anyhow!("the thread did not report its count"))?;
    Ok([before, during, Arc::strong_count(&x)])
}

/// How the threads add to the shared counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// `let v = c.load(); c.store(v + 1)`: each step is atomic, the pair is not.
    LoadStore,
    /// `c.fetch_add(1)`: one atomic read-modify-write.
    FetchAdd,
    /// `*m.lock() += 1`: the read and the write under one lock.
    Mutex,
    /// Count in a local, add it once at the end: exact and uncontended.
    Local,
}

/// How many times the racy count is run, at most, until the threads overlap and lose updates.
pub const RACY_ATTEMPTS: u32 = 3;

/// `threads` threads each add 1 to a shared counter `per_thread` times; returns the total.
/// The threads spin at a starting line until all have arrived, so that they really overlap
/// (a sleeping barrier would let the first one run alone while the others wake up).
pub fn count(how: Counting, threads: usize, per_thread: u64) -> u64 {
    let atomic = AtomicU64::new(0);
    let locked = Mutex::new(0u64);
    let arrived = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            // Every thread borrows the same counter: that sharing is the point. Scoped
            // threads may borrow it because they all end before `count` returns.
            s.spawn(|| {
                arrived.fetch_add(1, Ordering::SeqCst);
                while arrived.load(Ordering::SeqCst) < threads {
                    std::hint::spin_loop();
                }
                match how {
                    Counting::LoadStore => {
                        for _ in 0..per_thread {
                            let seen = atomic.load(Ordering::Relaxed);
                            // Another thread may store between our load and our store: its
                            // update is then overwritten, lost.
                            atomic.store(seen + 1, Ordering::Relaxed);
                        }
                    }
                    Counting::FetchAdd => {
                        for _ in 0..per_thread {
                            // New: the read, the add and the write are one indivisible step.
                            atomic.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Counting::Mutex => {
                        for _ in 0..per_thread {
                            // New: the lock makes read-and-write one step for everyone else.
                            *locked.lock() += 1;
                        }
                    }
                    Counting::Local => {
                        let mut mine = 0u64;
                        for _ in 0..per_thread {
                            mine = std::hint::black_box(mine + 1);
                        }
                        // New: one shared update per thread instead of one per increment.
                        atomic.fetch_add(mine, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    atomic.into_inner() + locked.into_inner()
}

/// The lost update made certain: two threads both load the counter before either stores
/// (a barrier between the load and the store forces that order). Returns the final value:
/// 1 after two increments with load + store, 2 with `fetch_add` (which has no gap to force).
pub fn forced_interleaving(fetch_add: bool) -> u64 {
    let counter = AtomicU64::new(0);
    let both_loaded = Barrier::new(2);
    std::thread::scope(|s| {
        for _ in 0..2 {
            // Two threads on one counter, held in step by the barrier.
            s.spawn(|| {
                if fetch_add {
                    both_loaded.wait();
                    counter.fetch_add(1, Ordering::SeqCst);
                } else {
                    let seen = counter.load(Ordering::SeqCst);
                    both_loaded.wait();
                    counter.store(seen + 1, Ordering::SeqCst);
                }
            });
        }
    });
    counter.into_inner()
}

/// Counts how many values were freed.
#[derive(Debug)]
struct DropProbe(Arc<AtomicUsize>);

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A node that points to another: strongly (`next`) or weakly (`back`). The links sit behind
/// a `Mutex` so that nodes could be shared with other threads and relinked from any of them;
/// each lock here is held for a single assignment.
#[derive(Debug)]
struct Node {
    _probe: DropProbe,
    next: Mutex<Option<Arc<Node>>>,
    back: Mutex<Weak<Node>>,
}

impl Node {
    fn new(freed: &Arc<AtomicUsize>) -> Arc<Node> {
        Arc::new(Node {
            _probe: DropProbe(freed.clone()),
            next: Mutex::new(None),
            back: Mutex::new(Weak::new()),
        })
    }
}

/// What happened to a pair of nodes once the program dropped its handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleOutcome {
    /// Nodes freed when the handles were dropped.
    pub freed: usize,
    /// Whether the first node could still be reached (through a `Weak`) afterwards.
    pub still_alive: bool,
    /// Nodes freed in all, after breaking any cycle by hand.
    pub freed_after_cleanup: usize,
}

/// Links `a -> b` strongly and `b -> a` strongly (a cycle) or weakly (the fix), drops both
/// handles, and reports what was freed. A leaked cycle is then broken by hand, so that the
/// example itself leaks nothing.
pub fn cycle(weak_back_pointer: bool) -> CycleOutcome {
    let freed = Arc::new(AtomicUsize::new(0));
    let a = Node::new(&freed);
    let b = Node::new(&freed);
    *a.next.lock() = Some(Arc::clone(&b));
    if weak_back_pointer {
        // New: the way back does not own `a`, so it does not keep it alive.
        *b.back.lock() = Arc::downgrade(&a);
    } else {
        *b.next.lock() = Some(Arc::clone(&a));
    }
    let watch = Arc::downgrade(&a);
    drop((a, b));
    let freed_now = freed.load(Ordering::SeqCst);
    let still_alive = watch.upgrade().is_some();
    if let Some(a) = watch.upgrade() {
        // Breaking the cycle: take a's strong pointer to b; b then frees, and with it a.
        let next = a.next.lock().take();
        drop((next, a));
    }
    CycleOutcome {
        freed: freed_now,
        still_alive,
        freed_after_cleanup: freed.load(Ordering::SeqCst),
    }
}

/// Reference counts, a racy counter beside exact ones, a forced lost update, a leak, its fix.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new("examples-threads", "races", c);
    s.title("seed 003 GIL, reference counts, races, leaks; 001 memory management");

    let counts = reference_counts()?;
    let [alone, held, after] = counts;
    say!(
        "  Arc::strong_count: {alone} alone, {held} while a thread holds a clone, {after} after it ends"
    );
    say!("  (sys.getrefcount says 2 for a lone object: its own argument is a reference)");
    s.check(
        "reference counts are 1, 2, 1",
        counts == [1, 2, 1],
        format!("{counts:?}"),
    );

    let threads = c.workers_or(2).max(2);
    let per_thread: u64 = c.size(20_000_000, 2_000_000);
    let target = threads as u64 * per_thread;
    s.workload(&format!(
        "{threads} threads add 1 to one counter, {per_thread} times each"
    ));
    let v = Variant::baseline("one thread, no sharing", 1, threads);
    let total = s.measure(v, |ctx| {
        let total = count(Counting::Local, 1, target);
        ctx.set("total", total);
        total
    });
    s.check(
        "one thread counts exactly",
        total == target,
        format!("{total}"),
    );
    let serial_s = s.baseline_s().unwrap_or_default();
    let ideal_s = ideal::cpu_bound(serial_s, threads, threads);
    for (name, how) in [
        ("load + store (racy)", Counting::LoadStore),
        ("fetch_add", Counting::FetchAdd),
        ("Mutex", Counting::Mutex),
        ("local counts, one fetch_add each", Counting::Local),
    ] {
        let v = Variant::new(name, threads, threads).ideal_s(ideal_s);
        let (total, attempts) = s.measure(v, |ctx| {
            let mut attempts = 1;
            let mut total = count(how, threads, per_thread);
            // The race needs the threads to run at the same moment. Now and then one of them
            // gets no core for the whole run (on a VM the host may take our second vCPU
            // away for a few ms), and nothing is lost: run it again, and say so.
            while how == Counting::LoadStore && total == target && attempts < RACY_ATTEMPTS {
                attempts += 1;
                total = count(how, threads, per_thread);
            }
            ctx.set("total", total);
            ctx.set("lost", target.saturating_sub(total));
            if how == Counting::LoadStore {
                ctx.set("attempts", attempts);
            }
            (total, attempts)
        });
        if how != Counting::LoadStore {
            s.check(
                &format!("{name}: exact"),
                total == target,
                total.to_string(),
            );
            continue;
        }
        let lost = target.saturating_sub(total);
        let note = match (lost, attempts) {
            (0, _) => " - the threads never overlapped; the forced case below always loses".into(),
            (_, 1) => String::new(),
            (_, n) => format!(" (attempt {n}: the threads did not overlap before)"),
        };
        let share = 100.0 * lost as f64 / target as f64;
        say!("    counted {total} of {target}: {lost} updates lost ({share:.2}%){note}");
    }

    let (racy, atomic) = (forced_interleaving(false), forced_interleaving(true));
    say!();
    say!(
        "  forced interleaving (both threads load before either stores): 2 increments give {racy}"
    );
    say!("  the same two threads with fetch_add: {atomic}");
    s.check(
        "forced interleaving loses exactly one update",
        racy == 1,
        format!("{racy}"),
    );
    s.check("fetch_add loses none", atomic == 2, format!("{atomic}"));

    let (leaked, fixed) = (cycle(false), cycle(true));
    say!();
    say!(
        "  a -> b -> a with Arc: {} of 2 freed, still reachable: {} (a leak; broken by hand, {} freed)",
        leaked.freed,
        leaked.still_alive,
        leaked.freed_after_cleanup
    );
    say!(
        "  a -> b, b ~> a with Weak: {} of 2 freed, still reachable: {}",
        fixed.freed,
        fixed.still_alive
    );
    s.check(
        "an Arc cycle is never freed",
        leaked.freed == 0 && leaked.still_alive,
        format!("{leaked:?}"),
    );
    s.check(
        "the Weak back-pointer frees both",
        fixed.freed == 2 && !fixed.still_alive,
        format!("{fixed:?}"),
    );
    say!();
    say!("  Refused at compile time (the doctests in src/races.rs, run by `cargo test --doc`):");
    say!("  an Rc or a Cell shared across threads (E0277), a thread borrowing a local (E0373).");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_counts_are_one_two_one() {
        assert_eq!(reference_counts().unwrap(), [1, 2, 1]);
    }

    #[test]
    fn the_forced_interleaving_loses_exactly_one_update() {
        for _ in 0..20 {
            assert_eq!(forced_interleaving(false), 1);
            assert_eq!(forced_interleaving(true), 2);
        }
    }

    #[test]
    fn fetch_add_mutex_and_local_counts_are_exact() {
        for how in [Counting::FetchAdd, Counting::Mutex, Counting::Local] {
            assert_eq!(count(how, 4, 50_000), 200_000, "{how:?}");
        }
        // The racy version can only lose updates, never invent them.
        assert!(count(Counting::LoadStore, 4, 50_000) <= 200_000);
    }

    #[test]
    fn a_cycle_leaks_and_weak_frees() {
        assert_eq!(
            cycle(false),
            CycleOutcome {
                freed: 0,
                still_alive: true,
                freed_after_cleanup: 2
            }
        );
        assert_eq!(
            cycle(true),
            CycleOutcome {
                freed: 2,
                still_alive: false,
                freed_after_cleanup: 2
            }
        );
    }
}
