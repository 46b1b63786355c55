//! Worker mode: what this binary does when the example starts it again as a worker.
//!
//! `main` calls [`run_if_worker`] before parsing the command line. When the first argument is
//! `__worker`, the process becomes a worker of the kind named next and never reaches the
//! sections: `pool` ([`crate::process_pool`]), `queue` ([`crate::queue_workers`]), `job`
//! ([`crate::long_running`]) or `hold` ([`crate::memory`]). Each kind's loop lives beside the
//! parent code that talks to it, so a section reads as one story.
//!
//! Every worker first makes sure it cannot outlive its parent, then talks over its stdin and
//! stdout pipes ([`Pipes`]).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::os::fd::AsFd;
use std::process::ExitCode;

use crate::children::{PARENT_PID_ENV, WORKER_ARG};

/// The worker's end of its two pipes, as plain files (no line buffering, no locks).
#[derive(Debug)]
pub struct Pipes {
    /// Messages from the parent.
    pub input: BufReader<File>,
    /// Messages to the parent.
    pub output: BufWriter<File>,
}

/// If this process was started as a worker, runs it and returns its exit code.
pub fn run_if_worker() -> Option<ExitCode> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some(WORKER_ARG) {
        return None;
    }
    let kind = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    Some(match run_worker(&kind, &rest) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "examples-processes worker ({kind}, pid {}): {e:#}",
                std::process::id()
            );
            ExitCode::from(2)
        }
    })
}

fn run_worker(kind: &str, args: &[String]) -> anyhow::Result<()> {
    die_with_parent()?;
    // A panic inside a task is caught and sent to the parent as that task's error; the
    // default hook would also print it here, twice as noisy.
    std::panic::set_hook(Box::new(|_| {}));
    match kind {
        "pool" => crate::process_pool::worker_main(pipes()?),
        "queue" => crate::queue_workers::worker_main(pipes()?, args),
        "job" => crate::long_running::job_main(args),
        "hold" => crate::memory::hold_main(pipes()?),
        _ => anyhow::bail!(
            "unknown worker kind `{kind}` (expected pool, queue, job or hold); workers are \
             started by the example itself, not by hand"
        ),
    }
}

/// Ties this process's life to its parent's.
fn die_with_parent() -> anyhow::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and signal(SIG_IGN) only change this process's own
    // signal dispositions; no memory is passed.
    unsafe {
        // Killed by the kernel the moment the parent (the thread that started us) dies,
        // even if it dies by SIGKILL and runs no clean-up at all.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        // Ctrl-C reaches the whole process group; the parent decides what happens to us.
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    // The parent may have died before prctl ran: then we were adopted by another process.
    if let Some(expected) = std::env::var(PARENT_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        let actual = std::os::unix::process::parent_id();
        anyhow::ensure!(
            actual == expected,
            "my parent (pid {expected}) is gone (now pid {actual}); exiting"
        );
    }
    Ok(())
}

/// Takes stdin and stdout for the protocol. fd 1 is then pointed at stderr, so that a stray
/// `println!` in a task cannot corrupt the message stream.
fn pipes() -> anyhow::Result<Pipes> {
    let input = File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let output = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    // SAFETY: dup2 on two descriptors this process owns; fd 1 is replaced atomically and
    // the protocol keeps its own duplicate taken above.
    let rc = unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    anyhow::ensure!(
        rc >= 0,
        "cannot redirect stdout: {}",
        std::io::Error::last_os_error()
    );
    Ok(Pipes {
        input: BufReader::with_capacity(1 << 16, input),
        output: BufWriter::with_capacity(1 << 16, output),
    })
}
