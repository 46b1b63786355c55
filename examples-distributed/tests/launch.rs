//! Starting the binary: a plain start re-launches under mpiexec, a missing mpiexec is
//! explained, bad flags are usage errors, a panicking rank ends the whole job, and Ctrl-C on
//! a plain start stops it with no rank left behind.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use examples_distributed::launch::{LAUNCHER_ENV, MPIEXEC_ENV, RELAUNCHED_ENV};
use shared::testkit::{Run, run_command};

const BIN: &str = env!("CARGO_BIN_EXE_examples-distributed");
const TIMEOUT: Duration = Duration::from_secs(120);

/// The binary started plainly, as from a shell that is not inside an MPI job.
fn plain(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for k in LAUNCHER_ENV.iter().chain(&[RELAUNCHED_ENV, MPIEXEC_ENV]) {
        cmd.env_remove(k);
    }
    cmd
}

/// Processes still running this binary with `marker` among their arguments.
fn left_running(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a.ends_with("examples-distributed"))
            && args.iter().any(|a| a == marker)
        {
            found.push(args.join(" "));
        }
    }
    found
}

/// Waits until no process runs this binary with `marker` (a rank may take a moment to be
/// reaped after its job ended), failing with what is left after `TIMEOUT`.
fn assert_none_left(marker: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = left_running(marker);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "still running: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_plain_start_relaunches_itself_under_mpiexec() {
    let r = run_command(
        &mut plain(&["scatter_gather", "--quick", "--json", "--ranks", "3"]),
        TIMEOUT,
    );
    assert_eq!(
        r.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.stderr.contains("re-launching under MPI with 3 ranks"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("mpiexec -n 3 "), "{}", r.stderr);
    assert!(r.stderr.contains("job: 3 ranks"), "{}", r.stderr);
    // The forwarded --json still gives JSON only on stdout, and every check passed.
    let checks = r.json_of_kind("check");
    assert!(
        !checks.is_empty() && checks.iter().all(|c| c["ok"] == true),
        "{}",
        r.stdout
    );
}

#[test]
fn a_missing_mpiexec_is_explained_and_fails() {
    let r = run_command(
        plain(&["executor", "--quick"]).env(MPIEXEC_ENV, "/nonexistent/mpiexec"),
        TIMEOUT,
    );
    assert_ne!(r.code(), Some(0));
    for needle in [
        "cannot start the MPI launcher `/nonexistent/mpiexec`",
        "sudo apt-get install -y mpich libmpich-dev",
        "mpiexec -n 3 target/release/examples-distributed",
    ] {
        assert!(
            r.stderr.contains(needle),
            "missing {needle:?} in\n{}",
            r.stderr
        );
    }
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

#[test]
fn help_list_and_bad_flags_need_no_mpi() {
    let no_mpi = |args: &[&str]| {
        run_command(
            plain(args).env(MPIEXEC_ENV, "/nonexistent/mpiexec"),
            TIMEOUT,
        )
    };
    let r = no_mpi(&["--list-sections"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "executor\nscatter_gather\ncluster\n");

    let r = no_mpi(&["--help"]);
    assert_eq!(r.code(), Some(0));
    for s in [
        "executor",
        "scatter_gather",
        "cluster",
        "Beyond built-in executors",
        "--ranks",
    ] {
        assert!(r.stdout.contains(s), "{s} missing from --help");
    }
    assert!(
        !r.stdout.contains("panic-on-task"),
        "the failure injection stays hidden"
    );

    for args in [
        &["--ranks", "1"][..],
        &["--ranks", "lots"],
        &["no_such_section"],
        &["--workers", "0"],
        &["executor", "--scale", "-1"],
    ] {
        let r = no_mpi(args);
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("error"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn a_single_rank_job_is_refused_not_run_alone() {
    let r = run_command(
        Command::new("mpiexec").args(["-n", "1", BIN, "executor", "--quick"]),
        TIMEOUT,
    );
    assert_eq!(r.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("single rank"), "{}", r.stderr);
}

#[test]
fn a_panicking_worker_aborts_the_job_naming_rank_and_task() {
    // Task 3 is the third password of the first `map`: a worker rank, mid-batch.
    let marker = "--panic-on-task";
    let r: Run = run_command(
        Command::new("mpiexec")
            .args(["-n", "3", BIN, "executor", "--quick", "--json", marker, "3"]),
        TIMEOUT,
    );
    assert_ne!(r.code(), Some(0), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("panicked while running task 3 (scrypt(\"password 2\"))"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("aborting the whole MPI job"),
        "{}",
        r.stderr
    );
    let rank_named = ["rank 1 (pid", "rank 2 (pid"]
        .iter()
        .any(|n| r.stderr.contains(n));
    assert!(rank_named, "{}", r.stderr);
    // Rank 0's JSON lines up to the abort are whole lines.
    let _ = r.json_lines();
    // And no rank of the job is left running.
    assert_none_left(marker);
}

#[test]
fn ctrl_c_on_a_plain_start_stops_mpiexec_and_every_rank() {
    // The full-size executor section takes seconds per hash, so the job is surely mid-run.
    // The seed marks this test's processes (the abort test runs at the same time).
    let marker = "7130130";
    let mut child = plain(&["executor", "--seed", marker, "--ranks", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    // Rank 0 prints the job line (on stdout, without --json) once every worker rank has said
    // hello: then the whole job (parent, mpiexec, its proxy, 3 ranks) is up.
    let stdout = child.stdout.take().expect("piped");
    let (up_tx, up_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("job: 3 ranks") {
                let _ = up_tx.send(());
            }
        }
    });
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    if up_rx.recv_timeout(TIMEOUT).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the job never came up: {}",
            reader.join().unwrap_or_default()
        );
    }
    // SAFETY: kill(2) on our own child, which we have not reaped yet (its pid is still ours).
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    let status = child.wait().expect("wait for the binary");
    let stderr = reader.join().unwrap_or_default();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by Ctrl-C"), "{stderr}");
    assert_none_left(marker);
}
