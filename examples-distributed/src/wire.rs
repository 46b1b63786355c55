//! Messages between ranks: serde values as postcard bytes, one MPI message each, the kind of
//! message in its MPI tag; and a polite way to wait for them.
//!
//! What replaces pickling (mpi4py.futures pickles the function and its arguments): a task is
//! a value of the serde enum [`crate::task::Task`], encoded with postcard. Every rank runs the
//! same binary, so both ends agree on the types at compile time. MPI moves the bytes; the
//! message's tag says what they are ([`TAG_TASK`], [`TAG_RESULT`], [`TAG_STOP`], ...), so a
//! rank can probe for one kind without reading the others. Code cannot be a message:
//!
//! ```compile_fail,E0277
//! let my_function = |x: u64| x - 1;
//! // error[E0277]: the trait bound `{closure}: Serialize` is not satisfied
//! let _ = examples_distributed::wire::encode(&my_function);
//! ```
//!
//! Why [`poll`] and [`Backoff`] instead of a blocking `receive`: MPICH waits by spinning. A
//! rank blocked in `MPI_Recv` or a blocking collective keeps a core at 100 %, and with one
//! rank per core plus the client, the waiting ranks would steal the cores the working ranks
//! need. So every wait here probes without blocking (`MPI_Iprobe`, `MPI_Test`), yields for a
//! few rounds, then sleeps with growing pauses up to 1 ms. mpi4py.futures does the same (its
//! `MPI4PY_FUTURES_BACKOFF`, 1 ms by default).

use std::time::{Duration, Instant};

use anyhow::Context;
use mpi::point_to_point::MatchedReceiveVec;
use mpi::point_to_point::{Destination, Message, Status};
use mpi::request::{Request, Scope};
use mpi::traits::{Communicator, Source};
use mpi::{Count, Tag};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::spans::unix_now_s;
use shared::timing::CpuTime;

use crate::task::{Output, Task};

/// Rank 0 to a worker: a [`TaskMsg`] to run.
pub const TAG_TASK: Tag = 1;
/// A worker to rank 0: a [`ResultMsg`]; it also means "I am idle, send more".
pub const TAG_RESULT: Tag = 2;
/// Rank 0 to a worker: leave the serving loop and finalise MPI (empty message).
pub const TAG_STOP: Tag = 3;
/// A worker to rank 0, once, right after start: its [`Hello`] (also its first request for work).
pub const TAG_HELLO: Tag = 4;
/// Rank 0 to every worker: take part in a collective round. The message is the round's plan,
/// of the type the caller of [`crate::worker::serve`] decodes.
pub const TAG_ROUND: Tag = 5;
/// A worker to rank 0, after a collective round: `(item, Timing)` of each item it computed.
pub const TAG_TIMINGS: Tag = 6;

/// Version of these messages, said in every [`Hello`]: ranks started from different builds
/// (possible on a cluster, where each host has its own copy) are caught at once.
pub const PROTOCOL: u32 = 2;

/// One task for one worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMsg {
    /// The task's id in this run (0 is the first submitted).
    pub id: u64,
    /// What to run.
    pub task: Task,
}

/// One task's outcome, timed by the worker that ran it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultMsg {
    /// The task's id.
    pub id: u64,
    /// The output, or why there is none.
    pub output: Result<Output, String>,
    /// When and for how long it ran.
    pub timing: Timing,
}

/// When a piece of work ran on the rank that did it, and the CPU it took there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Start, Unix seconds (ranks on one host share this clock, which the spans need).
    pub start_unix_s: f64,
    /// End, Unix seconds.
    pub end_unix_s: f64,
    /// CPU seconds this rank's process used meanwhile.
    pub cpu_s: f64,
}

impl Timing {
    /// Runs `f` here, timed on this rank's clocks.
    pub fn of<T>(f: impl FnOnce() -> T) -> (T, Timing) {
        let (start_unix_s, cpu) = (unix_now_s(), CpuTime::now());
        let value = f();
        let timing = Timing {
            start_unix_s,
            end_unix_s: unix_now_s(),
            cpu_s: CpuTime::now().own_s - cpu.own_s,
        };
        (value, timing)
    }
}

/// Who a worker is, sent once at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Its rank.
    pub rank: i32,
    /// The host it runs on (`MPI_Get_processor_name`).
    pub host: String,
    /// Its process id on that host.
    pub pid: u32,
    /// Logical cores of that host.
    pub cores: usize,
    /// [`PROTOCOL`] of its binary.
    pub protocol: u32,
}

pub use shared::message::{decode, encode};

/// Sends one value as one MPI message with `tag`.
pub fn send<T: Serialize + ?Sized>(
    to: &impl Destination,
    tag: Tag,
    value: &T,
) -> anyhow::Result<()> {
    let bytes = encode(value)?;
    to.send_with_tag(&bytes[..], tag);
    Ok(())
}

/// Receives the message a probe matched, and decodes it.
pub fn receive<T: DeserializeOwned>(probed: (Message, Status)) -> anyhow::Result<T> {
    let (bytes, _) = probed.matched_receive_vec::<u8>();
    decode(&bytes)
}

/// One message with `tag` from every other rank, decoded, by rank (on rank 0: one from each
/// worker). Waits politely for each ([`poll`]).
pub fn receive_from_each<T: DeserializeOwned>(
    comm: &impl Communicator,
    tag: Tag,
) -> anyhow::Result<Vec<(i32, T)>> {
    let mut got = Vec::new();
    for _ in 1..comm.size() {
        let probed = poll(|| comm.any_process().immediate_matched_probe_with_tag(tag));
        let rank = probed.1.source_rank();
        let value = receive(probed).with_context(|| format!("from rank {rank}, tag {tag}"))?;
        got.push((rank, value));
    }
    got.sort_by_key(|&(rank, _)| rank);
    Ok(got)
}

/// Counts and displacements of a varcount collective (`scatterv`, `gatherv`) that gives rank
/// `r` the `r`-th of `counts` values, each part right after the one before.
pub fn varcount_layout(
    counts: impl IntoIterator<Item = usize>,
) -> anyhow::Result<(Vec<Count>, Vec<Count>)> {
    let too_large = || anyhow::anyhow!("too large for one MPI message (over 2^31 values)");
    let (mut counts_out, mut displs, mut at) = (Vec::new(), Vec::new(), 0_usize);
    for c in counts {
        displs.push(Count::try_from(at).map_err(|_| too_large())?);
        counts_out.push(Count::try_from(c).map_err(|_| too_large())?);
        at += c;
    }
    Ok((counts_out, displs))
}

/// How long to pause between polls: `yield` for the first [`Backoff::SPIN`] of a wait (an
/// answer that comes back within microseconds, such as a tiny task's, is caught at once),
/// then sleeps that double from 20 µs up to [`Backoff::MAX`] (a rank that waits for long uses
/// almost no CPU).
///
/// Why the spin is measured in time, and this long: the two ends of a round trip wait for
/// each other. If either fell asleep too soon, each late answer would make the other side's
/// next sleep longer, and a stream of tiny tasks would settle at a round trip of several
/// milliseconds. Measured on 2 cores, one task at a time: about 3 ms with a 100 µs spin,
/// 25 µs with 500 µs, 10 µs with 2 ms. Spinning costs CPU only for 2 ms after each message,
/// nothing next to a task worth sending.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    since: Option<Instant>,
    sleeps: u32,
}

impl Backoff {
    /// How long a wait spins (with `yield`) before it starts to sleep.
    pub const SPIN: Duration = Duration::from_millis(2);
    /// The first sleep.
    pub const FIRST: Duration = Duration::from_micros(20);
    /// The longest sleep: the worst extra latency of a wait.
    pub const MAX: Duration = Duration::from_millis(1);

    /// A fresh backoff (the next pause is a `yield`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Something happened: start again with short pauses.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The pause after `waited` of waiting and `sleeps` sleeps so far (zero means `yield`).
    pub fn schedule(waited: Duration, sleeps: u32) -> Duration {
        if waited < Self::SPIN {
            Duration::ZERO
        } else {
            (Self::FIRST * 2u32.pow(sleeps.min(16))).min(Self::MAX)
        }
    }

    /// The next pause (zero means `yield`).
    pub fn next_pause(&mut self) -> Duration {
        let since = *self.since.get_or_insert_with(Instant::now);
        let pause = Self::schedule(since.elapsed(), self.sleeps);
        if !pause.is_zero() {
            self.sleeps = self.sleeps.saturating_add(1);
        }
        pause
    }

    /// Pauses once.
    pub fn pause(&mut self) {
        match self.next_pause() {
            Duration::ZERO => std::thread::yield_now(),
            d => std::thread::sleep(d),
        }
    }
}

/// Calls `probe` until it returns something, pausing politely in between.
pub fn poll<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    let mut backoff = Backoff::new();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        backoff.pause();
    }
}

/// Waits for a non-blocking MPI operation (e.g. a collective) without spinning a core.
pub fn wait<'a, D: ?Sized, S: Scope<'a>>(mut request: Request<'a, D, S>) -> Status {
    let mut backoff = Backoff::new();
    loop {
        match request.test() {
            Ok(status) => return status,
            Err(pending) => request = pending,
        }
        backoff.pause();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Task;

    #[test]
    fn messages_round_trip_and_stay_small() {
        let msg = TaskMsg {
            id: 7,
            task: Task::Tiny(41),
        };
        let bytes = encode(&msg).unwrap();
        assert!(bytes.len() <= 4, "a tiny task is a few bytes: {bytes:?}");
        assert_eq!(decode::<TaskMsg>(&bytes).unwrap(), msg);

        let result = ResultMsg {
            id: 7,
            output: Ok(Output::Tiny(42)),
            timing: Timing {
                start_unix_s: 1.0,
                end_unix_s: 2.0,
                cpu_s: 0.5,
            },
        };
        assert_eq!(
            decode::<ResultMsg>(&encode(&result).unwrap()).unwrap(),
            result
        );
        let failed = ResultMsg {
            output: Err("LAPACK said no".into()),
            ..result
        };
        assert_eq!(
            decode::<ResultMsg>(&encode(&failed).unwrap()).unwrap(),
            failed
        );
    }

    #[test]
    fn garbage_and_trailing_bytes_are_errors_not_panics() {
        assert!(decode::<TaskMsg>(&[0xff; 6]).is_err());
        let mut bytes = encode(&Hello {
            rank: 1,
            host: "h".into(),
            pid: 2,
            cores: 3,
            protocol: PROTOCOL,
        })
        .unwrap();
        bytes.push(0);
        let err = decode::<Hello>(&bytes).unwrap_err();
        assert!(err.to_string().contains("left over"), "{err}");
    }

    #[test]
    fn backoff_yields_first_then_sleeps_longer_up_to_the_cap() {
        let spin = Backoff::SPIN;
        assert_eq!(Backoff::schedule(Duration::ZERO, 0), Duration::ZERO);
        assert_eq!(Backoff::schedule(spin / 2, 0), Duration::ZERO);
        let sleeps: Vec<Duration> = (0..12).map(|n| Backoff::schedule(spin, n)).collect();
        assert_eq!(sleeps[0], Backoff::FIRST);
        assert_eq!(sleeps[1], Backoff::FIRST * 2);
        assert!(sleeps.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*sleeps.last().unwrap(), Backoff::MAX);
        // However long a rank waits, nothing overflows.
        assert_eq!(
            Backoff::schedule(Duration::from_secs(3600), u32::MAX),
            Backoff::MAX
        );

        // A wait that began a whole spin ago: no sleep of the test's own is needed.
        let mut b = Backoff {
            since: Some(Instant::now() - spin),
            sleeps: 0,
        };
        assert_eq!(b.next_pause(), Backoff::FIRST);
        assert_eq!(b.next_pause(), Backoff::FIRST * 2);
        b.reset();
        assert!(
            b.since.is_none() && b.sleeps == 0,
            "a reset wait spins again"
        );
    }

    #[test]
    fn timing_measures_the_work_it_ran() {
        let (v, t) = Timing::of(|| (0..1_000_u64).sum::<u64>());
        assert_eq!(v, 499_500);
        assert!(t.end_unix_s >= t.start_unix_s && t.cpu_s >= 0.0, "{t:?}");
    }

    #[test]
    fn a_varcount_layout_puts_each_part_after_the_last() {
        let (counts, displs) = varcount_layout([0, 16, 19, 0]).unwrap();
        assert_eq!(counts, [0, 16, 19, 0]);
        assert_eq!(displs, [0, 0, 16, 35]);
        assert!(varcount_layout([usize::MAX]).is_err());
    }

    #[test]
    fn poll_returns_the_first_answer() {
        let mut calls = 0;
        let v = poll(|| {
            calls += 1;
            (calls == 5).then_some(calls)
        });
        assert_eq!(v, 5);
    }
}
