//! # Static scatter/gather against the dynamic pool: when each wins
//!
//! Mirrors seed 002 (concurrent.futures), "Exercise" (the SVD of a batch of matrices; "play
//! with the size ... when parallelization becomes efficient"), and "Beyond built-in
//! executors": MPI also has a style the executor interface does not show.
//!
//! The lesson: MPI's own style is collective. Rank 0 splits the batch once into equal
//! contiguous parts, one `scatter` sends every rank its part, each computes, one `gather`
//! brings the results back: one message each way per rank, the cheapest possible. But the
//! split is fixed before anything runs: when task sizes are uneven, one rank gets the heavy
//! part and the others wait at the gather. The pool hands one task at a time to whichever
//! worker is idle, so it balances any mix, at the price of a round trip per task. Uneven
//! tasks: the pool wins. Many tiny equal tasks: the collective wins (and a pool with a large
//! `chunksize` becomes the same thing).
//!
//! Both sides of the collective round are here ([`run_static`] on rank 0, [`worker_side`] on
//! the others); the pool is `pool.rs`, the job and its ranks `world.rs`, the messages and the
//! polite waiting `wire.rs`.
//!
//! Run: `cargo run --release -p examples-distributed -- scatter_gather`, or
//! `mpiexec -n 3 target/release/examples-distributed scatter_gather`.
//!
//! Output: for each batch, serial on rank 0, static scatter/gather, and the pool, with the
//! ideal of each computed from the serial task times (static: the busiest rank's share; pool:
//! greedy assignment in order), each rank's busy time, and which won by how much.

use std::ops::Range;
use std::time::Instant;

use anyhow::Context;
use mpi::Count;
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Root};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use shared::linalg::{self, REL_TOL};
use shared::measure::{format_secs, ideal};
use shared::timing::Stopwatch;
use shared::workloads::max_rel_diff_rows;
use shared::{Bench, Ctx, Variant, say};

use crate::cli::Args;
use crate::pool;
use crate::task::{Batch, Output, Task, singular_rows};
use crate::wire::{self, TAG_TIMINGS, Timing};
use crate::world::{World, set_current};

const KRATE: &str = "examples-distributed";

/// Rank 0's side of a static round: call the workers in, scatter each its block of matrices,
/// gather their singular values. Returns them in batch order.
pub fn run_static(world: &World, batch: &Batch, plan: &Plan) -> anyhow::Result<Vec<Vec<f64>>> {
    let (in_counts, in_displs) = plan.layout(matrix_len)?;
    let (out_counts, out_displs) = plan.layout(singular_len)?;
    let mut out = vec![0.0_f64; batch.shapes().iter().copied().map(singular_len).sum()];
    world.announce(plan)?;
    // From here every rank is inside the collective, so nothing below may fail half-way.
    // Why the immediate forms (`MPI_Iscatterv`, `MPI_Igatherv`) and `wire::wait`: MPICH's
    // blocking collectives spin, and rank 0 would take a core from the workers while they
    // compute. Rank 0 keeps no block of its own (`nothing`): it only sends and receives.
    let root = world.comm().this_process();
    let mut nothing: [f64; 0] = [];
    let blocks = Partition::new(batch.data(), in_counts, &in_displs[..]);
    mpi::request::scope(|scope| {
        wire::wait(root.immediate_scatter_varcount_into_root(scope, &blocks, &mut nothing[..]));
    });
    // The workers compute now (`worker_side`); rank 0 waits for all of them at the gather.
    let mut results = PartitionMut::new(&mut out[..], out_counts, &out_displs[..]);
    mpi::request::scope(|scope| {
        wire::wait(root.immediate_gather_varcount_into_root(scope, &nothing[..], &mut results));
    });
    drop(results);
    // Blocks go to ranks 1, 2, ... in batch order, so the gathered values are in batch order.
    let mut rest = &out[..];
    let rows = batch.shapes().iter().map(|&shape| {
        let (row, tail) = rest.split_at(singular_len(shape));
        rest = tail;
        row.to_vec()
    });
    Ok(rows.collect())
}

/// A worker's side of a static round: receive its block, compute, send the singular values
/// back in the gather, then its timings as a message of their own.
pub fn worker_side(comm: &SimpleCommunicator, plan: &Plan) -> anyhow::Result<()> {
    let me = usize::try_from(comm.rank()).context("a negative rank")?;
    let root = comm.process_at_rank(0);
    let mut block = vec![0.0_f64; plan.values(me, matrix_len)];
    mpi::request::scope(|scope| {
        wire::wait(root.immediate_scatter_varcount_into(scope, &mut block[..]));
    });
    let (mut singular, mut timings) = (Vec::<f64>::new(), Vec::new());
    let mut at = 0;
    for index in plan.part(me) {
        let (m, n) = plan.shapes[index];
        let a = ArrayView2::from_shape((m, n), &block[at..at + m * n])?;
        at += m * n;
        set_current(Some(format!("matrix {index} ({m}x{n}) of a static round")));
        let (s, timing) = Timing::of(|| linalg::singular_values(a));
        // An error must not leave rank 0 waiting at the gather: panic, which aborts the job.
        singular.extend(s.unwrap_or_else(|e| panic!("{e:#}")).iter());
        timings.push((index as u64, timing));
    }
    set_current(None);
    mpi::request::scope(|scope| {
        wire::wait(root.immediate_gather_varcount_into(scope, &singular[..]));
    });
    // The timings are not results: they travel after the gather, in a message of their own,
    // which rank 0 reads once its clock has stopped.
    wire::send(&root, TAG_TIMINGS, &timings)
}

/// Values a matrix of shape `(m, n)` sends out (all of it), and back (its singular values).
fn matrix_len((m, n): (usize, usize)) -> usize {
    m * n
}

fn singular_len((m, n): (usize, usize)) -> usize {
    m.min(n)
}

/// What every rank needs to know for one static round: the matrices' shapes, and which of
/// them each rank gets. Rank 0 keeps none (it only scatters and gathers), so the static split
/// uses the same worker ranks as the pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// `(rows, cols)` of every matrix, in batch order.
    pub shapes: Vec<(usize, usize)>,
    /// `parts[rank]`: the matrices that rank gets, as `(first, end)`.
    pub parts: Vec<(usize, usize)>,
}

impl Plan {
    /// Splits `shapes` in blocks over ranks `1..=workers` of a job of `ranks` ranks.
    pub fn new(shapes: Vec<(usize, usize)>, ranks: usize, workers: usize) -> Self {
        let blocks = block_partition(shapes.len(), workers);
        let end = shapes.len();
        let parts = (0..ranks)
            .map(|r| match r.checked_sub(1).and_then(|w| blocks.get(w)) {
                Some(b) => (b.start, b.end),
                None => (end, end),
            })
            .collect();
        Self { shapes, parts }
    }

    /// The matrices `rank` gets.
    pub fn part(&self, rank: usize) -> Range<usize> {
        self.parts.get(rank).map_or(0..0, |&(a, b)| a..b)
    }

    /// Values `rank` sends or receives: `per_matrix` of each of its matrices.
    pub fn values(&self, rank: usize, per_matrix: fn((usize, usize)) -> usize) -> usize {
        self.shapes[self.part(rank)]
            .iter()
            .copied()
            .map(per_matrix)
            .sum()
    }

    /// Counts and displacements per rank, for `scatterv`/`gatherv`.
    pub fn layout(
        &self,
        per_matrix: fn((usize, usize)) -> usize,
    ) -> anyhow::Result<(Vec<Count>, Vec<Count>)> {
        wire::varcount_layout((0..self.parts.len()).map(|r| self.values(r, per_matrix)))
    }
}

/// `np.array_split` of `k` items into `parts` contiguous ranges whose sizes differ by at most
/// one, the larger first.
pub fn block_partition(k: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    let (base, extra) = (k / parts, k % parts);
    let mut start = 0;
    (0..parts)
        .map(|p| {
            let len = base + usize::from(p < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// Two batches, each serial, static scatter/gather and the pool: an uneven one, where the
/// pool wins, and one of many tiny even tasks, where the collective (and a chunked pool) wins.
pub fn run(world: &World, args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Bench::new(KRATE, "scatter_gather", c);
    s.title("seed 002 Exercise (SVD batch); Beyond built-in executors (MPI collectives)");
    say!("  {}", world.summary());
    let workers = c.workers_or(world.workers()).min(world.workers());

    // Uneven: the batch arrives sorted, heavy matrices first (as data often arrives: by date,
    // by file), so contiguous blocks give the first worker nearly all the work.
    let uneven = c.size(
        [(6, 1500, 400), (18, 1500, 100)],
        [(3, 800, 200), (9, 800, 50)],
    );
    let (k1, m1, n1) = uneven[0];
    let (k2, _, n2) = uneven[1];
    let batch = Batch::new(c.seed, &uneven);
    s.workload(&format!(
        "uneven: {k1} matrices {m1}x{n1}, then {k2} of {m1}x{n2} (about {}x less work each; \
         {:.0} MB to move)",
        (n1 * n1) / (n2 * n2).max(1),
        batch.bytes() as f64 / 1e6
    ));
    let (a_static, a_pool) = compare(&mut s, world, &batch, workers, None)?;

    // Many tiny, equal tasks: the round trip per task is all the pool adds.
    let (k, m) = (c.size(4_000, 600), 8);
    let batch = Batch::new(c.seed, &[(k, m, m)]);
    s.workload(&format!("tiny and even: {k} matrices {m}x{m}"));
    let chunksize = k.div_ceil(workers);
    let (b_static, b_pool) = compare(&mut s, world, &batch, workers, Some(chunksize))?;

    say!();
    say!(
        "  Uneven tasks: the pool took {} against {} for the static split ({}).",
        format_secs(a_pool),
        format_secs(a_static),
        verdict(a_static, a_pool)
    );
    say!(
        "  Tiny even tasks: the static split took {} against {} for the pool ({}).",
        format_secs(b_static),
        format_secs(b_pool),
        verdict(b_static, b_pool)
    );
    say!("  Both parallel variants also copy every matrix to another process, which the serial");
    say!("  loop never does: that, not the schedule, is the gap to their ideals.");
    say!("  Balance (the pool) pays when tasks differ; one message per rank (the collective,");
    say!("  or the pool with a big chunksize) pays when tasks are many and small.");
    Ok(())
}

/// Which variant won, by how much.
fn verdict(static_s: f64, dynamic_s: f64) -> String {
    if dynamic_s < static_s {
        format!("the pool wins by {:.2}x", static_s / dynamic_s)
    } else {
        format!("the static split wins by {:.2}x", dynamic_s / static_s)
    }
}

/// Serial, static scatter/gather and the pool (and the pool with `chunksize`) on one batch.
/// Returns the wall times of the static split and of the pool.
fn compare(
    s: &mut Bench,
    world: &World,
    batch: &Batch,
    workers: usize,
    chunksize: Option<usize>,
) -> anyhow::Result<(f64, f64)> {
    let k = batch.len();
    let (serial, durations) = measure_serial(s, batch)?;

    // The ideals, from the serial task times: the busiest block, and the pull model's schedule.
    let blocks = block_partition(k, workers);
    let static_ideal = blocks
        .iter()
        .map(|b| durations[b.clone()].iter().sum::<f64>())
        .fold(0.0, f64::max);
    let dynamic_ideal = ideal::greedy_makespan(&durations, workers);

    let name = format!("static scatter/gather, {}", crate::count(workers, "rank"));
    let v = Variant::new(name, workers, k).ideal_s(static_ideal);
    let (rows, once) = measure_static(s, v, world, batch, workers)?;
    let static_s = s.last().map_or(0.0, |m| m.wall_s);
    check_same(s, "static", &rows, &serial, once);
    print_busy(s, workers);

    // New: the same matrices, one task each, to whichever worker is idle.
    let name = format!("pool (dynamic), {}", crate::count(workers, "rank"));
    let v = Variant::new(name, workers, k).ideal_s(dynamic_ideal);
    let tasks = (0..k).map(|i| Task::svd(batch.matrix(i)));
    let (out, stats) = pool::measured(s, v, world, workers, true, |pool, _| {
        Ok(pool.map(tasks).collect::<Result<Vec<Output>, _>>()?)
    })?;
    let dynamic_s = s.last().map_or(0.0, |m| m.wall_s);
    check_same(
        s,
        "pool",
        &singular_rows(out),
        &serial,
        stats.each_task_once(),
    );
    print_busy(s, workers);

    if let Some(chunksize) = chunksize {
        // New: `chunksize` tasks per message, which turns the pool into a static split.
        let v = Variant::new(format!("pool, map(chunksize={chunksize})"), workers, k);
        let tasks: Vec<Task> = (0..k).map(|i| Task::svd(batch.matrix(i))).collect();
        let (out, stats) = pool::measured(s, v, world, workers, false, |pool, _| {
            Ok(pool
                .map_chunked(tasks, chunksize)
                .into_iter()
                .collect::<Result<Vec<Output>, _>>()?)
        })?;
        let once = stats.done.len() == k.div_ceil(chunksize) && stats.each_task_once();
        check_same(s, "pool with chunksize", &singular_rows(out), &serial, once);
    }
    Ok((static_s, dynamic_s))
}

/// The serial baseline on rank 0: the singular values and each matrix's time.
fn measure_serial(s: &mut Bench, batch: &Batch) -> anyhow::Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let mut durations = Vec::with_capacity(batch.len());
    let rows = s.measure(Variant::serial(batch.len()), |ctx| {
        (0..batch.len())
            .map(|i| {
                let start = Instant::now();
                let sv = linalg::singular_values(batch.matrix(i)).map(|s| s.to_vec());
                ctx.spans()
                    .record("rank 0", i as u64, start, Instant::now());
                durations.push(start.elapsed().as_secs_f64());
                sv
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    Ok((rows, durations))
}

/// One static round as a measured variant: wall time on rank 0, CPU of every rank, one span
/// per matrix on the rank that computed it. Returns the singular values in batch order, and
/// whether the workers reported every matrix exactly once, each from the rank it was sent to.
fn measure_static(
    s: &mut Bench,
    v: Variant,
    world: &World,
    batch: &Batch,
    workers: usize,
) -> anyhow::Result<(Vec<Vec<f64>>, bool)> {
    let ctx = Ctx::new();
    let sw = Stopwatch::start();
    let plan = Plan::new(batch.shapes().to_vec(), world.size(), workers);
    let rows = run_static(world, batch, &plan)?;
    let (wall_s, mut cpu_s) = (sw.wall_s(), sw.cpu_s());
    // The clock has stopped: now the workers' timings, for the spans and the CPU column.
    let timings = wire::receive_from_each::<Vec<(u64, Timing)>>(world.comm(), TAG_TIMINGS)?;
    let mut seen = Vec::with_capacity(batch.len());
    for (rank, timings) in timings {
        for (index, t) in timings {
            let lane = format!("rank {rank}");
            ctx.spans()
                .record_unix(lane, index, t.start_unix_s, t.end_unix_s);
            cpu_s += t.cpu_s;
            seen.push((index, rank));
        }
    }
    s.record(v, wall_s, cpu_s, ctx);
    // Every matrix reported once, by the rank the plan sent it to.
    seen.sort_unstable();
    let planned = (0..world.size()).flat_map(|r| plan.part(r).map(move |i| (i as u64, r as i32)));
    Ok((rows, seen.into_iter().eq(planned)))
}

/// The check of one variant: singular values equal to serial, every task done exactly once.
fn check_same(s: &Bench, name: &str, got: &[Vec<f64>], serial: &[Vec<f64>], once: bool) {
    let diff = max_rel_diff_rows(got, serial);
    s.check(
        &format!("{name}: singular values equal the serial ones, every task done exactly once"),
        diff <= REL_TOL && once,
        format!("max rel. diff {diff:.1e}"),
    );
}

/// Prints each worker rank's busy time (from the last measurement's spans) against its wall.
fn print_busy(s: &Bench, workers: usize) {
    let Some(m) = s.last() else { return };
    let mut per_rank = vec![0.0_f64; workers + 1];
    for span in &m.spans {
        let rank = span
            .lane
            .strip_prefix("rank ")
            .and_then(|r| r.parse::<usize>().ok());
        if let Some(t) = rank.and_then(|r| per_rank.get_mut(r)) {
            *t += span.end_s - span.start_s;
        }
    }
    let parts: Vec<String> = (1..=workers)
        .map(|r| {
            let t = per_rank[r];
            let pct = 100.0 * t / m.wall_s.max(1e-9);
            format!("rank {r} {} ({pct:.0}%)", format_secs(t))
        })
        .collect();
    say!("    busy: {}", parts.join(", "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_contiguous_and_differ_by_at_most_one() {
        assert_eq!(block_partition(10, 3), [0..4, 4..7, 7..10]);
        assert_eq!(block_partition(2, 4), [0..1, 1..2, 2..2, 2..2]);
        assert_eq!(block_partition(0, 2), [0..0, 0..0]);
        assert_eq!(block_partition(5, 0), vec![(0..5)], "no parts means one");
    }

    #[test]
    fn the_plan_gives_rank_0_nothing_and_lays_out_the_buffers() {
        let shapes = vec![(4, 2), (4, 2), (3, 3), (2, 5)];
        // 4 ranks, 2 of them used as workers: rank 3 gets nothing either.
        let plan = Plan::new(shapes, 4, 2);
        assert!(plan.part(0).is_empty());
        assert_eq!(plan.part(1), 0..2);
        assert_eq!(plan.part(2), 2..4);
        assert!(plan.part(3).is_empty());
        assert_eq!(plan.values(1, matrix_len), 16);
        assert_eq!(plan.values(2, matrix_len), 19);
        assert_eq!(plan.values(2, singular_len), 3 + 2);
        let (counts, displs) = plan.layout(matrix_len).unwrap();
        assert_eq!(counts, [0, 16, 19, 0]);
        assert_eq!(displs, [0, 0, 16, 35]);
        let (counts, displs) = plan.layout(singular_len).unwrap();
        assert_eq!(counts, [0, 2 + 2, 3 + 2, 0]);
        assert_eq!(displs, [0, 0, 4, 9]);
        let back: Plan = wire::decode(&wire::encode(&plan).unwrap()).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn the_verdict_names_the_faster_schedule() {
        assert_eq!(verdict(2.0, 1.0), "the pool wins by 2.00x");
        assert_eq!(verdict(1.0, 4.0), "the static split wins by 4.00x");
    }
}
