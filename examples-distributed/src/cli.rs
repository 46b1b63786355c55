//! The command line: sections, and the flags every section understands.

use clap::ValueEnum;
use shared::CommonArgs;

/// What `--help` says this binary is (the first paragraph is the `-h` summary).
pub const ABOUT: &str = "The executor lesson on a real distributed engine: MPI (rsmpi on MPICH), \
    measured beside seed 002's \"Beyond built-in executors\"(mpi4py.futures, ipyparallel, \
    dask.distributed).\n\nRuns every section in order, or the one named. Rank 0 is the client \
    that runs the sections; every other rank is a worker. Start it under an MPI launcher \
    (`mpiexec -n 4 target/release/examples-distributed executor`), or plainly: then it \
    re-launches itself under `mpiexec -n <--ranks>` and says so.";

/// The command line: the section to run (default: all, in order) and [`Args`].
pub type Cli = shared::cli::Cli<Section, Args>;

/// Everything a section may look at.
#[derive(clap::Args, Debug, Clone, PartialEq, Default)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Ranks to start when this program launches itself under mpiexec (rank 0 is the
    /// client, the others are workers; default: cores + 1). Under a launcher, `-n` decides.
    #[arg(long, global = true, value_name = "N", value_parser = parse_ranks)]
    pub ranks: Option<usize>,

    /// Failure injection for the tests: the worker rank that runs the task with this id
    /// (0 = the first task submitted in this run) panics, which must abort the whole job.
    #[arg(long, global = true, value_name = "ID", hide = true)]
    pub panic_on_task: Option<u64>,

    /// Internal: the `cluster` section's demonstration job (each rank reports its host and
    /// pid to rank 0, which prints them as JSON lines). Started by that section.
    #[arg(long, hide = true)]
    pub cluster_demo: bool,
}

impl AsRef<CommonArgs> for Args {
    fn as_ref(&self) -> &CommonArgs {
        &self.common
    }
}

/// The sections, in running order, each with the tutorial section it mirrors.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum Section {
    /// An mpi4py.futures-style pool: rank 0 submits, idle worker ranks ask for work;
    /// submit, map (input order), as_completed on the scrypt batch and the SVD batch; the
    /// cost of one task's round trip (002 "Beyond built-in executors", "An illustrative
    /// example", "Exercise", "Gotchas")
    Executor,
    /// The SVD batch split once with collective scatter/gather (static) vs the dynamic
    /// pool, on uneven and on tiny even tasks: when each wins (002 "Exercise", "Beyond
    /// built-in executors")
    ScatterGather,
    /// The same binary on many hosts: a hostfile, what every host needs, and a real job of
    /// 4 ranks on 127.0.0.1 reporting host and pid (002 "Beyond built-in executors":
    /// "clusters (multiple nodes)")
    Cluster,
}

impl Section {
    /// Runs this section on rank 0 (the workers serve it from their own loop).
    pub fn run(self, world: &crate::world::World, args: &Args) -> anyhow::Result<()> {
        match self {
            Section::Executor => crate::executor::run(world, args),
            Section::ScatterGather => crate::scatter_gather::run(world, args),
            Section::Cluster => crate::cluster::run(world, args),
        }
    }
}

fn parse_ranks(s: &str) -> Result<usize, String> {
    let v: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number of ranks"))?;
    match v {
        0 | 1 => Err(format!(
            "{v} rank(s) cannot make a pool: rank 0 is the client, so at least 2 are needed"
        )),
        2..=256 => Ok(v),
        _ => Err(format!(
            "{v} ranks on one machine is more than this example supports (at most 256)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_for(
            "examples-distributed",
            ABOUT,
            std::iter::once("examples-distributed").chain(args.iter().copied()),
        )
    }

    #[test]
    fn sections_and_ranks_parse() {
        let cli = parse(&["scatter_gather", "--ranks", "3", "--quick"]).unwrap();
        assert_eq!(cli.section, Some(Section::ScatterGather));
        assert_eq!(cli.args.ranks, Some(3));
        assert!(cli.args.common.quick);
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.section, None);
        assert_eq!(cli.args.ranks, None);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["--ranks", "1"][..],
            &["--ranks", "0"],
            &["--ranks", "many"],
            &["--ranks", "100000"],
            &["no_such_section"],
            &["--workers", "0"],
        ] {
            let err = parse(bad).expect_err(&format!("{bad:?} should be rejected"));
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }
}
