use std::process::ExitCode;

use clap::Parser;
use examples_distributed::cli::Cli;
use examples_distributed::{cluster, launch, svd, worker, world};
use mpi::traits::Communicator;

fn main() -> ExitCode {
    // Everything that needs no MPI first: --help, bad flags (exit 2), --list-sections.
    let cli = Cli::parse();
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
    svd::one_blas_thread_per_rank();
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
        if let Err(e) = worker::serve(&comm, cli.args.panic_on_task) {
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
