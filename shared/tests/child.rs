//! Owned child processes: killed and reaped when dropped, pipes taken once, exits described.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use shared::child::{Child, describe_exit, exit_code, live_children};

fn alive(pid: u32) -> bool {
    // Signal 0 only asks whether the process exists (a zombie counts, so reaping matters).
    // SAFETY: kill with signal 0 sends nothing.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn dropping_a_child_kills_and_reaps_it() {
    let child = Child::spawn(Command::new("sleep").arg("30"), "sleeper").unwrap();
    let pid = child.pid();
    assert!(alive(pid));
    assert!(live_children() >= 1);
    drop(child);
    assert!(!alive(pid), "pid {pid} still exists after drop");
}

#[test]
fn close_returns_the_polite_exit_or_kills() {
    let quick = Child::spawn(&mut Command::new("true"), "true").unwrap();
    assert_eq!(
        describe_exit(quick.close(Duration::from_secs(5))),
        "exited with code 0"
    );
    let stubborn = Child::spawn(Command::new("sleep").arg("30"), "sleeper").unwrap();
    let status = stubborn.close(Duration::from_millis(1));
    assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    assert!(describe_exit(status).contains("SIGKILL"));
}

#[test]
fn pipes_can_be_taken_once() {
    let mut cmd = Command::new("cat");
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let child = Child::spawn(&mut cmd, "cat").unwrap();
    assert!(child.take_stdin().is_some() && child.take_stdin().is_none());
    assert!(child.take_stdout().is_some());
    assert_eq!(
        describe_exit(child.close(Duration::from_secs(5))),
        "exited with code 0",
        "cat ends when its stdin closes"
    );
}

#[test]
fn a_missing_program_is_an_error_that_names_it() {
    let err = Child::spawn(&mut Command::new("/no/such/program"), "ghost").unwrap_err();
    assert!(format!("{err:#}").contains("cannot start ghost"), "{err:#}");
}

#[test]
fn exit_codes_follow_the_shell_convention() {
    let status = |code| ExitStatus::from_raw(code);
    assert_eq!(exit_code(status(3 << 8)), std::process::ExitCode::from(3));
    assert_eq!(
        exit_code(status(libc::SIGKILL)),
        std::process::ExitCode::from(137)
    );
}
