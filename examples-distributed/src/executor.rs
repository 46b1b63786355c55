//! # An MPI pool: the executor interface, on ranks that could be other machines
//!
//! Mirrors seed 002 (concurrent.futures), "Beyond built-in executors" (`mpi4py.futures`'
//! `MPIPoolExecutor`), run on the workloads of "An illustrative example" (the scrypt batch)
//! and the "Exercise" (the SVD batch), and the first of its "Gotchas" (tiny tasks do not pay).
//!
//! The lesson: `submit` returns a future, `map` yields results in input order, `as_completed`
//! yields them as they finish: the same interface as the thread and process pools, with MPI
//! ranks behind it, which may sit on other machines. Idle workers are handed the next task, so
//! uneven tasks balance out. What changes is the price of a task: every task and result is a
//! message, so a task must be much longer than one round trip (measured last) to be worth it.
//!
//! The pool is `pool.rs` (what `MPIPoolExecutor` does: a queue, idle ranks, a dispatcher
//! thread, futures); what a task may be is `task.rs`; the job's ranks are `world.rs`.
//!
//! Run: `cargo run --release -p examples-distributed -- executor` (re-launches itself with
//! cores + 1 ranks), or `mpiexec -n 3 target/release/examples-distributed executor`.
//! `--workers N` uses only N of the worker ranks.
//!
//! Output: the job's ranks; one digest through `submit`; the scrypt batch serial on rank 0,
//! with `map` and with `submit` + `as_completed` (about 2x with 2 worker ranks on 2 cores; the
//! tutorial saw no speed-up at all), every digest equal to Python's hashlib; the SVD batch at
//! the tutorial's size (too small to pay) and at a size that pays, equal to serial; the round
//! trip of a tiny task in µs.

use std::time::Instant;

use anyhow::Context;
use shared::executor::as_completed;
use shared::linalg::{self, REL_TOL};
use shared::measure::ideal;
use shared::workloads::{matrix_batch, max_rel_diff_rows, scrypt};
use shared::{Bench, CommonArgs, Variant, say};

use crate::cli::Args;
use crate::pool::{self, Pool, Stats};
use crate::task::{Output, Task, digests, singular_rows};
use crate::world::World;

const KRATE: &str = "examples-distributed";

/// The scrypt batch and the SVD batch through the pool's `submit`, `map` and
/// `as_completed`, checked against serial (and hashlib), then what one task's round trip costs.
pub fn run(world: &World, args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new(KRATE, "executor", c);
    s.title(
        "seed 002 Beyond built-in executors (mpi4py.futures); An illustrative example; Exercise",
    );
    say!("  {}", world.summary());
    let workers = c.workers_or(world.workers()).min(world.workers());

    scrypt_batch(&mut s, world, c, workers)?;
    let sizes = c.size(
        [
            (6, 1000, 10, ", the tutorial's size"),
            (16, 2000, 500, ", large enough to pay"),
        ],
        [(6, 1000, 10, ", the tutorial's size"), (8, 400, 100, "")],
    );
    for (k, m, n, note) in sizes {
        svd_batch(&mut s, world, c, workers, (k, m, n), note)?;
    }
    let round_trip_us = tiny_tasks(&mut s, world, c, workers)?;

    say!();
    say!("  One interface, three engines: these futures are the ones the thread and process");
    say!("  pools return, and the workers are ranks that mpiexec can start on other hosts");
    say!("  (see the cluster section). A task costs a round trip of about {round_trip_us:.0} µs");
    say!("  here: worth it for a 1 s hash, not for x + 1 (send those in chunks).");
    Ok(())
}

fn scrypt_tasks(params: scrypt::Params) -> Vec<Task> {
    scrypt::passwords(8)
        .into_iter()
        .map(|password| Task::Scrypt { password, params })
        .collect()
}

/// A check's detail: who did the tasks, e.g. `8 tasks (rank 1: 4, rank 2: 4)`.
fn once_each(stats: &Stats) -> String {
    let per_rank: Vec<String> = stats
        .per_rank()
        .iter()
        .map(|(rank, n)| format!("rank {rank}: {n}"))
        .collect();
    format!("{} tasks ({})", stats.done.len(), per_rank.join(", "))
}

/// The scrypt batch: submit one, then serial, `map` and `submit` + `as_completed`.
fn scrypt_batch(
    s: &mut Bench,
    world: &World,
    c: &CommonArgs,
    workers: usize,
) -> anyhow::Result<()> {
    let params = scrypt::Params::for_run(c);
    s.workload(&params.describe(8));

    // One hash through `submit`: the future is pending at first, then holds the digest.
    let pool = Pool::new(world, workers, None)?;
    let future = pool.submit(Task::Scrypt {
        password: scrypt::MY_PASSWORD.to_owned(),
        params,
    });
    let done_at_once = future.done();
    let digest = digests(vec![future.result(None)?]).remove(0);
    pool.shutdown();
    say!(
        "  submit(scrypt, b\"my password\") to a worker rank: done() right away = {done_at_once}; result():"
    );
    say!("    {digest}");
    if let Some(same) = scrypt::mine_matches_hashlib(&params, &digest) {
        s.check("submit: the digest equals Python's hashlib", same, "");
    }

    let tasks = scrypt_tasks(params);
    let n = tasks.len();
    let serial = s.measure(Variant::serial(n), |ctx| {
        let lane = ctx.spans().clone();
        tasks
            .iter()
            .enumerate()
            .map(|(i, t)| lane.track("rank 0", i as u64, || t.run()))
            .collect::<Result<Vec<_>, _>>()
    });
    let serial = digests(serial.map_err(anyhow::Error::msg)?);
    let ideal_s = ideal::cpu_bound(s.baseline_s().unwrap_or_default(), workers, n);

    // New: the loop becomes `map` on the pool; results still come in input order.
    let v = Variant::new(format!("MPIPoolExecutor({workers}).map"), workers, n).ideal_s(ideal_s);
    let (out, stats) = pool::measured(s, v, world, workers, true, |pool, _| {
        Ok(pool.map(tasks.clone()).collect::<Result<Vec<_>, _>>()?)
    })?;
    s.check(
        "map: digests in input order, identical to serial",
        digests(out) == serial,
        "",
    );
    s.check(
        "map: every task done exactly once",
        stats.each_task_once(),
        once_each(&stats),
    );

    // New: one future per password, taken in the order they finish.
    let v = Variant::new(
        format!("{workers} ranks, submit + as_completed"),
        workers,
        n,
    )
    .ideal_s(ideal_s);
    let ((order, out), stats) = pool::measured(s, v, world, workers, true, |pool, _| {
        let futures: Vec<_> = tasks.iter().map(|t| pool.submit(t.clone())).collect();
        let mut order = Vec::new();
        let mut out = vec![None; n];
        for f in as_completed(&futures, None) {
            let f = f?;
            let i = futures
                .iter()
                .position(|g| std::ptr::eq(g, f))
                .context("as_completed yielded a future that was not submitted")?;
            out[i] = Some(f.result(None)?);
            order.push(i);
        }
        Ok((order, out.into_iter().flatten().collect::<Vec<Output>>()))
    })?;
    say!("  as_completed order (password numbers): {order:?}");
    let mut sorted = order.clone();
    sorted.sort_unstable();
    s.check(
        "as_completed yields every future once, digests identical to serial",
        sorted == (0..n).collect::<Vec<_>>() && digests(out) == serial,
        "",
    );
    s.check(
        "as_completed: every task done exactly once",
        stats.each_task_once(),
        once_each(&stats),
    );

    say!();
    for (pw, d) in scrypt::passwords(n).iter().zip(&serial) {
        say!("  {pw}: {d}");
    }
    match scrypt::batch_matches_hashlib(&params, &serial) {
        Some(same) => {
            s.check(
                "the 8 digests equal Python's hashlib for these parameters",
                same,
                "",
            );
        }
        None => say!("  (no hashlib digests recorded for these parameters)"),
    }
    Ok(())
}

/// The SVD batch: serial on rank 0, then `map` on the pool (each matrix travels to a worker).
fn svd_batch(
    s: &mut Bench,
    world: &World,
    c: &CommonArgs,
    workers: usize,
    (k, m, n): (usize, usize, usize),
    note: &str,
) -> anyhow::Result<()> {
    let batch = matrix_batch(c.seed, k, m, n);
    s.workload(&format!(
        "SVD batch ({k}, {m}, {n}), singular values only{note}"
    ));
    let serial = s.measure(Variant::serial(k), |ctx| {
        let lane = ctx.spans().clone();
        batch
            .outer_iter()
            .enumerate()
            .map(|(i, a)| {
                lane.track("rank 0", i as u64, || {
                    linalg::singular_values(a).map(|s| s.to_vec())
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let ideal_s = ideal::cpu_bound(s.baseline_s().unwrap_or_default(), workers, k);
    let v = Variant::new(format!("MPIPoolExecutor({workers}).map"), workers, k).ideal_s(ideal_s);
    let (out, stats) = pool::measured(s, v, world, workers, true, |pool, _| {
        Ok(pool
            .map(batch.outer_iter().map(Task::svd))
            .collect::<Result<Vec<_>, _>>()?)
    })?;
    let diff = max_rel_diff_rows(&singular_rows(out), &serial);
    let exact = if diff == 0.0 { " (bit for bit)" } else { "" };
    s.check(
        "map: singular values equal the serial ones",
        diff <= REL_TOL,
        format!("max rel. diff {diff:.1e}{exact}"),
    );
    s.check(
        "map: every task done exactly once",
        stats.each_task_once(),
        once_each(&stats),
    );
    Ok(())
}

/// Tiny tasks: inline, one round trip at a time, all at once, and in chunks. Returns the
/// round trip in µs.
fn tiny_tasks(s: &mut Bench, world: &World, c: &CommonArgs, workers: usize) -> anyhow::Result<f64> {
    let n = c.size(2_000, 300);
    let tasks: Vec<Task> = (0..n as u64).map(Task::Tiny).collect();
    let want: Vec<Output> = (1..=n as u64).map(Output::Tiny).collect();
    s.workload(&format!("{n} tiny tasks (x -> x + 1): what one task costs"));
    let per_task = |secs: f64| secs * 1e6 / n as f64;

    let out = s.measure(Variant::baseline("inline (a plain loop)", 1, n), |ctx| {
        let t = Instant::now();
        let out: Result<Vec<Output>, String> = tasks.iter().map(Task::run).collect();
        ctx.set("us_per_task", per_task(t.elapsed().as_secs_f64()));
        out
    });
    s.check("inline: right results", out.as_ref() == Ok(&want), "");

    // One task in flight: each costs a full round trip (send, run, answer, wake up).
    let v = Variant::new("1 worker rank, submit then result", 1, n);
    let (out, _) = pool::measured(s, v, world, 1, false, |pool, ctx| {
        let t = Instant::now();
        let out = tasks
            .iter()
            .map(|t| pool.submit(t.clone()).into_result())
            .collect::<Result<Vec<_>, _>>();
        ctx.set("us_per_task", per_task(t.elapsed().as_secs_f64()));
        Ok(out?)
    })?;
    let round_trip_us = s
        .last()
        .and_then(|m| m.get("us_per_task"))
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    s.check("one at a time: right results", out == want, "");

    let v = Variant::new(
        format!("{}, submit each", crate::count(workers, "worker rank")),
        workers,
        n,
    );
    let (out, stats) = pool::measured(s, v, world, workers, false, |pool, ctx| {
        let t = Instant::now();
        let out = pool.map(tasks.clone()).collect::<Result<Vec<_>, _>>();
        ctx.set("us_per_task", per_task(t.elapsed().as_secs_f64()));
        Ok(out?)
    })?;
    s.check(
        "submit each: right results, every task done exactly once",
        out == want && stats.each_task_once(),
        once_each(&stats),
    );

    let chunksize = n.div_ceil(workers);
    let v = Variant::new(
        format!(
            "{}, map(chunksize={chunksize})",
            crate::count(workers, "worker rank")
        ),
        workers,
        n,
    );
    let (out, _) = pool::measured(s, v, world, workers, false, |pool, ctx| {
        let t = Instant::now();
        let out = pool
            .map_chunked(tasks.clone(), chunksize)
            .into_iter()
            .collect::<Result<Vec<_>, _>>();
        ctx.set("us_per_task", per_task(t.elapsed().as_secs_f64()));
        Ok(out?)
    })?;
    s.check("map(chunksize): right results, in order", out == want, "");
    Ok(round_trip_us)
}
