//! # The same binary on several hosts
//!
//! Mirrors seed 002 (concurrent.futures), "Beyond built-in executors": ipyparallel,
//! mpi4py.futures and dask.distributed run the executor "on clusters (multiple nodes)".
//!
//! The lesson: with MPI, going from one machine to several changes the launch, not the
//! program. `mpiexec` reads a hostfile (`host:slots` per line), starts the ranks on those
//! hosts (over ssh, or through a batch scheduler), and they connect to each other; rank 0 and
//! its workers run the same code as on one machine. What every host needs is the same binary
//! and the same MPI runtime, not Rust or the source.
//!
//! The demonstration job is this binary with `--cluster-demo` ([`demo_rank`]); each rank's
//! hello is `world.rs`'s, and the launcher's environment variables are `launch.rs`'s.
//!
//! Run: `cargo run --release -p examples-distributed -- cluster`, or
//! `mpiexec -n 3 target/release/examples-distributed cluster`.
//!
//! Output: the ranks of this job with host and pid; a hostfile for a real cluster and the one
//! written for the demonstration; a real job of 4 ranks started from that hostfile on
//! 127.0.0.1 and localhost, each reporting host and pid, and what starting it cost; what must
//! be installed on each host, with the shared libraries this binary actually loads.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use mpi::topology::SimpleCommunicator;
use mpi::traits::Communicator;
use shared::child::{Child, describe_exit};
use shared::{Bench, Variant, say};

use crate::cli::Args;
use crate::launch::{LAUNCHER_ENV, MPIEXEC_ENV, RELAUNCHED_ENV};
use crate::wire::{self, Hello, TAG_HELLO};
use crate::world::{World, hello};

const KRATE: &str = "examples-distributed";

/// Ranks of the demonstration job.
pub const DEMO_RANKS: usize = 4;

/// The demonstration's hostfile: two "hosts" that are both this machine, two slots each.
pub const DEMO_HOSTFILE: &str = "127.0.0.1:2\nlocalhost:2\n";

/// What a hostfile for two real machines looks like.
pub const EXAMPLE_HOSTFILE: &str = "node01:2   # host:slots, one rank per core\nnode02:2\n";

/// The demonstration job is given this long to start, report and exit.
pub const DEMO_TIMEOUT: Duration = Duration::from_secs(60);

/// One rank of the demonstration job (`--cluster-demo`): every rank sends its hello to
/// rank 0, which prints them all as JSON lines for the `cluster` section to read.
pub fn demo_rank(comm: &SimpleCommunicator) -> ExitCode {
    let me = hello(comm.rank());
    if comm.rank() != 0 {
        return match wire::send(&comm.process_at_rank(0), TAG_HELLO, &me) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cluster demo, rank {}: {e:#}", me.rank);
                ExitCode::FAILURE
            }
        };
    }
    let others = match wire::receive_from_each::<Hello>(comm, TAG_HELLO) {
        Ok(others) => others,
        Err(e) => {
            eprintln!("cluster demo, rank 0: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    for h in std::iter::once(me).chain(others.into_iter().map(|(_, h)| h)) {
        let line = serde_json::to_string(&h).expect("a Hello is plain data");
        let _ = writeln!(out, "{line}");
    }
    ExitCode::SUCCESS
}

/// Prints this job's ranks, a hostfile for a real cluster, then starts a real job from a
/// hostfile of this machine and checks that its ranks are new processes on this host.
pub fn run(world: &World, args: &Args) -> anyhow::Result<()> {
    let mut s = Bench::new(KRATE, "cluster", &args.common);
    s.title("seed 002 Beyond built-in executors: clusters (multiple nodes)");

    say!("  This job: {} ranks", world.size());
    for h in world.ranks() {
        let role = if h.rank == 0 { "client" } else { "worker" };
        say!(
            "    rank {:>2}  {role}  host {:<12} pid {:>7}  ({} cores)",
            h.rank,
            h.host,
            h.pid,
            h.cores
        );
    }

    say!();
    say!("  A hostfile for two machines (what you would write for a real cluster):");
    for line in EXAMPLE_HOSTFILE.lines() {
        say!("    {line}");
    }
    say!("  started with: mpiexec -f hosts -n 4 /shared/bin/examples-distributed executor");

    // The demonstration: a real job started from a hostfile whose "hosts" are this machine.
    let dir =
        tempfile::tempdir().context("cannot create a temporary directory for the hostfile")?;
    let hostfile = dir.path().join("hosts");
    std::fs::write(&hostfile, DEMO_HOSTFILE)
        .with_context(|| format!("cannot write {}", hostfile.display()))?;
    say!();
    say!("  The demonstration's hostfile, {}:", hostfile.display());
    for line in DEMO_HOSTFILE.lines() {
        say!("    {line}");
    }
    s.workload(&format!(
        "a job of {DEMO_RANKS} ranks from the hostfile: start, report host and pid, exit"
    ));
    let program = std::env::current_exe().context("cannot find this program's own path")?;
    let mpiexec = std::env::var_os(MPIEXEC_ENV).unwrap_or_else(|| "mpiexec".into());
    let line: Vec<OsString> = vec![
        mpiexec,
        "-f".into(),
        hostfile.into_os_string(),
        "-n".into(),
        DEMO_RANKS.to_string().into(),
        program.into_os_string(),
        "--cluster-demo".into(),
    ];
    say!("  {}", crate::launch::show(&line));
    let v = Variant::baseline(
        format!("mpiexec -f hosts -n {DEMO_RANKS}"),
        DEMO_RANKS,
        DEMO_RANKS,
    );
    let stdout = s.measure(v, |_| run_demo(&line))?;
    let ranks: Vec<Hello> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("the demonstration job printed a line that is not a rank's hello")?;
    for h in &ranks {
        say!(
            "    demo rank {}  host {:<12} pid {:>7}",
            h.rank,
            h.host,
            h.pid
        );
    }
    let mut pids: Vec<u32> = ranks.iter().map(|h| h.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    let ours: Vec<u32> = world.ranks().iter().map(|h| h.pid).collect();
    s.check(
        &format!("the demo job's {DEMO_RANKS} ranks each reported once, each its own new process"),
        ranks.iter().map(|h| h.rank).eq(0..DEMO_RANKS as i32)
            && pids.len() == DEMO_RANKS
            && pids.iter().all(|p| !ours.contains(p)),
        format!("pids {pids:?}"),
    );
    let here = &world.ranks()[0].host;
    s.check(
        "127.0.0.1 and localhost are this host",
        ranks.iter().all(|h| &h.host == here),
        format!("host {here}"),
    );

    say!();
    say!("  What every host needs (and what it does not):");
    for need in NEEDS {
        say!("    - {need}");
    }
    let libs = shared_libraries(Path::new(&std::env::current_exe()?));
    if !libs.is_empty() {
        say!("  The shared libraries this binary loads beyond the C library (ldd):");
        for l in libs {
            say!("    {l}");
        }
    }
    say!();
    say!("  On a cluster with a batch scheduler (Slurm), no hostfile is written: the scheduler");
    say!("  gives the job its hosts, and inside the job script `mpiexec -n $SLURM_NTASKS");
    say!("  examples-distributed executor` reads them from the allocation (Hydra knows Slurm).");
    Ok(())
}

/// What each host must have.
pub const NEEDS: [&str; 5] = [
    "the same binary at the same path (copy it, or use a shared filesystem such as NFS); \
     not Rust, not cargo, not the source",
    "the same MPI runtime as the build (here MPICH's libmpich.so.12, package `mpich`) and \
     the other libraries below (OpenBLAS: package `libopenblas0`)",
    "the same CPU architecture, and a C library no older than the build machine's",
    "a way for mpiexec to start processes there: passwordless ssh from the launching host \
     (Hydra's default), or a batch scheduler such as Slurm",
    "host names that resolve on every host, and TCP open between the hosts (MPI connects \
     the ranks to each other on ephemeral ports)",
];

/// The libraries `ldd` lists for `program` that a bare host may lack (MPI, BLAS, Fortran
/// runtime, UCX, hwloc). Empty if `ldd` is not available.
pub fn shared_libraries(program: &Path) -> Vec<String> {
    let Ok(out) = Command::new("ldd").arg(program).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| {
            ["mpi", "blas", "lapack", "gfortran", "ucx", "ucp", "hwloc"]
                .iter()
                .any(|k| l.contains(k))
        })
        .map(|l| l.split(" (0x").next().unwrap_or(l).to_owned())
        .collect()
}

/// Runs the demonstration job and returns its stdout. The job is a fresh one: the variables
/// that tie this process to the current job are removed, or the new mpiexec would mistake
/// itself for part of it.
fn run_demo(line: &[OsString]) -> anyhow::Result<String> {
    let mut cmd = Command::new(&line[0]);
    cmd.args(&line[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        let job_var = LAUNCHER_ENV.contains(&k.as_ref())
            || k == RELAUNCHED_ENV
            || ["PMI_", "PMIX_", "MPIR_", "MPI_LOCAL", "HYDRA_", "OMPI_"]
                .iter()
                .any(|p| k.starts_with(p));
        if job_var {
            cmd.env_remove(&key);
        }
    }
    // Why a `Child`: on a timeout, an error or Ctrl-C it kills mpiexec, which stops the
    // demo's ranks, so nothing of the demonstration outlives the section.
    let child = Child::spawn(&mut cmd, "the demonstration's mpiexec")?;
    let mut out_pipe = child.take_stdout().context("stdout is piped")?;
    let mut err_pipe = child.take_stderr().context("stderr is piped")?;
    // Why two reader threads: both pipes must be drained at once, or a job that fills its
    // stderr pipe would block while we wait for its stdout.
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let Some(status) = child.wait_timeout(DEMO_TIMEOUT) else {
        bail!("the demonstration job did not finish within {DEMO_TIMEOUT:?} and was stopped");
    };
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    if !status.success() {
        bail!(
            "the demonstration job {}:\n{stderr}",
            describe_exit(Some(status))
        );
    }
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_hostfile_has_the_ranks_it_promises() {
        let slots: usize = DEMO_HOSTFILE
            .lines()
            .map(|l| {
                l.rsplit(':')
                    .next()
                    .unwrap()
                    .trim()
                    .parse::<usize>()
                    .unwrap()
            })
            .sum();
        assert_eq!(slots, DEMO_RANKS);
    }

    #[test]
    fn ldd_lists_the_libraries_beyond_libc() {
        // The test binary links OpenBLAS too (it calls it); MPI only if it calls MPI.
        let libs = shared_libraries(&std::env::current_exe().unwrap());
        if Command::new("ldd").arg("--version").output().is_ok() {
            assert!(libs.iter().any(|l| l.contains("libopenblas")), "{libs:?}");
        }
        assert!(libs.iter().all(|l| !l.contains("(0x")), "{libs:?}");
    }
}
