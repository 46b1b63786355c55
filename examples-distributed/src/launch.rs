//! Started by an MPI launcher, or plainly? A plain start re-launches itself under `mpiexec`.
//!
//! An MPI program is normally started by a launcher (`mpiexec -n 4 prog`), which starts the N
//! processes and tells each one its rank through environment variables. Started plainly
//! (`cargo run`), MPI would give this program a world of one rank: a client with no worker.
//! Rather than run like that silently, the program starts `mpiexec -n N <itself> <same
//! arguments>`, says so on stderr, passes on its exit code, and kills the launcher (which then
//! stops every rank) if it is interrupted or dropped. All of this happens before MPI is
//! initialised, so this parent process never becomes an MPI process itself.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use shared::child::{self, Child};

/// Variables launchers set in every rank's environment: MPICH's Hydra (`PMI_RANK`, `PMI_SIZE`,
/// `PMI_FD`, `MPI_LOCALNRANKS`), PMIx-based launchers such as Open MPI's and Slurm's `srun`
/// (`PMIX_RANK`), Open MPI (`OMPI_COMM_WORLD_SIZE`). Any one of them means "under a launcher".
pub const LAUNCHER_ENV: [&str; 6] = [
    "PMI_RANK",
    "PMI_SIZE",
    "PMI_FD",
    "MPI_LOCALNRANKS",
    "PMIX_RANK",
    "OMPI_COMM_WORLD_SIZE",
];

/// Set on the re-launched job, so that a launcher which sets none of [`LAUNCHER_ENV`] cannot
/// make the program re-launch itself again and again.
pub const RELAUNCHED_ENV: &str = "EXAMPLES_DISTRIBUTED_RELAUNCHED";

/// The launcher to re-launch with (default `mpiexec` from `PATH`).
pub const MPIEXEC_ENV: &str = "EXAMPLES_DISTRIBUTED_MPIEXEC";

/// Whether this process was started by an MPI launcher (or re-launched by this program).
pub fn under_launcher(env: impl Fn(&str) -> Option<OsString>) -> bool {
    LAUNCHER_ENV
        .iter()
        .chain(&[RELAUNCHED_ENV])
        .any(|k| env(k).is_some_and(|v| !v.is_empty()))
}

/// Ranks of a re-launched job: one worker per core, plus rank 0, the client (which mostly
/// waits for results, so it needs no core of its own).
pub fn default_ranks() -> usize {
    shared::system::cores() + 1
}

/// The launcher's command line: `<mpiexec> -n <ranks> <program> <args...>`.
pub fn command_line(
    mpiexec: &OsStr,
    ranks: usize,
    program: &OsStr,
    args: &[OsString],
) -> Vec<OsString> {
    let mut line = vec![
        mpiexec.to_owned(),
        "-n".into(),
        ranks.to_string().into(),
        program.to_owned(),
    ];
    line.extend(args.iter().cloned());
    line
}

/// Shows a command line the way a user would type it (quoted for a POSIX shell).
pub fn show(line: &[OsString]) -> String {
    shell_words::join(line.iter().map(|a| a.to_string_lossy()))
}

/// What to do when `mpiexec` cannot be found: the exact commands.
pub fn missing_launcher_help(mpiexec: &OsStr, why: &str) -> String {
    format!(
        "examples-distributed: cannot start the MPI launcher `{}`: {why}.\n\
         This example runs as several MPI processes (ranks), started by MPICH's mpiexec.\n\
         Install MPICH (Debian/Ubuntu), or run scripts/setup.sh, which does the same:\n\
         \x20   sudo apt-get install -y mpich libmpich-dev\n\
         then run it either way:\n\
         \x20   cargo run --release -p examples-distributed -- [section]     (re-launches itself)\n\
         \x20   mpiexec -n 3 target/release/examples-distributed [section]\n\
         (set {MPIEXEC_ENV}=/path/to/mpiexec to use another launcher)",
        mpiexec.to_string_lossy()
    )
}

/// Re-launches this program under `mpiexec -n ranks` with the same arguments and returns the
/// launcher's exit code (130 if interrupted).
pub fn relaunch(ranks: usize) -> ExitCode {
    let mpiexec = std::env::var_os(MPIEXEC_ENV).unwrap_or_else(|| "mpiexec".into());
    let program: PathBuf = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "examples-distributed: cannot find this program's own path to re-launch it: {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let line = command_line(&mpiexec, ranks, program.as_os_str(), &args);
    eprintln!(
        "examples-distributed: not started by an MPI launcher, so re-launching under MPI with \
         {ranks} ranks (rank 0 runs the sections, {}; --ranks N to change):\n    {}",
        crate::world::workers_phrase(ranks),
        show(&line)
    );
    // Why here: this parent never reaches `CommonArgs::install`. On Ctrl-C (or SIGTERM) the
    // handler kills mpiexec, the one registered child, and mpiexec's proxies then end every
    // rank, so nothing of the job outlives this process; it exits 128 + signal.
    shared::interrupt::install();
    let mut cmd = Command::new(&line[0]);
    cmd.args(&line[1..])
        .env(RELAUNCHED_ENV, "1")
        .stdin(Stdio::null());
    // Why a `Child`: dropped (an error, a panic) or this parent killed outright, it takes
    // mpiexec with it, and mpiexec takes the ranks.
    let launcher = match Child::spawn(&mut cmd, "mpiexec") {
        Ok(c) => c,
        Err(e) => {
            let io = e.chain().find_map(|c| c.downcast_ref::<std::io::Error>());
            let why = match io {
                Some(io) if io.kind() == std::io::ErrorKind::NotFound => {
                    "it was not found (is MPICH installed?)".to_owned()
                }
                Some(io) => io.to_string(),
                None => format!("{e:#}"),
            };
            eprintln!("{}", missing_launcher_help(&mpiexec, &why));
            return ExitCode::FAILURE;
        }
    };
    let status = launcher.wait();
    if let Some(code) = shared::interrupt::exit_code() {
        return ExitCode::from(code);
    }
    match status {
        Ok(status) => child::exit_code(status),
        Err(e) => {
            eprintln!("examples-distributed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchers_are_recognised_by_their_variables() {
        let none = |_: &str| None;
        assert!(!under_launcher(none));
        let hydra = |k: &str| (k == "PMI_RANK").then(|| OsString::from("0"));
        assert!(under_launcher(hydra));
        let pmix = |k: &str| (k == "PMIX_RANK").then(|| OsString::from("3"));
        assert!(under_launcher(pmix));
        let relaunched = |k: &str| (k == RELAUNCHED_ENV).then(|| OsString::from("1"));
        assert!(under_launcher(relaunched));
        let empty = |k: &str| (k == "PMI_RANK").then(OsString::new);
        assert!(!under_launcher(empty), "an empty variable is no launcher");
    }

    #[test]
    fn the_command_line_forwards_every_argument() {
        let args = [
            "executor".into(),
            "--quick".into(),
            "--seed".into(),
            "7".into(),
        ];
        let line = command_line("mpiexec".as_ref(), 3, "/bin/ed".as_ref(), &args);
        assert_eq!(
            show(&line),
            "mpiexec -n 3 /bin/ed executor --quick --seed 7"
        );
        let odd = [OsString::from("it's here")];
        assert_eq!(
            show(&command_line("m".as_ref(), 2, "p".as_ref(), &odd)),
            r"m -n 2 p 'it'\''s here'"
        );
        assert!(default_ranks() >= 2);
    }

    #[test]
    fn a_missing_launcher_is_explained_with_the_commands_to_run() {
        let help = missing_launcher_help("mpiexec".as_ref(), "not found");
        assert!(
            help.contains("apt-get install -y mpich libmpich-dev"),
            "{help}"
        );
        assert!(
            help.contains("mpiexec -n 3 target/release/examples-distributed"),
            "{help}"
        );
    }
}
