//! The memory's speed, measured: the ceiling of any kernel that streams its data from memory.
//!
//! Plumbing for the `simd` section (`simd.rs`), which compares its dot products from memory
//! with this ceiling. A dot product of f32 reads 8 bytes per multiply-add, so once its vectors
//! are far larger than the caches, no kernel can run faster than the memory delivers them.
//! This reads the same two vectors the same way, doing as little as possible with each word,
//! on one core and on every thread of the pool, and reports GB/s like the STREAM benchmark:
//! the best of a few passes, since other work on the machine can only slow a pass down.

use std::hint::black_box;
use std::time::Instant;

use rayon::ThreadPool;
use rayon::prelude::*;
use shared::{Bench, Ctx, Variant};

use crate::count;

/// Passes of each read; the bandwidth is the best one.
pub const READ_PASSES: usize = 3;
/// Elements per task of the parallel read.
const CHUNK: usize = 1 << 16;

/// A streaming read of `x` and `y` side by side, as the dot product reads them: every 4-byte
/// word added as an integer. Integer addition is associative, so the compiler vectorises
/// this freely and it runs at the speed of the memory.
pub fn stream_read(x: &[f32], y: &[f32]) -> u32 {
    x.iter().zip(y).fold(0, |acc, (u, v)| {
        acc.wrapping_add(u.to_bits()).wrapping_add(v.to_bits())
    })
}

/// The same on every thread of `pool` (the same checksum, in any order).
pub fn stream_read_par(x: &[f32], y: &[f32], pool: &ThreadPool) -> u32 {
    pool.install(|| {
        x.par_chunks(CHUNK)
            .zip(y.par_chunks(CHUNK))
            .map(|(cx, cy)| stream_read(cx, cy))
            .reduce(|| 0, u32::wrapping_add)
    })
}

/// Measures the read of `x` and `y` on one core (the workload's baseline) and on every thread
/// of `pool`, as a workload of `s`; returns the two bandwidths in GB/s.
pub fn measure(s: &mut Bench, pool: &ThreadPool, (x, y): (&[f32], &[f32])) -> (f64, f64) {
    let workers = pool.current_num_threads();
    let bytes = (size_of_val(x) + size_of_val(y)) as f64;
    s.workload(&format!(
        "memory bandwidth: a streaming read of both vectors ({:.0} MiB), best of {READ_PASSES} \
         passes: the ceiling",
        bytes / (1 << 20) as f64
    ));
    let read = |ctx: &mut Ctx, par: bool| {
        let mut best_s = f64::INFINITY;
        let mut sum = 0;
        for _ in 0..READ_PASSES {
            let t = Instant::now();
            // black_box: a pass whose result went unused could be optimised away.
            sum = black_box(if par {
                stream_read_par(x, y, pool)
            } else {
                stream_read(black_box(x), black_box(y))
            });
            best_s = best_s.min(t.elapsed().as_secs_f64());
        }
        ctx.set("gb_s", bytes / best_s / 1e9);
        (sum, bytes / best_s / 1e9)
    };
    let v = Variant::baseline("streaming read, 1 core", 1, READ_PASSES);
    let (sum_1, one) = s.measure(v, |ctx| read(ctx, false));
    let name = format!("streaming read, {}", count(workers, "thread"));
    let v = Variant::new(name, workers, READ_PASSES);
    let (sum_n, all) = s.measure(v, |ctx| read(ctx, true));
    s.check("parallel read: same checksum as serial", sum_1 == sum_n, "");
    (one, all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parallel_read_has_the_serial_checksum() {
        let x: Vec<f32> = (0..300_000).map(|i| i as f32 * 0.5).collect();
        let y: Vec<f32> = x.iter().map(|v| -v).collect();
        for workers in [1, 2, 3] {
            let par = crate::with_pool(workers, |p| stream_read_par(&x, &y, p)).unwrap();
            assert_eq!(par, stream_read(&x, &y), "{workers} workers");
        }
        assert_eq!(
            stream_read(&[1.0, 2.0], &[3.0]),
            1.0_f32.to_bits().wrapping_add(3.0_f32.to_bits())
        );
        // Every word counts: one changed value changes the checksum.
        let mut z = y.clone();
        z[123_456] += 1.0;
        assert_ne!(stream_read(&x, &y), stream_read(&x, &z));
    }
}
