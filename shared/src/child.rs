//! Child processes this program owns, so that none outlives its example.
//!
//! A [`Child`] is killed and reaped when dropped: after a normal end, an error (`?` drops it)
//! or a panic (unwinding drops it). Two more ways a parent can go are covered:
//!
//! - **Ctrl-C or SIGTERM**: every live child is registered, and [`crate::interrupt`] kills
//!   them all, so that no section waits on a child any longer.
//! - **The parent is killed outright** (SIGKILL, an abort): nothing of it runs any more, so
//!   each child asks the kernel, before it runs a line of its own, to kill it when its parent
//!   dies (`PR_SET_PDEATHSIG`). The kernel means the parent *thread*: spawn long-lived
//!   children from a thread that lives as long as they do (the main thread, or a pool's lane).
//!
//! Python's `daemon=True` processes are killed when the parent exits normally, but a parent
//! killed with SIGKILL leaves them running.
//!
//! Built on [`shared_child::SharedChild`], which lets one thread wait while another kills.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use anyhow::{Context, bail};
use parking_lot::Mutex;
use shared_child::SharedChild;

/// How long a killed child may take to be reaped before we warn and move on.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// A child process that is killed (if still running) and reaped when dropped.
#[derive(Debug)]
pub struct Child {
    inner: Arc<SharedChild>,
    name: String,
}

/// Every live child, weakly: the interrupt handler kills them without owning them.
fn live() -> &'static Mutex<Vec<Weak<SharedChild>>> {
    static LIVE: OnceLock<Mutex<Vec<Weak<SharedChild>>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

/// Kills every child still owned by this process (used on Ctrl-C); returns how many.
pub fn kill_all() -> usize {
    let children: Vec<Arc<SharedChild>> = live().lock().iter().filter_map(Weak::upgrade).collect();
    for c in &children {
        let _ = c.kill();
    }
    children.len()
}

/// Number of children of this process that are still owned (not yet reaped).
pub fn live_children() -> usize {
    live()
        .lock()
        .iter()
        .filter(|w| w.strong_count() > 0)
        .count()
}

impl Child {
    /// Starts `cmd` as `name` (e.g. `worker 2`), tied to this process: it dies when this
    /// process does, and is registered for Ctrl-C. Fails, saying so, once Ctrl-C was pressed.
    pub fn spawn(cmd: &mut Command, name: impl Into<String>) -> anyhow::Result<Self> {
        let name = name.into();
        if crate::interrupt::requested() {
            bail!("interrupted: not starting {name}");
        }
        let parent = i32::try_from(std::process::id()).context("pid out of range")?;
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (prctl, getppid, _exit), allocating nothing.
        unsafe {
            cmd.pre_exec(move || {
                // Why: a parent killed by SIGKILL runs no destructor; the kernel must do it.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before the prctl: then nobody would signal us.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let inner = SharedChild::spawn(cmd)
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        let inner = Arc::new(inner);
        let mut live = live().lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&inner));
        Ok(Self { inner, name })
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its stdin, if piped and not yet taken.
    pub fn take_stdin(&self) -> Option<ChildStdin> {
        self.inner.take_stdin()
    }

    /// Its stdout, if piped and not yet taken.
    pub fn take_stdout(&self) -> Option<ChildStdout> {
        self.inner.take_stdout()
    }

    /// Its stderr, if piped and not yet taken.
    pub fn take_stderr(&self) -> Option<ChildStderr> {
        self.inner.take_stderr()
    }

    /// Sends SIGKILL unless the child was already reaped (a recycled pid is never hit).
    pub fn kill(&self) {
        let _ = self.inner.kill();
    }

    /// The exit status if the child has exited (reaping it), else `None`.
    pub fn try_wait(&self) -> Option<ExitStatus> {
        self.inner.try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for the child to exit. A kill from another thread still goes
    /// through while this waits.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        self.inner.wait_timeout(timeout).ok().flatten()
    }

    /// Waits for the child to exit, however long it takes.
    pub fn wait(&self) -> anyhow::Result<ExitStatus> {
        self.inner
            .wait()
            .with_context(|| format!("cannot wait for {}", self.name))
    }

    /// Waits up to `grace` for a polite exit, then kills; returns the final status.
    pub fn close(&self, grace: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.wait_timeout(grace) {
            return Some(s);
        }
        self.kill();
        self.wait_timeout(REAP_TIMEOUT)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Kill (a no-op if it already exited) and reap: no orphan, no zombie.
        self.kill();
        if self.wait_timeout(REAP_TIMEOUT).is_none() {
            crate::say!(
                "warning: {} (pid {}) did not exit after SIGKILL",
                self.name,
                self.pid()
            );
        }
    }
}

/// How a child ended, in words: `exited with code 3`, `was killed by signal 9 (SIGKILL)`.
pub fn describe_exit(status: Option<ExitStatus>) -> String {
    let Some(status) = status else {
        return "did not exit".to_owned();
    };
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    match status.signal() {
        Some(sig) => format!("was killed by signal {sig} ({})", signal_name(sig)),
        None => format!("ended ({status})"),
    }
}

/// A child's status as this process's exit code (a signal `s` becomes `128 + s`, as shells do).
pub fn exit_code(status: ExitStatus) -> std::process::ExitCode {
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
        (None, None) => 1,
    };
    std::process::ExitCode::from(code)
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGABRT => "SIGABRT, an abort",
        libc::SIGSEGV => "SIGSEGV, a memory fault",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGBUS => "SIGBUS",
        _ => "a signal",
    }
}
