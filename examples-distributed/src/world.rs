//! The MPI job as rank 0 sees it, and what every rank does when something panics.
//!
//! MPI starts N copies of this binary, numbered 0..N ("ranks"), and connects them. Here rank 0
//! is the client that runs the sections (like the notebook in seed 002) and every other rank
//! is a worker ([`crate::worker::serve`]). Each worker first sends a [`Hello`]; rank 0 collects
//! them into a [`World`], which is also how the `cluster` section knows every rank's host and pid.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context, bail};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Destination};
use parking_lot::Mutex;
use serde::Serialize;

use crate::wire::{self, Hello, PROTOCOL, TAG_HELLO, TAG_ROUND, TAG_STOP};

/// Exit code of a job aborted because a rank panicked (`MPI_Abort`'s error code; mpiexec
/// passes it on).
pub const PANIC_EXIT: i32 = 70;

/// How long a panicking rank waits between printing its message and aborting the job.
pub const ABORT_DELAY: std::time::Duration = std::time::Duration::from_millis(300);

/// This process's [`Hello`].
pub fn hello(rank: i32) -> Hello {
    Hello {
        rank,
        host: mpi::environment::processor_name().unwrap_or_else(|_| "unknown host".to_owned()),
        pid: std::process::id(),
        cores: shared::system::cores(),
        protocol: PROTOCOL,
    }
}

/// The job, from rank 0.
pub struct World {
    comm: SimpleCommunicator,
    ranks: Vec<Hello>,
    next_task: Arc<AtomicU64>,
    pool_open: Arc<AtomicBool>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("ranks", &self.ranks)
            .finish_non_exhaustive()
    }
}

impl World {
    /// On rank 0: waits for every worker's hello.
    pub fn client(comm: SimpleCommunicator) -> anyhow::Result<Self> {
        anyhow::ensure!(comm.rank() == 0, "only rank 0 is the client");
        let size = usize::try_from(comm.size()).context("a negative world size")?;
        let mut ranks: Vec<Option<Hello>> = vec![None; size];
        ranks[0] = Some(hello(0));
        for (from, h) in wire::receive_from_each::<Hello>(&comm, TAG_HELLO)? {
            if h.protocol != PROTOCOL {
                bail!(
                    "rank {} on {} runs a different build (protocol {} instead of {PROTOCOL}): \
                     every host needs the same binary",
                    h.rank,
                    h.host,
                    h.protocol
                );
            }
            let slot = usize::try_from(from)
                .ok()
                .and_then(|r| ranks.get_mut(r))
                .with_context(|| format!("a hello from rank {from} of {size}"))?;
            *slot = Some(h);
        }
        Ok(Self {
            comm,
            ranks: ranks.into_iter().flatten().collect(),
            next_task: Arc::new(AtomicU64::new(0)),
            pool_open: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The communicator of all ranks.
    pub fn comm(&self) -> &SimpleCommunicator {
        &self.comm
    }

    /// Ranks in the job, rank 0 included.
    pub fn size(&self) -> usize {
        self.ranks.len()
    }

    /// Worker ranks (all but rank 0).
    pub fn workers(&self) -> usize {
        self.size() - 1
    }

    /// Every rank's hello, by rank.
    pub fn ranks(&self) -> &[Hello] {
        &self.ranks
    }

    /// Distinct hosts, in rank order.
    pub fn hosts(&self) -> Vec<&str> {
        let mut hosts: Vec<&str> = Vec::new();
        for h in &self.ranks {
            if !hosts.contains(&h.host.as_str()) {
                hosts.push(&h.host);
            }
        }
        hosts
    }

    /// The counter of task ids, shared by every pool of the run.
    pub(crate) fn task_ids(&self) -> Arc<AtomicU64> {
        self.next_task.clone()
    }

    /// Marks the workers as taken by a pool; `None` if another pool has them.
    pub(crate) fn take_workers(&self) -> Option<Arc<AtomicBool>> {
        (!self.pool_open.swap(true, Ordering::SeqCst)).then(|| self.pool_open.clone())
    }

    /// One line on who is who: `job: 3 ranks on 1 host (vm): rank 0 (pid 7) is the client,
    /// ranks 1-2 are workers (pids 8, 9)`.
    pub fn summary(&self) -> String {
        let r = &self.ranks;
        let hosts = self.hosts();
        let pids: Vec<String> = r[1..].iter().map(|h| h.pid.to_string()).collect();
        format!(
            "job: {} ranks on {} ({}): rank 0 (pid {}) is the client, {} (pids {})",
            r.len(),
            crate::count(hosts.len(), "host"),
            hosts.join(", "),
            r[0].pid,
            workers_phrase(r.len()),
            pids.join(", ")
        )
    }

    /// Calls every worker into a collective round with `plan` (each hands it to the `round`
    /// of its [`crate::worker::serve`]). The round itself is collective calls on both sides.
    pub fn announce<P: Serialize>(&self, plan: &P) -> anyhow::Result<()> {
        // Why refuse while a pool is open: its dispatcher thread would go on sending tasks,
        // and a worker inside a collective does not read them.
        anyhow::ensure!(
            !self.pool_open.load(Ordering::SeqCst),
            "a pool still holds the workers: shut it down before a collective round"
        );
        for r in 1..self.comm.size() {
            wire::send(&self.comm.process_at_rank(r), TAG_ROUND, plan)?;
        }
        Ok(())
    }

    /// Ends every worker's loop (they then finalise MPI and exit).
    pub fn stop_workers(&self) {
        for r in 1..self.comm.size() {
            self.comm
                .process_at_rank(r)
                .send_with_tag(&[] as &[u8], TAG_STOP);
        }
    }
}

/// `rank 1 is the worker` or `ranks 1-N are workers`, for a job of `ranks` ranks.
pub fn workers_phrase(ranks: usize) -> String {
    match ranks.saturating_sub(1) {
        1 => "rank 1 is the worker".to_owned(),
        n => format!("ranks 1-{n} are workers"),
    }
}

/// What this rank is doing now, for the panic message (`task 5 (scrypt("password 5"))`).
/// A mutex because the panic hook may run on any thread; the hook only `try_lock`s it, so a
/// panic while it is held cannot deadlock.
static CURRENT: Mutex<Option<String>> = Mutex::new(None);

/// Sets (or clears) what this rank is doing now.
pub fn set_current(what: Option<String>) {
    *CURRENT.lock() = what;
}

/// Makes any panic on this rank end the whole job at once with a message naming the rank and
/// what it was doing. A panicking rank that merely exited would leave the others waiting for
/// its messages for ever; `MPI_Abort` makes mpiexec stop every rank of the job instead.
pub fn abort_job_on_panic(rank: i32) {
    std::panic::set_hook(Box::new(move |info| {
        let doing = CURRENT
            .try_lock()
            .and_then(|c| c.clone())
            .map_or_else(String::new, |what| format!(" while running {what}"));
        let at = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        let message = shared::executor::panic_message(info.payload());
        let host = mpi::environment::processor_name().unwrap_or_default();
        eprintln!(
            "examples-distributed: rank {rank} (pid {} on {host}) panicked{doing}: \
             {message}{at}\nexamples-distributed: aborting the whole MPI job (MPI_Abort, \
             exit code {PANIC_EXIT}) so that no rank waits for ever",
            std::process::id()
        );
        if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
            abort_job(PANIC_EXIT);
        }
    }));
}

/// Ends the whole job (`MPI_Abort`) after a message was printed on stderr.
pub fn abort_job(code: i32) -> ! {
    // Our stderr reaches the terminal through mpiexec, which stops forwarding the moment it
    // tears the job down: give it time to pass the message on first.
    std::thread::sleep(ABORT_DELAY);
    SimpleCommunicator::world().abort(code)
}
