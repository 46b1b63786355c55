//! Worker processes: how a section starts one, and how the two sides talk.
//!
//! A worker is this very binary started again as `<exe> __worker <orders>`, where the orders
//! are a typed message (the crate's `cli::Role`, postcard bytes in hex): `main` calls
//! [`run_if_worker`] before it parses the command line, so the process becomes the worker
//! its orders name and never reaches the sections. Each kind of worker's loop lives beside
//! the parent code that talks to it (`process_pool.rs`, `queue_workers.rs`,
//! `long_running.rs`, `memory.rs`), so a section reads as one story; this file is only the
//! plumbing both sides share.
//!
//! The parent's side: [`Connected::start`] spawns a worker as a [`shared::child::Child`]
//! (killed and reaped when dropped, killed by the kernel if the parent dies, killed on
//! Ctrl-C), with its stdin and stdout as pipes, and waits for its [`Hello`]. The worker's
//! side: it ignores Ctrl-C (the terminal sends it to the whole process group; the parent,
//! which owns the workers, decides), takes its pipes ([`pipes`]) and says hello.
//!
//! What crosses the pipes, and why:
//! - **Pipes over stdin/stdout** rather than sockets or shared memory: the worker starts with
//!   them connected, and when either side dies the other sees end-of-file at once, which is
//!   how a crashed worker is noticed without any timeout.
//! - **postcard** (serde, compact varints, no schema) rather than JSON: a tiny task is 2 to 4
//!   bytes instead of a dozen characters to format and parse (`shared::message`).
//! - **A 4-byte length before each message** rather than a delimiter: the reader knows how
//!   much to read, binary payloads need no escaping, and a torn or oversized frame is an
//!   error, never a hang or a silent mix-up.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::child::{Child, describe_exit};
use shared::message::{decode, encode};

/// The first argument that puts this binary in worker mode.
pub const WORKER_ARG: &str = "__worker";

/// Environment variable that replaces the worker program (default: this executable). The
/// tests use it to check what happens when workers cannot start.
pub const WORKER_PROGRAM_ENV: &str = "EXAMPLES_PROCESSES_WORKER";

/// How long a new worker may take to say hello before it is given up on.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Version of the messages; a worker says it in its [`Hello`], so a stale binary is caught.
pub const PROTOCOL: u32 = 2;

/// The largest frame accepted: bigger lengths mean a corrupted stream, not a real message.
pub const MAX_FRAME: usize = 1 << 30;

/// The first message of every worker: who it is and which protocol it speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The worker's process id.
    pub pid: u32,
    /// [`PROTOCOL`] of the worker's binary.
    pub protocol: u32,
}

// --- The worker's side ------------------------------------------------------------------

/// If this process was started as a worker, decodes its orders, runs `run` with them and
/// returns the exit code (2 and a message on stderr when anything fails).
pub fn run_if_worker<R: DeserializeOwned>(
    run: impl FnOnce(R) -> anyhow::Result<()>,
) -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(WORKER_ARG)) {
        return None;
    }
    let result = args
        .next()
        .and_then(|a| a.into_string().ok())
        .context("expected `__worker <orders>`: workers are started by the example, not by hand")
        .and_then(|arg| decode_orders(&arg))
        .and_then(|orders| {
            become_worker();
            run(orders)
        });
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "examples-processes worker (pid {}): {e:#}",
                std::process::id()
            );
            ExitCode::from(2)
        }
    })
}

/// `orders` as the argument after `__worker`.
pub fn orders_arg(orders: &impl Serialize) -> anyhow::Result<String> {
    Ok(hex::encode(encode(orders)?))
}

fn decode_orders<R: DeserializeOwned>(arg: &str) -> anyhow::Result<R> {
    let bytes = hex::decode(arg).context("the worker's orders are not hex")?;
    decode(&bytes).context("the worker's orders are not a message of this binary")
}

fn become_worker() {
    // SAFETY: signal(SIG_IGN) only changes this process's disposition of SIGINT.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    // A panic inside a task is caught and sent to the parent as that task's error; the
    // default hook would also print it here, twice as noisy.
    std::panic::set_hook(Box::new(|_| {}));
}

/// The worker's end of its two pipes, as plain files (no line buffering, no locks).
#[derive(Debug)]
pub struct Pipes {
    /// Messages from the parent.
    pub input: BufReader<File>,
    /// Messages to the parent.
    pub output: BufWriter<File>,
}

/// Takes stdin and stdout for messages. fd 1 is then pointed at stderr, so that a stray
/// `println!` in a task cannot corrupt the message stream.
pub fn pipes() -> anyhow::Result<Pipes> {
    let input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let output = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    // SAFETY: dup2 on two descriptors this process owns; fd 1 is replaced atomically and
    // the messages keep their own duplicate taken above.
    let rc = unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    anyhow::ensure!(
        rc >= 0,
        "cannot redirect stdout: {}",
        io::Error::last_os_error()
    );
    Ok(Pipes {
        input: BufReader::with_capacity(1 << 16, input),
        output: BufWriter::with_capacity(1 << 16, output),
    })
}

/// The worker's side of the handshake.
pub fn say_hello(output: &mut impl Write) -> anyhow::Result<()> {
    let hello = Hello {
        pid: std::process::id(),
        protocol: PROTOCOL,
    };
    send(output, &hello)
}

// --- Frames -------------------------------------------------------------------------------

/// Writes one frame: the payload's length as 4 little-endian bytes, then the payload.
/// Does not flush.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::other(format!("a {} byte message is too big", payload.len())))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(payload)
}

/// Reads one frame. `Ok(None)` at a clean end of stream (the other side closed the pipe
/// between messages); an error for a torn frame or an impossible length.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended inside a frame header",
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed frame: announced length {len} bytes is over the {MAX_FRAME} limit"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("the stream ended inside a {len} byte frame: {e}"),
        )
    })?;
    Ok(Some(payload))
}

/// Encodes and writes one message as a frame, then flushes.
pub fn send<T: Serialize + ?Sized>(w: &mut impl Write, value: &T) -> anyhow::Result<()> {
    write_frame(w, &encode(value)?)?;
    w.flush()?;
    Ok(())
}

/// Reads and decodes one message; `Ok(None)` at a clean end of stream.
pub fn recv<T: DeserializeOwned>(r: &mut impl Read) -> anyhow::Result<Option<T>> {
    match read_frame(r)? {
        None => Ok(None),
        Some(bytes) => decode(&bytes).map(Some),
    }
}

// --- The parent's side --------------------------------------------------------------------

/// The program workers run: `$EXAMPLES_PROCESSES_WORKER`, or this executable.
pub fn program() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os(WORKER_PROGRAM_ENV) {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe().context("cannot find this program's own path to start workers")
}

/// `<program> __worker <orders>`, not yet started.
pub fn command(program: &Path, orders: &impl Serialize) -> anyhow::Result<Command> {
    let mut cmd = Command::new(program);
    cmd.arg(WORKER_ARG).arg(orders_arg(orders)?);
    Ok(cmd)
}

/// A worker process that has said hello, with its two pipes.
#[derive(Debug)]
pub struct Connected {
    /// The owned process (shared so that a pool can kill it while a lane reads from it).
    pub child: Arc<Child>,
    /// Messages to it.
    pub input: BufWriter<ChildStdin>,
    /// Messages from it.
    pub output: BufReader<ChildStdout>,
    /// Time from spawn to its hello.
    pub startup: Duration,
}

impl Connected {
    /// Starts `<program> __worker <orders>` named `name` and waits for its [`Hello`] (at most
    /// [`HANDSHAKE_TIMEOUT`]). A program that cannot start, exits, stays silent or answers
    /// garbage is an error that says which, never a hang.
    pub fn start(program: &Path, orders: &impl Serialize, name: &str) -> anyhow::Result<Self> {
        let t0 = Instant::now();
        let mut cmd = command(program, orders)?;
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        // Why a process and not a thread: isolation (its crash is not ours) and, in Python,
        // an interpreter and a GIL of its own. The two pipes are its only link to us.
        let child = Arc::new(Child::spawn(&mut cmd, name)?);
        let (Some(stdin), Some(stdout)) = (child.take_stdin(), child.take_stdout()) else {
            bail!("{name}: its pipes were not set up");
        };
        let (pid, program) = (child.pid(), program.display());
        if !wait_readable(&stdout, HANDSHAKE_TIMEOUT)? {
            bail!(
                "{name} ({program}, pid {pid}) did not say hello within {HANDSHAKE_TIMEOUT:?}: \
                 is it an examples-processes binary?"
            );
        }
        let mut output = BufReader::with_capacity(1 << 16, stdout);
        let hello: Hello = match recv(&mut output) {
            Ok(Some(h)) => h,
            Ok(None) => bail!(
                "{name} ({program}, pid {pid}) {} before its handshake",
                describe_exit(child.close(Duration::from_secs(1)))
            ),
            Err(e) => bail!(
                "{name} ({program}, pid {pid}) sent a malformed handshake ({e:#}): is it an \
                 examples-processes binary?"
            ),
        };
        if hello.protocol != PROTOCOL {
            bail!(
                "{name} ({program}, pid {pid}) speaks protocol {}, this program {PROTOCOL}: \
                 rebuild the binary",
                hello.protocol
            );
        }
        Ok(Self {
            child,
            input: BufWriter::with_capacity(1 << 16, stdin),
            output,
            startup: t0.elapsed(),
        })
    }

    /// Polite end: closing its stdin tells the worker to return; it is killed if it lingers.
    pub fn close(self, grace: Duration) -> Option<ExitStatus> {
        let Connected { child, input, .. } = self;
        drop(input);
        child.close(grace)
    }
}

/// Waits until `fd` has data (or end-of-file) to read, up to `timeout`; returns whether it
/// is readable. A handshake must not hang on a program that never answers, and a queue
/// worker's `get(timeout)` is this wait on its stdin.
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
        if rc >= 0 {
            return Ok(rc > 0);
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
    fn frames_round_trip_and_end_cleanly() {
        let mut buf = Vec::new();
        let hello = Hello {
            pid: 7,
            protocol: PROTOCOL,
        };
        send(&mut buf, &hello).unwrap();
        send(&mut buf, &vec![1u64, 2, 300]).unwrap();
        let mut r = &buf[..];
        assert_eq!(recv::<Hello>(&mut r).unwrap(), Some(hello));
        assert_eq!(recv::<Vec<u64>>(&mut r).unwrap(), Some(vec![1, 2, 300]));
        assert!(recv::<Hello>(&mut r).unwrap().is_none(), "clean end");
    }

    #[test]
    fn torn_oversized_and_garbage_frames_are_errors() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"abcdef").unwrap();
        assert!(read_frame(&mut &buf[..7]).is_err(), "torn payload");
        assert!(read_frame(&mut &buf[..2]).is_err(), "torn header");
        let huge = u32::MAX.to_le_bytes();
        let err = read_frame(&mut &huge[..]).unwrap_err();
        assert!(err.to_string().contains("malformed frame"), "{err}");
        let mut buf = Vec::new();
        write_frame(&mut buf, &[0xff; 6]).unwrap();
        let err = recv::<Hello>(&mut &buf[..]).unwrap_err();
        assert!(err.to_string().contains("malformed message"), "{err}");
    }

    #[test]
    fn orders_round_trip_through_the_argument() {
        let arg = orders_arg(&(3u32, "job".to_owned())).unwrap();
        assert!(arg.chars().all(|c| c.is_ascii_hexdigit()), "{arg}");
        let back: (u32, String) = decode_orders(&arg).unwrap();
        assert_eq!(back, (3, "job".to_owned()));
        assert!(decode_orders::<(u32, String)>("zz").is_err());
        assert!(decode_orders::<(u32, String)>("ff").is_err());
    }

    #[test]
    fn a_silent_program_is_not_readable_until_it_ends() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30").stdin(Stdio::null()).stdout(Stdio::piped());
        let child = Child::spawn(&mut cmd, "sleeper").unwrap();
        let out = child.take_stdout().unwrap();
        assert!(!wait_readable(&out, Duration::from_millis(20)).unwrap());
        child.kill();
        // Killed: the pipe is at end-of-file, which counts as readable.
        assert!(wait_readable(&out, Duration::from_secs(5)).unwrap());
    }

    #[test]
    fn handshake_failures_are_explained() {
        let err = Connected::start(Path::new("/bin/true"), &(), "worker 0").unwrap_err();
        assert!(err.to_string().contains("before its handshake"), "{err}");
        let err = Connected::start(Path::new("/nonexistent"), &(), "worker 0").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("cannot start worker 0"), "{text}");
    }
}
