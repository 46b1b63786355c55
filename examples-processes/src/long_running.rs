//! # Long-running jobs, one process each
//!
//! Mirrors seed 001 (Parallel Programming in Python), "Speed up long running jobs using
//! Process".
//!
//! The lesson: five jobs that wait 5, 2, 4, 1 and 5 s take their sum (17 s) one after the
//! other, and only the longest (5 s) when each runs in a process of its own; they then finish
//! in order of length, not in the order they were started. In Rust the child is this binary
//! started again (`__worker job <id> <secs>`), and it prints its own completion line, as
//! Python's child does, straight to the terminal it inherited.
//!
//! Run: `cargo run --release -p examples-processes -- long_running` (`--scale 0.1` for
//! shorter sleeps; `--workers` does not apply: one process per job, as in the tutorial).
//!
//! Output: the five completion lines in start order (serial), then in order of length
//! (processes), the completion order, and a table where the processes' wall time is the
//! longest job plus a few milliseconds of process start-up.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shared::measure::ideal;
use shared::workloads::FAKE_RUNTIMES_S;
use shared::{Section, Variant, say};

use crate::children::{self, Proc, describe_exit, worker_command, worker_program};
use crate::cli::Args;

/// The tutorial's `long_running_process(process_id, task_time)`: waits, then says so.
/// `second_s` is how long one tutorial second lasts in this run.
fn long_running_process(process_id: usize, task_time_s: f64, second_s: f64) -> String {
    std::thread::sleep(Duration::from_secs_f64(task_time_s * second_s));
    format!("Process id {process_id} - Complete - Task time: {task_time_s}s")
}

/// The child's side (`__worker job <id> <task time> <second>`): one job, its line, exit.
pub fn job_main(args: &[String]) -> anyhow::Result<()> {
    let [id, secs, second] = args else {
        bail!("expected `job <id> <task time> <length of a second>`, got {args:?}");
    };
    let id: usize = id.parse().context("job id")?;
    let secs: f64 = secs.parse().context("task time")?;
    let second: f64 = second.parse().context("length of a second")?;
    let line = long_running_process(id, secs, second);
    // The child prints for itself, to the stdout it inherited from the parent.
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{line}").context("printing the completion line")?;
    Ok(())
}

/// One child per job, all started at once; returns the job ids in completion order.
fn one_process_each(
    runtimes: &[f64],
    second_s: f64,
    spans: &shared::Spans,
) -> anyhow::Result<Vec<usize>> {
    let program = worker_program()?;
    let mut running = Vec::new();
    for (i, &t) in runtimes.iter().enumerate() {
        let args = [i.to_string(), t.to_string(), second_s.to_string()];
        let mut cmd = worker_command(&program, "job", &args);
        // The child writes to our stdout, like Python's; under --json that is stderr, so
        // that stdout holds only JSON lines.
        let out = if shared::output::is_json() {
            Stdio::from(std::io::stderr())
        } else {
            Stdio::inherit()
        };
        cmd.stdin(Stdio::null()).stdout(out);
        // Why a process per job: each waits on its own, so the waits overlap. The Proc is
        // our guard: if anything below fails, dropping it kills and reaps the child.
        let started = Proc::spawn(&mut cmd, format!("job {i}"))?;
        running.push((i, Instant::now(), started.proc));
    }
    // `p.join()` for all of them, noting who finishes first (a 1 ms poll is far below the
    // jobs' differences and costs nothing measurable).
    let mut order = Vec::new();
    while !running.is_empty() {
        if children::shutdown_requested() {
            bail!("interrupted by Ctrl-C");
        }
        let mut k = 0;
        while k < running.len() {
            if let Some(status) = running[k].2.try_status() {
                let (i, start, proc) = running.swap_remove(k);
                spans.record(format!("process {i}"), i as u64, start, Instant::now());
                if !status.success() {
                    bail!(
                        "job {i} (pid {}) {}",
                        proc.pid(),
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

/// The section.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let second_s = crate::tutorial_second_s(c);
    let runtimes = FAKE_RUNTIMES_S;
    let mut s = Section::new("examples-processes", "long_running", c);
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

    #[test]
    fn bad_job_arguments_are_errors() {
        assert!(job_main(&["x".into(), "1".into(), "0".into()]).is_err());
        assert!(job_main(&["1".into()]).is_err());
        assert!(job_main(&["1".into(), "0".into(), "0".into()]).is_ok());
    }
}
