//! # Long-running jobs, one process each
//!
//! Mirrors Parallel Programming in Python (seed 001), "Speed up long running jobs using
//! Process".
//!
//! The lesson: five jobs that wait 5, 2, 4, 1 and 5 s take their sum (17 s) one after the
//! other, and only the longest (5 s) when each runs in a process of its own; they then finish
//! in order of length, not in the order they were started. In Rust the child is this binary
//! started again with its [`Job`] as orders (`worker.rs`), and it prints its own completion
//! line, as Python's child does, straight to the terminal it inherited.
//!
//! Run: `cargo run --release -p examples-processes -- long_running` (`--scale 0.1` for
//! shorter sleeps; `--workers` does not apply: one process per job, as in the tutorial).
//!
//! Output: the five completion lines in start order (serial), then in order of length
//! (processes), the completion order, and a table where the processes' wall time is the
//! longest job plus a few milliseconds of process start-up.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use shared::child::{Child, describe_exit};
use shared::measure::ideal;
use shared::workloads::FAKE_RUNTIMES_S;
use shared::{Bench, Variant, say};

use crate::cli::{Args, Role};
use crate::worker;

/// The tutorial's `long_running_process(process_id, task_time)`: waits, then says so.
/// `second_s` is how long one tutorial second lasts in this run.
fn long_running_process(process_id: usize, task_time_s: f64, second_s: f64) -> String {
    std::thread::sleep(Duration::from_secs_f64(task_time_s * second_s));
    format!("Process id {process_id} - Complete - Task time: {task_time_s}s")
}

/// One job's orders ([`Role::Job`]): the tutorial's
/// `Process(target=long_running_process, args=(process_id, task_time))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// `process_id`.
    pub id: usize,
    /// `task_time`, in tutorial seconds.
    pub task_time_s: f64,
    /// How long one tutorial second lasts in this run.
    pub second_s: f64,
}

/// The child's side: one job, its line, exit.
pub fn job_main(job: Job) -> anyhow::Result<()> {
    let line = long_running_process(job.id, job.task_time_s, job.second_s);
    // The child prints for itself, to the stdout it inherited from the parent.
    writeln!(std::io::stdout().lock(), "{line}").context("printing the completion line")?;
    Ok(())
}

/// One child per job, all started at once; returns the job ids in completion order.
fn one_process_each(
    runtimes: &[f64],
    second_s: f64,
    spans: &shared::Spans,
) -> anyhow::Result<Vec<usize>> {
    let program = worker::program()?;
    let mut running = Vec::new();
    for (id, &task_time_s) in runtimes.iter().enumerate() {
        let job = Job {
            id,
            task_time_s,
            second_s,
        };
        let mut cmd = worker::command(&program, &Role::Job(job))?;
        // The child writes to our stdout, like Python's; under --json that is stderr, so
        // that stdout holds only JSON lines.
        let out = if shared::output::is_json() {
            Stdio::from(std::io::stderr())
        } else {
            Stdio::inherit()
        };
        cmd.stdin(Stdio::null()).stdout(out);
        // Why a process per job: each waits on its own, so the waits overlap. The Child is
        // our guard: if anything below fails, dropping it kills and reaps the child.
        let child = Child::spawn(&mut cmd, format!("job {id}"))?;
        running.push((id, Instant::now(), child));
    }
    // `p.join()` for all of them, noting who finishes first (a 1 ms poll is far below the
    // jobs' differences and costs nothing measurable).
    let mut order = Vec::new();
    while !running.is_empty() {
        shared::interrupt::check()?;
        let mut k = 0;
        while k < running.len() {
            if let Some(status) = running[k].2.try_wait() {
                let (i, start, child) = running.swap_remove(k);
                spans.record(format!("process {i}"), i as u64, start, Instant::now());
                if !status.success() {
                    bail!(
                        "job {i} (pid {}) {}",
                        child.pid(),
                        describe_exit(Some(status))
                    );
                }
                order.push(i);
            } else {
                k += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(order)
}

/// Runs the five jobs one after the other, then one process each, and shows the order in
/// which the processes finished.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let second_s = c.tutorial_second();
    let runtimes = FAKE_RUNTIMES_S;
    let mut s = Bench::new("examples-processes", "long_running", c);
    s.title("seed 001 Speed up long running jobs using Process");
    say!(
        "  five jobs of {runtimes:?} tutorial seconds; one tutorial second lasts {:.3} s here",
        second_s
    );

    s.workload("five fake jobs, 5+2+4+1+5 s");
    s.measure(Variant::serial(runtimes.len()), |_| {
        for (i, &t) in runtimes.iter().enumerate() {
            say!("{}", long_running_process(i, t, second_s));
        }
    });

    let scaled: Vec<f64> = runtimes.iter().map(|t| t * second_s).collect();
    let v = Variant::new("5 processes, one per job", runtimes.len(), runtimes.len())
        .ideal_s(ideal::longest(&scaled));
    let order = s.measure(v, |ctx| one_process_each(&runtimes, second_s, ctx.spans()))?;

    let longest = ideal::longest(&scaled);
    let wall = s.last().map_or(0.0, |m| m.wall_s);
    say!();
    say!("  completion order (job ids): {order:?}");
    say!(
        "  total {:.3} s = longest job {:.3} s + {:.1} ms (starting 5 processes, waiting on them)",
        wall,
        longest,
        (wall - longest) * 1e3
    );
    let lengths: Vec<f64> = order.iter().map(|&i| runtimes[i]).collect();
    s.check(
        "the shortest job finishes first, the longest last",
        lengths.windows(2).all(|w| w[0] <= w[1]),
        format!("task times in completion order: {lengths:?}"),
    );
    s.check(
        "every job ran once",
        {
            let mut o = order.clone();
            o.sort_unstable();
            o == (0..runtimes.len()).collect::<Vec<_>>()
        },
        "",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_line_matches_the_tutorials() {
        assert_eq!(
            long_running_process(3, 1.0, 0.0),
            "Process id 3 - Complete - Task time: 1s"
        );
    }
}
