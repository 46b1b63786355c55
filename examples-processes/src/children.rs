//! Owning child processes, so that none outlives its example.
//!
//! Every worker is a [`Proc`]. Dropping the last handle to it kills it (if it still runs) and
//! reaps it (`wait`), so there is no orphan and no zombie after a normal end, an error (`?`
//! drops it), or a panic of the parent (unwinding drops it). Three more cases are covered:
//!
//! - **Ctrl-C** (and SIGTERM): [`install_interrupt_handler`] sets the shutdown event that
//!   the sections watch, kills every live child so that nothing waits on them any longer,
//!   and exits with 130 if the program has not wound down by itself two seconds later.
//!   Workers ignore SIGINT themselves (the terminal sends it to the whole process group), so
//!   the parent, which owns them, decides.
//! - **The parent is killed outright** (SIGKILL, an abort): nothing of it runs any more, so
//!   each worker asks the kernel to kill it when its parent goes (`PR_SET_PDEATHSIG`, see
//!   [`crate::worker`]), and a worker also exits when its input pipe closes.
//! - **A worker that will not die politely**: [`Proc::close`] waits a moment, then kills.
//!
//! Python's `daemon=True` processes are killed when the parent exits normally, but a parent
//! killed with SIGKILL leaves them running; the tests here check that no child is left.

use std::io::{self, BufReader, BufWriter};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::wire::{self, Hello, PROTOCOL};

/// How long a new worker may take to say hello before it is given up on.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first argument that puts this binary in worker mode.
pub const WORKER_ARG: &str = "__worker";

/// Environment variable naming the parent's pid, so that a worker whose parent is already
/// gone when it starts exits at once.
pub const PARENT_PID_ENV: &str = "EXAMPLES_PROCESSES_PARENT_PID";

/// Environment variable that replaces the worker program (default: this executable). The
/// tests use it to check what happens when workers cannot start.
pub const WORKER_PROGRAM_ENV: &str = "EXAMPLES_PROCESSES_WORKER";

/// The shutdown event: set by Ctrl-C. Sections that loop check it.
static SHUTDOWN: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C (or SIGTERM) asked the program to stop.
pub fn shutdown_requested() -> bool {
    SHUTDOWN.load(Ordering::SeqCst)
}

/// Every live child, weakly: the interrupt handler kills them without owning them.
fn live() -> MutexGuard<'static, Vec<Weak<Proc>>> {
    static LIVE: OnceLock<Mutex<Vec<Weak<Proc>>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Number of children of this process that are still owned (not yet reaped).
pub fn live_children() -> usize {
    live().iter().filter(|w| w.strong_count() > 0).count()
}

/// Installs the Ctrl-C / SIGTERM handler (once; later calls do nothing).
pub fn install_interrupt_handler() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let result = ctrlc::set_handler(|| {
            SHUTDOWN.store(true, Ordering::SeqCst);
            let procs: Vec<Arc<Proc>> = live().iter().filter_map(Weak::upgrade).collect();
            shared::say!(
                "interrupted: stopping {} worker process(es) and winding down",
                procs.len()
            );
            // Killing them ends every wait on them: pipes close, pools fail their futures,
            // the sections return errors and their guards reap the children.
            for p in &procs {
                p.kill();
            }
            drop(procs);
            // A serial baseline runs in this process and has nothing to kill: do not make
            // the user wait for it.
            std::thread::sleep(Duration::from_secs(2));
            for p in live().iter().filter_map(Weak::upgrade) {
                p.kill();
                p.wait_timeout(Duration::from_millis(500));
            }
            std::process::exit(130);
        });
        if let Err(e) = result {
            shared::say!("warning: cannot install the Ctrl-C handler: {e}");
        }
    });
}

/// The program workers run: `$EXAMPLES_PROCESSES_WORKER`, or this executable.
pub fn worker_program() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os(WORKER_PROGRAM_ENV) {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe().context("cannot find this program's own path to start workers")
}

/// `<program> __worker <kind> <args...>`, with the parent's pid in the environment.
pub fn worker_command(program: &Path, kind: &str, args: &[String]) -> Command {
    let mut cmd = Command::new(program);
    cmd.arg(WORKER_ARG)
        .arg(kind)
        .args(args)
        .env(PARENT_PID_ENV, std::process::id().to_string());
    cmd
}

/// A child process this program owns. Dropping the last `Arc` kills and reaps it.
#[derive(Debug)]
pub struct Proc {
    pid: u32,
    name: String,
    // Held only for short, non-blocking calls (`try_wait`, `kill`), so the interrupt
    // handler, a pool's lane and the owner can all reach it without waiting on each other.
    child: Mutex<Child>,
}

/// A started child and the pipes the parent kept.
#[derive(Debug)]
pub struct Started {
    /// The owned process.
    pub proc: Arc<Proc>,
    /// Its stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// Its stdout, if piped.
    pub stdout: Option<ChildStdout>,
}

impl Proc {
    /// Starts `cmd` (stdin and stdout piped unless `cmd` says otherwise; stderr inherited)
    /// and registers the child for Ctrl-C.
    pub fn spawn(cmd: &mut Command, name: impl Into<String>) -> anyhow::Result<Started> {
        let name = name.into();
        if shutdown_requested() {
            bail!("interrupted (Ctrl-C): not starting {name}");
        }
        let mut child = cmd
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let proc = Arc::new(Proc {
            pid: child.id(),
            name,
            child: Mutex::new(child),
        });
        let mut live = live();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&proc));
        drop(live);
        Ok(Started {
            proc,
            stdin,
            stdout,
        })
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The name given at spawn, e.g. `worker 2`.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> MutexGuard<'_, Child> {
        // The Child is only read and waited on; a panic elsewhere cannot leave it half-updated.
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends SIGKILL unless the child has already been reaped (then it does nothing, so a
    /// recycled pid is never hit).
    pub fn kill(&self) {
        let mut child = self.lock();
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
    }

    /// The exit status if the child has exited (reaping it), else `None`.
    pub fn try_status(&self) -> Option<ExitStatus> {
        self.lock().try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for the child to exit, polling (never blocking while holding
    /// the lock, so a kill from another thread is never held up).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_micros(50);
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }

    /// Waits up to `grace` for a polite exit, then kills; returns the final status.
    pub fn close(&self, grace: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.wait_timeout(grace) {
            return Some(s);
        }
        self.kill();
        self.wait_timeout(Duration::from_secs(5))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Kill (no-op if it already exited) and reap: no orphan, no zombie.
        self.kill();
        if self.wait_timeout(Duration::from_secs(5)).is_none() {
            shared::say!(
                "warning: {} (pid {}) did not exit after SIGKILL",
                self.name,
                self.pid
            );
        }
    }
}

/// A worker process that has said hello, with its two pipes.
#[derive(Debug)]
pub struct Connected {
    /// The owned process.
    pub proc: Arc<Proc>,
    /// Messages to it.
    pub input: BufWriter<ChildStdin>,
    /// Messages from it.
    pub output: BufReader<ChildStdout>,
    /// Time from spawn to its hello.
    pub startup: Duration,
}

impl Connected {
    /// Starts `<program> __worker <kind> <args>` named `name` and waits for its [`Hello`]
    /// (at most [`HANDSHAKE_TIMEOUT`]). A program that cannot start, exits, stays silent or
    /// answers garbage is an error that says which, never a hang.
    pub fn start(program: &Path, kind: &str, args: &[String], name: &str) -> anyhow::Result<Self> {
        let t0 = Instant::now();
        // Why a process and not a thread: isolation (its crash is not ours) and, in Python,
        // an interpreter and a GIL of its own. The two pipes are its only link to us.
        let mut cmd = worker_command(program, kind, args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let started = Proc::spawn(&mut cmd, name)?;
        let (proc, stdout, stdin) = match (started.stdout, started.stdin) {
            (Some(out), Some(inp)) => (started.proc, out, inp),
            _ => bail!("{name}: its pipes were not set up"),
        };
        let pid = proc.pid();
        let program = program.display();
        if !wait_readable(&stdout, HANDSHAKE_TIMEOUT)? {
            bail!(
                "{name} ({program}, pid {pid}) did not say hello within {HANDSHAKE_TIMEOUT:?}: \
                 is it an examples-processes binary?"
            );
        }
        let mut output = BufReader::with_capacity(1 << 16, stdout);
        let hello: Hello = match wire::recv(&mut output) {
            Ok(Some(h)) => h,
            Ok(None) => bail!(
                "{name} ({program}, pid {pid}) {} before its handshake",
                describe_exit(proc.close(Duration::from_secs(1)))
            ),
            Err(e) => bail!(
                "{name} ({program}, pid {pid}) sent a malformed handshake ({e:#}): is it an \
                 examples-processes binary?"
            ),
        };
        if hello.protocol != PROTOCOL {
            bail!(
                "{name} ({program}, pid {}) speaks protocol {}, this program {PROTOCOL}: \
                 rebuild the binary",
                hello.pid,
                hello.protocol
            );
        }
        Ok(Self {
            proc,
            input: BufWriter::with_capacity(1 << 16, stdin),
            output,
            startup: t0.elapsed(),
        })
    }

    /// Polite end: closing its stdin tells the worker to return; it is killed if it lingers.
    pub fn close(self, grace: Duration) -> Option<ExitStatus> {
        let Connected { proc, input, .. } = self;
        drop(input);
        proc.close(grace)
    }
}

/// The worker's side of the handshake.
pub fn say_hello(output: &mut impl io::Write) -> anyhow::Result<()> {
    let hello = Hello {
        pid: std::process::id(),
        protocol: PROTOCOL,
    };
    wire::send(output, &hello)
}

/// CPU seconds (user + system) a live process has used so far, from `/proc/<pid>/stat`.
/// `getrusage(RUSAGE_CHILDREN)` only counts children once reaped; this counts them while
/// they run.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after it are plain numbers.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
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

/// Waits until `fd` has data (or end-of-file) to read, up to `timeout`. Returns whether it is
/// readable. Used for handshakes: a program that never answers must not hang the parent.
pub fn wait_readable(fd: &impl AsRawFd, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `pfd` is one valid pollfd and we pass a count of 1; poll only writes
        // `revents`.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 {
            return Ok(true);
        }
        if rc == 0 {
            return Ok(false);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_a_proc_kills_and_reaps_it() {
        let started = Proc::spawn(
            Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
            "sleeper",
        )
        .unwrap();
        let pid = started.proc.pid();
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        let before = live_children();
        drop(started);
        // Reaped: the pid is gone from /proc (a zombie would still be listed).
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        assert!(live_children() < before || before == 0);
    }

    #[test]
    fn exits_are_described() {
        let s = Proc::spawn(
            Command::new("sh")
                .args(["-c", "exit 3"])
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
            "sh",
        )
        .unwrap();
        let status = s.proc.wait_timeout(Duration::from_secs(5));
        assert_eq!(describe_exit(status), "exited with code 3");
        let s = Proc::spawn(
            Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
            "sleeper",
        )
        .unwrap();
        s.proc.kill();
        let status = s.proc.wait_timeout(Duration::from_secs(5));
        assert_eq!(describe_exit(status), "was killed by signal 9 (SIGKILL)");
        // Killing a reaped child does nothing (no recycled pid is hit).
        s.proc.kill();
    }

    #[test]
    fn a_silent_program_is_not_readable() {
        let s = Proc::spawn(
            Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .stdout(Stdio::piped()),
            "sleeper",
        )
        .unwrap();
        let out = s.stdout.as_ref().unwrap();
        assert!(!wait_readable(out, Duration::from_millis(20)).unwrap());
        s.proc.kill();
        // After the kill the pipe is at end-of-file, which counts as readable.
        assert!(wait_readable(out, Duration::from_secs(5)).unwrap());
    }

    #[test]
    fn cpu_seconds_of_a_busy_child_grow() {
        let s = Proc::spawn(
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
            "spinner",
        )
        .unwrap();
        let pid = s.proc.pid();
        let first = cpu_seconds(pid).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while cpu_seconds(pid).unwrap() <= first && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(cpu_seconds(pid).unwrap() > first);
        assert!(cpu_seconds(u32::MAX).is_none());
    }

    #[test]
    fn handshake_failures_are_explained() {
        let err = Connected::start(Path::new("/bin/true"), "pool", &[], "worker 0").unwrap_err();
        assert!(err.to_string().contains("before its handshake"), "{err}");
        let err = Connected::start(Path::new("/nonexistent"), "pool", &[], "worker 0").unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot start worker 0"),
            "{err:#}"
        );
    }
}
