use std::process::ExitCode;

use examples_distributed::cli::{ABOUT, Cli};
use examples_distributed::{cluster, launch, scatter_gather, worker, world};
use mpi::traits::Communicator;

fn main() -> ExitCode {
    // Everything that needs no MPI first: --help, bad flags (exit 2), --list-sections.
    let cli = Cli::parse_for("examples-distributed", ABOUT);
    if cli.args.common.list_sections {
        return shared::cli::run_sections(
            "examples-distributed",
            cli.section,
            &cli.args.common,
            |_| Ok(()),
        );
    }
    // Then, still before MPI starts: alone, not under a launcher? Re-launch under mpiexec.
    if !launch::under_launcher(|k| std::env::var_os(k)) {
        return launch::relaunch(cli.args.ranks.unwrap_or_else(launch::default_ranks));
    }
    cli.args.common.install();
    run_rank(&cli)
}

/// One rank of the job: MPI is initialised here and finalised when `universe` drops, after
/// the exit code is known and before the process exits.
fn run_rank(cli: &Cli) -> ExitCode {
    // THREAD_MULTIPLE: rank 0's pool talks to the workers from a dispatcher thread, and a
    // panic on any thread calls MPI_Abort.
    let Some((universe, threading)) = mpi::initialize_with_threading(mpi::Threading::Multiple)
    else {
        eprintln!("examples-distributed: MPI could not be initialised (was it already?)");
        return ExitCode::FAILURE;
    };
    if threading != mpi::Threading::Multiple {
        eprintln!(
            "examples-distributed: this MPI library offers {threading:?} threading, and the pool \
             needs MPI_THREAD_MULTIPLE (MPICH from Debian has it)"
        );
        return ExitCode::FAILURE;
    }
    let comm = universe.world();
    let rank = comm.rank();
    world::abort_job_on_panic(rank);
    // One BLAS thread per rank: MPI already puts one rank on each core, and OpenBLAS would
    // otherwise start one thread per core inside every rank, asking for cores x cores threads.
    shared::linalg::set_threads(1);
    if cli.args.cluster_demo {
        return cluster::demo_rank(&comm);
    }
    if comm.size() < 2 {
        eprintln!(
            "examples-distributed: this job has a single rank, so rank 0 would have no worker. \
             Start at least 2, e.g.: mpiexec -n 3 {} [section]",
            std::env::args().next().unwrap_or_default()
        );
        return ExitCode::from(2);
    }
    if rank != 0 {
        // A worker serves the pool's tasks, and takes its side of each static round that
        // rank 0 calls (the lesson's own code, handed in here so the loop needs no lesson).
        let served = worker::serve(&comm, cli.args.panic_on_task, |plan| {
            scatter_gather::worker_side(&comm, &plan)
        });
        if let Err(e) = served {
            // Rank 0 may be waiting for this worker: end the whole job rather than hang it.
            eprintln!("examples-distributed: worker rank {rank}: {e:#}; aborting the job");
            world::abort_job(world::PANIC_EXIT);
        }
        return ExitCode::SUCCESS;
    }
    if let Some(n) = cli.args.ranks.filter(|&n| n != comm.size() as usize) {
        eprintln!(
            "examples-distributed: note: --ranks {n} is ignored under a launcher; this job has \
             the {} ranks mpiexec started",
            comm.size()
        );
    }
    let world = match world::World::client(comm) {
        Ok(w) => w,
        Err(e) => {
            // The workers are serving and would wait for ever: end the whole job.
            eprintln!("examples-distributed: {e:#}; aborting the job");
            world::abort_job(1);
        }
    };
    let code =
        shared::cli::run_sections("examples-distributed", cli.section, &cli.args.common, |s| {
            s.run(&world, &cli.args)
        });
    world.stop_workers();
    code
}
