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
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

/// How long the launcher gets to stop its ranks after an interrupt before it is killed.
pub const GRACE: Duration = Duration::from_secs(3);

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

/// Shows a command line the way a user would type it.
pub fn show(line: &[OsString]) -> String {
    line.iter()
        .map(|a| {
            let a = a.to_string_lossy();
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,".contains(c))
            {
                a.into_owned()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The launcher process; dropping it kills it (mpiexec then stops every rank it started).
#[derive(Debug)]
struct Launcher(Child);

impl Drop for Launcher {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Re-launches this program under `mpiexec -n ranks` with the same arguments and returns the
/// launcher's exit code.
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
    let workers = match ranks - 1 {
        1 => "rank 1 is the worker".to_owned(),
        n => format!("ranks 1-{n} are workers"),
    };
    eprintln!(
        "examples-distributed: not started by an MPI launcher, so re-launching under MPI with \
         {ranks} ranks (rank 0 runs the sections, {workers}; --ranks N to change):\n    {}",
        show(&line)
    );
    // Ctrl-C reaches mpiexec too (same process group), and it stops the ranks; the handler
    // only makes sure this parent waits for that, and kills mpiexec if it takes too long.
    if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)) {
        eprintln!("examples-distributed: warning: cannot install the Ctrl-C handler: {e}");
    }
    let child = Command::new(&line[0])
        .args(&line[1..])
        .env(RELAUNCHED_ENV, "1")
        .stdin(Stdio::null())
        .spawn();
    let mut launcher = match child {
        Ok(c) => Launcher(c),
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "it was not found (is MPICH installed?)".to_owned(),
                _ => e.to_string(),
            };
            eprintln!("{}", missing_launcher_help(&mpiexec, &why));
            return ExitCode::FAILURE;
        }
    };
    let mut deadline: Option<Instant> = None;
    let status = loop {
        match launcher.0.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                eprintln!("examples-distributed: cannot wait for mpiexec: {e}");
                return ExitCode::FAILURE;
            }
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            let at = *deadline.get_or_insert_with(|| Instant::now() + GRACE);
            if Instant::now() >= at {
                eprintln!(
                    "examples-distributed: interrupted: killing mpiexec, which stops every rank"
                );
                drop(launcher);
                return ExitCode::from(130);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if INTERRUPTED.load(Ordering::SeqCst) {
        return ExitCode::from(130);
    }
    exit_code(status)
}

/// The launcher's status as this process's exit code (a signal `s` becomes `128 + s`).
pub fn exit_code(status: ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        (None, Some(sig)) => ExitCode::from(u8::try_from(128 + sig).unwrap_or(1)),
        (None, None) => ExitCode::FAILURE,
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
    fn exit_codes_and_signals_pass_through() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(ExitStatus::from_raw(0)), ExitCode::SUCCESS);
        assert_eq!(exit_code(ExitStatus::from_raw(70 << 8)), ExitCode::from(70));
        assert_eq!(exit_code(ExitStatus::from_raw(9)), ExitCode::from(137));
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
