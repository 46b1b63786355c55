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
use shared::measure::{format_secs, ideal};
use shared::spans::unix_now_s;
use shared::timing::{CpuTime, Stopwatch};
use shared::workloads::matrix_batch;
use shared::{Ctx, Section, Variant, say};

use crate::cli::Args;
use crate::pool;
use crate::svd::{self, REL_TOL};
use crate::task::{Output, Task, singular_rows};
use crate::wire::{self, Phase};
use crate::world::{World, set_current};

const KRATE: &str = "examples-distributed";

/// Values in front of each matrix's singular values in the gathered results: when the
/// worker started it, when it finished (Unix seconds), and its CPU seconds.
pub const HEADER: usize = 3;

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

    /// Values of `rank`'s input (its matrices, one after the other).
    pub fn input_len(&self, rank: usize) -> usize {
        self.shapes[self.part(rank)]
            .iter()
            .map(|(m, n)| m * n)
            .sum()
    }

    /// Values of `rank`'s output (header and singular values of each matrix).
    pub fn output_len(&self, rank: usize) -> usize {
        self.shapes[self.part(rank)]
            .iter()
            .map(|(m, n)| HEADER + m.min(n))
            .sum()
    }

    /// Counts and displacements per rank, for `scatterv`/`gatherv`.
    pub fn layout(&self, len: impl Fn(usize) -> usize) -> anyhow::Result<(Vec<Count>, Vec<Count>)> {
        let counts: Vec<usize> = (0..self.parts.len()).map(len).collect();
        let displs = counts.iter().scan(0, |at, &c| {
            let d = *at;
            *at += c;
            Some(d)
        });
        let to_count = |v: usize| {
            Count::try_from(v).context("a batch too large for one MPI message (over 2^31 values)")
        };
        Ok((
            counts
                .iter()
                .map(|&c| to_count(c))
                .collect::<anyhow::Result<_>>()?,
            displs.map(to_count).collect::<anyhow::Result<_>>()?,
        ))
    }
}

/// A batch of matrices of possibly different shapes, stored one after the other.
#[derive(Debug, Clone)]
pub struct Batch {
    shapes: Vec<(usize, usize)>,
    offsets: Vec<usize>,
    data: Vec<f64>,
}

impl Batch {
    /// Groups of `k` random `m × n` matrices, in the order given.
    pub fn new(seed: u64, groups: &[(usize, usize, usize)]) -> Self {
        let mut b = Batch {
            shapes: Vec::new(),
            offsets: Vec::new(),
            data: Vec::new(),
        };
        for (g, &(k, m, n)) in groups.iter().enumerate() {
            let mats = matrix_batch(seed.wrapping_add(g as u64), k, m, n);
            for a in mats.outer_iter() {
                b.shapes.push((m, n));
                b.offsets.push(b.data.len());
                b.data.extend(a.iter());
            }
        }
        b
    }

    /// Number of matrices.
    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    /// Size of the matrices' data in bytes.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(&self.data[..])
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }

    /// Matrix `i`.
    pub fn matrix(&self, i: usize) -> ArrayView2<'_, f64> {
        let (m, n) = self.shapes[i];
        let at = self.offsets[i];
        ArrayView2::from_shape((m, n), &self.data[at..at + m * n]).expect("shapes and data agree")
    }
}

/// One matrix's result from a worker of the static round.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// Matrix index.
    pub index: usize,
    /// The rank that computed it.
    pub rank: usize,
    /// Start and end, Unix seconds.
    pub start_unix_s: f64,
    /// End.
    pub end_unix_s: f64,
    /// CPU seconds.
    pub cpu_s: f64,
    /// Its singular values.
    pub singular: Vec<f64>,
}

/// Rank 0's side of a static round: announce, scatter, gather, unpack.
pub fn run_static(world: &World, batch: &Batch, workers: usize) -> anyhow::Result<Vec<Done>> {
    let plan = Plan::new(batch.shapes.clone(), world.size(), workers);
    let (in_counts, in_displs) = plan.layout(|r| plan.input_len(r))?;
    let (out_counts, out_displs) = plan.layout(|r| plan.output_len(r))?;
    let total_out: usize = (0..world.size()).map(|r| plan.output_len(r)).sum();
    let mut out = vec![0.0_f64; total_out];
    // Nothing can fail between here and the gather: the workers are in the collective.
    world.announce(&Phase::Static(plan.clone()))?;
    let root = world.comm().this_process();
    let mut nothing: [f64; 0] = [];
    let parts = Partition::new(&batch.data[..], in_counts, &in_displs[..]);
    mpi::request::scope(|scope| {
        wire::wait(root.immediate_scatter_varcount_into_root(scope, &parts, &mut nothing[..]));
    });
    let mut parts = PartitionMut::new(&mut out[..], out_counts, &out_displs[..]);
    mpi::request::scope(|scope| {
        wire::wait(root.immediate_gather_varcount_into_root(scope, &nothing[..], &mut parts));
    });
    drop(parts);

    let mut done = Vec::with_capacity(batch.len());
    let mut at = 0;
    for rank in 0..world.size() {
        for index in plan.part(rank) {
            let (m, n) = plan.shapes[index];
            let v = &out[at..at + HEADER + m.min(n)];
            at += v.len();
            done.push(Done {
                index,
                rank,
                start_unix_s: v[0],
                end_unix_s: v[1],
                cpu_s: v[2],
                singular: v[HEADER..].to_vec(),
            });
        }
    }
    Ok(done)
}

/// A worker's side of a static round: receive its part, compute, send the results.
pub fn worker_part(comm: &SimpleCommunicator, plan: &Plan) -> anyhow::Result<()> {
    let me = usize::try_from(comm.rank()).context("a negative rank")?;
    let root = comm.process_at_rank(0);
    let mut input = vec![0.0_f64; plan.input_len(me)];
    mpi::request::scope(|scope| {
        wire::wait(root.immediate_scatter_varcount_into(scope, &mut input[..]));
    });
    let mut output = Vec::with_capacity(plan.output_len(me));
    let mut at = 0;
    for index in plan.part(me) {
        let (m, n) = plan.shapes[index];
        let (start, cpu) = (unix_now_s(), CpuTime::now());
        set_current(Some(format!("matrix {index} ({m}x{n}) of a static round")));
        let a = ArrayView2::from_shape((m, n), &input[at..at + m * n])?;
        at += m * n;
        // An error here must not leave rank 0 waiting at the gather: panic, which aborts the job.
        let s = svd::singular_values(a).unwrap_or_else(|e| panic!("{e:#}"));
        set_current(None);
        output.extend([start, unix_now_s(), CpuTime::now().own_s - cpu.own_s]);
        output.extend(s.iter());
    }
    mpi::request::scope(|scope| {
        wire::wait(root.immediate_gather_varcount_into(scope, &output[..]));
    });
    Ok(())
}

/// The section.
pub fn run(world: &World, args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let mut s = Section::new(KRATE, "scatter_gather", c);
    s.title("seed 002 Exercise (SVD batch); Beyond built-in executors (MPI collectives)");
    crate::executor::describe(world);
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
    let a = compare(&mut s, world, &batch, workers, None)?;

    // Many tiny, equal tasks: the round trip per task is all the pool adds.
    let (k, m) = (c.size(4_000, 600), 8);
    let batch = Batch::new(c.seed, &[(k, m, m)]);
    s.workload(&format!("tiny and even: {k} matrices {m}x{m}"));
    let chunksize = k.div_ceil(workers);
    let b = compare(&mut s, world, &batch, workers, Some(chunksize))?;

    say!();
    say!(
        "  Uneven tasks: the pool took {} against {} for the static split ({}).",
        format_secs(a.dynamic_s),
        format_secs(a.static_s),
        verdict(a.static_s, a.dynamic_s)
    );
    say!(
        "  Tiny even tasks: the static split took {} against {} for the pool ({}).",
        format_secs(b.static_s),
        format_secs(b.dynamic_s),
        verdict(b.static_s, b.dynamic_s)
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

/// The two wall times of one comparison.
#[derive(Debug, Clone, Copy)]
struct Walls {
    static_s: f64,
    dynamic_s: f64,
}

/// Serial, static scatter/gather and the pool (and the pool with `chunksize`) on one batch.
fn compare(
    s: &mut Section,
    world: &World,
    batch: &Batch,
    workers: usize,
    chunksize: Option<usize>,
) -> anyhow::Result<Walls> {
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
    let got = measure_static(s, v, world, batch, workers)?;
    let static_s = s.last().map_or(0.0, |m| m.wall_s);
    let once = got.iter().map(|d| d.index).eq(0..k);
    let rows: Vec<Vec<f64>> = got.into_iter().map(|d| d.singular).collect();
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
    Ok(Walls {
        static_s,
        dynamic_s,
    })
}

/// The serial baseline on rank 0: the singular values and each matrix's time.
fn measure_serial(s: &mut Section, batch: &Batch) -> anyhow::Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let mut durations = Vec::with_capacity(batch.len());
    let rows = s.measure(Variant::serial(batch.len()), |ctx| {
        (0..batch.len())
            .map(|i| {
                let start = Instant::now();
                let sv = svd::singular_values(batch.matrix(i)).map(|s| s.to_vec());
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
/// per matrix on the rank that computed it. Returns the results in batch order.
fn measure_static(
    s: &mut Section,
    v: Variant,
    world: &World,
    batch: &Batch,
    workers: usize,
) -> anyhow::Result<Vec<Done>> {
    let ctx = Ctx::new();
    let sw = Stopwatch::start();
    let mut done = run_static(world, batch, workers)?;
    let wall_s = sw.wall_s();
    let cpu_s = sw.cpu_s() + done.iter().map(|d| d.cpu_s).sum::<f64>();
    for d in &done {
        let lane = format!("rank {}", d.rank);
        let task = d.index as u64;
        ctx.spans()
            .record_unix(lane, task, d.start_unix_s, d.end_unix_s);
    }
    s.record(v, wall_s, cpu_s, ctx);
    done.sort_by_key(|d| d.index);
    Ok(done)
}

fn check_same(s: &Section, name: &str, got: &[Vec<f64>], serial: &[Vec<f64>], once: bool) {
    let diff = svd::max_rel_diff(got, serial);
    s.check(
        &format!("{name}: singular values equal the serial ones, every task done exactly once"),
        diff <= REL_TOL && once,
        format!("max rel. diff {diff:.1e}"),
    );
}

/// Prints each worker rank's busy time (from the last measurement's spans) against its wall.
fn print_busy(s: &Section, workers: usize) {
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
        assert_eq!(plan.input_len(1), 16);
        assert_eq!(plan.input_len(2), 19);
        assert_eq!(plan.output_len(2), HEADER + 3 + HEADER + 2);
        let (counts, displs) = plan.layout(|r| plan.input_len(r)).unwrap();
        assert_eq!(counts, [0, 16, 19, 0]);
        assert_eq!(displs, [0, 0, 16, 35]);
        let back: Plan = wire::decode(&wire::encode(&plan).unwrap()).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn a_batch_keeps_every_matrix_whole() {
        let b = Batch::new(7, &[(2, 3, 2), (1, 2, 4)]);
        assert_eq!(b.len(), 3);
        assert_eq!(b.matrix(2).dim(), (2, 4));
        assert_eq!(
            b.matrix(1),
            matrix_batch(7, 2, 3, 2).index_axis(ndarray::Axis(0), 1)
        );
        assert_eq!(
            b.matrix(2),
            matrix_batch(8, 1, 2, 4).index_axis(ndarray::Axis(0), 0)
        );
        assert_eq!(verdict(2.0, 1.0), "the pool wins by 2.00x");
        assert_eq!(verdict(1.0, 4.0), "the static split wins by 4.00x");
    }
}
