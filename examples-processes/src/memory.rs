//! # One buffer: shared by threads, copied into processes
//!
//! Mirrors Parallel Programming in Python (seed 001), "Differences in memory management".
//!
//! The lesson: threads live in one address space, so four threads reading a 256 MiB buffer
//! through an `Arc` cost one copy of it; four processes each need their own, sent to them
//! through a pipe (Python pickles it), so they cost one copy each plus the parent's. The
//! figures are resident memory as the OS reports it (`VmRSS` in `/proc/<pid>/status`),
//! read while every thread or child still holds the data.
//!
//! Run: `cargo run --release -p examples-processes -- memory` (`--workers N` for another
//! number of threads and processes; `--quick` uses a 16 MiB buffer).
//!
//! Output: two rows (threads, processes) with the time to hand the data out and the memory
//! of the parent, of the children, in total, and in copies of the buffer.
//!
//! On the tutorial's claim that processes "contain a copy of the parent's memory-space":
//! with the `fork` start method the copy is lazy (pages are shared until written, and
//! CPython's reference counting writes to objects, so they do get copied over time); with
//! `spawn` and `forkserver` (the defaults on macOS, Windows and, since Python 3.14, Linux) the
//! data is pickled to each child, which is what happens here.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use shared::system::{mib, rss_bytes, self_rss_bytes};
use shared::{Bench, Ctx, Variant, say};

use crate::cli::{Args, Role};
use crate::worker::{self, Connected, Pipes};

/// The tutorial-sized buffer.
pub const BUFFER_BYTES: usize = 256 << 20;
/// The buffer under `--quick`.
pub const QUICK_BUFFER_BYTES: usize = 16 << 20;
/// At most this many workers: each process gets a copy of the buffer.
pub const MAX_WORKERS: usize = 16;

/// A child's receipt for the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Held {
    len: u64,
    sum: u64,
}

/// Reads every byte (so every page is really there) and sums the buffer as 64-bit words.
pub fn checksum(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(8);
    let sum = words
        .by_ref()
        .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
        .fold(0u64, u64::wrapping_add);
    words
        .remainder()
        .iter()
        .fold(sum, |s, &b| s.wrapping_add(u64::from(b)))
}

/// The child's side ([`Role::Hold`]): receive the buffer, confirm, keep it until told to go.
pub fn hold_main(mut pipes: Pipes) -> anyhow::Result<()> {
    worker::say_hello(&mut pipes.output)?;
    // The buffer comes as one raw frame: a Vec<u8> of 256 MiB is not worth a serde walk.
    let data = worker::read_frame(&mut pipes.input)?.context("the parent sent no buffer")?;
    let held = Held {
        len: data.len() as u64,
        sum: checksum(&data),
    };
    worker::send(&mut pipes.output, &held)?;
    // Hold the copy until the parent closes our stdin (it measures us meanwhile).
    let _ = worker::read_frame(&mut pipes.input);
    drop(std::hint::black_box(data));
    Ok(())
}

fn buffer(len: usize) -> Vec<u8> {
    // A pattern, not zeros: zero pages may not be resident until written.
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Memory figures of one variant, in bytes.
#[derive(Debug, Clone, Copy)]
struct Rss {
    parent: u64,
    children: u64,
}

/// `n` threads read the buffer through an `Arc`; RSS is read while they all hold it.
fn threads_share(data: &Arc<Vec<u8>>, n: usize) -> anyhow::Result<(Rss, Vec<u64>)> {
    let all_read = Barrier::new(n + 1);
    let measured = Barrier::new(n + 1);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let data = Arc::clone(data); // New: a pointer and a count, no bytes copied.
                let (all_read, measured) = (&all_read, &measured);
                sc.spawn(move || {
                    let sum = checksum(&data);
                    all_read.wait();
                    measured.wait();
                    sum
                })
            })
            .collect();
        all_read.wait();
        let parent = self_rss_bytes();
        measured.wait();
        let sums = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a reader thread panicked"))
            })
            .collect::<anyhow::Result<Vec<u64>>>()?;
        Ok((
            Rss {
                parent: parent?,
                children: 0,
            },
            sums,
        ))
    })
}

/// `n` child processes each receive a copy; RSS is read while they all hold it.
fn processes_copy(data: &[u8], n: usize) -> anyhow::Result<(Rss, Vec<u64>)> {
    let program = worker::program()?;
    let mut kids = (0..n)
        .map(|i| Connected::start(&program, &Role::Hold, &format!("holder {i}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Why a thread per child: a pipe holds 64 KiB, so each write blocks until that child
    // has read; writing to all of them at once overlaps the copies.
    let receipts = std::thread::scope(|sc| {
        let handles: Vec<_> = kids
            .iter_mut()
            .map(|kid| {
                sc.spawn(move || -> anyhow::Result<Held> {
                    worker::write_frame(&mut kid.input, data)?;
                    std::io::Write::flush(&mut kid.input)?;
                    worker::recv::<Held>(&mut kid.output)?.with_context(|| {
                        format!("pid {} exited before its receipt", kid.child.pid())
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a sender thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<Held>>>()
    })?;
    let children = kids
        .iter()
        .map(|k| rss_bytes(k.child.pid()))
        .sum::<std::io::Result<u64>>()?;
    let parent = self_rss_bytes()?;
    for kid in kids {
        kid.close(Duration::from_secs(2));
    }
    for r in &receipts {
        anyhow::ensure!(r.len == data.len() as u64, "a child got {} bytes", r.len);
    }
    Ok((
        Rss { parent, children },
        receipts.iter().map(|r| r.sum).collect(),
    ))
}

/// Hands one buffer to threads (shared) and to processes (copied), and reads from the OS
/// how much memory each way takes.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let c = &args.common;
    let size = c.size(BUFFER_BYTES, QUICK_BUFFER_BYTES);
    let n = c.workers_or(4);
    anyhow::ensure!(
        n <= MAX_WORKERS,
        "this section copies a {:.0} MiB buffer into every process: use --workers {MAX_WORKERS} \
         or fewer (got {n})",
        mib(size as u64)
    );
    let mut s = Bench::new("examples-processes", "memory", c);
    s.title("seed 001 Differences in memory management");

    let before = self_rss_bytes()?;
    let data = Arc::new(buffer(size));
    let want = checksum(&data);
    let with_data = self_rss_bytes()?;
    say!(
        "  parent before the buffer: {:.1} MiB; with its {:.0} MiB buffer: {:.1} MiB",
        mib(before),
        mib(size as u64),
        mib(with_data)
    );
    s.workload(&format!(
        "a {:.0} MiB buffer read by {n} workers",
        mib(size as u64)
    ));

    let report = |ctx: &mut Ctx, rss: Rss| {
        let total = rss.parent + rss.children;
        ctx.set("parent_rss_mib", mib(rss.parent));
        ctx.set("children_rss_mib", mib(rss.children));
        ctx.set("total_rss_mib", mib(total));
        // Copies of the buffer: memory above the parent's own before it existed.
        let copies = total.saturating_sub(before) as f64 / size as f64;
        ctx.set("copies", copies);
        copies
    };

    let (copies_t, sums_t) = s.measure(
        Variant::baseline(format!("{n} threads share one Arc<Vec<u8>>"), n, n),
        |ctx| -> anyhow::Result<(f64, Vec<u64>)> {
            let (rss, sums) = threads_share(&data, n)?;
            Ok((report(ctx, rss), sums))
        },
    )?;
    let (copies_p, sums_p) = s.measure(
        Variant::new(format!("{n} processes, one copy sent to each"), n, n),
        |ctx| -> anyhow::Result<(f64, Vec<u64>)> {
            let (rss, sums) = processes_copy(&data, n)?; // New: a copy sent to each child.
            Ok((report(ctx, rss), sums))
        },
    )?;

    say!();
    say!("  threads: {copies_t:.2} copies of the buffer in memory; processes: {copies_p:.2}");
    s.check(
        "every thread and every child read the same bytes",
        sums_t.iter().chain(&sums_p).all(|&x| x == want),
        "",
    );
    s.check(
        "threads: about one copy in total",
        copies_t < 1.5,
        format!("{copies_t:.2} copies"),
    );
    s.check(
        &format!("processes: a copy in each of the {n} children, plus the parent's"),
        copies_p > n as f64 * 0.9 + 0.5,
        format!("{copies_p:.2} copies"),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_counts_every_byte() {
        let data = buffer(1003);
        let naive = data
            .chunks(8)
            .map(|c| {
                if c.len() == 8 {
                    u64::from_le_bytes(c.try_into().unwrap())
                } else {
                    c.iter().map(|&b| u64::from(b)).sum()
                }
            })
            .fold(0u64, u64::wrapping_add);
        assert_eq!(checksum(&data), naive);
        assert_ne!(checksum(&buffer(64)), checksum(&buffer(65)));
    }

    #[test]
    fn every_thread_reads_the_shared_buffer() {
        // (Memory figures are checked by the section, in a process of its own: tests here
        // run side by side and allocate as they please.)
        let data = Arc::new(buffer(1 << 20));
        let (rss, sums) = threads_share(&data, 4).unwrap();
        assert_eq!(sums.len(), 4);
        assert!(sums.iter().all(|&s| s == checksum(&data)));
        assert!(rss.parent > 0);
        assert_eq!(rss.children, 0);
    }
}
