//! Ctrl-C and SIGTERM: stop at once, name what was stopped, leave no child behind.
//!
//! [`install`] starts one thread that waits for SIGINT or SIGTERM (signal-hook). On the
//! first signal it raises the flag that long loops poll between tasks ([`requested`],
//! [`check`]), kills every child process this program owns ([`crate::child::kill_all`]),
//! says which section was interrupted, and gives the program [`GRACE`] to wind down by
//! itself (guards reaped, lines flushed) before it exits with `128 + signal` (130 for
//! Ctrl-C, 143 for SIGTERM), as a shell would report. A second signal exits at once.
//!
//! It exits while holding the stdout lock, so no JSON line is ever cut in half.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

/// How long the program may take to wind down after a signal before it is ended.
pub const GRACE: Duration = Duration::from_millis(500);

/// The signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

fn section() -> &'static Mutex<String> {
    static SECTION: OnceLock<Mutex<String>> = OnceLock::new();
    SECTION.get_or_init(Default::default)
}

/// Whether Ctrl-C (or SIGTERM) asked the program to stop.
pub fn requested() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// The error long loops return between tasks once a stop was requested.
pub fn check() -> anyhow::Result<()> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => Ok(()),
        sig => Err(anyhow::anyhow!("interrupted by {}", name(sig))),
    }
}

/// The exit code for the signal received, if any (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code() -> Option<u8> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        sig => u8::try_from(128 + sig).ok(),
    }
}

/// Records which section runs now, for the message printed on interrupt.
pub fn set_section(name: &str) {
    let mut s = section().lock();
    s.clear();
    s.push_str(name);
}

/// Installs the handler (once; later calls do nothing). A failure to install is a warning:
/// the program still runs, Ctrl-C then kills it the default way.
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let signals = signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM]);
        let mut signals = match signals {
            Ok(s) => s,
            Err(e) => {
                crate::say!("warning: cannot install the Ctrl-C handler: {e}");
                return;
            }
        };
        // Why a thread: a signal handler itself may do almost nothing (no locks, no
        // allocation); signal-hook hands the signal to this ordinary thread instead.
        let spawned = std::thread::Builder::new()
            .name("interrupt".into())
            .spawn(move || {
                let mut pending = signals.forever();
                let Some(sig) = pending.next() else { return };
                on_signal(sig);
                // A second signal while winding down: stop now.
                if let Some(sig) = pending.next() {
                    exit_now(sig);
                }
            });
        if let Err(e) = spawned {
            crate::say!("warning: cannot start the Ctrl-C thread: {e}");
        }
    });
}

fn on_signal(sig: i32) {
    SIGNAL.store(sig, Ordering::SeqCst);
    let killed = crate::child::kill_all();
    let section = section().lock().clone();
    let mut what = match section.as_str() {
        "" => "stopping".to_owned(),
        s => format!("stopping section {s}"),
    };
    if killed > 0 {
        what.push_str(&format!(" and {killed} child process(es)"));
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "interrupted by {}: {what}",
        name(sig)
    );
    // The main thread may end by itself (loops see the flag); if it has not within GRACE,
    // end the process here.
    let sig_for_timer = sig;
    let _ = std::thread::Builder::new()
        .name("interrupt-grace".into())
        .spawn(move || {
            std::thread::sleep(GRACE);
            exit_now(sig_for_timer);
        });
}

fn exit_now(sig: i32) -> ! {
    crate::child::kill_all();
    // Holding the lock means no other thread is half-way through a line.
    let mut out = std::io::stdout().lock();
    let _ = out.flush();
    std::process::exit(128 + sig)
}

fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "Ctrl-C (SIGINT)",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
