//! What happens when things go wrong: a worker killed mid-run, Ctrl-C, workers that cannot
//! start, malformed messages. Every case must end, with a clear message, and leave no child.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use examples_processes::cli::Role;
use examples_processes::worker;
use shared::testkit::run_command;

const BIN: &str = env!("CARGO_BIN_EXE_examples-processes");

/// Orphans of the binary under test are re-parented to this test process instead of init,
/// so a leftover worker would still be visible in /proc (running, or as our zombie).
fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) only sets a flag on this process.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    assert_eq!(rc, 0);
}

/// Children of `pid` (all its threads).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits until every pid is gone (reaped by its parent), or fails after 10 s.
fn assert_all_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "left behind: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the binary with stdout and stderr piped, each into a channel of lines.
fn spawn_with_lines(
    args: &[&str],
) -> (
    std::process::Child,
    mpsc::Receiver<String>,
    mpsc::Receiver<String>,
) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    (child, out, err)
}

fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_exit(child: &mut std::process::Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the binary did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_worker_killed_mid_run_loses_no_task() {
    become_subreaper();
    let (mut child, json, human) = spawn_with_lines(&["queue_workers", "--quick", "--json"]);
    let mut seen = Vec::new();
    // Wait for the first finished task: every worker is busy from then on.
    loop {
        let line = human
            .recv_timeout(Duration::from_secs(60))
            .expect("no task finished");
        let first = line.starts_with("worker id: ");
        seen.push(line);
        if first {
            break;
        }
    }
    let workers = children_of(child.id());
    assert_eq!(workers.len(), 3, "{workers:?}");
    let victim = workers[1];
    // SAFETY: kill(2) on a pid we just read as a child of our child.
    let rc = unsafe { libc::kill(victim as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0);
    let status = wait_exit(&mut child, Duration::from_secs(120));
    // The reader threads end with the pipes; wait for them so that no line is missed.
    seen.extend(human.iter());
    let text = seen.join("\n");
    assert!(status.success(), "{text}");
    assert!(
        text.contains(&format!("(pid {victim}) was killed by signal 9 (SIGKILL)")),
        "{text}"
    );
    if let Some(l) = seen.iter().find(|l| l.contains("put back on the queue")) {
        assert!(l.contains(&format!("(pid {victim})")), "{l}");
    }
    // Every one of the 26 tasks is reported done exactly once, by the lines and the check.
    let mut ids: Vec<u64> = seen
        .iter()
        .filter_map(|l| l.strip_prefix("worker id: "))
        .filter_map(|l| l.split("task id: ").nth(1))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    ids.sort_unstable();
    let mut want: Vec<u64> = shared::workloads::queue_tasks(42)
        .iter()
        .map(|t| t.id)
        .collect();
    want.sort_unstable();
    assert_eq!(ids, want, "{text}");
    let checks: Vec<serde_json::Value> = json
        .iter()
        .map(|l| serde_json::from_str(&l).unwrap())
        .filter(|v: &serde_json::Value| v["kind"] == "check")
        .collect();
    let once = checks
        .iter()
        .find(|c| c["name"] == "each task done exactly once")
        .expect("the exactly-once check");
    assert_eq!(once["ok"], true, "{once}");
    assert_all_gone(&workers);
}

#[test]
fn ctrl_c_stops_the_run_at_once_and_its_workers_with_it() {
    become_subreaper();
    let (mut child, out, err) = spawn_with_lines(&["queue_workers"]);
    loop {
        let line = out
            .recv_timeout(Duration::from_secs(60))
            .expect("the workers did not start");
        if line.starts_with("Worker 2 starting") {
            break;
        }
    }
    let workers = children_of(child.id());
    assert_eq!(workers.len(), 3, "{workers:?}");
    // SAFETY: kill(2) on our own child with SIGINT.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    // 128 + SIGINT, as a shell reports it; the tasks of this run last minutes, so an exit
    // within the timeout means the run was stopped, not finished.
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130));
    let err: Vec<String> = err.iter().collect();
    assert!(
        err.iter().any(|l| l.contains("interrupted")),
        "stderr {err:?}"
    );
    assert_all_gone(&workers);
}

#[test]
fn workers_that_cannot_start_are_a_clear_error() {
    for (program, expect) in [
        ("/nonexistent/worker", "No such file or directory"),
        ("/bin/true", "before its handshake"),
    ] {
        let r = run_command(
            Command::new(BIN)
                .args(["pool", "--quick"])
                .env("EXAMPLES_PROCESSES_WORKER", program),
            Duration::from_secs(60),
        );
        assert_eq!(r.code(), Some(1), "{}", r.stderr);
        assert!(r.stderr.contains("error in section pool"), "{}", r.stderr);
        assert!(r.stderr.contains(expect), "{expect}: {}", r.stderr);
    }
}

#[test]
fn a_worker_given_a_malformed_message_exits_with_an_error() {
    let orders = worker::orders_arg(&Role::Pool).unwrap();
    let mut child = Command::new(BIN)
        .args(["__worker", &orders])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let hello: worker::Hello = worker::recv(&mut out).unwrap().unwrap();
    assert_eq!(hello.pid, child.id());
    let mut input = child.stdin.take().unwrap();
    worker::write_frame(&mut input, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap();
    input.flush().unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(2));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("cannot read"), "{err}");
    assert!(err.contains("malformed"), "{err}");
}

#[test]
fn workers_without_orders_or_with_bad_orders_exit_2() {
    let not_a_role = worker::orders_arg(&"a string, not a Role").unwrap();
    for args in [
        &["__worker"][..],
        &["__worker", "nonsense"],
        &["__worker", &not_a_role],
    ] {
        let r = run_command(Command::new(BIN).args(args), Duration::from_secs(30));
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("worker"), "{}", r.stderr);
        assert!(r.stderr.contains("orders"), "{}", r.stderr);
    }
}
