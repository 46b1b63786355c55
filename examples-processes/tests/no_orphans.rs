//! The process pool used as a library, with this crate's binary as the worker program (a
//! test harness cannot be a worker itself). After every scenario, normal or not, this test
//! process must have no child left: no orphan, no zombie.
//!
//! One test function on purpose: children are counted per process, so scenarios must not
//! run side by side.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use examples_processes::pool::Executor;
use examples_processes::process_pool::ProcessPool;
use examples_processes::task::{Output, Task};
use examples_processes::worker::{self, Hello, PROTOCOL};
use shared::executor::{FutureError, as_completed};

const BIN: &str = env!("CARGO_BIN_EXE_examples-processes");

fn my_children() -> Vec<u32> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

fn assert_no_children(after: &str) {
    let left = my_children();
    assert!(left.is_empty(), "after {after}: children left {left:?}");
}

fn pool(n: usize) -> ProcessPool {
    ProcessPool::with_program(n, Path::new(BIN)).unwrap()
}

#[test]
fn no_child_outlives_its_pool_whatever_happens() {
    // Normal use: submit, map, as_completed, then leave the scope.
    {
        let p = pool(2);
        let futures: Vec<_> = (0..6).map(|x| p.submit(Task::Tiny(x))).collect();
        let mut got: Vec<u64> = as_completed(&futures, None)
            .map(|f| match f.unwrap().result(None) {
                Ok(Output::Tiny(v)) => v,
                other => panic!("{other:?}"),
            })
            .collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3, 4, 5, 6]);
        let mapped: Vec<_> = p.map((0..2500).map(Task::Tiny).collect(), 1000).collect();
        assert_eq!(mapped.len(), 2500);
        assert_eq!(mapped[2499], Ok(Output::Tiny(2500)));
        assert_eq!(p.pids().len(), 2);
    }
    assert_no_children("a normal end");

    // An error returned while tasks run: dropping the pool waits for them (Python's `with`).
    let failing = || -> anyhow::Result<()> {
        let p = pool(2);
        let _f = p.submit(Task::Sleep { secs: 0.2 });
        anyhow::bail!("something else went wrong")
    };
    assert!(failing().is_err());
    assert_no_children("an error in the caller");

    // A panic in the caller while a worker runs a long task: the workers are killed at once.
    let t = Instant::now();
    let caught = std::panic::catch_unwind(|| {
        let p = pool(2);
        let f = p.submit(Task::Sleep { secs: 60.0 });
        while !f.running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("the caller panics");
    });
    assert!(caught.is_err());
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "the pool waited for the sleep"
    );
    assert_no_children("a panic in the caller");

    // Workers that crash: only their own task fails, named; a replacement takes over.
    {
        let p = pool(2);
        let abort = p.submit(Task::Abort);
        match abort.result(Some(Duration::from_secs(60))) {
            Err(FutureError::Lost(msg)) => {
                assert!(msg.contains("task 0 (abort())"), "{msg}");
                assert!(msg.contains("SIGABRT"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        let long = p.submit(Task::Sleep { secs: 60.0 });
        while !long.running() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let (pid, id) = p.running().into_iter().next().expect("one task running");
        assert_eq!(id, 1);
        // SAFETY: kill(2) on a pid of our own pool's worker.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        match long.result(Some(Duration::from_secs(30))) {
            Err(FutureError::Lost(msg)) => assert!(msg.contains("SIGKILL"), "{msg}"),
            other => panic!("{other:?}"),
        }
        let ok: Vec<_> = p.map((0..10).map(Task::Tiny).collect(), 3).collect();
        assert!(ok.iter().all(Result::is_ok), "{ok:?}");
        // Two deaths, two replacements (a replacement is logged once it has said hello).
        let deadline = Instant::now() + Duration::from_secs(30);
        while p.incidents().len() < 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(p.incidents().len(), 4, "{:?}", p.incidents());
    }
    assert_no_children("crashed workers");

    // Bad worker programs: errors that say what happened, and nothing left behind.
    let err = ProcessPool::with_program(2, Path::new("/nonexistent/worker")).unwrap_err();
    assert!(
        format!("{err:#}").contains("cannot start worker"),
        "{err:#}"
    );
    let err = ProcessPool::with_program(0, Path::new(BIN)).unwrap_err();
    assert!(err.to_string().contains("at least 1 worker"), "{err}");
    assert_no_children("workers that cannot start");

    // A worker that says hello properly, then answers with garbage.
    let dir = tempfile::tempdir().unwrap();
    let hello = dir.path().join("hello.bin");
    let mut bytes = Vec::new();
    worker::send(
        &mut bytes,
        &Hello {
            pid: 0,
            protocol: PROTOCOL,
        },
    )
    .unwrap();
    std::fs::write(&hello, &bytes).unwrap();
    let garbage = dir.path().join("garbage.bin");
    let mut bytes = Vec::new();
    worker::write_frame(&mut bytes, &[0xff; 12]).unwrap();
    std::fs::write(&garbage, &bytes).unwrap();
    let script = dir.path().join("bad-worker.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat '{}'\nhead -c 4 >/dev/null\ncat '{}'\nexec sleep 60\n",
            hello.display(),
            garbage.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    {
        let p = ProcessPool::with_program(1, &script).unwrap();
        match p
            .submit(Task::Tiny(5))
            .result(Some(Duration::from_secs(30)))
        {
            Err(FutureError::Lost(msg)) => {
                assert!(msg.contains("malformed message"), "{msg}");
                assert!(msg.contains("task 0 (tiny(5))"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_no_children("a worker that sends garbage");
}
